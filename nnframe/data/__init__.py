"""Datasets, seeded splits, standardisation and reproducible minibatches.

Nothing here downloads: the digit sets come from files installed with the
``data`` extra (``pip install 'nnframe[data]'``), the rest from the user's
own files.

>>> from nnframe.data import load_dataset, split, Standardizer, Minibatches
>>> data = load_dataset('digits', shape='flat')
>>> parts = split(data, {'train': 0.8, 'valid': 0.1, 'test': 0.1}, seed=0)
>>> scaler = Standardizer().fit(parts['train'])
>>> train = scaler.transform(parts['train'])
>>> batches = Minibatches(len(train), batch_size=128, seed=0)
>>> for idx in batches.epoch(0):
...     x, y = train.x[idx], train.y[idx]

A file's own test set (Keras' ``x_test``, MNIST's ``t10k`` files) comes with the
training set, in ``held_out``:

>>> mnist = load_dataset('idx', images='train-images-idx3-ubyte.gz',
...                      labels='train-labels-idx1-ubyte.gz',
...                      test_images='t10k-images-idx3-ubyte.gz',
...                      test_labels='t10k-labels-idx1-ubyte.gz')   # doctest: +SKIP
>>> test = mnist.held_out['test']                                   # doctest: +SKIP

Modules: :mod:`~nnframe.data.datasets` (``Dataset``, loaders, the
``DATASETS`` registry), :mod:`~nnframe.data.splits` (``split``,
``Standardizer``), :mod:`~nnframe.data.batches` (``Minibatches``) and
:mod:`~nnframe.data.idx` (the IDX file format).
"""
# Every module's public names (its ``__all__``) are here; tests/test_namespaces.py checks it.
from nnframe.data import batches as _batches
from nnframe.data import datasets as _datasets
from nnframe.data import errors as _errors
from nnframe.data import idx as _idx
from nnframe.data import splits as _splits
from nnframe.data.batches import *  # noqa: F403
from nnframe.data.datasets import *  # noqa: F403
from nnframe.data.errors import *  # noqa: F403
from nnframe.data.idx import *  # noqa: F403
from nnframe.data.splits import *  # noqa: F403

MODULES = (_datasets, _splits, _batches, _idx, _errors)
__all__ = [name for module in MODULES for name in module.__all__]

