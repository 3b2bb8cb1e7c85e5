"""nnframe.optim: optimizers as update rules, learning-rate schedules and constraints.

An optimizer returns the ``updates`` handed to ``function`` (Lasagne's way):

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import function, shared
>>> from nnframe.optim import adam, CosineDecay
>>> x = T.fmatrix('x'); y = T.fvector('y')
>>> w = shared(np.zeros(3, dtype='float32'), name='w')
>>> loss = T.mean(T.sqr(T.dot(x, w) - y))
>>> updates = adam(loss, [w], learning_rate=0.01)
>>> train = function([x, y], loss, updates=updates)
>>> schedule = CosineDecay(0.01, total_steps=10)
>>> for epoch in range(10):
...     _ = schedule.apply(updates.learning_rate, epoch)
...     _ = train(np.ones((4, 3), 'float32'), np.ones(4, 'float32'))

Rules: sgd, momentum, nesterov_momentum, adagrad, rmsprop, adadelta, adam,
adamax, adamw (``RULES`` maps names to them); helpers apply_momentum,
apply_nesterov_momentum, get_or_compute_grads; constraints
total_norm_constraint, norm_constraint, apply_weight_decay; schedules
ConstantSchedule, StepDecay, ExponentialDecay, CosineDecay, LinearWarmup
(``SCHEDULES`` maps names to them).
"""
# Every module's public names (its ``__all__``) are here; tests/test_namespaces.py checks it.
from nnframe.optim import constraints as _constraints
from nnframe.optim import schedules as _schedules
from nnframe.optim import updates as _updates
from nnframe.optim.constraints import *  # noqa: F403
from nnframe.optim.schedules import *  # noqa: F403
from nnframe.optim.updates import *  # noqa: F403

MODULES = (_updates, _constraints, _schedules)
__all__ = [name for module in MODULES for name in module.__all__]

