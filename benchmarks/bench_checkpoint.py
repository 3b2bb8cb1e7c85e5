"""What one checkpoint costs: ``save_checkpoint`` and ``load_checkpoint`` of MLPs with Adam.

Run from the repository root:
    python benchmarks/bench_checkpoint.py [--repeat 50] [--before HEAD] [--dir DIR]
                                          [--out FILE]

- Models: MLPs of about 15k, 100k and 1M float32 parameters, each saved
  with Adam-like optimizer state (m and v per parameter, a step counter and
  the learning rate), one random-stream state, a progress dict as the
  trainer keeps it (counters, no metric history), the recipe texts and the
  optimizer's hyperparameters; one more row saves the 15k model with a
  150-epoch metric history in ``progress`` (what the trainer used to save).
- Each save replaces the file written by the previous one, fsync and atomic
  rename included, as ``last.h5`` is replaced every epoch.  Median and 90th
  percentile over ``--repeat`` saves; loads: median over ``--repeat`` loads.
- ``--before REV`` also times ``nnframe/checkpoint.py`` of the git revision
  REV (imported from ``git show``), alternating with the working tree's
  save by save so that drifts of the machine hit both alike; the files it
  writes are loaded with the working tree's code, which must read them back
  exactly (older format versions stay readable).
- Budget: <= 5 ms per save below 1M parameters.

Files are written under ``--dir`` (default: a new temporary directory); the
file system matters (fsync): the table says which it was.  Budget-sized
numbers need a quiet machine: on a shared VM, repeat and compare medians.
"""
import argparse
import datetime
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)
import harness  # noqa: E402
import numpy as np  # noqa: E402

from nnframe import checkpoint  # noqa: E402

#: (label, layer sizes, rows of metric history in progress)
WORKLOADS = [("MLP 64-200-10", (64, 200, 10), 0),
             ("MLP 784-128-10", (784, 128, 10), 0),
             ("MLP 784-1000-200-10", (784, 1000, 200, 10), 0),
             ("MLP 64-200-10, 150-epoch history in progress", (64, 200, 10), 150)]
BUDGET_MS, BUDGET_BELOW = 5.0, 1_000_000
RECIPE = "".join(f"# line {i} of a recipe as written\nkey{i}: {{value: {i}}}\n" for i in range(30))


def mlp_contents(sizes, history=0, seed=0):
    """Keyword arguments of save_checkpoint for an MLP trained with Adam."""
    r = np.random.default_rng(seed)
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"dense{i}/W"] = r.standard_normal((n_in, n_out)).astype("float32")
        params[f"dense{i}/b"] = r.standard_normal(n_out).astype("float32")
    optim = {f"{name}/adam/{m}": r.standard_normal(v.shape).astype("float32")
             for name, v in params.items() for m in "mv"}
    optim["adam/t"] = np.asarray(1234, "int64")
    optim["learning_rate"] = np.asarray(1e-3, "float32")
    progress = {"epoch": 12, "step": 1234, "batch": 0, "best": 0.0931, "best_epoch": 11,
                "wait": 1, "seconds": 12.5}
    if history:
        progress["history"] = [{"epoch": e + 1, "step": 10 * (e + 1), "lr": 1e-3,
                                "train.loss": 0.5 / (e + 1), "valid.loss": 0.6 / (e + 1),
                                "valid.accuracy": 0.9, "seconds": 0.1 * (e + 1)}
                               for e in range(history)]
    return {"params": params, "optim": optim, "progress": progress,
            "rng": {"dropout1/rstate": r.integers(0, 2**63, 6, dtype="uint64")},
            "recipe_original": RECIPE, "recipe_resolved": RECIPE + "seed: 3\n",
            "optim_info": {"rule": "adam", "hyperparameters": {
                "learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}}}


def n_params(contents):
    return sum(v.size for v in contents["params"].values())


def module_at(revision):
    """nnframe/checkpoint.py of a git revision, imported as its own module."""
    source = subprocess.run(["git", "show", f"{revision}:nnframe/checkpoint.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location("checkpoint_before", fh.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.remove(fh.name)
    return module


def filesystem(path):
    """The type of the file system ``path`` is on (Linux), for the table."""
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts") as fh:
            for line in fh:
                _, mount, fstype = line.split()[:3]
                if os.path.abspath(path).startswith(mount) and len(mount) > len(best):
                    best, kind = mount, fstype
    except OSError:
        pass
    return kind


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(modules, contents, directory, repeat):
    """{name: (save seconds list, load seconds list, file bytes)}, alternating modules."""
    paths = {name: os.path.join(directory, f"{name}.h5") for name in modules}
    saves = {name: [] for name in modules}
    loads = {name: [] for name in modules}
    for name, module in modules.items():  # warm up (imports, caches), and a first file
        module.save_checkpoint(paths[name], **contents)
    for _ in range(repeat):
        for name, module in modules.items():
            saves[name].append(timed(lambda m=module, p=paths[name]:
                                     m.save_checkpoint(p, **contents)))
    for _ in range(repeat):
        for name, module in modules.items():
            loads[name].append(timed(lambda m=module, p=paths[name]: m.load_checkpoint(p)))
    return {name: (saves[name], loads[name], os.path.getsize(paths[name])) for name in modules}


def check_readable(directory, contents, names):
    """The working tree's load_checkpoint reads every module's file back exactly."""
    for name in names:
        ckpt = checkpoint.load_checkpoint(os.path.join(directory, f"{name}.h5"))
        for group in ("params", "optim"):
            for key, value in contents[group].items():
                if getattr(ckpt, group)[key].tobytes() != value.tobytes():
                    raise SystemExit(f"{name}: {group}/{key} did not come back exactly")


def ms(seconds):
    return f"{1e3 * seconds:.2f} ms"


def p90(samples):
    return statistics.quantiles(samples, n=10)[-1]


def row_for(label, contents, results):
    """One markdown row: save median and p90, load median (and the same before), sizes."""
    size = n_params(contents)
    saves, loads, nbytes = results["after"]
    median = statistics.median(saves)
    budget = "" if size >= BUDGET_BELOW else ("yes" if 1e3 * median <= BUDGET_MS else "no")
    cells = [label, f"{size:,}", f"{ms(median)} / {ms(p90(saves))}",
             ms(statistics.median(loads)), f"{nbytes / 1e6:.2f} MB", budget]
    if "before" in results:
        old_saves, old_loads, _ = results["before"]
        old = statistics.median(old_saves)
        cells[2:2] = [f"{ms(old)} / {ms(p90(old_saves))}"]
        cells[4:4] = [f"{old / median:.1f}x", ms(statistics.median(old_loads))]
    return "| " + " | ".join(cells) + " |"


def report(rows, directory, repeat, before):
    m = harness.machine()
    h5py = checkpoint._h5py()
    head = (f"Measured {datetime.date.today()} by `python benchmarks/bench_checkpoint.py"
            f" --repeat {repeat}{f' --before {before}' if before else ''}` on {m['cpu']} "
            f"({m['cores']} cores), Python {m['python']}, NumPy {m['numpy']}, h5py "
            f"{h5py.__version__} (HDF5 {h5py.version.hdf5_version}), files on "
            f"{filesystem(directory)}.\n"
            f"Each save replaces the previous file (fsync and atomic rename included); save: "
            f"median / p90 over {repeat} saves, load: median over {repeat} loads; budget: <= "
            f"{BUDGET_MS:g} ms per save below {BUDGET_BELOW:,} parameters.\n")
    columns = ["model (+ Adam m, v)", "params", "save", "load", "file", "budget met"]
    if before:
        columns = ["model (+ Adam m, v)", "params", f"save {before}", "save now", "speed-up",
                   f"load {before}", "load now", "file now", "budget met"]
    table = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)] + rows
    return head + "\n" + "\n".join(table) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=50, help="saves (and loads) per model")
    parser.add_argument("--before", metavar="REV", help="also time checkpoint.py of git REV")
    parser.add_argument("--dir", help="where to write the files (default: a temporary one)")
    parser.add_argument("--out", help="also write the table (markdown) to this file")
    args = parser.parse_args(argv)
    modules = {"after": checkpoint}
    if args.before:
        modules = {"before": module_at(args.before), "after": checkpoint}
    directory = tempfile.mkdtemp(prefix="bench_checkpoint-", dir=args.dir)
    rows = []
    for label, sizes, history in WORKLOADS:
        contents = mlp_contents(sizes, history)
        results = measure(modules, contents, directory, args.repeat)
        check_readable(directory, contents, modules)
        rows.append(row_for(label, contents, results))
        print(rows[-1], flush=True)
    text = report(rows, directory, args.repeat, args.before)
    print("\n" + text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    for name in os.listdir(directory):
        os.remove(os.path.join(directory, name))
    os.rmdir(directory)


if __name__ == "__main__":
    main()
