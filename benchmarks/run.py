"""nnframe's NumPy-backend benchmarks against hand-written NumPy (and torch, if installed).

Run from the repository root:   python benchmarks/run.py [--quick] [--out benchmarks/RESULTS.md]

Everything runs on one thread (OPENBLAS_NUM_THREADS=1, set before NumPy is
imported).  Contestants are timed in alternating rounds and the medians are
compared with the hand-written, in-place NumPy step in the same run.  Before
timing, each contestant's loss after 5 steps must match the NumPy reference to
1e-4 relative, or it is reported as wrong and not timed.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import sys  # noqa: E402
import timeit  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import nnframe_workloads as nnf  # noqa: E402
import numpy_reference as ref  # noqa: E402
from harness import check, losses_after  # noqa: E402

from nnframe.config import config  # noqa: E402

try:
    import torch_workloads as tw  # noqa: E402
except ImportError:
    tw = None

BUDGETS = {"W1": 1.10, "W2": 1.5, "W3": 1.1, "W5": 1.3}


def mlp_problem(sizes, batch, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
        params.append(np.zeros(fan_out, dtype=np.float32))
    X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch).astype(np.int64)
    return params, X, y


def cnn_problem(batch, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(16, 1, 3, 3), (16,), (32, 16, 3, 3), (32,), (32 * 5 * 5, 10), (10,)]
    params = []
    for s in shapes:
        if len(s) == 1:
            params.append(np.zeros(s, dtype=np.float32))
        else:
            fan_in = int(np.prod(s[1:])) if len(s) == 4 else s[0]
            params.append(rng.normal(0, np.sqrt(2.0 / fan_in), s).astype(np.float32))
    X = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    return params, X, y


def training_workload(label, make_problem, make_numpy, make_nnframe, make_torch, rounds, calls):
    params, X, y = make_problem()
    contestants, wrong = {}, []
    reference = make_numpy(params)
    ref_losses = losses_after(reference, X, y)
    contestants["numpy"] = lambda: reference(X, y)
    candidates = {"nnframe": make_nnframe}
    if tw is not None and make_torch is not None:
        candidates["torch"] = make_torch
    for name, make in candidates.items():
        step = make(params)
        if check(f"{label} {name}", ref_losses, losses_after(step, X, y)):
            contestants[name] = (lambda s: lambda: s(X, y))(step)
        else:
            wrong.append(name)
    times = harness.race(contestants, rounds, calls)
    return times, wrong


def peak_memory(step, X, y):
    step(X, y)
    tracemalloc.start()
    step(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (for a smoke run)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "RESULTS.md"))
    harness.add_device_option(parser)
    args = parser.parse_args()
    env = harness.use_device(args.device)
    scale = 0.2 if args.quick else 1.0
    r = lambda n: max(3, int(n * scale))  # noqa: E731
    rows = []

    print("W1 MLP 784-512-512-10, batch 128")
    t, wrong = training_workload(
        "W1", lambda: mlp_problem([784, 512, 512, 10], 128),
        lambda p: ref.MLPStep(p, 0.01), lambda p: nnf.mlp_step(p, 0.01)[0],
        tw and (lambda p: tw.mlp_step(p, 0.01)), rounds=r(30), calls=5)
    rows.append(("W1", "MLP 784-512-512-10 SGD step, batch 128", t, wrong))

    print("W2 MLP 64-128-10, batch 32")
    t, wrong = training_workload(
        "W2", lambda: mlp_problem([64, 128, 10], 32),
        lambda p: ref.MLPStep(p, 0.01), lambda p: nnf.mlp_step(p, 0.01)[0],
        tw and (lambda p: tw.mlp_step(p, 0.01)), rounds=r(40), calls=200)
    rows.append(("W2", "MLP 64-128-10 SGD step, batch 32", t, wrong))

    print("W3 tanh(a*x+b)*sigmoid(x), 4M float32")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4 * 1024 * 1024).astype(np.float32)
    a, b = np.asarray(0.7, np.float32), np.asarray(-0.2, np.float32)
    out, tmp = np.empty_like(x), np.empty_like(x)
    expected = np.tanh(a * x + b) / (1 + np.exp(-x))
    f3 = nnf.elementwise()
    contestants = {"numpy": lambda: ref.elementwise(a, x, b, out, tmp)}
    wrong = []
    if np.allclose(f3(a, x, b), expected, rtol=1e-5, atol=1e-6):
        contestants["nnframe"] = lambda: f3(a, x, b)
    else:
        wrong.append("nnframe")
    if tw is not None:
        t3 = tw.elementwise(a, x, b)
        contestants["torch"] = t3
    t = harness.race(contestants, r(30), 3)
    rows.append(("W3", "tanh(a*x+b)*sigmoid(x), 4M float32", t, wrong))

    print("W5 CNN, batch 64")
    t, wrong = training_workload(
        "W5", lambda: cnn_problem(64), lambda p: ref.CNNStep(p, 0.01),
        lambda p: nnf.cnn_step(p, 0.01)[0], tw and (lambda p: tw.cnn_step(p, 0.01)),
        rounds=r(15), calls=3)
    rows.append(("W5", "CNN 2x(conv3x3+ReLU+maxpool2)+dense SGD step, batch 64", t, wrong))

    print("W4 compile, import, call overhead, memory")
    here = os.path.dirname(os.path.abspath(__file__))
    compile_code = (
        "import sys, time; sys.path.insert(0, %r)\n"
        "import numpy as np, nnframe, nnframe_workloads as w, run\n"
        "p, X, y = run.mlp_problem([784, 512, 512, 10], 128)\n"
        "t = time.perf_counter(); w.mlp_step(p, 0.01); print(time.perf_counter() - t)" % here)
    compile_s = harness.median_of_processes(compile_code, 5 if not args.quick else 2, env)
    import_s = harness.median_of_processes(
        "import time; t = time.perf_counter(); import nnframe, nnframe.tensor; "
        "print(time.perf_counter() - t)", 7 if not args.quick else 2, env)
    import nnframe.tensor as T
    from nnframe import function
    xv = T.fvector("x")
    tiny = function([xv], xv + 1)
    v8 = np.ones(8, np.float32)
    n = 20000
    overhead = min(timeit.repeat(lambda: tiny(v8), number=n, repeat=7)) / n
    numpy_tiny = min(timeit.repeat(lambda: v8 + 1, number=n, repeat=7)) / n
    params, X, y = mlp_problem([784, 512, 512, 10], 128)
    mem_ref = peak_memory(ref.MLPStep(params, 0.01), X, y)
    mem_nnf = peak_memory(nnf.mlp_step(params, 0.01)[0], X, y)

    write_results(args.out, rows, compile_s, import_s, overhead, numpy_tiny, mem_ref, mem_nnf)
    print(open(args.out).read())


_BACKENDS = {"numpy": "NumPy backend", "native": "native backend", "opencl": "OpenCL backend"}


def write_results(path, rows, compile_s, import_s, overhead, numpy_tiny, mem_ref, mem_nnf):
    info = harness.machine()
    torch_version = getattr(getattr(tw, "torch", None), "__version__", None)
    import nnframe
    lines = [
        f"# nnframe benchmarks: {_BACKENDS[config.device]}",
        "",
        f"Measured {datetime.date.today().isoformat()} by `python benchmarks/run.py` on "
        f"{info['cpu']} ({info['cores']} cores), Python {info['python']}, NumPy {info['numpy']}, "
        f"nnframe {nnframe.__version__}"
        + (f", torch {torch_version}" if torch_version else ", torch not installed") + ".",
        f"One thread (OPENBLAS_NUM_THREADS={info['blas_threads']}). Medians of alternating "
        "rounds; ratio = time / hand-written in-place NumPy time in the same run (lower is "
        "better). Losses after 5 steps were checked against NumPy (1e-4 relative) before timing.",
        "",
        "| workload | numpy | nnframe | ratio | budget | met | torch (ratio) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, title, times, wrong in rows:
        base = times["numpy"]
        if "nnframe" in times:
            ratio = times["nnframe"] / base
            nnf_text, ratio_text = f"{times['nnframe'] * 1e3:.3f} ms", f"{ratio:.2f}x"
            met = "yes" if ratio <= BUDGETS[key] else "**no**"
        else:
            nnf_text, ratio_text, met = "WRONG", "-", "**no**"
        torch_text = (f"{times['torch'] * 1e3:.3f} ms ({times['torch'] / base:.2f}x)"
                      if "torch" in times else ("WRONG" if "torch" in wrong else "-"))
        lines.append(f"| {key} {title} | {base * 1e3:.3f} ms | {nnf_text} | {ratio_text} | "
                     f"<= {BUDGETS[key]}x | {met} | {torch_text} |")
    lines += [
        "",
        "| measure | value | budget | met |",
        "|---|---|---|---|",
        f"| W4 build + grad + rewrite + link of the W1 step (fresh process) | {compile_s:.3f} s "
        f"| <= 1 s | {'yes' if compile_s <= 1 else '**no**'} |",
        f"| `import nnframe, nnframe.tensor` | {import_s:.3f} s | < 0.5 s | "
        f"{'yes' if import_s < 0.5 else '**no**'} |",
        f"| call overhead of `x + 1` on 8 float32 | {overhead * 1e6:.2f} us (NumPy's `x + 1`: "
        f"{numpy_tiny * 1e6:.2f} us) | <= 10 us | {'yes' if overhead <= 10e-6 else '**no**'} |",
        f"| peak memory of one W1 step (tracemalloc) | {mem_nnf / 2**20:.2f} MiB vs NumPy "
        f"{mem_ref / 2**20:.2f} MiB = {mem_nnf / mem_ref:.2f}x | <= 1.3x | "
        f"{'yes' if mem_nnf / mem_ref <= 1.3 else '**no**'} |",
        "",
        "## Notes",
        "",
        "- **Contestants.** `numpy`: the hand-written, in-place step in "
        "`benchmarks/numpy_reference.py` (`+=`, `out=`, temporaries only where NumPy needs "
        "them; W3 reuses two preallocated buffers). `nnframe`: the step written as a Theano "
        "user writes it (`benchmarks/nnframe_workloads.py`: `T.nnet.softmax` + "
        "`categorical_crossentropy`, `T.grad`, `updates=[(p, p - lr * g)]`), compiled with the "
        f"mode `{config.device}` (`--device`); W3 returns `Out(..., borrow=True)` as a Theano "
        "user would for a reused "
        "buffer. `torch`: eager PyTorch on one thread (`benchmarks/torch_workloads.py`), when "
        "installed.",
        "- **What makes nnframe fast here**: the SGD updates become in-place GEMMs calling the "
        "OpenBLAS bundled with NumPy (W1, W5), the softmax-crossentropy pair becomes one "
        "stable Op, elementwise chains are fused into one node whose kernel reuses its buffers "
        "and, on large arrays, runs in cache-sized blocks of rows (W3: the hand-written code "
        "streams each 16 MiB intermediate through memory once per ufunc), and the compiled "
        "step is one flat Python function (see docs/decisions.md).",
        "- **W4** is measured in fresh processes (median of 5) after `import nnframe`: building "
        "the W1 graph, `T.grad`, the rewrites and linking. The import time is measured "
        "separately (median of 7 fresh processes).",
        "- **Memory**: tracemalloc's peak over one step after a warm-up call (it sees NumPy's "
        "allocations); nnframe's in-place updates and freed-after-last-use intermediates keep "
        "it below the hand-written step's.",
        "- The machine is a shared 2-core VM: repeated runs differ by a few percent; ratios "
        "are computed within one run.",
        "",
    ]
    lines += ["## Native backend", "",
              "The same workloads on `mode='native'` (generated C), with its budgets and jax and "
              "PyTensor-numba beside torch: `python benchmarks/bench_native.py`, see "
              "[RESULTS-native.md](RESULTS-native.md).", ""]
    lines += ["## Recurrent networks", "",
              "The LSTM training step (budget <= 1.5x hand-written NumPy, torch as a peer), the "
              "cost per scan iteration (budget <= 5 us) and the LSTM step on OpenCL are measured "
              "by `python benchmarks/bench_recurrent.py`: see "
              "[RESULTS-recurrent.md](RESULTS-recurrent.md)."]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


if __name__ == "__main__":
    main()
