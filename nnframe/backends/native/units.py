"""Where a segment's C is cut into translation units that compile at the same time.

GCC compiles one file on one core.  A segment's C (segment.py) is one function
running every node in turn, so it can be cut between two nodes into two
functions, each in a translation unit of its own with the prelude and the helpers:
two compiler processes on two cores then take about the time of the larger unit
(the W1 training step: 0.19 s instead of 0.28 s).  :func:`split` picks the cut
from an estimate of each node's compile work (:func:`compile_cost`).  The cut does
not depend on the machine (the units are the cache key): on one core the units
compile one after the other, about 10% slower than one unit would.

>>> loop = "for (long i = 0; i < n; i++) y[i] = exp(x[i]);"
>>> compile_cost(loop)
2.5
>>> [len(run) for run in split([loop] * 20, {})]
[10, 10]
"""
from nnframe.backends.native.cprelude import MATH_CALLS

__all__ = ["split", "compile_cost", "SPLIT_GAIN"]

# GCC's time goes to optimising and vectorising loops: at -O2 a loop costs ~6 ms, a
# function or a block without loops a third of that, and an elementary function (exp,
# tanh...: cmath.py's polynomials, inlined) about as much as a loop.  Two compiler
# processes on two cores take about the time of the larger half.  A second unit costs a
# compiler start, the prelude parsed again and a link (~15 ms), and any helper both halves
# call is compiled twice.

#: A segment is cut in two when the larger half is estimated to cost this many loops less
#: than the whole (about the second unit's own cost, doubled): below, it saves nothing.
SPLIT_GAIN = 5

_MATH_CALLS = tuple(name + "(" for name in MATH_CALLS)


def compile_cost(text):
    """Estimated compile work of C ``text``, in loops' worth (see above).

    >>> compile_cost("for (long i = 0; i < n; i++) y[i] = exp(x[i]);")
    2.5
    """
    # str.count, not a regular expression: this runs on every segment, cached or not
    return 0.5 + text.count("for (") + sum(text.count(call) for call in _MATH_CALLS)


def _helpers_called(texts, helpers):
    """For each C text, the names of the helpers it calls, directly or through other helpers."""
    calls = {name: {other for other in helpers if other != name and other + "(" in src}
             for name, src in helpers.items()}
    result = []
    for text in texts:
        found = {name for name in helpers if name + "(" in text}
        todo = list(found)
        while todo:
            for other in calls[todo.pop()] - found:
                found.add(other)
                todo.append(other)
        result.append(found)
    return result


def split(blocks, helpers):
    """``blocks`` (the C of each node, in order) as one run, or as two runs to compile at
    the same time: cut where the larger run, with the helpers it calls, costs least.

    ``helpers`` maps each helper's name to its C.

    >>> loop = "for (long i = 0; i < n; i++) y[i] = x[i];"
    >>> [len(run) for run in split([loop] * 20, {})]
    [10, 10]
    >>> [len(run) for run in split([loop] * 5, {})]
    [5]
    """
    cost = {name: compile_cost(src) for name, src in helpers.items()}
    called = _helpers_called(blocks, helpers)
    # an always_inline helper is compiled again in every block that calls it, the others
    # once in each unit that calls them
    inlined = {name for name, src in helpers.items() if "always_inline" in src}
    own = [compile_cost(b) + sum(cost[name] for name in names & inlined)
           for b, names in zip(blocks, called)]
    first = _costs_of_firsts(own, called, cost, inlined)               # blocks[:k]
    last = _costs_of_firsts(own[::-1], called[::-1], cost, inlined)[::-1]  # blocks[k:]
    best = min(range(1, len(blocks)), default=None, key=lambda k: max(first[k], last[k]))
    if best is None or max(first[best], last[best]) + SPLIT_GAIN > first[-1]:
        return [blocks]
    return [blocks[:best], blocks[best:]]


def _costs_of_firsts(own, called, cost, inlined):
    """The estimated cost of the first ``k`` blocks, with the helpers they call, for every
    ``k`` from 0 to all of them (``own``: each block's own cost)."""
    costs, names, total = [0.0], set(), 0.0
    for block_cost, used in zip(own, called):
        new = used - inlined - names
        names |= new
        total += block_cost + sum(cost[name] for name in new)
        costs.append(total)
    return costs
