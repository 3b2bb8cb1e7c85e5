"""Lasagne-style networks trained on scikit-learn's bundled digits (1,797 8x8 images):
an MLP and a small CNN, trained with adam (nnframe.optim.adam) on a fixed stratified
split (1,437 train / 360 test), each reaching >= 97% test accuracy."""
import numpy as np
import pytest

# scikit-learn is part of the test extra: these are real accuracy tests, not optional.
from sklearn import datasets, model_selection  # noqa: E402

import nnframe.tensor as T
from nnframe import function, nonlinearities, rng
from nnframe.layers import DenseLayer, InputLayer, get_all_layers, get_all_params, get_output
from nnframe.layers.conv import Conv2DLayer
from nnframe.layers.noise import DropoutLayer
from nnframe.layers.normalization import batch_norm
from nnframe.layers.pool import MaxPool2DLayer
from nnframe.optim import adam


@pytest.fixture(scope="module")
def digits():
    data = datasets.load_digits()
    images = (data.images / 16.0).astype("float32")  # pixel values 0..16 -> [0, 1]
    labels = data.target.astype("int32")
    x_train, x_test, y_train, y_test = model_selection.train_test_split(
        images, labels, test_size=360, stratify=labels, random_state=0)
    assert (len(x_train), len(x_test)) == (1437, 360)
    return x_train, y_train, x_test, y_test


def train_and_test(network, l_in, data, epochs, learning_rate, decay_epoch, batch_size=32):
    """Train ``network`` with adam on minibatches (the learning rate divided by 10 from
    ``decay_epoch`` on); return (first epoch's mean loss, last epoch's, test accuracy)."""
    x_train, y_train, x_test, y_test = data
    shape = (-1,) + l_in.output_shape[1:]
    x_train, x_test = x_train.reshape(shape), x_test.reshape(shape)
    y = T.ivector("y")
    loss = T.nnet.categorical_crossentropy(get_output(network), y).mean()
    updates = adam(loss, get_all_params(network, trainable=True), learning_rate=learning_rate)
    train = function([l_in.input_var, y], loss, updates=updates)
    predict = function([l_in.input_var],
                       T.argmax(get_output(network, deterministic=True), axis=1))
    order = np.random.default_rng(0)
    losses = []
    for epoch in range(epochs):
        if epoch == decay_epoch:
            updates.learning_rate.set_value(np.float32(learning_rate / 10))
        perm = order.permutation(len(x_train))
        batches = [perm[i:i + batch_size] for i in range(0, len(perm), batch_size)]
        losses.append(np.mean([train(x_train[b], y_train[b]) for b in batches]))
    return losses[0], losses[-1], (predict(x_test) == y_test).mean()


def test_mlp_reaches_97_percent(digits):
    rng.set_rng(42)
    l_in = InputLayer((None, 64), name="pixels")
    net = DenseLayer(l_in, 256, name="hidden1")
    net = DropoutLayer(net, p=0.2, name="drop1")
    net = DenseLayer(net, 128, name="hidden2")
    net = DropoutLayer(net, p=0.2, name="drop2")
    net = DenseLayer(net, 10, nonlinearity=nonlinearities.softmax, name="out")
    first, last, accuracy = train_and_test(net, l_in, digits, epochs=20, learning_rate=3e-3,
                                           decay_epoch=14)
    assert last < first / 5
    assert accuracy >= 0.97


def test_cnn_reaches_97_percent(digits):
    """Conv2DLayer + MaxPool2DLayer + DenseLayer, the convolutions batch-normalized: the
    test predictions use the running averages that training updated."""
    rng.set_rng(7)
    l_in = InputLayer((None, 1, 8, 8), name="images")
    net = batch_norm(Conv2DLayer(l_in, 16, 3, pad="same", name="conv1"))   # 16 x 8 x 8
    net = MaxPool2DLayer(net, 2, name="pool1")                               # 16 x 4 x 4
    net = batch_norm(Conv2DLayer(net, 32, 3, pad="same", name="conv2"))    # 32 x 4 x 4
    net = MaxPool2DLayer(net, 2, name="pool2")                               # 32 x 2 x 2
    net = DenseLayer(net, 64, name="hidden")
    net = DropoutLayer(net, p=0.2, name="drop")
    net = DenseLayer(net, 10, nonlinearity=nonlinearities.softmax, name="out")
    bn1 = get_all_layers(net)[2]
    assert bn1.name == "conv1_bn" and not bn1.mean.get_value().any()
    first, last, accuracy = train_and_test(net, l_in, digits, epochs=15, learning_rate=3e-3,
                                           decay_epoch=10)
    assert bn1.mean.get_value().any()                # the running averages were trained
    assert last < first / 5
    assert accuracy >= 0.97
