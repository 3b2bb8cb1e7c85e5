#!/usr/bin/env python

"""
Variational autoencoder (AEVB, Kingma & Welling 2013, arXiv:1312.6114) on binarised
MNIST, written as in Lasagne Recipes (``examples/variational_autoencoder``, Tencia Lee).

As a Lasagne user writes it: only the imports are changed (``import
nnframe.compat.theano as theano``, ``import nnframe.compat.theano.tensor as T``,
``import nnframe.compat.lasagne as lasagne``, ``from
nnframe.compat.theano.sandbox.rng_mrg import MRG_RandomStreams as RandomStreams``, see
docs/porting.md). The data are the 5,000 MNIST digits shipped with nnframe (nothing is
downloaded), binarised; the model is the Recipe's binary one: an encoder MLP to the
``mu`` and ``log_sigma`` DenseLayers of q(z|x), a custom ``GaussianSampleLayer``
(a ``MergeLayer`` drawing z = mu + exp(log_sigma) * eps with ``MRG_RandomStreams``), a
decoder MLP to Bernoulli means, L samples of z whose decoders share their weights, and
the negative ELBO (cross-entropy plus the KL term) minimised with Adam.  Each epoch
prints the training and validation loss and ELBO (nats per image).

Run:  python examples/lasagne_vae.py [--epochs N] [--quick] [--seed N]
"""

from __future__ import print_function

import argparse
import time

import numpy as np

import nnframe.compat.lasagne as lasagne
import nnframe.compat.theano as theano
import nnframe.compat.theano.tensor as T
from nnframe.compat.theano.sandbox.rng_mrg import MRG_RandomStreams as RandomStreams

# ################## Prepare the MNIST dataset ##################
# The autoencoder learns well only in binary mode: most pixels are either very
# close to 0 or very close to 1, so we binarise them. nnframe ships 5,000 digits
# (500 of each, sorted by digit): we shuffle them once with a fixed seed and
# split them into training, validation and test set.

def load_dataset():
    from nnframe.data.datasets import load_mnist5k
    data = load_mnist5k(shape='image', dtype='float32')
    order = np.random.RandomState(1234).permutation(len(data.x))
    X = np.round(data.x[order]).astype(np.float32)
    y = np.asarray(data.y[order], dtype=np.uint8)
    X_train, X_test = X[:4000], X[4000:]
    y_train, y_test = y[:4000], y[4000:]
    X_train, X_val = X_train[:-500], X_train[-500:]
    y_train, y_val = y_train[:-500], y_train[-500:]
    return X_train, y_train, X_val, y_val, X_test, y_test


# ############################# Batch iterator ###############################

def iterate_minibatches(inputs, batchsize, shuffle=False):
    if shuffle:
        indices = np.arange(len(inputs))
        np.random.shuffle(indices)
    for start_idx in range(0, len(inputs) - batchsize + 1, batchsize):
        if shuffle:
            excerpt = indices[start_idx:start_idx + batchsize]
        else:
            excerpt = slice(start_idx, start_idx + batchsize)
        yield inputs[excerpt]


# ##################### Custom layer for middle of VCAE ######################
# This layer takes the mu and sigma (both DenseLayers) and combines them with
# a random vector epsilon to sample values for a multivariate Gaussian

class GaussianSampleLayer(lasagne.layers.MergeLayer):
    def __init__(self, mu, logsigma, rng=None, **kwargs):
        self.rng = rng if rng else RandomStreams(
            seed=lasagne.random.get_rng().randint(1, 2147462579))
        super(GaussianSampleLayer, self).__init__([mu, logsigma], **kwargs)

    def get_output_shape_for(self, input_shapes):
        return input_shapes[0]

    def get_output_for(self, inputs, deterministic=False, **kwargs):
        mu, logsigma = inputs
        shape = (self.input_shapes[0][0] or inputs[0].shape[0],
                 self.input_shapes[0][1] or inputs[0].shape[1])
        if deterministic:
            return mu
        return mu + T.exp(logsigma) * self.rng.normal(shape)


# ############################## Build Model #################################
# encoder has 1 hidden layer, where we get mu and sigma for Z given an inp X
# binary decoder has 1 hidden layer, where we calculate p(X=1)
# once we have (mu, sigma) for Z, we sample L times
# Then L separate outputs are constructed and the final layer averages them

def build_vae(inputvar, L=2, z_dim=2, n_hid=1024):
    x_dim = 784
    l_input = lasagne.layers.InputLayer(shape=(None, 1, 28, 28),
                                        input_var=inputvar, name='input')
    l_enc_hid = lasagne.layers.DenseLayer(l_input, num_units=n_hid,
                                          nonlinearity=lasagne.nonlinearities.tanh,
                                          name='enc_hid')
    l_enc_mu = lasagne.layers.DenseLayer(l_enc_hid, num_units=z_dim,
                                         nonlinearity=None, name='enc_mu')
    l_enc_logsigma = lasagne.layers.DenseLayer(l_enc_hid, num_units=z_dim,
                                               nonlinearity=None, name='enc_logsigma')
    l_output_list = []
    # tie the weights of all L versions so they are the "same" layer
    W_dec_hid = None
    b_dec_hid = None
    W_dec_mu = None
    b_dec_mu = None
    for _i in range(L):
        l_Z = GaussianSampleLayer(l_enc_mu, l_enc_logsigma, name='Z')
        l_dec_hid = lasagne.layers.DenseLayer(
            l_Z, num_units=n_hid,
            nonlinearity=lasagne.nonlinearities.tanh,
            W=lasagne.init.GlorotUniform() if W_dec_hid is None else W_dec_hid,
            b=lasagne.init.Constant(0.) if b_dec_hid is None else b_dec_hid,
            name='dec_hid')
        l_output = lasagne.layers.DenseLayer(
            l_dec_hid, num_units=x_dim,
            nonlinearity=lasagne.nonlinearities.sigmoid,
            W=lasagne.init.GlorotUniform() if W_dec_mu is None else W_dec_mu,
            b=lasagne.init.Constant(0.) if b_dec_mu is None else b_dec_mu,
            name='dec_output')
        l_output_list.append(l_output)
        if W_dec_hid is None:
            W_dec_hid = l_dec_hid.W
            b_dec_hid = l_dec_hid.b
            W_dec_mu = l_output.W
            b_dec_mu = l_output.b
    l_output = lasagne.layers.ElemwiseSumLayer(l_output_list, coeffs=1. / L, name='output')
    return l_enc_mu, l_enc_logsigma, l_output_list, l_output


# ############################## Main program ################################

def main(L=2, z_dim=2, n_hid=1024, num_epochs=300, batch_size=100, learning_rate=1e-4):
    # Load the dataset
    print("Loading data...")
    X_train, y_train, X_val, y_val, X_test, y_test = load_dataset()
    input_var = T.tensor4('inputs')

    # Create VAE model
    print("Building model and compiling functions...")
    print("L = {}, z_dim = {}, n_hid = {}, binary=True".format(L, z_dim, n_hid))
    l_z_mu, l_z_ls, l_x_list, l_x = build_vae(input_var, L=L, z_dim=z_dim, n_hid=n_hid)

    def build_loss(deterministic):
        layer_outputs = lasagne.layers.get_output([l_z_mu, l_z_ls] + l_x_list + [l_x],
                                                  deterministic=deterministic)
        z_mu = layer_outputs[0]
        z_ls = layer_outputs[1]
        x_list = layer_outputs[2:2 + L]
        x = layer_outputs[-1]
        # Loss expression has two parts as specified in [1]
        # kl_div = KL divergence between p_theta(z) and p(z|x)
        # - divergence between prior distr and approx posterior of z given x
        # - or how likely we are to see this z when accounting for Gaussian prior
        # logpxz = log p(x|z)
        # - log-likelihood of x given z
        # - in binary case logpxz = cross-entropy
        kl_div = 0.5 * T.sum(1 + 2 * z_ls - T.sqr(z_mu) - T.exp(2 * z_ls))
        logpxz = sum(T.nnet.binary_crossentropy(x, input_var.flatten(2)).sum()
                     for x in x_list) * (-1. / L)
        prediction = x_list[0] if deterministic else x
        loss = -1 * (logpxz + kl_div)
        return loss, prediction

    # If there are dropout layers etc these functions return masked or non-masked
    # expressions depending on if they will be used for training or validation/test
    loss, _ = build_loss(deterministic=False)
    test_loss, test_prediction = build_loss(deterministic=True)

    # ADAM updates
    params = lasagne.layers.get_all_params(l_x, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=learning_rate)
    train_fn = theano.function([input_var], loss, updates=updates)
    val_fn = theano.function([input_var], test_loss)

    print("Starting training...")
    for epoch in range(num_epochs):
        train_err = 0
        train_batches = 0
        start_time = time.time()
        for batch in iterate_minibatches(X_train, batch_size, shuffle=True):
            this_err = train_fn(batch)
            train_err += this_err
            train_batches += 1
        val_err = 0
        val_batches = 0
        for batch in iterate_minibatches(X_val, batch_size, shuffle=False):
            err = val_fn(batch)
            val_err += err
            val_batches += 1
        # the loss is the negative ELBO summed over a batch; per image, ELBO = -loss
        print("Epoch {} of {} took {:.3f}s".format(
            epoch + 1, num_epochs, time.time() - start_time))
        print("  training loss:\t\t{:.6f}".format(train_err / train_batches))
        print("  validation loss:\t\t{:.6f}".format(val_err / val_batches))
        print("  training ELBO:\t\t{:.4f}".format(-train_err / train_batches / batch_size))
        print("  validation ELBO:\t\t{:.4f}".format(-val_err / val_batches / batch_size))

    test_err = 0
    test_batches = 0
    for batch in iterate_minibatches(X_test, batch_size, shuffle=False):
        err = val_fn(batch)
        test_err += err
        test_batches += 1
    test_err /= test_batches
    print("Final results:")
    print("  test loss:\t\t\t{:.6f}".format(test_err))
    print("  test ELBO:\t\t\t{:.4f}".format(-test_err / batch_size))

    # reconstruct some test digits with the deterministic network (z = mu)
    pred_fn = theano.function([input_var], test_prediction)
    X_pred = pred_fn(X_test[:20]).reshape(-1, 1, 28, 28)
    print("  reconstruction of 20 test digits, mean |x - p|:\t{:.4f}".format(
        float(np.abs(X_pred - X_test[:20]).mean())))


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description="Variational autoencoder on MNIST (Lasagne Recipes)")
    parser.add_argument('--epochs', type=int, default=300)
    parser.add_argument('--L', type=int, default=2, help="samples of z per image")
    parser.add_argument('--z-dim', type=int, default=2)
    parser.add_argument('--n-hid', type=int, default=1024)
    parser.add_argument('--lr', type=float, default=1e-4, help="Adam's learning rate")
    parser.add_argument('--quick', action='store_true', help="8 epochs, for the tests")
    parser.add_argument('--seed', type=int, default=None,
                        help="seed NumPy's and Lasagne's random generators")
    args = parser.parse_args()
    if args.seed is not None:
        np.random.seed(args.seed)
        lasagne.random.set_rng(np.random.RandomState(args.seed))
    if args.quick:
        args.epochs = 8
    main(L=args.L, z_dim=args.z_dim, n_hid=args.n_hid, num_epochs=args.epochs,
         learning_rate=args.lr)
