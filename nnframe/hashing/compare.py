"""Compare hashing methods: ``python -m nnframe.hashing.compare``.

Fits the baselines (LSH, PCAH, ITQ, SH) and trains the hashing autoencoder of
``recipes/hashing_ae_mnist5k.yaml`` with each estimator, for every code
length and seed, on the same query/database splits, and prints tables of the
retrieval metrics (mean ± std over seeds)::

    python -m nnframe.hashing.compare --bits 16 32 64 --seeds 0 1 2 \\
        --markdown docs/hashing_results.md

``--dataset digits`` runs the secondary protocol (30 queries per class).
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

from nnframe.hashing.baselines import BASELINES
from nnframe.hashing.protocol import split_protocol
from nnframe.hashing.retrieval import evaluate

__all__ = ["compare", "main", "recipe_overrides"]

METRICS = ["mAP", "precision@100", "knn_precision@50", "recon", "bit_balance", "distinct_codes"]
PROTOCOLS = {"mnist5k": (100, 255.0), "digits": (30, 16.0)}
RECIPE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "recipes", "hashing_ae_mnist5k.yaml")


def _raw(dataset):
    from nnframe.data import load_dataset
    ds = load_dataset(dataset, shape="flat", scale=1.0, dtype="float64")
    return ds.x, ds.y


def baseline_results(name, x, y, bits, seed, dataset="mnist5k"):
    """Retrieval metrics of baseline ``name`` on the protocol split of ``seed``."""
    queries, scale = PROTOCOLS[dataset]
    split = split_protocol(x, y, seed, queries, scale)
    method = BASELINES[name]().fit(split.db_x, bits, seed=seed)
    return evaluate(method.encode(split.query_x), method.encode(split.db_x), split.query_y,
                    split.db_y, split.query_x, split.db_x)


def recipe_overrides(estimator, bits, epochs, dataset="mnist5k"):
    """The ``--set`` overrides that make the recipe train ``estimator`` with ``bits`` bits
    for ``epochs`` epochs on the retrieval split of ``dataset``'s protocol.

    >>> recipe_overrides("noise", 16, 5, "digits")[4:7]
    ['data.dataset.type=digits', 'data.split.queries_per_class=30', 'data.split.scale=16.0']
    """
    queries, scale = PROTOCOLS[dataset]
    return [f"model.builder.bits={bits}", f"model.builder.estimator={estimator}",
            f"train.epochs={epochs}", f"schedule.total_steps={epochs}",
            f"data.dataset.type={dataset}", f"data.split.queries_per_class={queries}",
            f"data.split.scale={scale}", "logging.plots=false", "logging.progress=never"]


def trained_results(estimator, bits, seed, epochs, dataset="mnist5k", recipe=RECIPE,
                    out=None):
    """Retrieval metrics of the hashing autoencoder trained with ``estimator``."""
    from nnframe.train import run
    overrides = recipe_overrides(estimator, bits, epochs, dataset)
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.devnull, "w") as quiet:
            report = run(recipe, overrides, seed=seed, out=out or tmp, stdout=quiet)
    return {k: report[k] for k in METRICS}, report["seconds"]


def compare(dataset="mnist5k", bits=(16, 32, 64), seeds=(0, 1, 2),
            estimators=("none", "identity", "hardtanh", "noise"), epochs=100, log=None):
    """``{method: {bits: [metrics dict per seed]}}`` and training seconds per run."""
    x, y = _raw(dataset)
    results, seconds = {}, []
    for b in bits:
        for seed in seeds:
            for name in ("lsh", "pcah", "itq", "sh"):
                results.setdefault(name.upper(), {}).setdefault(b, []).append(
                    baseline_results(name, x, y, b, seed, dataset))
            for est in estimators:
                metrics, secs = trained_results(est, b, seed, epochs, dataset)
                results.setdefault(f"AE {est}", {}).setdefault(b, []).append(metrics)
                seconds.append(secs)
                if log:
                    print(f"  {b} bits, seed {seed}, {est}: mAP {metrics['mAP']:.4f} "
                          f"({secs:.1f} s)", file=log, flush=True)
    return results, seconds


def _cell(values, metric):
    values = np.asarray(values, dtype=float)
    if metric == "distinct_codes":
        return f"{values.mean():.0f} ± {values.std():.0f}"
    digits = 2 if metric == "recon" else 4
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def tables(results, bits):
    """Markdown tables, one per metric: methods by code length (mean ± std over seeds)."""
    out = []
    for metric in METRICS:
        out.append(f"### {metric}\n")
        out.append("| method | " + " | ".join(f"{b} bits" for b in bits) + " |")
        out.append("|---|" + "---|" * len(bits))
        for method, by_bits in results.items():
            cells = [_cell([r[metric] for r in by_bits[b]], metric) for b in bits]
            out.append(f"| {method} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nnframe.hashing.compare",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(PROTOCOLS), default="mnist5k")
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--estimators", nargs="+", default=["none", "identity", "hardtanh",
                                                            "noise"])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--markdown", help="also write the tables to this file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results, seconds = compare(args.dataset, args.bits, args.seeds, args.estimators,
                               args.epochs, log=sys.stderr)
    text = tables(results, args.bits)
    text += (f"\n{len(seconds)} training runs of {args.epochs} epochs: median "
             f"{np.median(seconds):.1f} s each; total {time.perf_counter() - start:.0f} s.\n")
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
