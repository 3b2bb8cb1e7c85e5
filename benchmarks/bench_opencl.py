"""Benchmarks of the OpenCL backend (issue 5); writes benchmarks/RESULTS-opencl.md.

    python benchmarks/bench_opencl.py            # all, ~2 minutes on 2 cores
    python benchmarks/bench_opencl.py --quick    # fewer rounds
    python benchmarks/bench_opencl.py --max-vector-bits 256   # kernels no wider than AVX2

- W3: ``tanh(a*x + b) * sigmoid(x)`` on 4M float32 as one fused, vectorised
  kernel (x and the result stay on the device), against NumPy (the NumPy
  backend and hand-written in-place NumPy); also with the upload and
  download of every call counted in;
- W1: an SGD step of a 784-512-512-10 ReLU MLP (batch 128) on OpenCL
  against the NumPy backend, with its transfers per step;
- GEMM: GFLOP/s of float32 products (256^2, 1024^2, 4096^2 and the W1
  step's; device-resident operands) with the built-in tile and the tuned
  one, against NumPy; the cost of tuning at first use and what it measured;
- compile: first call of the W1 step in a fresh process, cold (empty
  program cache, the driver's kernel cache off: PoCL's or NVIDIA's) and
  cached; and the build of 20 kernels as 20 programs against one program.

Times are medians of alternating rounds (benchmarks/harness.py).  The
device runs asynchronously: every timed OpenCL call ends with the queue
drained, so a time covers the work done.  As in benchmarks/run.py, NumPy's
BLAS runs on one thread (OPENBLAS_NUM_THREADS=1, set before NumPy is
imported): OpenBLAS threads spin after each call and would take the cores
from PoCL's worker threads in alternating rounds.  PoCL uses every core.
"""
import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
#: what turns the OpenCL driver's own kernel cache off (PoCL's; NVIDIA's)
NO_DRIVER_CACHE = {"POCL_KERNEL_CACHE": "0", "CUDA_CACHE_DISABLE": "1"}
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from harness import machine, race  # noqa: E402
from nnframe_workloads import w1_problem  # noqa: E402

import nnframe.tensor as T  # noqa: E402
from nnframe import function, shared  # noqa: E402
from nnframe.backends import opencl  # noqa: E402

N_W3 = 4 * 1024 * 1024


def drained(fn):
    """``fn`` followed by waiting for the device queue (what was launched is done)."""
    queue = opencl.get_backend().ctx.queue

    def run():
        out = fn()
        queue.finish()
        return out
    return run


def w3(rounds, calls):
    rng = np.random.default_rng(0)
    xv = rng.normal(size=N_W3).astype("float32")
    a, b = np.float32(0.7), np.float32(0.1)
    x_dev, y_dev = shared(xv, name="x"), shared(np.zeros_like(xv), name="y")
    fa, fb = T.fscalars("a", "b")
    resident = function([fa, fb], [], updates=[(y_dev, T.tanh(fa * x_dev + fb) * T.nnet.sigmoid(x_dev))],
                        mode="opencl")
    x = T.fvector("x")
    roundtrip = function([fa, x, fb], T.tanh(fa * x + fb) * T.nnet.sigmoid(x), mode="opencl",
                         trust_input=True)
    numpy_backend = function([fa, x, fb], T.tanh(fa * x + fb) * T.nnet.sigmoid(x), mode="numpy",
                             trust_input=True)
    kernels = [n for n in resident.maker.fgraph.toposort() if "Elemwise" in type(n.op).__name__]
    buf, tmp = np.empty_like(xv), np.empty_like(xv)

    def by_hand():
        out, s = buf, tmp
        np.multiply(xv, a, out=out)
        out += b
        np.tanh(out, out=out)
        np.negative(xv, out=s)
        np.exp(s, out=s)
        s += 1
        out /= s
        return out

    resident(a, b)
    want = np.tanh(a * xv + b) / (1 + np.exp(-xv))
    np.testing.assert_allclose(y_dev.get_value(), want, rtol=2e-6, atol=1e-6)
    times = race({"opencl (device-resident)": drained(lambda: resident(a, b)),
                  "opencl (upload + download)": lambda: roundtrip(a, xv, b),
                  "numpy backend": lambda: numpy_backend(a, xv, b),
                  "hand-written numpy": by_hand}, rounds, calls)
    return times, len(kernels)


def w1(rounds, calls):
    from nnframe_workloads import mlp_step
    params, X, y, _ = w1_problem()
    step_cl, _ = mlp_step(params, 0.01, mode="opencl")
    step_np, _ = mlp_step(params, 0.01, mode="numpy")
    losses = [(float(step_cl(X, y)), float(step_np(X, y))) for _ in range(5)]
    for got, want in losses:
        assert abs(got - want) <= 1e-4 * abs(want), losses
    opencl.reset_transfer_counts()
    step_cl(X, y)
    transfers = opencl.transfer_counts()
    times = race({"opencl": lambda: step_cl(X, y), "numpy backend": lambda: step_np(X, y)},
                 rounds, calls)
    return times, transfers


def per_call_counters(step, calls=20, reads=True):
    """What one call of ``step`` asks of the device (opencl.device_counts per call, after
    four warm-up calls: launch plans start at the third), its host time outside blocking
    waits, and, for a step that ``reads`` nothing back, its enqueue time
    (:func:`enqueue_time`; a read would wait for the held-back device forever)."""
    import time
    for _ in range(4):
        step()
    opencl.reset_transfer_counts()
    start = time.perf_counter()
    for _ in range(calls):
        step()
    elapsed = time.perf_counter() - start
    counts = {k: v / calls for k, v in opencl.device_counts().items()}
    counts["host_seconds"] = elapsed / calls - counts["wait_seconds"]
    counts["enqueue_seconds"] = None if reads else enqueue_time(step)
    return counts


def enqueue_time(step, rounds=30, per_round=8):
    """The host's time to enqueue one call of ``step``: the calling thread's CPU time
    (median), with the device held back by a user event until the round's calls are
    enqueued, so that its threads do not share the cores (PoCL's run on the host's CPUs).
    The first call of a round is not counted (the last round's device work evicted the
    host's caches)."""
    import time

    import pyopencl as cl
    ctx = opencl.get_backend().ctx
    ctx.queue.finish()
    times = []
    for _ in range(rounds):
        gate = cl.UserEvent(ctx.context)
        cl.enqueue_barrier(ctx.queue, wait_for=[gate])
        try:
            for k in range(per_round):
                start = time.thread_time()
                step()
                if k:
                    times.append(time.thread_time() - start)
        finally:
            gate.set_status(cl.command_execution_status.COMPLETE)
        ctx.queue.finish()
    return statistics.median(times)


def counters():
    """Per-call device counters of the W1 step (SGD, Adam; with and without launch plans)
    and of W3 (resident, round trip): the contract of issue 18, measured on whatever device
    runs the bench."""
    from nnframe_workloads import elementwise, mlp_step

    from nnframe.config import config
    params, X, y, rng = w1_problem()
    rows = {}
    for optimizer in ("sgd", "adam"):
        step, _ = mlp_step(params, 0.01, mode="opencl", optimizer=optimizer)
        rows[f"W1 step, {optimizer}"] = per_call_counters(lambda s=step: s(X, y))
    for replay in (True, False):
        with config.change_flags(opencl_replay=replay):
            for optimizer in ("sgd", "adam"):
                lazy, _ = mlp_step(params, 0.01, mode="opencl", lazy_loss=True,
                                   optimizer=optimizer)
                name = (f"W1 step, {optimizer}, loss left on the device (Out(borrow=True))"
                        + ("" if replay else ", no launch plans"))
                rows[name] = per_call_counters(lambda f=lazy: f(X, y), reads=False)
    xv = rng.normal(size=N_W3).astype("float32")
    a, b = np.float32(0.7), np.float32(0.1)
    x_dev, y_dev = shared(xv, name="x"), shared(np.zeros_like(xv), name="y")
    fa, fb = T.fscalars("a", "b")
    resident = function([fa, fb], [], updates=[(y_dev, T.tanh(fa * x_dev + fb)
                                                * T.nnet.sigmoid(x_dev))], mode="opencl")
    rows["W3, device-resident"] = per_call_counters(lambda: resident(a, b), 5, reads=False)
    roundtrip = elementwise(mode="opencl")
    rows["W3, upload + download"] = per_call_counters(lambda: roundtrip(a, xv, b).get(), 5)
    return rows


#: The matrix products of the GEMM section: (name, M, K, N, A transposed, B transposed).
GEMM_SHAPES = [
    ("256^2", 256, 256, 256, False, False),
    ("1024^2", 1024, 1024, 1024, False, False),
    ("4096^2", 4096, 4096, 4096, False, False),
    ("W1 forward, layer 1: X.W1", 128, 784, 512, False, False),
    ("W1 forward, layer 2: H1.W2", 128, 512, 512, False, False),
    ("W1 backward, weight gradient: X^T.G1", 784, 128, 512, True, False),
    ("W1 backward, input gradient: G2.W2^T", 128, 512, 512, False, True),
]


def gemm_product(m, k, n, a_t, b_t, tune):
    """A drained function computing ``A.B`` into a shared C (device-resident operands,
    transposed ones read in place), compiled with tile tuning on or off; and NumPy's."""
    from nnframe.config import config
    rng = np.random.default_rng(0)
    a = rng.normal(size=(k, m) if a_t else (m, k)).astype("float32")
    b = rng.normal(size=(n, k) if b_t else (k, n)).astype("float32")
    A, B = shared(a, name="A"), shared(b, name="B")
    C = shared(np.zeros((m, n), "float32"), name="C")
    with config.change_flags(opencl_tune=tune):
        f = drained(function([], [], updates=[(C, T.dot(A.T if a_t else A, B.T if b_t else B))],
                             mode="opencl"))
    a, b = (a.T if a_t else a), (b.T if b_t else b)
    f()
    np.testing.assert_allclose(C.get_value(), a @ b, rtol=1e-3, atol=1e-3)
    return f, lambda: a @ b


def gemm(rounds, calls):
    """GFLOP/s (medians of alternating rounds) of each product of :data:`GEMM_SHAPES`: the
    built-in tile, the tuned one (not timed again when it is the same kernel), NumPy's."""
    from nnframe.backends.opencl import tune
    from nnframe.backends.opencl.blas import GemmCode
    ctx = opencl.get_backend().ctx
    default, tuned = tune.default_tile(ctx, "float32"), tune.tile_for(ctx, "float32", GemmCode)
    rows = {}
    for name, m, k, n, a_t, b_t in GEMM_SHAPES:
        flops = 2 * m * k * n
        big = flops > 1e10           # 4096^2: seconds a product on PoCL, a few rounds only
        r, c = (3, 1) if big else (rounds, calls)
        f_default, f_numpy = gemm_product(m, k, n, a_t, b_t, tune=False)
        contestants = {"default": f_default, "numpy": f_numpy}
        if tuned != default:
            contestants["tuned"] = gemm_product(m, k, n, a_t, b_t, tune=True)[0]
        times = race(contestants, r, c)
        times.setdefault("tuned", times["default"])
        rows[name] = {key: flops / t / 1e9 for key, t in times.items()}
    return {"default": default, "tuned": tuned, "rows": rows}


_TUNE = """
import json, time
from nnframe.backends.opencl import tune
from nnframe.backends.opencl.blas import GemmCode
from nnframe.backends.opencl.context import get_context
ctx = get_context()
t = time.perf_counter()
tile = tune.tile_for(ctx, 'float32', GemmCode)
seconds = time.perf_counter() - t
with open(tune.cache_path(ctx, 'float32')) as fh:
    rates = json.load(fh)['gflops']
print(json.dumps([seconds, tune.STATS, list(tile), rates]))
"""


def first_tuning(runs):
    """The first GEMM's tuning in fresh processes (empty compiledir, driver cache off):
    its seconds (median) and the last run's choice and GFLOP/s of each candidate; then the
    seconds of reading the choice back in a process with the cache."""
    import json

    from nnframe.backends.opencl import tune
    n, reps = tune.PROBLEMS["cpu" if opencl.get_backend().ctx.cpu else "gpu"]
    results = []
    with tempfile.TemporaryDirectory() as warm_dir:
        for run in range(runs):
            with tempfile.TemporaryDirectory() as empty:
                directory = warm_dir if run == runs - 1 else empty
                env = dict(os.environ, NNFRAME_FLAGS=_flags(f"compiledir={directory}"),
                           **NO_DRIVER_CACHE)
                results.append(json.loads(_output(_TUNE, env)))
        cached = json.loads(_output(_TUNE, dict(
            os.environ, NNFRAME_FLAGS=_flags(f"compiledir={warm_dir}"))))
    return {"seconds": statistics.median(r[0] for r in results), "tile": results[-1][2],
            "gflops": results[-1][3], "cached_seconds": cached[0],
            "cached_tuned": cached[1]["tuned"], "n": n, "reps": reps}


_FIRST_CALL = """
import time, numpy as np
t0 = time.perf_counter()
import sys; sys.path.insert(0, {here!r})
from nnframe_workloads import mlp_step
rng = np.random.default_rng(0)
sizes = [784, 512, 512, 10]
params = []
for n_in, n_out in zip(sizes[:-1], sizes[1:]):
    params += [rng.normal(0, 0.05, (n_in, n_out)).astype('float32'), np.zeros(n_out, 'float32')]
t1 = time.perf_counter()
step, _ = mlp_step(params, 0.01, mode='opencl')
step(rng.normal(size=(128, 784)).astype('float32'), rng.integers(0, 10, 128))
print(time.perf_counter() - t1)
"""


def first_call(runs):
    """Seconds from compiling the W1 step to the end of its first call, in fresh processes."""
    code = _FIRST_CALL.format(here=HERE)
    results = {}
    with tempfile.TemporaryDirectory() as warm_dir:
        cold, cached = [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as empty:
                env = dict(os.environ, NNFRAME_FLAGS=_flags(f"compiledir={empty}"),
                           **NO_DRIVER_CACHE)
                cold.append(_run(code, env))
        env = dict(os.environ, NNFRAME_FLAGS=_flags(f"compiledir={warm_dir}"))
        _run(code, env)                          # fills both caches
        for _ in range(runs):
            cached.append(_run(code, env))
        results["cold (empty program cache, driver cache off)"] = statistics.median(cold)
        results["cached (program binary + driver kernel cache)"] = statistics.median(cached)
    return results


def _flags(*items):
    """NNFRAME_FLAGS of this process (e.g. a vector cap) plus ``items``."""
    return ",".join(filter(None, [os.environ.get("NNFRAME_FLAGS"), *items]))


def _output(code, env):
    """The last line ``python -c code`` prints."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    return out.stdout.strip().splitlines()[-1]


def _run(code, env):
    return float(_output(code, env))


_BUILD = """
import time, pyopencl as cl
ctx = cl.Context([cl.get_platforms()[0].get_devices()[0]])
src = [f"__kernel void k{{i}}(__global float* a, __global const float* b) {{{{ "
       f"size_t g = get_global_id(0); a[g] = tanh(b[g] * {{i}}.5f) + exp(b[g]); }}}}" for i in range(20)]
t = time.perf_counter()
{what}
print(time.perf_counter() - t)
"""


def one_vs_many(runs):
    env = dict(os.environ, **NO_DRIVER_CACHE)
    many = _BUILD.format(what="for s in src: cl.Program(ctx, s).build()")
    one = _BUILD.format(what="cl.Program(ctx, chr(10).join(src)).build()")
    return {"20 programs of 1 kernel": statistics.median(_run(many, env) for _ in range(runs)),
            "1 program of 20 kernels": statistics.median(_run(one, env) for _ in range(runs))}


def versions():
    import pyopencl as cl

    import nnframe
    from nnframe.backends.opencl.target import pocl_target, tile_bits, vector_bits
    from nnframe.config import config
    ctx = opencl.get_backend().ctx
    try:
        from importlib.metadata import version
        pocl = version("pocl-binary-distribution")
    except Exception:  # not installed from a wheel
        pocl = "?"
    return {"nnframe": nnframe.__version__, "pyopencl": cl.VERSION_TEXT, "pocl": pocl,
            "device": f"{ctx.device.name} ({ctx.device.platform.version})",
            "on_pocl": ctx.device.platform.name.startswith("Portable"),
            "target": pocl_target(ctx.device) or ctx.device.name,
            "widths": (vector_bits(ctx), tile_bits(ctx), config.opencl_max_vector_bits)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS-opencl.md"))
    parser.add_argument("--max-vector-bits", type=int, choices=(128, 256, 512),
                        help="cap the kernels' vectors (config.opencl_max_vector_bits)")
    args = parser.parse_args()
    if args.max_vector_bits:
        from nnframe.config import config
        config.opencl_max_vector_bits = args.max_vector_bits
        # the first-call subprocesses get the same cap
        os.environ["NNFRAME_FLAGS"] = _flags(f"opencl_max_vector_bits={args.max_vector_bits}")
    rounds = 5 if args.quick else 15
    load = os.getloadavg()[0]   # before this benchmark: other processes on the machine
    w3_times, w3_kernels = w3(rounds, 3)
    w1_times, w1_transfers = w1(rounds, 5)
    call_counters = counters()
    gflops = gemm(rounds, 2)
    tuning = first_tuning(2 if args.quick else 3)
    builds = one_vs_many(3 if args.quick else 5)
    compile_times = first_call(2 if args.quick else 3)
    write(args.out, w3_times, w3_kernels, w1_times, w1_transfers, gflops, tuning, builds,
          compile_times, rounds, call_counters, load)


def _tile_text(tile):
    """``8x8, work-group 1x1`` for a tile (rows x vector width)."""
    rm, w, local = tile
    return f"{rm}x{w}, work-group {local[0]}x{local[1]}"


def write(path, w3_times, w3_kernels, w1_times, w1_transfers, gflops, tuning, builds,
          compile_times, rounds, call_counters, load):
    m, v = machine(), versions()
    np_w3 = w3_times["hand-written numpy"]
    lines = [
        "# nnframe benchmarks: OpenCL backend",
        "",
        f"Measured {datetime.date.today()} by `python benchmarks/bench_opencl.py` on {m['cpu']} "
        f"({m['cores']} cores), Python {m['python']}, NumPy {m['numpy']}, nnframe "
        f"{v['nnframe']}, pyopencl {v['pyopencl']}, pocl-binary-distribution {v['pocl']}; "
        f"OpenCL device: {v['device']}, compiling for {v['target']}.",
        f"Vectors: {v['widths'][0]} bits in elementwise kernels, {v['widths'][1]} bits per GEMM "
        f"tile row (cap `opencl_max_vector_bits`: {v['widths'][2] or 'none'}).",
        f"Medians of {rounds} alternating rounds. OpenCL times include draining the queue. "
        f"NumPy's BLAS on {m['blas_threads']} thread(s) (OPENBLAS_NUM_THREADS)"
        + (f"; PoCL on all {m['cores']} cores." if v["on_pocl"] else ".")
        + f" Load average (1 min) before the run: {load:.1f}: other processes' load slows "
        "PoCL, which uses every core, more than NumPy on one thread.",
        "",
        "## W3: `tanh(a*x+b) * sigmoid(x)` on 4M float32",
        "",
        f"One fused kernel ({w3_kernels} elementwise node after fusion), vectorised.",
        "",
        "| variant | time | ratio to hand-written NumPy |",
        "|---|---|---|",
    ]
    for name, t in w3_times.items():
        lines.append(f"| {name} | {t * 1e3:.2f} ms | {t / np_w3:.2f}x |")
    lines += [
        "",
        "## W1: SGD step of a 784-512-512-10 ReLU MLP, batch 128",
        "",
        "| backend | time per step | ratio to NumPy backend |",
        "|---|---|---|",
    ]
    for name, t in w1_times.items():
        lines.append(f"| {name} | {t * 1e3:.2f} ms | {t / w1_times['numpy backend']:.2f}x |")
    lines += [
        "",
        f"Transfers of one OpenCL step: {w1_transfers['upload']} uploads "
        f"({w1_transfers['upload_bytes']} bytes: the minibatch X and y), "
        f"{w1_transfers['download']} download ({w1_transfers['download_bytes']} bytes: the loss), "
        f"{w1_transfers['checks']} error-flag checks. Losses of the first 5 steps agree with "
        "the NumPy backend within 1e-4 relative.",
        "",
        "## What one call asks of the device",
        "",
        "`opencl.device_counts()` per call (also in a function's profile, `config.profile`): "
        "kernels enqueued, host<->device transfers, blocking waits (the host stopped until the "
        "device caught up). *Host time*: a call's wall time outside those waits, calls back to "
        "back; on PoCL the device's threads share the host's cores, so it includes the host "
        "thread waiting for a core. *Enqueue time*: the calling thread's CPU time per call with "
        "the device held back (a user event) while a round of 8 calls is enqueued, median "
        "(what the host costs by itself: on a GPU the device has its own cores). Functions "
        "replay a launch plan from their third call with the same shapes "
        "(`config.opencl_replay`, docs/opencl.md). Issue 18's budget on PoCL: <= 16 kernels "
        "per W1 SGD step, <= 24 with Adam, host time <= 150 us; no blocking wait except to "
        "read a result.",
        "",
        "| call | kernels | uploads | downloads | blocking waits | time blocked | host time "
        "| enqueue time |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {name} | {c['kernels']:g} | {c['upload']:g} | {c['download']:g} | "
          f"{c['waits']:g} | {c['wait_seconds'] * 1e3:.2f} ms | "
          f"{c['host_seconds'] * 1e6:.0f} us | "
          + ("(reads)" if c["enqueue_seconds"] is None else f"{c['enqueue_seconds'] * 1e6:.0f} us")
          + " |"
          for name, c in call_counters.items()],
        "",
        "## GEMM, float32: built-in tile against the tuned one",
        "",
        "GFLOP/s (medians of alternating rounds; 4096^2: 3 rounds of one product) of `dot` "
        "into a shared variable, operands on the device (a transposed one read in place). "
        f"Built-in tile: {_tile_text(gflops['default'])}; tuned: {_tile_text(gflops['tuned'])}"
        + (" (the same kernel: timed once)." if gflops["tuned"] == gflops["default"] else ".")
        + f" NumPy: OpenBLAS on {m['blas_threads']} thread(s), for reference.",
        "",
        "| product (M x K x N) | built-in tile | tuned tile | NumPy |",
        "|---|---|---|---|",
        *[f"| {name} ({m_} x {k} x {n}) | {r['default']:.1f} | {r['tuned']:.1f} | "
          f"{r['numpy']:.1f} |"
          for (name, m_, k, n, *_), r in zip(GEMM_SHAPES, gflops["rows"].values())],
        "",
        *([("The project's 2-core VMs are shared: repeated runs of the same kernel have "
            "differed by up to 3x (see docs/opencl.md for the ranges per CPU)."), ""]
          if v["on_pocl"] else []),
        f"Tuning (`config.opencl_tune`, on by default) at the first GEMM per device and dtype, "
        f"in a fresh process with an empty compiledir and the driver's kernel cache off: "
        f"{tuning['seconds']:.2f} s (median of runs), building every candidate as one program "
        f"and timing each on a {tuning['n']}^3 product; a new process reads the choice back "
        f"from compiledir in {tuning['cached_seconds'] * 1e3:.1f} ms "
        f"({tuning['cached_tuned']} tunings there). A run chose "
        f"{_tile_text(tuning['tile'])}; its candidates:",
        "",
        "| candidate tile (rows x width / work-group) | "
        f"GFLOP/s ({tuning['n']}^3, median of {tuning['reps']}) |",
        "|---|---|",
        *[f"| {name} | {'rejected' if rate is None else f'{rate:.1f}'} |"
          for name, rate in tuning["gflops"].items()],
        "",
        "## Compile times",
        "",
        "| what | seconds |",
        "|---|---|",
    ]
    for name, t in builds.items():
        lines.append(f"| build of {name} (driver cache off) | {t:.2f} |")
    for name, t in compile_times.items():
        lines.append(f"| W1 step: compile + first call, {name} | {t:.2f} |")
    lines.append("")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
