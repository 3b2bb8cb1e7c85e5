"""Errors raised by the data loaders.

``DatasetError`` (a ``ValueError``) is raised for data that cannot be used as
asked: a malformed file, a missing key, mismatched example counts.
``MissingKeyError`` is also a ``KeyError``, so ``except KeyError`` catches a
missing npz/HDF5 key.  ``MissingDependencyError`` (an ``ImportError``) says
which optional package, and which extra, to install.
"""

__all__ = ["DatasetError", "MissingKeyError", "MissingDependencyError"]


class DatasetError(ValueError):
    """Data that cannot be read or used as asked; the message names the file.

    ``argument`` is the loader argument the error is about (``'x'``, ``'y'`` or
    ``'mask'``: the array it names is missing or unusable), or None.
    """

    argument = None


class MissingKeyError(DatasetError, KeyError):
    """A key/dataset name not in the file; the message lists the available ones."""

    # KeyError's str() would quote the whole message
    __str__ = Exception.__str__


class MissingDependencyError(ImportError):
    """An optional package a loader needs is not installed."""
