"""Refuse the HDF5 features that make reading one file read *other* files.

HDF5 lets a file keep a dataset's bytes in other files (external raw
storage), assemble a dataset from datasets of other files (a virtual
dataset) and link to an object in another file (an external link).  A data
file or checkpoint downloaded from a stranger could use them to make nnframe
read any file the user can read (``~/.ssh/id_rsa`` as "pixels") or block on
a device.  nnframe reads only data stored inside the file itself (compact,
contiguous or chunked layout) and refuses everything else, before anything is
read, with an error naming the file and the dataset or link.

Soft links point inside the same file and are followed (at most 16 in one
lookup, so a loop ends); external links are never followed, not even to see
what they point to.  The data loaders and :mod:`nnframe.checkpoint` use the
same functions, each passing the file's name for messages (``where``) and its
own exception class (``error``), so their callers keep catching what they
catch today.  :func:`check_dataset` also bounds the declared size with
:func:`nnframe.limits.check_array_size`.

>>> import h5py, numpy as np, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), 'data.h5')
>>> with h5py.File(path, 'w') as f:
...     f['train/x'] = np.zeros((2, 3))
...     f['x'] = h5py.SoftLink('/train/x')
...     f['key'] = h5py.ExternalLink('/home/me/secrets.h5', '/key')
>>> f = h5py.File(path, 'r')
>>> get_dataset(f, 'x', path, ValueError).shape
(2, 3)
>>> get_dataset(f, 'key', path, ValueError)
Traceback (most recent call last):
...
ValueError: .../data.h5: '/key' is an external link to '/key' in the file '/home/me/secrets.h5'; ...
>>> [name for name, dataset in walk_datasets(f['train'], path, ValueError)]
['x']
>>> f.close()
"""
from nnframe.limits import check_array_size

__all__ = ["check_dataset", "check_link", "get_dataset", "walk_datasets", "READ_ERRORS"]

#: what h5py raises for a damaged file (HDF5's errors map to these): loaders turn them
#: into their own error naming the file
READ_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError)

#: soft links followed in one lookup; HDF5's own limit (H5L_NUM_LINKS), which ends loops
MAX_SOFT_LINKS = 16
_HOW_TO_FIX = ("nnframe reads only data stored inside the file itself, since anything else "
               "could read any file on this machine; if you trust the data, copy it into a "
               "new file (with h5py: new[name] = old[name][()]) and load that")


def _h5py():
    import h5py  # callers hold h5py objects, so it is installed
    return h5py


def _full_name(group, name):
    """The absolute HDF5 path of link ``name`` (str) of ``group``, for messages."""
    return group.name.rstrip("/") + "/" + name


def _link_error(group, key, where, error):
    """``error`` for the link ``key`` (bytes, a path below ``group``) that is not hard or soft.

    Reads only the link itself: ``get_val`` does not follow the link it is asked about.
    """
    h5l = _h5py().h5l
    name = _full_name(group, key.decode("utf-8", "replace"))
    kind = group.id.links.get_info(key).type
    if kind == h5l.TYPE_EXTERNAL:
        filename, target = (v.decode("utf-8", "replace") for v in group.id.links.get_val(key))
        return error(f"{where}: {name!r} is an external link to {target!r} in the file "
                     f"{filename!r}; {_HOW_TO_FIX}")
    return error(f"{where}: {name!r} is a user-defined link (HDF5 link type {kind}), which "
                 f"may point outside the file; {_HOW_TO_FIX}")


def check_link(group, name, where, error):
    """The link ``name`` (one path component) of ``group``, without following it.

    Returns ``h5py.HardLink()``, an ``h5py.SoftLink`` or None when ``group``
    has no such link; raises ``error`` for an external or user-defined link.
    """
    h5py = _h5py()
    key = name.encode("utf-8", "surrogateescape")
    links = group.id.links
    if not links.exists(key):  # one component: H5Lexists follows no link
        return None
    kind = links.get_info(key).type
    if kind == h5py.h5l.TYPE_HARD:
        return h5py.HardLink()
    if kind == h5py.h5l.TYPE_SOFT:
        return h5py.SoftLink(links.get_val(key).decode("utf-8", "surrogateescape"))
    raise _link_error(group, key, where, error)


def check_dataset(dataset, where, error):
    """Raise ``error`` unless ``dataset`` keeps its data in the file and fits the size limit.

    Refuses external raw storage, virtual datasets and any layout other than
    compact, contiguous or chunked, then checks the declared shape and dtype
    with :func:`nnframe.limits.check_array_size`.  Reads no data; the layout
    is checked first because asking a virtual dataset its shape may open its
    source files.  Returns ``dataset``.
    """
    h5d = _h5py().h5d
    plist = dataset.id.get_create_plist()
    layout = plist.get_layout()
    count = plist.get_external_count()
    if count > 0:
        files = ", ".join(repr(plist.get_external(i)[0].decode("utf-8", "replace"))
                          for i in range(min(count, 3))) + (", ..." if count > 3 else "")
        raise error(f"{where}: dataset {dataset.name!r} keeps its data in other file(s) "
                    f"({files}: HDF5 external storage); {_HOW_TO_FIX}")
    if layout == h5d.VIRTUAL:
        count = plist.get_virtual_count()
        sources = ", ".join(f"{plist.get_virtual_dsetname(i)!r} in "
                            f"{plist.get_virtual_filename(i)!r}"
                            for i in range(min(count, 3))) + (", ..." if count > 3 else "")
        raise error(f"{where}: dataset {dataset.name!r} is a virtual dataset made of other "
                    f"datasets ({sources}), which may be in other files; {_HOW_TO_FIX}")
    if layout not in (h5d.COMPACT, h5d.CONTIGUOUS, h5d.CHUNKED):
        raise error(f"{where}: dataset {dataset.name!r} has HDF5 storage layout {layout}, "
                    f"not compact, contiguous or chunked; {_HOW_TO_FIX}")
    # shape is None for an empty (null) dataspace, which holds no data
    check_array_size(dataset.shape or (), dataset.dtype, f"{where}: dataset {dataset.name!r}",
                     error=error)
    return dataset


def _resolve(group, path, where, error, budget):
    """The object at ``path`` (absolute, or relative to ``group``) or None, link by link.

    ``budget`` is a one-item list: the soft links still allowed in this lookup.
    """
    h5py = _h5py()
    obj = group.file if path.startswith("/") else group
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if not isinstance(obj, h5py.Group):
            return None
        link = check_link(obj, part, where, error)
        if link is None:
            return None
        if isinstance(link, h5py.SoftLink):
            budget[0] -= 1
            if budget[0] < 0:
                raise error(f"{where}: more than {MAX_SOFT_LINKS} soft links in one lookup "
                            f"at {_full_name(obj, part)!r} (a loop of links?); the file is "
                            "malformed: write it again without the loop")
            obj = _resolve(obj, link.path, where, error, budget)  # relative to the link's group
            if obj is None:  # a dangling soft link
                return None
        else:
            obj = obj[part]  # a hard link: an object of this file
    return obj


def get_dataset(group, path, where, error):
    """The dataset at ``path`` (e.g. ``'train/x'``, ``'/x'``) under ``group``, checked.

    Follows soft links, never external ones (``error`` names the link), then
    applies :func:`check_dataset`.  Returns None when there is nothing at
    ``path`` or it is not a dataset (a group), for the caller to report.
    """
    obj = _resolve(group, path, where, error, [MAX_SOFT_LINKS])
    if not isinstance(obj, _h5py().Dataset):
        return None
    return check_dataset(obj, where, error)


def walk_datasets(group, where, error):
    """[(name relative to ``group``, dataset)] for every dataset under ``group``, checked.

    First refuses any external or user-defined link anywhere under ``group``,
    then applies :func:`check_dataset` to every dataset, so a caller that reads
    afterwards reads nothing from a file that uses them.  Datasets come in
    ``visititems`` order (each object once, reached through hard links only).
    """
    h5py = _h5py()
    bad = []

    def visit(key, info):
        # Raising inside an h5py link visit turns into a SystemError: stop it instead.
        if info.type not in (h5py.h5l.TYPE_HARD, h5py.h5l.TYPE_SOFT):
            bad.append(key)
            return True  # a value other than None stops the visit
        return None

    group.id.links.visit(visit, info=True)  # visits links, follows only hard ones
    if bad:
        raise _link_error(group, bad[0], where, error)
    found = []
    group.visititems(lambda name, obj: found.append((name, obj))
                     if isinstance(obj, h5py.Dataset) else None)
    return [(name, check_dataset(dataset, where, error)) for name, dataset in found]
