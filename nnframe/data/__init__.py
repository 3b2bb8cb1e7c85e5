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

Modules: :mod:`~nnframe.data.datasets` (``Dataset``, loaders, the
``DATASETS`` registry), :mod:`~nnframe.data.splits` (``split``,
``Standardizer``), :mod:`~nnframe.data.batches` (``Minibatches``) and
:mod:`~nnframe.data.idx` (the IDX file format).
"""
from nnframe.data.batches import Minibatches, epoch_order, iterate_minibatches
from nnframe.data.datasets import (
                                   DATASETS,
                                   Dataset,
                                   load_dataset,
                                   load_digits,
                                   load_hdf5,
                                   load_idx,
                                   load_mnist5k,
                                   load_npz,
                                   synthetic_blobs,
)
from nnframe.data.errors import DatasetError, MissingDependencyError, MissingKeyError
from nnframe.data.idx import read_idx, write_idx
from nnframe.data.splits import Standardizer, split, split_indices

__all__ = ["Dataset", "DATASETS", "load_dataset", "load_digits", "load_mnist5k", "load_npz",
           "load_hdf5", "load_idx", "synthetic_blobs", "split", "split_indices", "Standardizer",
           "Minibatches", "iterate_minibatches", "epoch_order", "read_idx", "write_idx",
           "DatasetError", "MissingKeyError", "MissingDependencyError"]
