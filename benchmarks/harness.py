"""Timing helpers: alternating rounds, medians, and a description of the machine."""
import os
import platform
import statistics
import subprocess
import sys
import time


def add_device_option(parser, default="numpy"):
    """``--device``: the backend the script's nnframe contestant runs on (its results file
    was measured on ``default``; the native backend has its own bench, bench_native.py)."""
    parser.add_argument("--device", choices=["numpy", "native", "opencl"], default=default,
                        help=f"nnframe's backend (config.device; default: {default})")


def use_device(device):
    """Sets ``config.device`` here and for the fresh processes the script starts; returns
    their environment."""
    from nnframe.config import config
    config.device = device
    env = dict(os.environ)
    flags = env.get("NNFRAME_FLAGS", "")
    env["NNFRAME_FLAGS"] = f"{flags},device={device}" if flags else f"device={device}"
    return env


def time_calls(fn, calls):
    """Seconds per call of ``fn()`` over ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def race(contestants, rounds, calls):
    """Median seconds per call of each contestant, timed in alternating rounds.

    ``contestants`` maps a name to a zero-argument callable.  Every round times
    each contestant once, in turn, so slow drifts of the machine hit all alike.
    """
    samples = {name: [] for name in contestants}
    for fn in contestants.values():     # warm up caches and buffers
        fn()
    for _ in range(rounds):
        for name, fn in contestants.items():
            samples[name].append(time_calls(fn, calls))
    return {name: statistics.median(s) for name, s in samples.items()}


def losses_after(step, X, y, n=5):
    """The losses of ``n`` training steps on the same minibatch."""
    return [float(step(X, y)) for _ in range(n)]


def check(name, reference_losses, losses):
    """Whether ``losses`` match the reference to 1e-4 relative; says so when they do not."""
    import numpy as np
    ok = np.allclose(losses, reference_losses, rtol=1e-4, atol=0)
    if not ok:
        print(f"  {name}: WRONG losses {losses} vs reference {reference_losses}")
    return ok


def median_of_processes(code, runs, env=None):
    """Median of the float each fresh ``python -c code`` process prints."""
    values = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, check=True)
        values.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(values)


def machine():
    """A short description of where the numbers come from."""
    import numpy as np
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }
