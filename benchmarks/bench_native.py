"""Benchmarks of the native backend (issue 20); writes benchmarks/RESULTS-native.md.

    python benchmarks/bench_native.py              # all, a few minutes on 2 cores
    python benchmarks/bench_native.py --quick      # fewer rounds and processes (smoke run)
    python benchmarks/bench_native.py --pytensor-c # also PyTensor's default C mode

Contestants, on one thread, side by side in alternating rounds (harness.race):
hand-written in-place NumPy (the yardstick, numpy_reference.py), nnframe's NumPy
backend, nnframe's native backend (``mode='native'``) and, where installed,
eager PyTorch (torch_workloads.py), JAX jit (jax_workloads.py) and PyTensor
compiled by Numba (pytensor_workloads.py).  Before timing, every contestant's
losses after 5 steps (W3: its output) must match NumPy's to 1e-4 relative
(W3: 1e-5 relative + 1e-6 absolute), or it is reported WRONG and not timed.

Workloads: W1 MLP 784-512-512-10 SGD step (batch 128), W2 MLP 64-128-10 (batch
32), W3 ``tanh(a*x+b) * sigmoid(x)`` on 4M float32, W5 the CNN of run.py (batch
64).  Also the call overhead of ``x + 1`` on 8 float32, and the W1 step's
compile: graph build to the end of the first call, in fresh processes, with an
empty compiledir (cold) and a filled one (cached).
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import functools  # noqa: E402
import importlib  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import timeit  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import harness  # noqa: E402
import nnframe_workloads as nnf  # noqa: E402
import numpy_reference as ref  # noqa: E402
import run  # noqa: E402  (the problem builders; imports torch_workloads when it can)


def _optional(module):
    """``module`` imported, or None when it (or the peer it wraps) is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        print(f"  {module}: not installed ({exc})")
        return None


tw = run.tw                      # torch_workloads, or None
jw = _optional("jax_workloads")  # sets XLA_FLAGS to one thread before it imports jax
pw = _optional("pytensor_workloads")

#: the native backend's budgets, as a ratio to hand-written NumPy in the same run
BUDGETS = {"W1": 0.9, "W2": 0.5, "W3": 0.35, "W5": 0.9}
OVERHEAD_BUDGET_S = 3e-6
COLD_BUDGET_S, CACHED_BUDGET_S = 0.3, 0.02
#: the peers' columns, in the table's order
PEERS = ["torch", "jax", "pytensor-numba", "pytensor-c"]


class Workload:
    """What one row of the table needs: a problem and a way to build each contestant."""

    def __init__(self, key, title, problem, numpy_step, makers, rounds, calls):
        self.key, self.title, self.problem = key, title, problem
        self.numpy_step, self.makers = numpy_step, makers
        self.rounds, self.calls = rounds, calls


def training_makers(nnframe_fn, peer_fn, pytensor_c):
    """Contestant builders ``params -> step(X, y)`` of a training workload, name -> builder.

    ``nnframe_fn`` is a nnframe_workloads function, ``peer_fn`` the name of the same
    step in the peers' modules.
    """
    makers = {"nnframe numpy": lambda p: nnframe_fn(p, 0.01, mode="numpy")[0],
              "nnframe native": lambda p: nnframe_fn(p, 0.01, mode="native")[0],
              BLAS_NATIVE: lambda p: _with_blas_products(nnframe_fn, p)}
    if tw is not None:
        makers["torch"] = lambda p: getattr(tw, peer_fn)(p, 0.01)
    if jw is not None:
        makers["jax"] = lambda p: getattr(jw, peer_fn)(p, 0.01)
    if pw is not None:
        makers["pytensor-numba"] = lambda p: getattr(pw, peer_fn)(p, 0.01, mode="NUMBA")
        if pytensor_c:
            makers["pytensor-c"] = lambda p: getattr(pw, peer_fn)(p, 0.01, mode=None)
    return makers


#: the native step with every product on the bundled BLAS (config.native_gemm='blas'),
#: timed beside the default (large float32 products on nnframe's own kernel, AVX-512 CPUs)
BLAS_NATIVE = "nnframe native, BLAS products"


def _with_blas_products(nnframe_fn, params):
    from nnframe.config import config
    with config.change_flags(native_gemm="blas"):
        return nnframe_fn(params, 0.01, mode="native")[0]


def _build(name, make, *args):
    """``make(*args)``, or None with the error printed (one broken peer must not stop the run)."""
    try:
        return make(*args)
    except Exception:  # noqa: BLE001  (reported in the table as ERROR)
        print(f"  {name}: ERROR while building")
        traceback.print_exc()
        return None


def mlp_products(params, X):
    """The matrix products of one step of the MLP of ``params`` on ``X``, and nothing else
    (the same shapes and BLAS, outputs preallocated): the floor of any step that calls
    this BLAS, as a zero-argument callable."""
    Ws = params[0::2]
    acts = [X] + [np.empty((X.shape[0], W.shape[1]), X.dtype) for W in Ws]
    deltas = [np.empty_like(a) for a in acts]
    grads = [np.empty_like(W) for W in Ws]

    def run():
        for k, W in enumerate(Ws):
            np.matmul(acts[k], W, out=acts[k + 1])
        for k in reversed(range(len(Ws))):
            np.matmul(acts[k].T, deltas[k + 1], out=grads[k])
            if k > 0:
                np.matmul(deltas[k + 1], Ws[k].T, out=deltas[k])
    for d in deltas[1:]:
        d[...] = 0.01
    return run


def race_training(w, info):
    """Times of the contestants whose losses match NumPy's; the others as 'WRONG'/'ERROR'."""
    params, X, y = w.problem()
    reference = w.numpy_step(params)
    ref_losses = harness.losses_after(reference, X, y)
    contestants, status = {"numpy": lambda: reference(X, y)}, {}
    if w.key == "W1":
        contestants["products alone"] = mlp_products(params, X)
    for name, make in w.makers.items():
        step = _build(name, make, params)
        if step is None:
            status[name] = "ERROR"
        elif harness.check(f"{w.key} {name}", ref_losses, harness.losses_after(step, X, y)):
            contestants[name] = (lambda s: lambda: s(X, y))(step)
            if name == "nnframe native":
                info[w.key] = _native_share(step)
        else:
            status[name] = "WRONG"
    return harness.race(contestants, w.rounds, w.calls), status


def race_elementwise(rounds, calls, pytensor_c, info):
    """W3: times of the contestants whose output matches NumPy's."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4 * 1024 * 1024).astype(np.float32)
    a, b = np.asarray(0.7, np.float32), np.asarray(-0.2, np.float32)
    out, tmp = np.empty_like(x), np.empty_like(x)
    expected = np.tanh(a * x + b) / (1 + np.exp(-x))
    makers = {"nnframe numpy": lambda: _bind(nnf.elementwise(mode="numpy"), a, x, b),
              "nnframe native": lambda: _bind(nnf.elementwise(mode="native"), a, x, b)}
    if tw is not None:
        makers["torch"] = lambda: tw.elementwise(a, x, b)
    if jw is not None:
        makers["jax"] = lambda: jw.elementwise(a, x, b)
    if pw is not None:
        makers["pytensor-numba"] = lambda: pw.elementwise(a, x, b, mode="NUMBA")
        if pytensor_c:
            makers["pytensor-c"] = lambda: pw.elementwise(a, x, b, mode=None)
    contestants, status = {"numpy": lambda: ref.elementwise(a, x, b, out, tmp)}, {}
    for name, make in makers.items():
        fn = _build(name, make)
        if fn is None:
            status[name] = "ERROR"
        elif np.allclose(np.asarray(fn()), expected, rtol=1e-5, atol=1e-6):
            contestants[name] = fn
            if name == "nnframe native":
                info["W3"] = _native_share(fn.compiled)
        else:
            print(f"  W3 {name}: WRONG output")
            status[name] = "WRONG"
    return harness.race(contestants, rounds, calls), status


def _bind(f, a, x, b):
    """``f(a, x, b)`` as a zero-argument callable that remembers ``f`` (as ``.compiled``)."""
    def call():
        return f(a, x, b)
    call.compiled = f
    return call


def _native_share(fn):
    """'k of n' nodes of compiled function ``fn`` that run in C."""
    from nnframe.backends import native
    return f"{len(native.native_nodes(fn))} of {len(fn.maker.fgraph.toposort())}"


def call_overhead():
    """Seconds per call of ``x + 1`` on 8 float32: NumPy itself, and each nnframe mode."""
    import nnframe.tensor as T
    from nnframe import function
    v8 = np.ones(8, np.float32)
    n = 20000
    result = {"NumPy `v + 1`": min(timeit.repeat(lambda: v8 + 1, number=n, repeat=7)) / n}
    for mode in ("numpy", "native"):
        x = T.fvector("x")
        f = function([x], x + 1, mode=mode)
        assert np.array_equal(f(v8), v8 + 1)
        result[mode] = min(timeit.repeat(functools.partial(f, v8), number=n, repeat=7)) / n
    return result


_FIRST_CALL = """
import sys, time
sys.path.insert(0, {here!r})
import numpy as np, nnframe, nnframe_workloads as w, run
from nnframe.backends.native import compiler
p, X, y = run.mlp_problem([784, 512, 512, 10], 128)
t = time.perf_counter()
step, _ = w.mlp_step(p, 0.01, mode={mode!r})
built = time.perf_counter()
step(X, y)
print(time.perf_counter() - t, built - t, compiler.TIMINGS["compile_s"], compiler.compile_count())
"""


def _first_call(mode, compiledir, pycache):
    """Seconds from building the W1 graph to the end of its first call ("total"), of which
    in ``function()`` ("build"), spent compiling C ("cc"); how many sources were compiled.

    In a fresh process whose modules' bytecode comes from ``pycache`` (as an installed
    package's does: compiling nnframe's sources to bytecode is not part of the measure).
    """
    flags = ",".join(filter(None, [os.environ.get("NNFRAME_FLAGS"), f"compiledir={compiledir}"]))
    env = dict(os.environ, NNFRAME_FLAGS=flags, PYTHONPYCACHEPREFIX=pycache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-c", _FIRST_CALL.format(here=HERE, mode=mode)],
                         capture_output=True, text=True, env=env, check=True)
    total, build, cc, compiles = out.stdout.split()[-4:]
    return {"total": float(total), "build": float(build), "cc": float(cc),
            "compiles": int(compiles)}


def compile_times(runs):
    """W1 build-to-first-call in fresh processes: name -> _first_call's figures, each the median
    of ``runs`` processes, but "compiles": every count seen ('0', or '0/1' when runs differ)."""
    with tempfile.TemporaryDirectory() as root:
        pycache, filled = os.path.join(root, "pycache"), os.path.join(root, "filled")
        fresh = iter(range(10 ** 6))

        def median_of(mode, dir_for_run):
            samples = [_first_call(mode, dir_for_run(), pycache) for _ in range(runs)]
            result = {k: statistics.median(s[k] for s in samples) for k in ("total", "build", "cc")}
            result["compiles"] = "/".join(sorted({str(s["compiles"]) for s in samples}))
            return result

        _first_call("numpy", filled, pycache)    # writes the bytecode of the modules it imports
        _first_call("native", filled, pycache)   # ... and of the native backend; fills `filled`
        cold = median_of("native", lambda: os.path.join(root, f"empty{next(fresh)}"))
        # a machine where nnframe ran before: the own GEMM's library (built once per machine)
        # and the compiler's record are cached, this function's code is not
        gemm_only = os.path.join(root, "gemm-only")
        env = dict(os.environ, NNFRAME_FLAGS=f"compiledir={gemm_only}")
        subprocess.run([sys.executable, "-c", "from nnframe.backends.native import sgemm; "
                        "sgemm.library()"], env=env, check=True)

        def seeded():
            path = os.path.join(root, f"seeded{next(fresh)}")
            shutil.copytree(gemm_only, path)
            return path
        new_function = median_of("native", seeded)
        cached = median_of("native", lambda: filled)
        numpy_mode = median_of("numpy", lambda: filled)
    return {"cold": cold, "new function": new_function, "cached": cached, "numpy": numpy_mode}


def versions():
    """Package name -> version (or 'not installed') of the contestants, and the C compiler."""
    from importlib.metadata import PackageNotFoundError, version
    result = {}
    for name in ("nnframe", "numpy", "torch", "jax", "jaxlib", "pytensor", "numba"):
        try:
            result[name] = version(name)
        except PackageNotFoundError:
            result[name] = "not installed"
    try:
        cc = subprocess.run(["cc", "--version"], capture_output=True, text=True, check=True)
        result["cc"] = cc.stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        result["cc"] = "no cc"
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds and processes (a smoke run, not numbers to report)")
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS-native.md"))
    parser.add_argument("--pytensor-c", action="store_true",
                        help="also PyTensor's default C mode (needs g++; slow to compile)")
    args = parser.parse_args()
    from nnframe.backends import native
    if native.fallback_reason():
        sys.exit(f"mode 'native' would run on the NumPy backend here: {native.fallback_reason()}")
    scale = 0.2 if args.quick else 1.0
    r = lambda n: max(3, int(n * scale))  # noqa: E731
    pc = args.pytensor_c
    workloads = [
        Workload("W1", "MLP 784-512-512-10 SGD step, batch 128",
                 lambda: run.mlp_problem([784, 512, 512, 10], 128),
                 lambda p: ref.MLPStep(p, 0.01), training_makers(nnf.mlp_step, "mlp_step", pc),
                 r(30), 5),
        Workload("W2", "MLP 64-128-10 SGD step, batch 32",
                 lambda: run.mlp_problem([64, 128, 10], 32),
                 lambda p: ref.MLPStep(p, 0.01), training_makers(nnf.mlp_step, "mlp_step", pc),
                 r(40), 200),
        Workload("W5", "CNN 2x(conv3x3+ReLU+maxpool2)+dense SGD step, batch 64",
                 lambda: run.cnn_problem(64), lambda p: ref.CNNStep(p, 0.01),
                 training_makers(nnf.cnn_step, "cnn_step", pc), r(15), 3),
    ]
    rows, info = [], {}
    for w in workloads[:2]:
        print(w.key, w.title)
        rows.append((w.key, w.title, *race_training(w, info)))
    print("W3 tanh(a*x+b)*sigmoid(x), 4M float32")
    rows.append(("W3", "tanh(a*x+b)*sigmoid(x), 4M float32",
                 *race_elementwise(r(30), 3, pc, info)))
    print(workloads[2].key, workloads[2].title)
    rows.append((workloads[2].key, workloads[2].title, *race_training(workloads[2], info)))
    print("call overhead")
    overhead = call_overhead()
    print("compile of the W1 step (fresh processes)")
    compiles = compile_times(2 if args.quick else 5)
    text = results_text(rows, info, overhead, compiles, pc, args.quick)
    with open(args.out, "w") as fh:
        fh.write(text)
    print(text)


def _cell(times, status, name, base):
    if name in times:
        return f"{times[name] * 1e3:.3f} ms ({times[name] / base:.2f}x)"
    return status.get(name, "-")


def results_text(rows, info, overhead, compiles, pytensor_c, quick):
    """The RESULTS-native.md text."""
    m, v = harness.machine(), versions()
    peers = [p for p in PEERS if p != "pytensor-c" or pytensor_c]
    lines = [
        "# nnframe benchmarks: native backend",
        "",
        f"Measured {datetime.date.today().isoformat()} by `python benchmarks/bench_native.py"
        f"{' --quick' if quick else ''}{' --pytensor-c' if pytensor_c else ''}` on {m['cpu']} "
        f"({m['cores']} cores), Python {m['python']}.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if k != "cc") + ".",
        f"C compiler: {v['cc']}.",
        f"One thread (OPENBLAS_NUM_THREADS={m['blas_threads']}; XLA_FLAGS="
        f"`{os.environ.get('XLA_FLAGS', '')}`). Medians of alternating rounds; ratio = time / "
        "hand-written in-place NumPy time in the same run (lower is better). Every contestant's "
        "losses after 5 steps (W3: its output) were checked against NumPy before timing: "
        "WRONG = they differ, ERROR = it did not build, - = not installed.",
        "",
        "| workload | hand NumPy | nnframe numpy | nnframe native | budget | met | "
        + " | ".join(peers) + " |",
        "|---" * (6 + len(peers)) + "|",
    ]
    for key, title, times, status in rows:
        base = times["numpy"]
        native = times.get("nnframe native")
        met = "yes" if native is not None and native / base <= BUDGETS[key] else "**no**"
        cells = [f"{key} {title}", f"{base * 1e3:.3f} ms",
                 _cell(times, status, "nnframe numpy", base),
                 _cell(times, status, "nnframe native", base), f"<= {BUDGETS[key]}x", met]
        cells += [_cell(times, status, p, base) for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "The native step with all its products on the bundled BLAS "
              "(`native_gemm=blas`; the default runs large float32 products on nnframe's own "
              "kernel where the CPU has AVX-512): "
              + ", ".join(f"{key} {_cell(times, status, BLAS_NATIVE, times['numpy'])}"
                          for key, _, times, status in rows if BLAS_NATIVE in times
                          or BLAS_NATIVE in status) + "."]
    for key, _, times, status in rows:
        if "products alone" in times:
            lines += ["", f"{key}'s matrix products alone on the bundled BLAS (NumPy's "
                      "`matmul`, the same shapes, outputs preallocated, nothing else; the floor "
                      "of any step calling this BLAS): "
                      f"{_cell(times, status, 'products alone', times['numpy'])}."]
    yes = lambda ok: "yes" if ok else "**no**"  # noqa: E731
    lines += [
        "",
        "| measure | value | budget | met |",
        "|---|---|---|---|",
        f"| call overhead of `x + 1` on 8 float32, mode native | {overhead['native'] * 1e6:.2f} us "
        f"(mode numpy: {overhead['numpy'] * 1e6:.2f} us; NumPy's `v + 1`: "
        f"{overhead['NumPy `v + 1`'] * 1e6:.2f} us) | <= 3 us | "
        f"{yes(overhead['native'] <= OVERHEAD_BUDGET_S)} |",
        "",
        "W1 step in a fresh process: from the start of the graph's construction to the end of "
        "its first call, of which in `function()`, and what the native mode adds over mode "
        "numpy. The budget is on what the native mode adds (generating the C, compiling it or "
        "loading the cached library, the first plan): building the graph, `T.grad` and the "
        "rewrites are the same in every mode and have their own budget (W4, <= 1 s, "
        "RESULTS.md).",
        "",
        "| mode | build to end of first call | of it in `function()` | more than mode numpy | "
        "sources compiled (seconds in cc) | budget | met |",
        "|---|---|---|---|---|---|---|",
    ]
    base = compiles["numpy"]["total"]
    for key, label, budget in (("cold", "native, cold (empty compiledir)", COLD_BUDGET_S),
                               ("new function", "native, cold function (compiledir holding "
                                "only the own GEMM's library, built once per machine)",
                                COLD_BUDGET_S),
                               ("cached", "native, cached (filled compiledir)", CACHED_BUDGET_S),
                               ("numpy", "numpy", None)):
        c = compiles[key]
        lines.append(
            f"| {label} | {c['total'] * 1e3:.0f} ms | {c['build'] * 1e3:.0f} ms | "
            + (f"{(c['total'] - base) * 1e3:+.0f} ms | {c['compiles']} ({c['cc']:.2f} s) | "
               f"<= {budget * 1e3:.0f} ms added | {yes(c['total'] - base <= budget)} |"
               if budget else
               "- | - | - | - |"))
    lines += [
        "",
        "Nodes of each compiled native function that run in C (the others run their NumPy "
        "kernel between C segments): "
        + ", ".join(f"{k} {share}" for k, share in sorted(info.items())) + ".",
        "",
        "## Notes",
        "",
        "- **hand NumPy**: the hand-written, in-place step of `benchmarks/numpy_reference.py` "
        "(the yardstick of run.py; W3 reuses two preallocated buffers).",
        "- **nnframe numpy / native**: the same nnframe graph (`benchmarks/nnframe_workloads.py`, "
        "written as a Theano user writes it: `T.grad`, `updates=[(p, p - lr * g)]`, "
        "`trust_input=True`; W3 returns `Out(..., borrow=True)`) compiled with `mode='numpy'` "
        "and with `mode='native'` (one C source per function compiled by `cc`, cached in "
        "`<compiledir>/native/`, loaded with ctypes).",
        "- **torch**: eager PyTorch, one thread (`benchmarks/torch_workloads.py`, "
        "`torch.optim.SGD`, `loss.item()` per step).",
        "- **jax**: `jax.jit(value_and_grad + SGD update)` with the parameters' buffers donated, "
        "the new parameters replacing the old ones every step, `block_until_ready` on the "
        "results (`benchmarks/jax_workloads.py`); conv by `lax.conv_general_dilated`, pooling by "
        "`lax.reduce_window`. X and y are passed as NumPy arrays every step, as from a NumPy "
        "data loader; W3's x is on the device once.",
        "- **pytensor-numba**: PyTensor's graph API (`pytensor.grad`, `pytensor.function(..., "
        "updates=..., mode='NUMBA', trust_input=True)`, floatX float32; "
        "`benchmarks/pytensor_workloads.py`); PyTensor has no CNN convolution Op, so W5's conv "
        "is im2col from nine slices and one product, its pooling a reshape and a max. "
        "Compiling these graphs with Numba takes seconds to minutes the first time "
        "(cached in PyTensor's compiledir afterwards); not part of the times."
        + (" **pytensor-c**: the same graphs in PyTensor's default C mode (a pip install "
           "links no BLAS, so its products are slow)." if pytensor_c else ""),
        "- **Compile** is measured in fresh processes (median of "
        f"{'2' if quick else '5'}), after `import nnframe` and the problem's construction: "
        "building the W1 graph, `T.grad`, the rewrites, linking (C generation, compiling or "
        "loading the cached shared object) and the first call, which makes the shape plan. "
        "Cold = a new empty `NNFRAME_FLAGS=compiledir=...` per process. The processes read "
        "their modules' bytecode from a pycache filled by a warm-up process (as an installed "
        "package's is), so compiling Python sources is not counted.",
        "- The machine may be shared: repeated runs differ by a few percent or more; ratios "
        "are computed within one run."
        + (" **This was a --quick run: smoke numbers, not the ones to report.**" if quick else ""),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
