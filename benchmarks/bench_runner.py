"""Where the recipe runner's time goes, and what a checkpoint costs.

Run from the repository root:
    python benchmarks/bench_runner.py [--quick] [--out benchmarks/RESULTS-runner.md]

- Runs: ``recipes/mlp_digits.yaml`` (40 epochs) and
  ``benchmarks/recipes/small_mlp_150.yaml`` (a 40-100-100-10 MLP, batch 100,
  150 epochs, Adam, on generated data) through :func:`nnframe.train.run`, each
  ``--repeats`` times; the runner's own accounting (``report.json``'s
  ``time``) says how much of the wall time after start-up went into the
  compiled functions (training steps and evaluation), checkpoints, data and
  the rest.  Budget: >= 85% in compiled functions.
- Checkpoints: the median cost of one ``last.h5`` write of each run's model
  (``CheckpointManager.save`` with parameters, Adam state and progress), at
  epoch 1 and at epoch 1000 of the progress counters (its cost must not grow
  with the epochs run).  Budget: <= 5 ms below 1M parameters.

One BLAS thread, as in benchmarks/run.py.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
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

from nnframe.train import trainer  # noqa: E402

RECIPES = {"mlp_digits": os.path.join(ROOT, "recipes", "mlp_digits.yaml"),
           "small_mlp_150": os.path.join(HERE, "recipes", "small_mlp_150.yaml")}
BUDGETS = {"compiled_fraction": 0.85, "checkpoint_ms": 5.0}


def time_run(path, repeats, plots=False):
    """The report's ``time`` of the fastest of ``repeats`` runs (quietly, into a temp
    directory), with the share in compiled functions; ``plots`` draws curves.png."""
    best = None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            report = trainer.run(path, ["logging.progress=never",
                                        f"logging.plots={'true' if plots else 'false'}"],
                                 out=os.path.join(tmp, "run"))
        spent = report["time"]
        after = sum(v for k, v in spent.items() if k != "start_up")
        spent["compiled_fraction"] = (spent["steps"] + spent["evaluation"]) / after
        spent["after_start_up"] = after
        if best is None or after < best["after_start_up"]:
            best = spent
    return best


def fresh_cli_run(path, overrides=()):
    """The report's ``time`` of one ``python -m nnframe.train`` process (plots on)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        subprocess.run([sys.executable, "-m", "nnframe.train", path, "--out", out, "--set",
                        "logging.progress=never", "--set", "logging.plots=true",
                        *[w for o in overrides for w in ("--set", o)]], check=True,
                       capture_output=True,
                       cwd=ROOT)
        with open(os.path.join(out, "report.json"), encoding="utf-8") as fh:
            spent = json.load(fh)["time"]
    spent["after_start_up"] = sum(v for k, v in spent.items() if k != "start_up")
    spent["compiled_fraction"] = (spent["steps"] + spent["evaluation"]) / spent["after_start_up"]
    return spent


def checkpoint_cost(path, saves):
    """Median ms of one last.h5 write of the recipe's model, at epoch 1 and epoch 1000."""
    p = trainer.prepare(path, ["logging.progress=never"])
    with tempfile.TemporaryDirectory() as tmp:
        t = trainer.Trainer(p, tmp, stdout=io.StringIO())
        n_params = sum(v.get_value(borrow=True).size for v in t.params)
        costs = {}
        for epoch in (1, 1000):
            t.progress.update(epoch=epoch, step=epoch * 40)
            samples = []
            for _ in range(saves):
                start = time.perf_counter()
                t.save()
                samples.append(time.perf_counter() - start)
            costs[epoch] = 1000 * statistics.median(samples)
    return n_params, costs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--out", help="write the results as markdown to this file")
    args = parser.parse_args(argv)
    repeats, saves = (1, 10) if args.quick else (3, 50)
    lines = [f"# The recipe runner: time outside the model ({datetime.date.today()})", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in harness.machine().items()), "",
             "`python benchmarks/bench_runner.py`: the fastest of "
             f"{repeats} runs of each recipe; times in seconds after start-up (reading, "
             "building and compiling), from the runner's own accounting (`report.json` "
             "`time`).", "",
             "| recipe | after start-up | steps | evaluation | checkpoints | data | other | "
             "in compiled functions (budget >= 85%) |", "|---|---|---|---|---|---|---|---|"]
    ok = True
    for name, path in RECIPES.items():
        spent = time_run(path, repeats)
        ok &= spent["compiled_fraction"] >= BUDGETS["compiled_fraction"]
        lines.append(f"| {name} | {spent['after_start_up']:.2f} | {spent['steps']:.2f} | "
                     f"{spent['evaluation']:.2f} | {spent['checkpoints']:.3f} | "
                     f"{spent['data']:.2f} | {spent['other']:.2f} | "
                     f"**{100 * spent['compiled_fraction']:.1f}%** |")
        print(lines[-1], flush=True)
    for name, path in RECIPES.items():
        spent = fresh_cli_run(path)
        ok &= spent["compiled_fraction"] >= BUDGETS["compiled_fraction"]
        lines.append(f"| {name}: a fresh `python -m nnframe.train` (curves.svg drawn) | "
                     f"{spent['after_start_up']:.2f} | {spent['steps']:.2f} | "
                     f"{spent['evaluation']:.2f} | {spent['checkpoints']:.3f} | "
                     f"{spent['data']:.2f} | {spent['other']:.2f} | "
                     f"{100 * spent['compiled_fraction']:.1f}% |")
        print(lines[-1], flush=True)
    spent = fresh_cli_run(RECIPES["mlp_digits"], ["logging.plot_format=png"])
    lines.append(f"| mlp_digits: a fresh `python -m nnframe.train`, curves.png by matplotlib "
                 f"(`plot_format: png`, not the default) | {spent['after_start_up']:.2f} | "
                 f"{spent['steps']:.2f} | {spent['evaluation']:.2f} | "
                 f"{spent['checkpoints']:.3f} | {spent['data']:.2f} | {spent['other']:.2f} | "
                 f"{100 * spent['compiled_fraction']:.1f}% |")
    print(lines[-1], flush=True)
    lines += ["", "The first rows run in this process with `logging.plots: false`; the next "
              "are one fresh `python -m nnframe.train` process each, as shipped (curves.svg, "
              "written by nnframe, counted under other). The last row asks for curves.png "
              "instead: matplotlib's import is start-up, but drawing its first figure (about "
              "0.25 s: it loads its fonts) is counted under other.", "",
              f"One `last.h5` write (`Trainer.save`: parameters, Adam state, random "
              f"streams, progress; temp file, fsync, rename), median of {saves}:", "",
              "| recipe | parameters | at epoch 1 | at epoch 1000 | budget |",
              "|---|---|---|---|---|"]
    for name, path in RECIPES.items():
        n_params, costs = checkpoint_cost(path, saves)
        ok &= max(costs.values()) <= BUDGETS["checkpoint_ms"]
        lines.append(f"| {name} | {n_params:,} | {costs[1]:.2f} ms | {costs[1000]:.2f} ms | "
                     f"<= {BUDGETS['checkpoint_ms']:g} ms |")
        print(lines[-1], flush=True)
    lines += ["", f"All budgets met: {'yes' if ok else 'NO'}"]
    text = "\n".join(lines) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
