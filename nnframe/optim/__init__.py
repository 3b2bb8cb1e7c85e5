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
from nnframe.optim.constraints import apply_weight_decay, norm_constraint, total_norm_constraint
from nnframe.optim.schedules import (
                                     SCHEDULES,
                                     ConstantSchedule,
                                     CosineDecay,
                                     ExponentialDecay,
                                     LinearWarmup,
                                     Schedule,
                                     StepDecay,
                                     schedule_from_dict,
)
from nnframe.optim.updates import (
                                     RULES,
                                     Updates,
                                     adadelta,
                                     adagrad,
                                     adam,
                                     adamax,
                                     adamw,
                                     apply_momentum,
                                     apply_nesterov_momentum,
                                     get_or_compute_grads,
                                     momentum,
                                     nesterov_momentum,
                                     rmsprop,
                                     sgd,
)

__all__ = ["Updates", "get_or_compute_grads", "sgd", "momentum", "nesterov_momentum",
           "apply_momentum", "apply_nesterov_momentum", "adagrad", "rmsprop", "adadelta",
           "adam", "adamax", "adamw", "RULES",
           "total_norm_constraint", "norm_constraint", "apply_weight_decay",
           "Schedule", "ConstantSchedule", "StepDecay", "ExponentialDecay", "CosineDecay",
           "LinearWarmup", "SCHEDULES", "schedule_from_dict"]
