"""Learning-rate schedules: values against their formulas, warm-up composition,
apply() on shared scalars, descriptions and the registry, and bad arguments."""
import math

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import shared
from nnframe.optim import (
    SCHEDULES,
    ConstantSchedule,
    CosineDecay,
    ExponentialDecay,
    LinearWarmup,
    StepDecay,
    adam,
    schedule_from_dict,
)

STEPS = [0, 1, 2, 5, 9, 10, 11, 30, 100]


def cosine(step, base_lr, total_steps, min_lr=0.0):
    s = min(step, total_steps)
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * s / total_steps))


@pytest.mark.parametrize("schedule, formula", [
    (ConstantSchedule(0.05), lambda s: 0.05),
    (StepDecay(0.1, step_size=10), lambda s: 0.1 * 0.1 ** (s // 10)),
    (StepDecay(0.5, step_size=3, gamma=0.5), lambda s: 0.5 * 0.5 ** (s // 3)),
    (ExponentialDecay(0.2, gamma=0.9), lambda s: 0.2 * 0.9 ** s),
    (CosineDecay(0.1, total_steps=10), lambda s: cosine(s, 0.1, 10)),
    (CosineDecay(0.1, total_steps=30, min_lr=0.01), lambda s: cosine(s, 0.1, 30, 0.01)),
], ids=["constant", "step", "step-gamma", "exponential", "cosine", "cosine-min"])
def test_values_match_formula(schedule, formula):
    for step in STEPS:
        value = schedule(step)
        assert isinstance(value, float)
        assert value == pytest.approx(formula(step), rel=1e-12, abs=1e-15), step


def test_chosen_values():
    assert StepDecay(1.0, step_size=2, gamma=0.5)(5) == 0.25
    assert ExponentialDecay(1.0, gamma=0.5)(3) == 0.125
    cos = CosineDecay(1.0, total_steps=4, min_lr=0.2)
    assert [round(cos(s), 12) for s in (0, 2, 4, 8)] == [1.0, 0.6, 0.2, 0.2]
    assert StepDecay(1.0, step_size=2)(3.5) == pytest.approx(0.1)   # fractional epochs


def test_warmup_ramps_to_the_wrapped_schedule_then_follows_it():
    inner = CosineDecay(0.1, total_steps=20, min_lr=0.001)
    warm = LinearWarmup(inner, warmup_steps=5, start_lr=0.01)
    target = inner(5)
    for step in range(5):
        assert warm(step) == pytest.approx(0.01 + (target - 0.01) * step / 5, rel=1e-12)
    for step in (5, 6, 12, 20, 25):
        assert warm(step) == inner(step)
    # continuous where the ramp meets the schedule, increasing during the ramp
    assert warm(4.999) == pytest.approx(warm(5), rel=1e-3)
    assert all(warm(s) < warm(s + 1) for s in range(5))


def test_warmup_of_a_number_and_of_nothing():
    warm = LinearWarmup(0.1, warmup_steps=4)
    assert [warm(s) for s in range(6)] == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1, 0.1])
    assert isinstance(warm.schedule, ConstantSchedule)
    step = StepDecay(0.1, step_size=2)
    no_warmup = LinearWarmup(step, warmup_steps=0, start_lr=0.5)
    assert [no_warmup(s) for s in range(5)] == [step(s) for s in range(5)]


def test_warmup_of_warmup_composes():
    warm = LinearWarmup(LinearWarmup(ExponentialDecay(1.0, 0.5), 4), warmup_steps=2)
    # the inner ramp climbs to 0.5 ** 4 = 0.0625 at step 4 and is 0.03125 at step 2,
    # where the outer ramp (from 0) joins it
    assert warm(1) == pytest.approx(0.03125 / 2)
    assert warm(3) == pytest.approx(0.0625 * 3 / 4)
    assert warm(6) == 0.5 ** 6


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_apply_sets_the_shared_value_and_keeps_its_dtype(dtype):
    lr = shared(np.asarray(1.0, dtype=dtype), name="lr")
    schedule = ExponentialDecay(0.3, gamma=0.5)
    value = schedule.apply(lr, 3)
    assert value == 0.3 * 0.125
    assert lr.get_value().dtype == dtype and lr.get_value() == np.asarray(value, dtype)


def test_apply_takes_an_updates_object():
    w = shared(np.ones(3), name="w")
    updates = adam(T.sum(T.sqr(w)), [w])
    CosineDecay(0.01, total_steps=10).apply(updates, 10)
    assert updates.learning_rate.get_value() == 0.0


@pytest.mark.parametrize("target", [T.dscalar("lr"), shared(np.ones(2), name="v"),
                                    shared(np.asarray(1), name="i"), 0.1])
def test_apply_needs_a_shared_float_scalar(target):
    with pytest.raises(TypeError, match="shared float scalar"):
        ConstantSchedule(0.1).apply(target, 0)


SAMPLES = [ConstantSchedule(0.05), StepDecay(0.1, 30, gamma=0.2), ExponentialDecay(0.1, 0.95),
           CosineDecay(0.1, 100, min_lr=1e-4),
           LinearWarmup(CosineDecay(0.1, 100), warmup_steps=5, start_lr=0.001)]


@pytest.mark.parametrize("schedule", SAMPLES, ids=lambda s: s.kind)
def test_to_dict_round_trips_through_the_registry(schedule):
    spec = schedule.to_dict()
    assert spec["type"] == schedule.kind and SCHEDULES[spec["type"]] is type(schedule)
    rebuilt = schedule_from_dict(spec)
    assert rebuilt.to_dict() == spec and rebuilt.describe() == schedule.describe()
    assert [rebuilt(s) for s in STEPS] == [schedule(s) for s in STEPS]
    assert schedule_from_dict(dict(spec)) is not schedule


def test_describe_and_dict_contents():
    warm = LinearWarmup({"type": "cosine", "base_lr": 0.1, "total_steps": 50}, warmup_steps=3)
    assert warm.to_dict() == {"type": "warmup", "warmup_steps": 3, "start_lr": 0.0,
                              "schedule_or_lr": {"type": "cosine", "base_lr": 0.1,
                                                 "total_steps": 50, "min_lr": 0.0}}
    assert warm.describe() == ("LinearWarmup(schedule_or_lr=CosineDecay(base_lr=0.1, "
                               "total_steps=50, min_lr=0.0), warmup_steps=3, start_lr=0.0)")
    assert repr(StepDecay(0.1, 10)) == "StepDecay(base_lr=0.1, step_size=10, gamma=0.1)"
    assert sorted(SCHEDULES) == ["constant", "cosine", "exponential", "step", "warmup"]


@pytest.mark.parametrize("build, exc, match", [
    (lambda: ConstantSchedule(-0.1), ValueError, "lr must be >= 0"),
    (lambda: ConstantSchedule("0.1"), TypeError, "lr must be a number"),
    (lambda: StepDecay(0.1, step_size=0), ValueError, "step_size must be >= 1"),
    (lambda: StepDecay(0.1, step_size=2.5), TypeError, "step_size must be an integer"),
    (lambda: StepDecay(0.1, 10, gamma=-1), ValueError, "gamma must be >= 0"),
    (lambda: ExponentialDecay(float("inf"), 0.9), ValueError, "base_lr must be finite"),
    (lambda: CosineDecay(0.1, total_steps=True), TypeError, "total_steps must be an integer"),
    (lambda: CosineDecay(0.1, 10, min_lr=-1.0), ValueError, "min_lr must be >= 0"),
    (lambda: LinearWarmup(0.1, warmup_steps=-1), ValueError, "warmup_steps must be >= 0"),
    (lambda: LinearWarmup(None, warmup_steps=2), TypeError, "schedule_or_lr must be a number"),
    (lambda: LinearWarmup(0.1, 2, start_lr=-0.1), ValueError, "start_lr must be >= 0"),
    (lambda: ConstantSchedule(0.1)(-1), ValueError, "step must be >= 0"),
    (lambda: ConstantSchedule(0.1)("3"), TypeError, "step must be a number"),
    (lambda: schedule_from_dict({"type": "linear"}), ValueError, "unknown schedule type 'linear'"),
    (lambda: schedule_from_dict({"base_lr": 0.1}), TypeError, "'type' key"),
    (lambda: schedule_from_dict({"type": "step", "base_lr": 0.1, "step": 3}), TypeError,
     "schedule 'step' has no argument.*'step'.*base_lr, step_size, gamma"),
    (lambda: schedule_from_dict({"type": "cosine", "base_lr": 0.1}), TypeError,
     "schedule 'cosine'.*total_steps"),
])
def test_bad_arguments(build, exc, match):
    with pytest.raises(exc, match=match):
        build()
