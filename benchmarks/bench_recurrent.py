"""nnframe's recurrent benchmarks: an LSTM training step and Scan's cost per iteration.

Run from the repository root:
    python benchmarks/bench_recurrent.py [--quick] [--out benchmarks/RESULTS-recurrent.md]
    python benchmarks/bench_recurrent.py --profile     # also print where nnframe's step goes

- LSTM: one Adam step (lr 1e-3) of an LSTM of 128 units over sequences of
  shape (32, 50, 28) whose final hidden state feeds a dense layer to 10
  classes and softmax cross-entropy.  Contestants: the hand-written NumPy step
  (``numpy_reference.LSTMStep``, the yardstick), nnframe's LSTMLayer +
  DenseLayer + ``optim.adam`` (``nnframe_workloads.lstm_step``), PyTorch's
  ``nn.LSTM`` when installed, and, with pyopencl and a device, nnframe's step
  with ``mode="opencl"``.
- Scan: ``T.scan(lambda h: h + 1, ...)`` for ``n`` steps, compiled as
  ``function([n], h[-1])``: microseconds per iteration.

As in benchmarks/run.py: one BLAS thread (OPENBLAS_NUM_THREADS=1, set before
NumPy is imported), medians of alternating rounds, ratios against the NumPy
contestant of the same run, and every contestant's losses of its first 5
steps must match the NumPy reference to 1e-4 relative before it is timed.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import harness  # noqa: E402
import nnframe_workloads as nnf  # noqa: E402
import numpy_reference as ref  # noqa: E402
from harness import check, losses_after  # noqa: E402

from nnframe.config import config  # noqa: E402

try:
    import torch_workloads as tw  # noqa: E402
except ImportError:
    tw = None

BUDGETS = {"lstm": 1.5, "lstm_torch": 1.0, "scan_us": 5.0}
BATCH, STEPS, FEATURES, UNITS, CLASSES = 32, 50, 28, 128, 10
LR = 1e-3
SCAN_N = 10000


def lstm_problem(seed=0):
    """``([W_in, W_hid, b, W, c], X, y)``: the gates stacked ``[i, f, c, o]`` on W's columns."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    limit = np.sqrt(6.0 / (UNITS + CLASSES))
    params = [rng.normal(0, 0.1, (FEATURES, 4 * UNITS)).astype(f32),   # Lasagne's Gate default
              rng.normal(0, 0.1, (UNITS, 4 * UNITS)).astype(f32),
              rng.normal(0, 0.1, 4 * UNITS).astype(f32),   # not 0: a misplaced bias shows
              rng.uniform(-limit, limit, (UNITS, CLASSES)).astype(f32),
              np.zeros(CLASSES, f32)]
    X = rng.standard_normal((BATCH, STEPS, FEATURES)).astype(f32)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int64)
    return params, X, y


def faults_per_call(fn, calls=10):
    """Minor page faults per call of ``fn()`` (fresh memory the kernel had to map)."""
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def lstm(rounds, calls):
    """Times per step, wrong contestants, compile seconds and page faults per step."""
    params, X, y = lstm_problem()
    reference = ref.LSTMStep(params, LR)
    ref_losses = losses_after(reference, X, y)
    contestants = {"numpy": lambda: reference(X, y)}
    fresh = ref.LSTMStep(params, LR, reuse=False)
    candidates = {"numpy, fresh arrays every call": lambda: fresh}
    start = time.perf_counter()
    step, _ = nnf.lstm_step(params, LR)
    compile_s = time.perf_counter() - start
    candidates["nnframe"] = lambda: step
    if tw is not None:
        candidates["torch"] = lambda: tw.lstm_step(params, LR)
    wrong = []
    for name, make in candidates.items():
        fn = make()
        if check(f"LSTM {name}", ref_losses, losses_after(fn, X, y)):
            contestants[name] = (lambda s: lambda: s(X, y))(fn)
        else:
            wrong.append(name)
    times = harness.race(contestants, rounds, calls)
    faults = {name: faults_per_call(fn) for name, fn in contestants.items()}
    return times, wrong, compile_s, faults


def scan_overhead(rounds):
    """Microseconds per iteration of the nnframe Scan and of the NumPy loop, and the
    nnframe call with one iteration.

    ``h[-1]`` needs at least one step, so nnframe's baseline is ``n = 1``:
    (time(n = 1 + N) - time(n = 1)) / N.  The NumPy loop's is ``n = 0``.
    """
    f = nnf.scan_count()
    if float(f(1 + SCAN_N)) != 1 + SCAN_N or float(f(1)) != 1:
        raise AssertionError(f"scan_count gave {f(1 + SCAN_N)} for n = {1 + SCAN_N}")

    def numpy_count(n):
        h = np.zeros((), np.float32)
        for _ in range(n):
            h = h + 1
        return h
    assert numpy_count(SCAN_N) == SCAN_N
    per_iter, numpy_per_iter, short = [], [], []
    for _ in range(rounds):
        t_long = harness.time_calls(lambda: f(1 + SCAN_N), 1)
        t_short = harness.time_calls(lambda: f(1), 50)
        per_iter.append((t_long - t_short) / SCAN_N)
        short.append(t_short)
        t_long = harness.time_calls(lambda: numpy_count(SCAN_N), 1)
        t_short = harness.time_calls(lambda: numpy_count(0), 50)
        numpy_per_iter.append((t_long - t_short) / SCAN_N)
    return {"nnframe": statistics.median(per_iter), "numpy": statistics.median(numpy_per_iter),
            "nnframe_n1": statistics.median(short)}


def opencl_lstm(rounds, calls):
    """The nnframe step with ``mode="opencl"`` against the NumPy step, or why not.

    Returns a dict: ``status`` ('ok', 'skipped', 'error', 'wrong') and what was measured.
    """
    try:
        import pyopencl  # noqa: F401

        from nnframe.backends import opencl
        queue = opencl.get_backend().ctx.queue
        device = opencl.get_backend().ctx.device
    except Exception as exc:  # no pyopencl, no platform or device
        return {"status": "skipped", "why": f"{type(exc).__name__}: {_first_line(exc)}"}
    result = {"device": f"{device.name} ({device.platform.name} {device.platform.version})"}
    params, X, y = lstm_problem()
    reference = ref.LSTMStep(params, LR)
    ref_losses = losses_after(reference, X, y)
    before = opencl.fallbacks()
    try:
        start = time.perf_counter()
        step, _ = nnf.lstm_step(params, LR, mode="opencl")
        result["compile_s"] = time.perf_counter() - start
        start = time.perf_counter()
        losses = [float(step(X, y))]
        result["first_call_s"] = time.perf_counter() - start
        losses += losses_after(step, X, y, 4)
    except Exception as exc:
        result.update(status="error", why=f"{type(exc).__name__}: {_first_line(exc)}")
        print(f"  LSTM opencl: {result['why']}")
        return result
    after = opencl.fallbacks()
    result["fallbacks"] = {k: v - before.get(k, 0) for k, v in after.items()
                           if v != before.get(k, 0)}
    if not check("LSTM opencl", ref_losses, losses):
        result.update(status="wrong", losses=losses, reference=ref_losses)
        return result

    def drained():
        out = step(X, y)
        queue.finish()
        return out
    times = harness.race({"numpy": lambda: reference(X, y), "opencl": drained}, rounds, calls)
    result.update(status="ok", times=times)
    return result


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def profile_nnframe(calls=20, file=None):
    """Print the per-node profile of one nnframe LSTM step: the outer graph and the
    steps of its Scans (forward and backward), in ms per training step."""
    import nnframe.core.function as core_function
    inner = []
    original = core_function.function

    def recording(*args, **kwargs):   # the Scan kernels compile their steps through this
        if str(kwargs.get("name", "")).endswith(" step"):
            kwargs["profile"] = True
            f = original(*args, **kwargs)
            inner.append(f)
            return f
        return original(*args, **kwargs)
    core_function.function = recording
    try:
        params, X, y = lstm_problem()
        step, _ = nnf.lstm_step(params, LR, profile=True)
        step(X, y)
    finally:
        core_function.function = original
    for _ in range(2):
        step(X, y)
    for f in [step] + inner:
        stats = f.profile
        stats.calls, stats.call_time = 0, 0.0
        stats.node_time.clear()
        stats.node_calls.clear()
    for _ in range(calls):
        step(X, y)
    out = file or sys.stdout
    total = step.profile.call_time / calls
    print(f"\nnnframe LSTM step, profiled: {total * 1e3:.2f} ms per step (with the timers)",
          file=out)
    for f in [step] + inner:
        _print_profile(f.profile, calls, out)


def _print_profile(stats, calls, out, n=12):
    in_nodes = sum(stats.node_time.values())
    print(f"\n{stats.name or 'training step'}: {in_nodes / calls * 1e3:.2f} ms in nodes per "
          "training step", file=out)
    for name, (sec, count) in sorted(stats.by_op_class().items(), key=lambda kv: -kv[1][0]):
        print(f"  {sec / calls * 1e3:8.3f} ms  {count // calls:5d} calls  {name}", file=out)
    print("  costliest nodes:", file=out)
    order = sorted(range(len(stats.nodes)), key=lambda k: -stats.node_time[k])[:n]
    for k in order:
        text = str(stats.nodes[k])
        text = text if len(text) < 150 else text[:147] + "..."
        print(f"  {stats.node_time[k] / calls * 1e3:8.3f} ms  {stats.node_calls[k] // calls:5d} "
              f"calls  {text}", file=out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (for a smoke run)")
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS-recurrent.md"))
    parser.add_argument("--profile", action="store_true",
                        help="also print the per-node profile of nnframe's LSTM step")
    harness.add_device_option(parser)
    args = parser.parse_args()
    harness.use_device(args.device)
    scale = 0.2 if args.quick else 1.0
    r = lambda n: max(3, int(n * scale))  # noqa: E731

    print(f"LSTM {UNITS} units, batch {BATCH}, {STEPS} steps, {FEATURES} features")
    lstm_times, lstm_wrong, compile_s, faults = lstm(rounds=r(60), calls=3)
    print("Scan overhead")
    scan = scan_overhead(rounds=r(61))
    print("LSTM on OpenCL")
    cl = opencl_lstm(rounds=r(20), calls=2)
    write_results(args.out, lstm_times, lstm_wrong, compile_s, faults, scan, cl)
    print(open(args.out).read())
    if args.profile:
        profile_nnframe()


def _met(ok):
    return "yes" if ok else "**no**"


def write_results(path, times, wrong, compile_s, faults, scan, cl):
    import nnframe
    info = harness.machine()
    torch_version = getattr(getattr(tw, "torch", None), "__version__", None)
    base = times["numpy"]
    lines = [
        "# nnframe benchmarks: recurrent networks (NumPy backend)",
        "",
        f"Measured {datetime.date.today().isoformat()} by `python benchmarks/bench_recurrent.py` "
        f"on {info['cpu']} ({info['cores']} cores), Python {info['python']}, NumPy "
        f"{info['numpy']}, nnframe {nnframe.__version__}"
        + (f", torch {torch_version}" if torch_version else ", torch not installed") + ".",
        f"One thread (OPENBLAS_NUM_THREADS={info['blas_threads']}; torch.set_num_threads(1)). "
        "Medians of alternating rounds; ratio = time / the hand-written NumPy step's time in "
        "the same run (lower is better). Losses of the first 5 steps were checked against "
        "NumPy (1e-4 relative) before timing.",
        "",
        f"## LSTM training step: {UNITS} units, batch {BATCH}, {STEPS} steps, {FEATURES} "
        f"features, final state -> dense {CLASSES} -> softmax cross-entropy, Adam",
        "",
        "| contestant | ms per step | ratio to numpy | budget | met | page faults per step |",
        "|---|---|---|---|---|---|",
        f"| numpy (`numpy_reference.LSTMStep`) | {base * 1e3:.2f} | 1.00x | | | "
        f"{faults['numpy']:.0f} |",
    ]
    for name in ("numpy, fresh arrays every call", "nnframe", "torch"):
        if name == "torch" and tw is None:
            lines.append("| torch | not installed | | | | |")
            continue
        budget = f"<= {BUDGETS['lstm']}x" if name == "nnframe" else ""
        if name in times:
            ratio = times[name] / base
            met = _met(ratio <= BUDGETS["lstm"]) if name == "nnframe" else ""
            lines.append(f"| {name} | {times[name] * 1e3:.2f} | {ratio:.2f}x | {budget} | {met} "
                         f"| {faults[name]:.0f} |")
        else:
            lines.append(f"| {name} | WRONG | - | {budget} | {'**no**' if budget else ''} | |")
    if "nnframe" in times and "torch" in times:
        ratio = times["nnframe"] / times["torch"]
        lines.append(f"| nnframe / torch | | {ratio:.2f}x | <= {BUDGETS['lstm_torch']}x "
                     f"(aim) | {_met(ratio <= BUDGETS['lstm_torch'])} | |")
    lines += [
        "",
        f"Building, differentiating and compiling the nnframe step took {compile_s:.2f} s.",
        "",
        "## Scan: cost per iteration",
        "",
        f"`h, _ = T.scan(lambda h: h + 1, outputs_info=T.constant(np.float32(0)), n_steps=n)` "
        f"compiled as `function([n], h[-1])`: (time at n = {1 + SCAN_N} - time at n = 1) / "
        f"{SCAN_N} (`h[-1]` needs one step), median of the rounds.",
        "",
        "| measure | value | budget | met |",
        "|---|---|---|---|",
        f"| nnframe Scan, per iteration | {scan['nnframe'] * 1e6:.2f} us | "
        f"<= {BUDGETS['scan_us']:g} us | {_met(scan['nnframe'] <= BUDGETS['scan_us'] * 1e-6)} |",
        f"| NumPy `for _ in range(n): h = h + 1` (0-d float32), per iteration | "
        f"{scan['numpy'] * 1e6:.2f} us | | |",
        f"| nnframe call with n = 1 | {scan['nnframe_n1'] * 1e6:.1f} us | | |",
        "",
        "## LSTM training step on OpenCL (`mode=\"opencl\"`)",
        "",
    ]
    lines += _opencl_lines(cl, base)
    lines += [
        "",
        "## Notes",
        "",
        "- **Contestants.** `numpy`: `benchmarks/numpy_reference.py` `LSTMStep`, the step a "
        "careful NumPy programmer writes: the input projection of all 50 steps in one GEMM, "
        "the four gates' nonlinearities as one `tanh` over the stacked pre-activations "
        "(sigmoid(x) = 0.5 tanh(x/2) + 0.5), backpropagation through time by hand with "
        "everything that does not depend on the recurrence (gate derivatives, weight "
        "gradients) computed for all steps at once outside the loops, Adam in place, and its "
        "work arrays (about 13 MiB) reused from call to call. The row `numpy, fresh arrays "
        "every call` is the same code allocating them every call (as MLPStep in run.py, "
        "and as nnframe does), for reference. `nnframe`: `benchmarks/nnframe_workloads.py` "
        "`lstm_step`: `InputLayer`, `LSTMLayer(..., peepholes=False, only_return_final=True, "
        "precompute_input=True)`, `DenseLayer`, `losses.categorical_crossentropy_from_logits`"
        ", `optim.adam`, `function(..., updates=...)` with mode "
        f"`{config.device}` (`--device`). `torch`: "
        "`nn.LSTM(28, 128, batch_first=True)` + `nn.Linear` + `cross_entropy` + "
        "`optim.Adam`, eager, one thread (`benchmarks/torch_workloads.py`); its second LSTM "
        "bias is zero and frozen.",
        "- **Same start.** All contestants start from the same arrays (the LSTM's gates "
        "stacked [ingate, forgetgate, cell, outgate], torch's i, f, g, o) and the same Adam "
        "(lr 1e-3, betas 0.9/0.999, eps 1e-8). Adam's epsilon is added as in Lasagne "
        "(`lr_t * m / (sqrt(v) + eps)`) by numpy and nnframe and as in torch "
        "(`lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`) by torch, which moves "
        "torch's losses by about 3e-5 relative after 5 steps, within the check's 1e-4.",
        "- **Page faults** are the process's minor faults per step (`getrusage`), counted "
        "after the timed rounds: memory the kernel had to map for arrays allocated during "
        "the step. Whether glibc's malloc hands back memory that is still mapped depends on "
        "the process's history, so they vary from run to run (and with them the cost of "
        "allocating per step: a few ms per step on this VM when it faults).",
        "- The machine is a shared 2-core VM: repeated runs differ by several percent; "
        "ratios are computed within one run. `--profile` prints where nnframe's step goes, "
        "per node of the outer graph and of the forward and backward Scans' steps.",
        "",
    ]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


def _opencl_lines(cl, numpy_alone):
    status = cl["status"]
    if status == "skipped":
        return [f"Not run: {cl['why']}."]
    lines = [f"Device: {cl['device']}. The same nnframe step compiled with `mode=\"opencl\"`; "
             "every timed call ends with the queue drained."]
    if status == "error":
        return lines + ["", f"**Failed**: {cl['why']}"]
    lines += ["", f"Compile: {cl['compile_s']:.1f} s; first call (builds the program, or "
              f"loads it from the cache): {cl['first_call_s']:.1f} s. Nodes run on the host "
              "(fallbacks): "
              + (", ".join(f"{k} ({v})" for k, v in cl["fallbacks"].items()) or "none") + "."]
    if status == "wrong":
        return lines + ["", f"**WRONG** losses {cl['losses']} vs NumPy {cl['reference']}."]
    t = cl["times"]
    lines += [
        "",
        "| contestant | ms per step | ratio to numpy |",
        "|---|---|---|",
        f"| numpy (`LSTMStep`, 1 thread) | {t['numpy'] * 1e3:.2f} | 1.00x |",
        f"| nnframe, `mode=\"opencl\"` | {t['opencl'] * 1e3:.2f} | "
        f"{t['opencl'] / t['numpy']:.2f}x |",
        "",
        "PoCL runs its work on all cores: the NumPy step timed in alternation with it "
        "shares the machine with PoCL's threads, and both move most with any other load "
        "on the VM. Against the NumPy step of the first table "
        f"({numpy_alone * 1e3:.2f} ms) the OpenCL step is {t['opencl'] / numpy_alone:.2f}x.",
    ]
    return lines


if __name__ == "__main__":
    main()
