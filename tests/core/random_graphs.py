"""Random elementwise graphs, for tests that compare a compiled graph with the
unrewritten one (``mode='fast_compile'``) on random inputs."""
import numpy as np

import nnframe.tensor as T

UNARY = [T.exp, T.tanh, T.nnet.sigmoid, lambda v: v * v, T.abs, lambda v: -v, T.nnet.relu,
         lambda v: T.log1p(T.abs(v))]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, T.maximum,
          lambda a, b: a / (1 + T.abs(b)), lambda a, b: T.switch(a > b, a, b * 2)]


def random_elementwise(seed, leaves, unary=UNARY, n_ops=(4, 12)):
    """``(pool, outputs)``: ``pool`` is ``leaves`` followed by a random number
    (in ``n_ops``) of unary and binary ops on earlier pool entries; ``outputs``
    are two entries of it that are not leaves."""
    r = np.random.default_rng(seed)
    pool = list(leaves)
    for _ in range(r.integers(*n_ops)):
        if r.random() < 0.4:
            pool.append(unary[r.integers(len(unary))](pool[r.integers(len(pool))]))
        else:
            a, b = (pool[k] for k in r.integers(len(pool), size=2))
            pool.append(BINARY[r.integers(len(BINARY))](a, b))
    picks = r.choice(len(pool) - len(leaves), size=2) + len(leaves)
    return pool, [pool[k] for k in picks]
