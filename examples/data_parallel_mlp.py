"""A hand-written MLP training loop, made data-parallel over MPI with nnframe.distributed.

Run on one process, or the same script unchanged on N processes:
    python examples/data_parallel_mlp.py [--epochs 10] [--save params.npz]
    mpirun -n 2 python examples/data_parallel_mlp.py [--epochs 10] [--save params.npz]
(Open MPI wants --allow-run-as-root as root, and --oversubscribe for more ranks than cores.)

The data are Gaussian points labelled by a random "teacher" MLP, so nothing is downloaded.
Every rank makes the same data and shuffles with the same seed, so all of them iterate the
same global minibatches; each computes the gradient of its shard of a minibatch, the
gradients are summed over the ranks, and every rank applies the same Adam update.  The one
change from a single-process loop is the training function:
    train = function([x, y], loss, updates=optim.adam(loss, params, 1e-3))         # one
    train = data_parallel([x, y], loss, params, lambda g, p: optim.adam(g, p, 1e-3))  # N
Only rank 0 prints and saves; the parameters agree with one process's to rounding.
"""
# nnframe first: under mpirun it gives each rank its share of the cores for the BLAS, which
# must happen before NumPy loads it (two ranks of two BLAS threads on two cores crawl).
import nnframe  # noqa: F401, I001

import argparse

import numpy as np

import nnframe.tensor as T
from nnframe import distributed, function, init, losses, optim, shared


def make_data(rng, n, features=20, classes=5):
    """Gaussian points, labelled by the argmax of a random tanh MLP (the teacher)."""
    w1 = rng.standard_normal((features, 64)) / np.sqrt(features)
    w2 = rng.standard_normal((64, classes)) * 2
    x = rng.standard_normal((n, features)).astype("float32")
    y = np.argmax(np.tanh(x @ w1) @ w2, axis=1).astype("int32")
    return x, y


def build(features, classes, hidden, seed):
    """The data-parallel training step, the predict function and the parameters."""
    x, y = T.fmatrix("x"), T.ivector("y")
    sizes = [features, *hidden, classes]
    params, h = [], x
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        w = shared(init.GlorotUniform(seed=seed + i)((n_in, n_out)), name=f"W{i}")
        b = shared(np.zeros(n_out, "float32"), name=f"b{i}")
        params += [w, b]
        h = T.dot(h, w) + b
        h = T.relu(h) if i < len(hidden) else h        # the last layer gives logits
    loss = losses.categorical_crossentropy_from_logits(h, y).mean()
    # data_parallel broadcasts rank 0's parameters, then each call takes the global
    # minibatch, computes this rank's shard's gradients, sums them and applies Adam.
    train = distributed.data_parallel([x, y], loss, params,
                                      lambda grads, ps: optim.adam(grads, ps, 1e-3))
    predict = function([x], T.argmax(h, axis=1), name="predict")
    return train, predict, params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128, help="global minibatch")
    parser.add_argument("--samples", type=int, default=4000, help="training examples")
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 128])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", metavar="PATH", help="write the final parameters (.npz)")
    args = parser.parse_args(argv)

    job = distributed.world()                 # one process, or the ranks of mpirun
    say = print if job.is_root else (lambda *a, **k: None)
    rng = np.random.default_rng(args.seed)    # the same seed: the same data on every rank
    x_all, y_all = make_data(rng, args.samples + 1000)
    x_train, y_train, x_test, y_test = (x_all[:args.samples], y_all[:args.samples],
                                        x_all[args.samples:], y_all[args.samples:])
    train, predict, params = build(x_all.shape[1], int(y_all.max()) + 1, args.hidden,
                                   args.seed)
    say(f"{job.size} process(es), global minibatch {args.batch_size} "
        f"({args.batch_size // job.size} or so per process)")

    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(args.samples)       # the same order on every rank
        total = 0.0
        for start in range(0, args.samples, args.batch_size):
            batch = order[start:start + args.batch_size]
            # the loss of the global minibatch, the same on every rank
            total += float(train(x_train[batch], y_train[batch])) * len(batch)
        say(f"epoch {epoch:3d}  train loss {total / args.samples:.4f}")

    accuracy = float((predict(x_test) == y_test).mean())
    say(f"test accuracy {accuracy:.4f}")
    if args.save and job.is_root:
        np.savez(args.save, **{p.name: p.get_value() for p in params})
    return accuracy


if __name__ == "__main__":
    main()
