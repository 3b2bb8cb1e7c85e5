"""Drop-in namespaces for Theano and Lasagne code: porting is changing two imports.

>>> import nnframe.compat.theano as theano
>>> import nnframe.compat.theano.tensor as T
>>> import nnframe.compat.lasagne as lasagne
>>> T.nnet.sigmoid is theano.tensor.nnet.sigmoid
True

``nnframe.compat.theano`` and ``nnframe.compat.lasagne`` mirror the two libraries'
module layouts (``theano.tensor.nnet``, ``theano.tensor.signal.pool``,
``theano.sandbox.rng_mrg``, ``lasagne.layers.dnn`` ...) with real submodules that
re-export nnframe's objects: nothing here is a copy or a wrapper, except where the
names or defaults differ (``theano.clone``, ``MRG_RandomStreams``' seed).  What
still differs from Theano and Lasagne is in docs/porting.md.
"""
