# This is Theano's own tutorial program, "A Real Example: Logistic Regression"
# (http://deeplearning.net/software/theano/tutorial/examples.html), written the way a
# Theano user writes it: the sigmoid by hand, the cross-entropy from log(p_1) and
# log(1 - p_1), T.grad and function(..., updates=...).  Only the imports are renamed
# (theano -> nnframe, see docs/porting.md), the random generator is seeded, and the
# number of steps and the data size are options.  The stabilize rewrites turn
# 1 / (1 + exp(-z)) into sigmoid(z) and the logs into softplus, in the compiled
# function and in the cost T.grad differentiates, so a point with |z| = 800 gives a
# finite loss and gradient instead of NaN weights.
#
# Run:  python examples/logistic_regression_handwritten.py [--steps 10000] [--seed 0]
import argparse

import numpy

import nnframe
import nnframe.tensor as T


def main(argv=None):
    parser = argparse.ArgumentParser(description="Theano's logistic-regression tutorial")
    parser.add_argument("--steps", type=int, default=10000, help="training steps")
    parser.add_argument("--samples", type=int, default=400, help="training sample size")
    parser.add_argument("--features", type=int, default=784, help="number of input variables")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = numpy.random
    rng.seed(args.seed)

    N = args.samples                          # training sample size
    feats = args.features                     # number of input variables

    # generate a dataset: D = (input_values, target_class)
    D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2))
    training_steps = args.steps

    # Declare symbolic variables
    x = T.dmatrix("x")
    y = T.dvector("y")

    # initialize the weight vector w randomly
    #
    # this and the following bias variable b
    # are shared so they keep their values
    # between training iterations (updates)
    w = nnframe.shared(rng.randn(feats), name="w")

    # initialize the bias term
    b = nnframe.shared(0., name="b")

    print("Initial model:")
    print(w.get_value())
    print(b.get_value())

    # Construct the expression graph
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))        # Probability that target = 1
    prediction = p_1 > 0.5                         # The prediction thresholded
    xent = -y * T.log(p_1) - (1-y) * T.log(1-p_1)  # Cross-entropy loss function
    cost = xent.mean() + 0.01 * (w ** 2).sum()     # The cost to minimize
    gw, gb = T.grad(cost, [w, b])                  # Compute the gradient of the cost
                                                   # w.r.t weight vector w and
                                                   # bias term b

    # Compile
    train = nnframe.function(
              inputs=[x, y],
              outputs=[prediction, xent],
              updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    predict = nnframe.function(inputs=[x], outputs=prediction)

    # Train
    for i in range(training_steps):  # noqa: B007  (the tutorial's loop, as written)
        pred, err = train(D[0], D[1])

    print("Final model:")
    print(w.get_value())
    print(b.get_value())
    print("target values for D:")
    print(D[1])
    print("prediction on D:")
    print(predict(D[0]))

    finite = bool(numpy.isfinite(w.get_value()).all() and numpy.isfinite(b.get_value())
                  and numpy.isfinite(err).all())
    accuracy = float((predict(D[0]) == D[1]).mean())
    print(f"finite weights and loss: {finite}")
    print(f"training accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
