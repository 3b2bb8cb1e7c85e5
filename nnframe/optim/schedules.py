"""Learning-rate schedules: ``schedule(step) -> float``.

A schedule is a plain function of the step (an epoch or an iteration; the
caller decides which).  ``schedule.apply(shared_lr, step)`` stores the value
in a rule's shared learning rate, so a compiled training function uses it
on its next call without recompiling.

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import shared
>>> from nnframe.optim import sgd
>>> w = shared(np.zeros(3), name='w')
>>> updates = sgd(T.sum(w ** 2), [w], learning_rate=0.1)
>>> schedule = LinearWarmup(CosineDecay(0.1, total_steps=100), warmup_steps=5)
>>> for epoch in range(3):
...     lr = schedule.apply(updates.learning_rate, epoch)   # then train one epoch
>>> round(lr, 6)
0.039754

Schedules describe themselves (``describe()``, ``to_dict()``) and are built
back from their description with :func:`schedule_from_dict` or the
``SCHEDULES`` registry.
"""
import inspect
import math

import numpy as np

from nnframe.core.shared import SharedVariable
from nnframe.core.types import is_float
from nnframe.optim._checks import check_int, check_number

__all__ = ["Schedule", "ConstantSchedule", "StepDecay", "ExponentialDecay", "CosineDecay",
           "LinearWarmup", "SCHEDULES", "schedule_from_dict"]


class Schedule:
    """Base class: subclasses define ``kind``, ``value(step)`` and ``arguments()``."""

    kind = None

    def __call__(self, step):
        """The learning rate at ``step`` (a number >= 0) as a Python float."""
        return float(self.value(check_number(step, "step")))

    def value(self, step):
        raise NotImplementedError

    def arguments(self):
        """The constructor's arguments, by name."""
        raise NotImplementedError

    def apply(self, shared_lr, step):
        """Set ``shared_lr`` to this schedule's value at ``step``; returns the value.

        ``shared_lr`` is a shared float scalar (e.g. ``updates.learning_rate``)
        or an object with such a ``learning_rate`` attribute (the
        :class:`~nnframe.optim.Updates` a rule returned).  Its dtype is kept.
        """
        target = getattr(shared_lr, "learning_rate", shared_lr)
        if not isinstance(target, SharedVariable) or target.ndim != 0 or not is_float(target.dtype):
            raise TypeError(f"apply() needs a shared float scalar learning rate, got {target!r}; "
                            "give the rule a number as learning_rate so that it creates one")
        value = self(step)
        target.set_value(np.asarray(value, dtype=target.dtype))
        return value

    def to_dict(self):
        """``{'type': <registry name>, <argument>: <value>, ...}``."""
        args = {k: (v.to_dict() if isinstance(v, Schedule) else v)
                for k, v in self.arguments().items()}
        return {"type": self.kind, **args}

    def describe(self):
        """``'CosineDecay(base_lr=0.1, total_steps=100, min_lr=0.0)'``."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments().items())
        return f"{type(self).__name__}({args})"

    __repr__ = describe


class ConstantSchedule(Schedule):
    """A constant learning rate: ``lr`` at every step.

    >>> ConstantSchedule(0.01)(1000)
    0.01
    """

    kind = "constant"

    def __init__(self, lr):
        self.lr = check_number(lr, "lr")

    def value(self, step):
        return self.lr

    def arguments(self):
        return {"lr": self.lr}


class StepDecay(Schedule):
    """Multiplies the rate by ``gamma`` every ``step_size`` steps.

    ``lr(step) = base_lr * gamma ** floor(step / step_size)``

    Parameters
    ----------
    base_lr : float
        The rate at step 0.
    step_size : int
        Steps between two decays (>= 1).
    gamma : float
        Decay factor.

    >>> StepDecay(0.1, step_size=10, gamma=0.5)(25)
    0.025
    """

    kind = "step"

    def __init__(self, base_lr, step_size, gamma=0.1):
        self.base_lr = check_number(base_lr, "base_lr")
        self.step_size = check_int(step_size, "step_size", 1)
        self.gamma = check_number(gamma, "gamma")

    def value(self, step):
        return self.base_lr * self.gamma ** math.floor(step / self.step_size)

    def arguments(self):
        return {"base_lr": self.base_lr, "step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(Schedule):
    """Multiplies the rate by ``gamma`` every step.

    ``lr(step) = base_lr * gamma ** step``

    >>> ExponentialDecay(1.0, gamma=0.5)(3)
    0.125
    """

    kind = "exponential"

    def __init__(self, base_lr, gamma):
        self.base_lr = check_number(base_lr, "base_lr")
        self.gamma = check_number(gamma, "gamma")

    def value(self, step):
        return self.base_lr * self.gamma ** step

    def arguments(self):
        return {"base_lr": self.base_lr, "gamma": self.gamma}


class CosineDecay(Schedule):
    """Cosine annealing from ``base_lr`` to ``min_lr`` over ``total_steps`` (SGDR, no restarts).

    ``lr(step) = min_lr + (base_lr - min_lr) * (1 + cos(pi * s / total_steps)) / 2``
    with ``s = min(step, total_steps)``: the rate stays at ``min_lr`` after
    ``total_steps``.

    >>> CosineDecay(1.0, total_steps=10)(5)
    0.5
    """

    kind = "cosine"

    def __init__(self, base_lr, total_steps, min_lr=0.0):
        self.base_lr = check_number(base_lr, "base_lr")
        self.total_steps = check_int(total_steps, "total_steps", 1)
        self.min_lr = check_number(min_lr, "min_lr")

    def value(self, step):
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_lr + (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress)) / 2

    def arguments(self):
        return {"base_lr": self.base_lr, "total_steps": self.total_steps, "min_lr": self.min_lr}


class LinearWarmup(Schedule):
    """A linear ramp over the first ``warmup_steps`` steps, then another schedule.

    ``lr(step) = start_lr + (target - start_lr) * step / warmup_steps`` for
    ``step < warmup_steps``, where ``target = schedule(warmup_steps)``, and
    ``schedule(step)`` afterwards.  The wrapped schedule keeps its own step
    count (it is not shifted by the warm-up), so a ``CosineDecay`` over 100
    epochs still ends at epoch 100; the ramp joins it continuously.

    Parameters
    ----------
    schedule_or_lr : Schedule, float, or dict
        The schedule after the warm-up; a number means a constant rate, a
        dict is built with :func:`schedule_from_dict`.
    warmup_steps : int
        Length of the ramp (0: no warm-up).
    start_lr : float
        The rate at step 0.

    >>> LinearWarmup(0.1, warmup_steps=4)(1)
    0.025
    """

    kind = "warmup"

    def __init__(self, schedule_or_lr, warmup_steps, start_lr=0.0):
        if isinstance(schedule_or_lr, Schedule):
            self.schedule = schedule_or_lr
        elif isinstance(schedule_or_lr, dict):
            self.schedule = schedule_from_dict(schedule_or_lr)
        else:
            self.schedule = ConstantSchedule(check_number(schedule_or_lr, "schedule_or_lr"))
        self.warmup_steps = check_int(warmup_steps, "warmup_steps", 0)
        self.start_lr = check_number(start_lr, "start_lr")

    def value(self, step):
        if step >= self.warmup_steps:
            return self.schedule(step)
        target = self.schedule(self.warmup_steps)
        return self.start_lr + (target - self.start_lr) * step / self.warmup_steps

    def arguments(self):
        return {"schedule_or_lr": self.schedule, "warmup_steps": self.warmup_steps,
                "start_lr": self.start_lr}


#: registry name -> schedule class, for building schedules from configuration files
SCHEDULES = {cls.kind: cls for cls in (ConstantSchedule, StepDecay, ExponentialDecay,
                                       CosineDecay, LinearWarmup)}


def schedule_from_dict(spec):
    """The schedule ``spec`` describes: ``{'type': 'cosine', 'base_lr': 0.1, ...}``.

    The inverse of :meth:`Schedule.to_dict`; the type is a key of
    ``SCHEDULES`` and the other keys are the class's arguments.

    >>> schedule_from_dict({'type': 'step', 'base_lr': 0.1, 'step_size': 30})
    StepDecay(base_lr=0.1, step_size=30, gamma=0.1)
    """
    if not isinstance(spec, dict) or "type" not in spec:
        raise TypeError(f"a schedule description is a dict with a 'type' key, got {spec!r}")
    args = dict(spec)
    kind = args.pop("type")
    if kind not in SCHEDULES:
        raise ValueError(f"unknown schedule type {kind!r}; use one of {', '.join(SCHEDULES)}")
    cls = SCHEDULES[kind]
    accepted = list(inspect.signature(cls).parameters)
    unknown = [k for k in args if k not in accepted]
    if unknown:
        raise TypeError(f"schedule {kind!r} has no argument(s) {', '.join(map(repr, unknown))}; "
                        f"it takes {', '.join(accepted)}")
    try:
        return cls(**args)
    except TypeError as exc:
        raise TypeError(f"schedule {kind!r}: {exc}") from None
