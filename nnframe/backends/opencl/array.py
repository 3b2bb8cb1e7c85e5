"""Device arrays: an OpenCL buffer seen through a shape, element strides and an offset.

A :class:`DeviceArray` is the value type of the OpenCL backend.  Arrays are
immutable (no kernel writes into its inputs), so views (transposes, slices,
reshapes of contiguous data) share the buffer without copying.

A value may also hold a *host copy*: arrays made from host data (function
inputs, constants, shared values set from NumPy) keep it until their first
use on the device uploads them, and small results of shape arithmetic
(``Shape``, ``ShapeI`` and elementwise ops on them) live on the host only.
Kernels ask for a buffer with :func:`device_args` (uploading if needed) and
for values with :func:`host_view` (downloading if needed).  Every upload
and download is counted in :data:`TRANSFERS`.

>>> import numpy as np
>>> a = to_native(np.arange(6.0).reshape(2, 3))   # doctest: +SKIP
>>> a.T.get()                                      # doctest: +SKIP
array([[0., 3.], [1., 4.], [2., 5.]])
"""
import time
from collections import Counter, deque

import numpy as np

__all__ = ["DeviceArray", "TRANSFERS", "to_native", "to_host", "read_all", "empty",
           "device_args", "host_scalar", "host_check", "raw_host",
           "host_view", "contiguous_strides", "SMALL"]

#: What the host asked of the device since the last reset: ``upload``/``download``
#: (counts) and ``upload_bytes``/``download_bytes``, ``checks`` (reads of the error flag),
#: ``kernels`` (kernel launches enqueued), ``waits`` (times the host blocked until the
#: device caught up: blocking copies) and ``wait_seconds`` (how long it blocked).
TRANSFERS = Counter()


def blocking_copy(ctx, dest, src, **kwargs):
    """``enqueue_copy(..., is_blocking=True)``, counted as a wait with its duration.

    The queue is in order: once it returns, every upload enqueued before is done too.
    """
    start = time.perf_counter()
    ctx.cl.enqueue_copy(ctx.queue, dest, src, is_blocking=True, **kwargs)
    _waited(ctx, start, drained=True)


def _waited(ctx, start, drained):
    """Count a wait of the host that began at ``start``; ``drained``: everything enqueued
    before it is done (a blocking read on the in-order queue), so no upload is in flight."""
    recorder = ctx.recorder   # (read once: another thread's call may end its capture)
    if recorder is not None:
        recorder.waited()
    TRANSFERS["waits"] += 1
    TRANSFERS["wait_seconds"] += time.perf_counter() - start
    if drained:
        ctx.pending_uploads.clear()
        ctx.staged_uploads.clear()


#: Uploads up to this size go through a private copy (a "staging" copy, as CUDA does for
#: pageable memory), so the caller's array is free at once and nothing waits for them.
STAGE_BYTES = 4 << 20


def settle_uploads(ctx):
    """Wait for the uploads of callers' arrays still in flight, if any (one wait).

    Uploads do not block: the host goes on enqueueing kernels while the data moves, and
    the copy's event keeps the host array alive.  Arrays up to :data:`STAGE_BYTES` are
    copied first (cheap next to the transfer); a larger one is the caller's, who may
    overwrite it once a call returns, so a call that enqueued such an upload and read
    nothing back after it (which would have waited for it) waits for it at its end.
    """
    pending = ctx.pending_uploads
    if not pending:
        return
    if any(event.command_execution_status != ctx.cl.command_execution_status.COMPLETE
           for event in pending):
        start = time.perf_counter()
        ctx.cl.wait_for_events(pending)
        _waited(ctx, start, drained=False)
    pending.clear()

#: Staging arrays kept per size (at most, and at most STAGING_BYTES_PER_SIZE of them), and
#: sizes kept.  A fresh array for every upload would cost more than the copy itself: the
#: arrays still in flight keep malloc from reusing memory, so each new one is fresh pages
#: (a 400 KB batch: ~190 us of page faults, against ~10 us to copy into pages already
#: mapped).  16 covers a host up to 16 calls ahead of the device (the recipe runner reads
#: its losses every 10 steps).
STAGING_PER_SIZE, STAGING_BYTES_PER_SIZE, STAGING_SIZES = 16, 32 << 20, 8


def _staging_slots(nbytes):
    """How many staging arrays of ``nbytes`` are kept (2 of even the largest)."""
    return max(2, min(STAGING_PER_SIZE, STAGING_BYTES_PER_SIZE // max(nbytes, 1)))


def _staging_copy(ctx, host):
    """A private copy of the contiguous ``host`` to upload from without blocking, as a
    ``[array, event]`` slot whose event the caller sets (the upload's).

    The slots of a size are used in turn; the queue runs in order, so the oldest is the
    first free and one status query tells.  When the host is so far ahead of the device
    that all are in flight, a one-off copy is made (its cost is hidden then)."""
    slots = ctx.staging.get(host.nbytes)
    if slots is None:
        if len(ctx.staging) >= STAGING_SIZES:  # another batch size: forget the old ones
            ctx.staging.clear()                # (pyopencl's events keep theirs alive)
        slots = ctx.staging[host.nbytes] = deque()
    if slots and _free(ctx, slots[0]):
        slot = slots.popleft()
        slots.append(slot)
    else:
        slot = [np.empty(host.nbytes, np.uint8), None]
        if len(slots) < _staging_slots(host.nbytes):
            slots.append(slot)
        else:
            staged = ctx.staged_uploads           # kept until done, forgotten in order
            while staged and _free(ctx, staged[0]):
                staged.popleft()
            staged.append(slot)
    np.copyto(slot[0], host.reshape(-1).view(np.uint8))
    return slot


def _free(ctx, slot):
    """Whether a staging slot's upload is done (or never enqueued: the enqueue failed)."""
    event = slot[1]
    return event is None or event.command_execution_status == ctx.cl.command_execution_status.COMPLETE


#: Arrays of at most this many elements keep their host copy after an upload
#: (shape vectors, scalars), so host-side shape arithmetic needs no download.
SMALL = 64
#: Integer arrays up to this size keep it too: indices and labels are then
#: checked on the host (a device check costs a read of the error flag).
SMALL_INT_BYTES = 1 << 22


def contiguous_strides(shape):
    """Row-major element strides of ``shape``."""
    strides = []
    step = 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(int(n), 1)
    return tuple(reversed(strides))


class DeviceArray:
    """An n-d array in a device buffer (``data``) and/or on the host (``host``).

    ``strides`` and ``offset`` count elements, not bytes; strides may be 0
    (broadcast) or negative (reversed slices).
    """

    __slots__ = ("ctx", "shape", "dtype", "strides", "offset", "data", "host", "base",
                 "__weakref__")

    def __init__(self, ctx, shape, dtype, strides=None, offset=0, data=None, host=None):
        self.ctx = ctx
        self.shape = tuple(map(int, shape))
        self.dtype = np.dtype(dtype)
        self.strides = contiguous_strides(self.shape) if strides is None else tuple(strides)
        self.offset = int(offset)
        self.data = data
        self.host = host
        self.base = None  # the host-only root array this view is of (see view())

    # -- NumPy-like attributes ----------------------------------------------
    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    @property
    def T(self):
        return self.transpose(tuple(reversed(range(self.ndim))))

    def is_contiguous(self):
        """Row-major contiguous (length-1 axes may have any stride)."""
        expected = 1
        for n, s in zip(reversed(self.shape), reversed(self.strides)):
            if n != 1 and s != expected:
                return False
            expected *= n
        return True

    def __repr__(self):
        where = "device" if self.data is not None else "host"
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype}, on {where})"

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        out = self.get()
        return out if dtype is None else out.astype(dtype, copy=False)

    def __reduce__(self):
        # pickled as its values: a device buffer means nothing in another process, and a
        # function unpickled there uploads the host array on its first call
        return (np.asarray, (self.get(),))

    def __float__(self):
        return float(self.get())

    def item(self):
        """The one value of a one-element array, as a Python number (a download)."""
        return self.get().item()

    # -- views ------------------------------------------------------------------
    def view(self, shape, strides, offset, host_fn):
        """A view sharing this array's memory; ``host_fn`` makes the same view of the host copy.

        A view of a host-only array remembers its root, so uploading the view
        uploads the root once and every view of it shares that buffer.  Without
        ``host_fn`` the view is for device kernels: a host-only array is uploaded.
        """
        if host_fn is None and self.data is None:
            device_args(self)
        out = DeviceArray(self.ctx, shape, self.dtype, strides, offset, self.data)
        host = raw_host(self)  # (a view of the values, not a read of them)
        if host is not None and host_fn is not None:
            out.host = host_fn(host)
        if self.data is None:
            out.base = self.base if self.base is not None else self
        return out

    def transpose(self, perm):
        perm = tuple(perm)
        return self.view([self.shape[p] for p in perm], [self.strides[p] for p in perm],
                         self.offset, lambda h: h.transpose(perm))

    # -- transfers ----------------------------------------------------------------
    def get(self):
        """A new host ndarray with the values (a download unless a host copy exists)."""
        return to_host(self)

    def copy(self):
        """An array whose values cannot change when this one's host copy is modified.

        Device memory is never written after a kernel fills it (kernels make
        new arrays), so the buffer is shared; only the host copy, which may be
        the caller's ndarray, is copied.
        """
        out = DeviceArray(self.ctx, self.shape, self.dtype, self.strides, self.offset, self.data)
        if self.host is not None:
            out.host = np.array(self.host, copy=True)
            if self.data is None:
                out.strides = contiguous_strides(self.shape)
                out.offset = 0
        return out


def empty(ctx, shape, dtype):
    """A new contiguous device array (uninitialised)."""
    out = DeviceArray(ctx, shape, dtype)
    out.data = ctx.allocate(out.nbytes)
    return out


#: ``raw_host(a)`` is ``a.host``, read without telling a launch-plan recorder (see
#: :mod:`~nnframe.backends.opencl.replay`): uploads and by-value scalars are recorded as such.
raw_host = DeviceArray.host.__get__


def _span(a):
    """(first, last + 1) element positions the array touches in its buffer."""
    lo = hi = a.offset
    for n, s in zip(a.shape, a.strides):
        if n > 1:
            if s > 0:
                hi += (n - 1) * s
            else:
                lo += (n - 1) * s
    return lo, hi + 1


def _download(a):
    ctx = a.ctx
    ctx.check_errors(TRANSFERS)
    if a.size == 0:
        return np.zeros(a.shape, a.dtype)
    lo, hi = _span(a)
    flat = np.empty(hi - lo, a.dtype)
    item = a.dtype.itemsize
    blocking_copy(ctx, flat, a.data, src_offset=lo * item)
    TRANSFERS["download"] += 1
    TRANSFERS["download_bytes"] += flat.nbytes
    if a.is_contiguous() and flat.size == a.size:
        return flat.reshape(a.shape)
    # A strided view: the touched span came down in one transfer; pick the entries.
    view = np.lib.stride_tricks.as_strided(flat[a.offset - lo:], a.shape,
                                           [s * item for s in a.strides])
    return np.array(view, copy=True)


def _upload(a):
    """Give a host-only array a device buffer (a view's root is uploaded, once)."""
    ctx = a.ctx
    recorder = ctx.recorder
    if recorder is not None:
        recorder.upload(a)
    if a.base is not None:
        recorder, ctx.recorder = ctx.recorder, None   # (the root's upload is this one)
        try:
            a.data = device_args(a.base)[0]
        finally:
            ctx.recorder = recorder
        a.base = None
        if not _keeps_host(a):
            a.host = None
        return
    host = np.ascontiguousarray(raw_host(a), dtype=a.dtype)
    a.data = ctx.pool.allocate(max(host.nbytes, 8))  # (not ctx.allocate: not a kernel's output)
    a.strides = contiguous_strides(a.shape)
    a.offset = 0
    if host.size:
        if host.nbytes <= STAGE_BYTES:
            slot = _staging_copy(ctx, host)
            # the event (pyopencl's) keeps the staging array alive until the copy is done
            slot[1] = ctx.cl.enqueue_copy(ctx.queue, a.data, slot[0], is_blocking=False)
        else:
            ctx.pending_uploads.append(ctx.cl.enqueue_copy(ctx.queue, a.data, host,
                                                           is_blocking=False))
        TRANSFERS["upload"] += 1
        TRANSFERS["upload_bytes"] += host.nbytes
    if not _keeps_host(a):
        a.host = None  # the device copy is the value now; don't keep two big copies


def _keeps_host(a):
    return a.size <= SMALL or (a.dtype.kind in "biu" and a.nbytes <= SMALL_INT_BYTES)


def host_scalar(a):
    """The one value of a host array as a kernel's by-value argument (a bool as the uint8
    the kernels declare: pyopencl refuses to pass a NumPy bool as one)."""
    value = raw_host(a).reshape(-1)[0]
    value = np.uint8(value) if value.dtype == np.bool_ else value
    recorder = a.ctx.recorder
    if recorder is not None:
        recorder.scalar(a, value)
    return value


def host_check(check, *args):
    """``check(*args)``, each DeviceArray among ``args`` replaced by its host copy.

    For validations of values on the host (class labels against the number of classes)
    that raise on bad data and return nothing a kernel uses: a launch plan
    (:mod:`~nnframe.backends.opencl.replay`) records the check and runs it again at each
    call, so the group doing it is still replayed.  ``check`` and the other arguments must
    be the same at every call (a module function, shapes, names).
    """
    for a in args:
        if isinstance(a, DeviceArray):
            recorder = a.ctx.recorder
            if recorder is not None:
                recorder.host_check(check, args)
            break
    check(*[raw_host(a) if isinstance(a, DeviceArray) else a for a in args])


def device_args(a):
    """``(buffer, offset)`` of ``a`` on the device, uploading a host-only array."""
    if a.data is None:
        _upload(a)
    return a.data, a.offset


def host_view(a):
    """The values of ``a`` as a (read-only) ndarray: the host copy, or a download."""
    if a.host is None:
        a.host = _download(a)
    return a.host


def to_native(ctx, value):
    """``value`` (ndarray, DeviceArray, or another backend's value) as a DeviceArray.

    Host data is not uploaded here but at its first use by a kernel, so
    values that only feed shape arithmetic never cross to the device.
    """
    if isinstance(value, DeviceArray):
        if value.ctx is ctx:
            return value
        value = value.get()
    elif not isinstance(value, np.ndarray):
        value = value.get() if hasattr(value, "get") else np.asarray(value)
    return DeviceArray(ctx, value.shape, value.dtype, host=value)


def read_all(values):
    """NumPy copies of several values with at most one wait: every download is enqueued
    first, then the host waits once (e.g. a run's losses of the last steps).

    Values that are not DeviceArrays come back as ``np.asarray`` of themselves.
    """
    results, events, ctx = [], [], None
    for value in values:
        if not isinstance(value, DeviceArray):
            results.append(np.asarray(value))
            continue
        if value.host is not None or value.size == 0 or not value.is_contiguous():
            results.append(None)        # read below, one by one (rare: no wait or a view)
            continue
        ctx = value.ctx
        ctx.check_errors(TRANSFERS)
        out = np.empty(value.shape, value.dtype)
        events.append(ctx.cl.enqueue_copy(ctx.queue, out, value.data,
                                          src_offset=value.offset * value.dtype.itemsize,
                                          is_blocking=False))
        TRANSFERS["download"] += 1
        TRANSFERS["download_bytes"] += out.nbytes
        results.append(out)
    if events:
        start = time.perf_counter()
        ctx.cl.wait_for_events(events)
        _waited(ctx, start, drained=True)
    return [to_host(v) if r is None else r for v, r in zip(values, results)]


def to_host(value):
    """A new ndarray with the values of ``value``."""
    if value.host is not None:
        value.ctx.check_errors(TRANSFERS)
        return np.array(value.host, copy=True)
    return _download(value)
