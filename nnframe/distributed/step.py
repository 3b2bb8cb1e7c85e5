"""A synchronous data-parallel training step: local gradients, one sum, the same update.

:class:`DataParallel` splits a compiled training step in three, so that update rules
stay as they are:

1. ``grads_fn``: the gradients of this rank's share of the objective on its shard of the
   global minibatch (a compiled function);
2. one in-place ``Allreduce`` (sum) over a flat, preallocated buffer per dtype holding
   every gradient, the loss and the flags (e.g. "a rank was asked to stop");
3. ``apply_fn``: the update rule applied to the summed gradients (a compiled function
   whose inputs are the gradients), identical on every rank.

The share makes the sum the gradient of the global objective: with ``b`` examples on a
rank out of ``B`` in the global minibatch, a mean loss is weighted ``b / B`` (the
weighted shard means add up to the global mean), a summed loss by 1, and ``penalty``
(a term that does not belong to examples, like an L2 penalty) by ``b / B``, so it counts
once.  A rank whose shard is empty (a last minibatch smaller than the number of ranks)
adds zeros.

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import shared, optim
>>> from nnframe.distributed import DataParallel
>>> x, y = T.fmatrix('x'), T.fvector('y')
>>> w = shared(np.zeros(3, 'float32'), name='w')
>>> loss = T.mean(T.sqr(T.dot(x, w) - y))
>>> step = DataParallel([x, y], loss, [w],
...                     lambda grads, params: optim.sgd(grads, params, 0.1))
>>> step.broadcast_parameters()          # rank 0's values everywhere
>>> float(step(np.ones((8, 3), 'float32'), np.ones(8, 'float32')))   # global batch
1.0

Run under ``mpirun -n N``, each of the N processes passes the same global minibatch (or
only its shard, with :meth:`DataParallel.step`) and all end with the same parameters.
The summation order of the gradients differs from one process's, so the parameters agree
with a single process's to rounding, not bit for bit.

Decision: gradients are summed after the whole backward pass, in one Allreduce per dtype.
A compiled function runs as one call, so there is no point in it where a bucket of
gradients is ready before the others: overlapping the reduction with the backward pass
would need the executor to hand out gradients as they are computed.  Packing every
gradient into one buffer keeps it to one collective's latency per step.
"""
import numpy as np

import nnframe.tensor as T
from nnframe.core.function import function
from nnframe.distributed.comm import DistributedError
from nnframe.distributed.comm import world as _world

__all__ = ["DataParallel", "data_parallel", "shard"]


def shard(count, rank, size):
    """The slice of ``count`` examples that rank ``rank`` of ``size`` takes: contiguous,
    sizes differing by at most one, earlier ranks taking the larger ones.

    >>> [shard(10, r, 4) for r in range(4)]
    [slice(0, 3, None), slice(3, 6, None), slice(6, 8, None), slice(8, 10, None)]
    """
    base, extra = divmod(count, size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


class _FlatBuffer:
    """One contiguous array of a dtype holding several arrays as views, plus scalars."""

    def __init__(self, dtype, shapes, scalars):
        sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
        self.data = np.zeros(sum(sizes) + scalars, dtype=dtype)
        offsets = np.cumsum([0] + sizes)
        self.views = [self.data[a:b].reshape(s) for a, b, s in zip(offsets, offsets[1:], shapes)]
        self.scalars = self.data[offsets[-1]:]


class DataParallel:
    """A data-parallel training step over the ranks of the job (``mpirun -n N``).

    Parameters
    ----------
    inputs : list of Variable
        The step's inputs, each with the examples along axis 0 (``x``, ``y``, a mask).
    loss : scalar Variable
        The loss of the examples the step is given: their mean (``mean=True``) or sum.
    params : list of SharedVariable
        The parameters to train.
    update_rule : callable
        ``update_rule(grads, params) -> updates``, e.g. ``lambda g, p: optim.adam(g, p)``;
        the gradients it gets are the summed ones, so clipping or weight decay applied
        inside it sees the global gradient.
    penalty : scalar Variable or None
        A term of the objective that does not belong to the examples (an L2 penalty), counted
        once per step; it is not part of the loss returned.
    mean : bool
        Whether ``loss`` is a mean over the examples (else a sum).
    world : the job (:func:`nnframe.distributed.world`), by default the current one.
    name : str
        The compiled functions are named ``<name>.grads`` and ``<name>.apply``.

    Attributes: ``grads_fn``, ``apply_fn``, ``updates`` (what ``update_rule`` returned:
    the optimizer state for checkpoints), ``world``.
    """

    def __init__(self, inputs, loss, params, update_rule, penalty=None, mean=True, world=None,
                 name="train"):
        self.world = world if world is not None else _world()
        self.params = list(params)
        self.inputs = list(inputs)
        share = T.scalar("share", dtype=loss.dtype)
        data_term = share * loss if mean else loss
        objective = data_term if penalty is None else data_term + share * penalty
        grads = T.grad(objective, self.params)
        # a summed loss without a penalty does not use its share
        self.grads_fn = function(self.inputs + [share], [data_term] + list(grads),
                                 name=f"{name}.grads", on_unused_input="ignore")
        grad_inputs = [p.type.make_variable(name=f"grad({p.name})") for p in self.params]
        self.updates = update_rule(grad_inputs, self.params)
        self.apply_fn = function(grad_inputs, [], updates=self.updates, name=f"{name}.apply")
        self._share_dtype = np.dtype(loss.dtype)
        self._buffers = self._grad_views = None
        # the random streams the step draws from (dropout): rank 0's go to every rank after
        # each step (see _set_states)
        self.streams = [v for v in self.grads_fn.maker.fgraph.inputs
                        if getattr(v, "default_update", None) is not None
                        and is_random_state(v)]
        self._check_same_parameters()

    def _check_same_parameters(self):
        """Every rank must train the same parameters (shapes and dtypes), or the sums mix
        unrelated numbers: a clear error on every rank instead."""
        if self.world.size == 1:
            return
        mine = [(p.name, np.shape(p.get_value(borrow=True)), str(p.dtype)) for p in self.params]
        root = self.world.bcast(mine, "the check of the parameters")
        differ = np.array([float(mine != root)])
        self.world.allreduce_sum(differ, "the check of the parameters")
        if differ[0]:
            raise DistributedError(
                f"the ranks build different models: {int(differ[0])} of the "
                f"{self.world.size} ranks have parameters other than rank 0's ({root}); "
                "every rank must run the same program with the same model")

    def _allocate(self, flags):
        """Buffers by dtype.  The loss dtype's buffer also carries, after the gradients, the
        loss, the share (their sum must be 1), the ``flags``, and rank 0's random states
        as 16-bit pieces (exact in any float type; the other ranks add zeros)."""
        values = [p.get_value(borrow=True) for p in self.params]
        dtypes = list(dict.fromkeys([np.dtype(v.dtype) for v in values] + [self._share_dtype]))
        self._buffers = {}
        for dtype in dtypes:
            shapes = [np.shape(v) for v in values if np.dtype(v.dtype) == dtype]
            scalars = (2 + flags + _PIECES * 3 * len(self.streams)
                       if dtype == self._share_dtype else 0)
            self._buffers[dtype] = _FlatBuffer(dtype, shapes, scalars)
        taken = {dtype: iter(buffer.views) for dtype, buffer in self._buffers.items()}
        self._grad_views = [next(taken[np.dtype(v.dtype)]) for v in values]
        self._flags = flags

    def step(self, shard_inputs, share, flags=()):
        """One step given this rank's shard: ``share`` is its examples over the global
        minibatch's.  ``flags`` (numbers) are summed over the ranks too.

        Returns ``(loss, summed_flags)``: the loss of the global minibatch.
        """
        if self._buffers is None or self._flags != len(flags):
            self._allocate(len(flags))
        extras = self._buffers[self._share_dtype].scalars
        nflags = len(flags)
        if share > 0:
            outputs = self.grads_fn(*shard_inputs, self._share_dtype.type(share))
            extras[0] = outputs[0]
            for view, grad in zip(self._grad_views, outputs[1:]):
                np.copyto(view, grad)
        else:                   # no examples here: nothing to add
            for buffer in self._buffers.values():
                buffer.data[:] = 0
        extras[1] = share
        extras[2:2 + nflags] = flags
        pieces = extras[2 + nflags:]
        pieces[:] = _state_pieces(self.streams) if self.world.is_root and self.streams else 0
        for buffer in self._buffers.values():
            self.world.allreduce_sum(buffer.data, "the gradient allreduce")
        if abs(float(extras[1]) - 1.0) > 1e-3:
            raise DistributedError(
                f"the ranks' shares of the minibatch add up to {float(extras[1]):.6g}, not 1: "
                "every rank must step through the same global minibatches (same size, same "
                "order) and pass its own shard with its share")
        if self.world.size > 1 and self.streams:
            _set_states(self.streams, pieces, self.world.rank)
        self.apply_fn(*self._grad_views)
        return extras[0].copy(), tuple(extras[2:2 + nflags].tolist())

    def __call__(self, *inputs):
        """One step given the whole global minibatch (every rank passes the same one);
        returns its loss."""
        count = len(inputs[0])
        part = shard(count, self.world.rank, self.world.size)
        local = [np.asarray(value)[part] for value in inputs]
        share = (part.stop - part.start) / count if count else 0.0
        return self.step(local, share)[0]

    def broadcast_parameters(self):
        """Copy rank 0's parameters and optimizer state to every rank (call before
        training, and after loading a checkpoint on rank 0 only)."""
        broadcast_values(self.world, self.params + list(getattr(self.updates, "state", [])),
                         "the broadcast of the parameters")


def broadcast_values(world, variables, what):
    """Give every rank rank 0's values of the shared ``variables``."""
    if world.size == 1:
        return
    arrays = [np.array(v.get_value(borrow=True), order="C") for v in variables]  # 0-d stays 0-d
    world.bcast_arrays(arrays, what)
    for variable, array in zip(variables, arrays):
        variable.set_value(array, borrow=True)


def data_parallel(inputs, loss, params, update_rule, **options):
    """:class:`DataParallel` with its parameters broadcast from rank 0: a training step to
    call with the global minibatch.

    >>> step = data_parallel([x, y], loss, [w],                      # doctest: +SKIP
    ...                      lambda grads, params: optim.adam(grads, params))
    >>> for xb, yb in batches:                                       # doctest: +SKIP
    ...     loss = step(xb, yb)
    """
    step = DataParallel(inputs, loss, params, update_rule, **options)
    step.broadcast_parameters()
    return step


#: 16-bit pieces per uint64 word of a random state in the step's float buffer
_PIECES = 4


def _state_pieces(streams):
    """The random states of ``streams`` as 16-bit pieces (numbers < 2^16: exact in float16,
    float32 and float64, and their sum with zeros is exact)."""
    words = np.concatenate([np.asarray(v.get_value(borrow=True), dtype="<u8")
                            for v in streams])
    return np.frombuffer(words.tobytes(), dtype="<u2")


def _set_states(streams, pieces, rank):
    """Set ``streams`` to the states in ``pieces`` (rank 0's), mixed for ``rank``."""
    words = np.frombuffer(np.asarray(pieces).astype("<u2").tobytes(), dtype="<u8")
    for k, variable in enumerate(streams):
        state = np.array(words[3 * k:3 * k + 3], dtype=np.uint64)
        if rank:
            state[0] = _mix(state[0], rank)
        variable.set_value(state)


def is_random_state(variable):
    """Whether shared ``variable`` holds the state of a random stream
    (:mod:`nnframe.tensor.random`: uint64 ``[key, substream, counter]``)."""
    from nnframe.core.ops.random import STATE_LENGTH
    value = np.asarray(variable.get_value(borrow=True))
    return value.dtype == np.uint64 and value.shape == (STATE_LENGTH,)


def _mix(key, rank):
    """SplitMix64's finaliser of ``key`` xor a multiple of ``rank``: unrelated keys."""
    z = (int(key) ^ (rank * 0x9E3779B97F4A7C15)) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def rank_streams(variables, rank):
    """Give rank ``rank`` random streams of its own: the key of each random state among
    ``variables`` is mixed with the rank (rank 0 keeps its own), so dropout masks differ
    between the shards of one minibatch.  Other variables are left alone.

    Decision: the checkpoint holds rank 0's streams, and the other ranks derive theirs
    from them, so a resumed run with the same number of ranks draws what the uninterrupted
    one drew; with another number of ranks the other ranks' draws differ.
    """
    if rank == 0:
        return
    for variable in variables:
        if is_random_state(variable):
            state = np.array(variable.get_value(borrow=True))
            state[0] = _mix(state[0], rank)
            variable.set_value(state)
