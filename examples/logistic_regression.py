"""Logistic regression trained with function(..., updates=...): Theano's tutorial, on nnframe.

Run:  python examples/logistic_regression.py [--steps 300] [--seed 0]

The data are random points labelled by a hidden linear rule, so a linear
model can separate them; the script prints the loss as it falls and the
final training accuracy.
"""
import argparse
import time

import numpy as np

import nnframe.tensor as T
from nnframe import config, function, shared


def make_data(rng, n, features):
    """Random Gaussian points labelled by the sign of a random linear rule."""
    true_w = rng.standard_normal(features)
    x = rng.standard_normal((n, features)).astype(config.floatX)
    y = (x @ true_w > 0).astype(config.floatX)
    return x, y


def build(features, rng, learning_rate=0.1, l2=0.01):
    """The compiled train and predict functions, and the shared parameters."""
    x = T.matrix("x")
    y = T.vector("y")
    w = shared((rng.standard_normal(features) * 0.01).astype(config.floatX), name="w")
    b = shared(np.asarray(0.0, dtype=config.floatX), name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))          # probability of class 1
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)  # cross-entropy per example
    cost = xent.mean() + l2 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = function([x, y], [xent.mean(), prediction],
                     updates=[(w, w - learning_rate * gw), (b, b - learning_rate * gb)],
                     name="train")
    predict = function([x], prediction, name="predict")
    return train, predict, (w, b)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="full-batch SGD steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--features", type=int, default=784)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    x_train, y_train = make_data(rng, args.samples, args.features)
    start = time.perf_counter()
    train, predict, _ = build(args.features, rng)
    print(f"compiled in {time.perf_counter() - start:.3f} s")
    start = time.perf_counter()
    for step in range(args.steps):
        loss, _ = train(x_train, y_train)
        if step % max(args.steps // 10, 1) == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {float(loss):.4f}")
    train_acc = float((predict(x_train) == y_train).mean())
    print(f"trained {args.steps} steps in {time.perf_counter() - start:.2f} s")
    print(f"training accuracy {train_acc:.3f}")
    return train_acc


if __name__ == "__main__":
    main()
