"""Helpers shared by layers (Lasagne's ``lasagne.utils``).

:func:`unroll_scan` writes a loop out as one graph node per step: the same
calling convention as ``T.scan``, for code that wants the unrolled graph
(short, fixed-length sequences, where the unrolled graph is rewritten and
fused as a whole).

>>> import numpy as np
>>> import nnframe.tensor as T
>>> from nnframe import function
>>> x = T.dmatrix('x')
>>> running_sum, = unroll_scan(lambda x_t, total: total + x_t, sequences=[x],
...                            outputs_info=[T.zeros_like(x[0])], non_sequences=[], n_steps=3)
>>> function([x], running_sum)(np.ones((3, 2)))
array([[1., 1.],
       [2., 2.],
       [3., 3.]])
"""
import operator

import nnframe.tensor as T
from nnframe.core.graph import Variable

__all__ = ["unroll_scan"]


def unroll_scan(fn, sequences, outputs_info, non_sequences, n_steps, go_backwards=False):
    """Unroll a loop that ``T.scan`` would run: ``n_steps`` calls of ``fn`` in the graph.

    The arguments are ``T.scan``'s: ``fn(*sequence_slices, *previous_outputs,
    *non_sequences)`` returns the new outputs (one variable, or a list or
    tuple of them), each fed back as the previous output of the next step.
    ``truncate_gradient`` is not supported (the unrolled graph is an
    ordinary graph: the gradient goes through every step).

    Parameters
    ----------
    fn : callable
        The step.
    sequences : variable or list of variables
        Iterated over their first axis.
    outputs_info : list of variables
        The initial value of every recurrent output.
    non_sequences : list of variables
        Passed unchanged to every step.
    n_steps : int
        Number of steps: a Python integer, since the graph is written out.
    go_backwards : bool
        Start at ``sequences[n_steps - 1]`` and go down to ``sequences[0]``.

    Returns
    -------
    list of variables
        One per output of ``fn``: the outputs of every step stacked along a new
        first axis, in the order the steps ran (as ``T.scan`` returns them, so a
        backwards loop's outputs are in reverse time order).
    """
    if isinstance(sequences, Variable):
        sequences = [sequences]
    sequences, prev_vals = list(sequences or []), list(outputs_info or [])
    non_sequences = list(non_sequences or [])
    try:
        n_steps = operator.index(n_steps)
    except TypeError:
        raise TypeError(f"unroll_scan: n_steps must be a Python integer (the number of steps "
                        f"written into the graph), got {n_steps!r}") from None
    if n_steps <= 0:
        raise ValueError(f"unroll_scan: n_steps must be positive, got {n_steps}")
    if any(v is None for v in prev_vals):
        raise ValueError("unroll_scan: every outputs_info entry needs an initial value "
                         "(None, an output that is not fed back, is not supported)")

    counter = range(n_steps)
    if go_backwards:
        counter = counter[::-1]
    steps = []
    for i in counter:
        out = fn(*([s[i] for s in sequences] + prev_vals + non_sequences))
        # fn may return one variable, a tuple or a list: always a list from here on
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        if len(out) != len(prev_vals):
            raise ValueError(f"unroll_scan: the step returned {len(out)} output(s) but "
                             f"outputs_info has {len(prev_vals)} initial value(s)")
        steps.append(out)
        prev_vals = out
    return [T.stack([step[k] for step in steps]) for k in range(len(steps[0]))]
