"""Update rules: step-by-step agreement with NumPy references of the published formulas,
state names and dtypes, the shared learning rate, and bad input."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import config, function, shared
from nnframe.core.graph import ancestors
from nnframe.optim import (
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
from nnframe.optim import schedules as S

RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 3))
Y = RNG.normal(size=(5, 2))
W0 = RNG.normal(size=(3, 2))
B0 = RNG.normal(size=(2,))


# -- the problem: least squares with two parameter tensors of different shapes ----------
def np_grads(W, b):
    """Gradients of 0.5 * mean over rows of ||X W + b - Y||^2."""
    R = X @ W + b - Y
    return [X.T @ R / len(X), R.sum(axis=0) / len(X)]


def make_problem(dtype="float64", names=("enc1/W", "enc1/b")):
    W = shared(W0.astype(dtype), name=names[0])
    b = shared(B0.astype(dtype), name=names[1])
    x = T.tensor(dtype, (None, None), name="x")
    y = T.tensor(dtype, (None, None), name="y")
    loss = 0.5 * T.mean(T.sum(T.sqr(T.dot(x, W) + b - y), axis=1))
    return [W, b], x, y, loss


# -- NumPy references: one step for one parameter; ``s`` holds its state ----------------
def ref_sgd(p, g, s, t, learning_rate):
    return p - learning_rate * g


def ref_momentum(p, g, s, t, learning_rate, momentum=0.9):
    s["velocity"] = momentum * s.get("velocity", 0.0) - learning_rate * g
    return p + s["velocity"]


def ref_nesterov_momentum(p, g, s, t, learning_rate, momentum=0.9):
    s["velocity"] = momentum * s.get("velocity", 0.0) - learning_rate * g
    return p + momentum * s["velocity"] - learning_rate * g


def ref_adagrad(p, g, s, t, learning_rate=1.0, epsilon=1e-6):
    s["accu"] = s.get("accu", 0.0) + g ** 2
    return p - learning_rate * g / np.sqrt(s["accu"] + epsilon)


def ref_rmsprop(p, g, s, t, learning_rate=1.0, rho=0.9, epsilon=1e-6):
    s["accu"] = rho * s.get("accu", 0.0) + (1 - rho) * g ** 2
    return p - learning_rate * g / np.sqrt(s["accu"] + epsilon)


def ref_adadelta(p, g, s, t, learning_rate=1.0, rho=0.95, epsilon=1e-6):
    s["accu"] = rho * s.get("accu", 0.0) + (1 - rho) * g ** 2
    delta = s.get("delta_accu", 0.0)
    update = g * np.sqrt(delta + epsilon) / np.sqrt(s["accu"] + epsilon)
    s["delta_accu"] = rho * delta + (1 - rho) * update ** 2
    return p - learning_rate * update


def ref_adam(p, g, s, t, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g ** 2
    a_t = learning_rate * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return p - a_t * s["m"] / (np.sqrt(s["v"]) + epsilon)


def ref_adamax(p, g, s, t, learning_rate=0.002, beta1=0.9, beta2=0.999, epsilon=1e-8):
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["u"] = np.maximum(beta2 * s.get("u", 0.0), np.abs(g))
    return p - learning_rate / (1 - beta1 ** t) * s["m"] / (s["u"] + epsilon)


def ref_adamw(p, g, s, t, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
              weight_decay=0.01):
    """torch.optim.AdamW, step by step."""
    p = p * (1 - learning_rate * weight_decay)
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g ** 2
    step_size = learning_rate / (1 - beta1 ** t)
    denom = np.sqrt(s["v"]) / np.sqrt(1 - beta2 ** t) + epsilon
    return p - step_size * s["m"] / denom


REFERENCES = {"sgd": ref_sgd, "momentum": ref_momentum,
              "nesterov_momentum": ref_nesterov_momentum, "adagrad": ref_adagrad,
              "rmsprop": ref_rmsprop, "adadelta": ref_adadelta, "adam": ref_adam,
              "adamax": ref_adamax, "adamw": ref_adamw}

# Non-default hyperparameters, so that each one is exercised.
HYPER = {
    "sgd": dict(learning_rate=0.1),
    "momentum": dict(learning_rate=0.1, momentum=0.8),
    "nesterov_momentum": dict(learning_rate=0.1, momentum=0.7),
    "adagrad": dict(learning_rate=0.5, epsilon=1e-4),
    "rmsprop": dict(learning_rate=0.05, rho=0.8, epsilon=1e-4),
    "adadelta": dict(learning_rate=0.9, rho=0.9, epsilon=1e-4),
    "adam": dict(learning_rate=0.05, beta1=0.8, beta2=0.99, epsilon=1e-6),
    "adamax": dict(learning_rate=0.05, beta1=0.8, beta2=0.99, epsilon=1e-6),
    "adamw": dict(learning_rate=0.05, beta1=0.8, beta2=0.99, epsilon=1e-6, weight_decay=0.3),
}

# Lasagne's defaults (PyTorch's for adamw).
DEFAULTS = {
    "adagrad": dict(learning_rate=1.0, epsilon=1e-6),
    "rmsprop": dict(learning_rate=1.0, rho=0.9, epsilon=1e-6),
    "adadelta": dict(learning_rate=1.0, rho=0.95, epsilon=1e-6),
    "adam": dict(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8),
    "adamax": dict(learning_rate=0.002, beta1=0.9, beta2=0.999, epsilon=1e-8),
    "adamw": dict(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.01),
}

SLOTS = {"sgd": [], "momentum": ["velocity"], "nesterov_momentum": ["velocity"],
         "adagrad": ["accu"], "rmsprop": ["accu"], "adadelta": ["accu", "delta_accu"],
         "adam": ["m", "v"], "adamax": ["m", "u"], "adamw": ["m", "v"]}
COUNTED = {"adam", "adamax", "adamw"}


def run_reference(rule, hyper, steps):
    """Parameter values (and final state) of ``steps`` steps of the NumPy reference."""
    params, states, history = [W0.copy(), B0.copy()], [{}, {}], []
    for t in range(1, steps + 1):
        grads = np_grads(*params)
        params = [REFERENCES[rule](p, g, s, t, **hyper)
                  for p, g, s in zip(params, grads, states)]
        history.append(params)
    return history, states


def check_against_reference(rule, hyper, form, mode, steps=10):
    params, x, y, loss = make_problem()
    loss_or_grads = loss if form == "loss" else T.grad(loss, params)
    updates = RULES[rule](loss_or_grads, params, **hyper)
    train = function([x, y], loss, updates=updates, mode=mode)
    # The rule stores the learning rate in a floatX shared scalar: use that value.
    ref_hyper = dict(hyper, learning_rate=float(updates.learning_rate.get_value()))
    expected, ref_states = run_reference(rule, ref_hyper, steps)
    for t in range(steps):
        train(X, Y)
        for p, want in zip(params, expected[t]):
            np.testing.assert_allclose(p.get_value(), want, rtol=1e-6, atol=1e-12,
                                       err_msg=f"{rule}: {p.name} after step {t + 1}")
    # The state variables hold what their names say.
    for var in updates.state:
        if var.name.endswith("/t"):
            assert var.get_value() == steps
            continue
        label, slot = var.name.rsplit("/", 1)
        k = [p.name for p in params].index(label.rsplit("/", 1)[0])
        np.testing.assert_allclose(var.get_value(), ref_states[k][slot], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("form", ["loss", "grads"])
def test_rule_matches_numpy_formula(rule, form):
    # The loss form runs in debug mode (every node checked), the grads form rewritten.
    check_against_reference(rule, HYPER[rule], form, "debug" if form == "loss" else None)


@pytest.mark.parametrize("rule", sorted(DEFAULTS))
def test_defaults_are_lasagnes_and_match_formula(rule):
    params, x, y, loss = make_problem()
    assert RULES[rule](loss, params).hyperparameters == pytest.approx(DEFAULTS[rule])
    check_against_reference(rule, {}, "loss", None)


def test_momentum_defaults():
    params, x, y, loss = make_problem()
    for rule in (momentum, nesterov_momentum):
        assert rule(loss, params, 0.1).hyperparameters == pytest.approx(
            {"learning_rate": 0.1, "momentum": 0.9})


def test_apply_momentum_equals_momentum_rule():
    params, x, y, loss = make_problem()
    updates = apply_momentum(sgd(loss, params, 0.125), momentum=0.5)
    assert updates.rule == "momentum" and isinstance(updates, Updates)
    assert [v.name for v in updates.state] == ["enc1/W/momentum/velocity",
                                               "enc1/b/momentum/velocity"]
    train = function([x, y], loss, updates=updates)
    expected, _ = run_reference("momentum", dict(learning_rate=0.125, momentum=0.5), 3)
    for t in range(3):
        train(X, Y)
        np.testing.assert_allclose(params[0].get_value(), expected[t][0], rtol=1e-12)


def test_apply_nesterov_momentum_to_a_plain_dict_and_some_params():
    params, x, y, loss = make_problem()
    W, b = params
    plain = dict(sgd(loss, params, 0.125))          # a plain dict: no .state
    updates = apply_nesterov_momentum(plain, params=[W], momentum=0.5)
    assert [v.name for v in updates.state] == ["enc1/W/nesterov_momentum/velocity"]
    train = function([x, y], loss, updates=updates)
    nest, _ = run_reference("nesterov_momentum", dict(learning_rate=0.125, momentum=0.5), 2)
    plain_sgd, _ = run_reference("sgd", dict(learning_rate=0.125), 1)
    train(X, Y)
    np.testing.assert_allclose(W.get_value(), nest[0][0], rtol=1e-12)
    np.testing.assert_allclose(b.get_value(), plain_sgd[0][1], rtol=1e-12)


def test_momentum_on_top_of_adam_skips_the_optimizer_state():
    params, x, y, loss = make_problem()
    updates = apply_momentum(adam(loss, params), momentum=0.5)
    assert updates.rule == "adam+momentum"
    names = [v.name for v in updates.state]
    assert names == ["enc1/W/adam/m", "enc1/W/adam/v", "enc1/b/adam/m", "enc1/b/adam/v",
                     "adam/t", "enc1/W/momentum/velocity", "enc1/b/momentum/velocity"]
    assert updates.hyperparameters["momentum"] == 0.5
    assert updates.learning_rate.name == "adam/learning_rate"


# -- state: names, dtypes, restoring by name ---------------------------------------------
@pytest.mark.parametrize("rule", sorted(RULES))
def test_state_names_and_updates_object(rule):
    params, x, y, loss = make_problem()
    updates = RULES[rule](loss, params, **HYPER[rule])
    expected = [f"{p}/{rule}/{slot}" for p in ("enc1/W", "enc1/b") for slot in SLOTS[rule]]
    expected += [f"{rule}/t"] if rule in COUNTED else []
    assert [v.name for v in updates.state] == expected
    assert isinstance(updates, Updates) and updates.rule == rule
    assert updates.learning_rate.name == f"{rule}/learning_rate"
    assert updates.hyperparameters == pytest.approx(HYPER[rule])
    # every parameter and every state variable is updated, parameters' state like them
    assert set(map(id, updates)) == set(map(id, params + updates.state))
    for var in updates.state:
        value = var.get_value()
        if var.name.endswith("/t"):
            assert value.dtype == np.int64 and value == 0
        else:
            owner = params[0] if var.name.startswith("enc1/W/") else params[1]
            assert value.dtype == owner.dtype and value.shape == owner.get_value().shape
            assert var.type == owner.type and not value.any()


@pytest.mark.parametrize("rule", sorted(RULES))
def test_named_optimizers_do_not_clash_and_unnamed_params_use_positions(rule):
    params, x, y, loss = make_problem(names=(None, None))
    updates = RULES[rule](loss, params, **HYPER[rule], name="gen")
    names = [v.name for v in updates.state]
    assert all(n.startswith(("param0/gen/", "param1/gen/")) or n == "gen/t" for n in names)
    assert updates.learning_rate.name == "gen/learning_rate"
    other = RULES[rule](loss, params, **HYPER[rule], name="disc")
    assert not set(names) & {v.name for v in other.state}


def test_state_restored_by_name_continues_identically():
    def build():
        params, x, y, loss = make_problem()
        updates = adam(loss, params, learning_rate=0.05)
        return params, updates, function([x, y], loss, updates=updates)

    params_a, updates_a, train_a = build()
    for _ in range(3):
        train_a(X, Y)
    params_b, updates_b, train_b = build()
    saved = {v.name: v.get_value() for v in params_a + updates_a.state}
    for v in params_b + updates_b.state:
        v.set_value(saved[v.name])
    for _ in range(3):
        train_a(X, Y)
        train_b(X, Y)
    for a, b in zip(params_a, params_b):
        np.testing.assert_array_equal(a.get_value(), b.get_value())


def _float64_variables(updates):
    return [v for v in ancestors(list(updates.values())) if v.dtype == "float64"]


@pytest.mark.parametrize("rule", sorted(RULES))
def test_float32_params_get_float32_state_and_updates(rule):
    params, x, y, loss = make_problem("float32")
    updates = RULES[rule](loss, params, **HYPER[rule])
    for var, expr in updates.items():
        assert expr.dtype == var.dtype, (var, expr.type)
    assert all(v.dtype == "float32" for v in updates.state if not v.name.endswith("/t"))
    assert _float64_variables(updates) == []
    train = function([x, y], loss, updates=updates)
    nodes = train.maker.fgraph.toposort()
    assert not [o for n in nodes for o in n.outputs if o.dtype == "float64"]
    for _ in range(2):
        train(X.astype("float32"), Y.astype("float32"))
    assert all(p.get_value().dtype == np.float32 and np.isfinite(p.get_value()).all()
               for p in params)


def test_float64_learning_rate_and_hyperparameters_do_not_upcast_float32():
    params, x, y, loss = make_problem("float32")
    lr = shared(np.float64(0.1), name="lr")
    beta1 = shared(np.float64(0.9), name="beta1")
    updates = adam(T.grad(loss, params), params, learning_rate=lr, beta1=beta1)
    assert updates.learning_rate is lr
    assert "learning_rate" not in updates.hyperparameters and "beta1" not in updates.hyperparameters
    assert all(expr.dtype == var.dtype for var, expr in updates.items())
    function([x, y], loss, updates=updates)(X.astype("float32"), Y.astype("float32"))


@pytest.mark.parametrize("rule", ["momentum", "rmsprop", "adam", "adamw"])
def test_symbolic_hyperparameters_match_numbers(rule):
    """A hyperparameter may be a shared scalar (e.g. to schedule momentum)."""
    hyper = HYPER[rule]
    key = next(k for k in hyper if k != "learning_rate")
    params, x, y, loss = make_problem()
    sym = dict(hyper, **{key: shared(np.float64(hyper[key]), name=key)})
    updates = RULES[rule](loss, params, **sym)
    train = function([x, y], loss, updates=updates)
    expected, _ = run_reference(rule, dict(hyper, learning_rate=float(
        updates.learning_rate.get_value())), 2)
    train(X, Y)
    train(X, Y)
    np.testing.assert_allclose(params[0].get_value(), expected[1][0], rtol=1e-6)


# -- the learning rate is a shared scalar ------------------------------------------------
def test_number_learning_rate_becomes_floatx_shared_scalar():
    params, x, y, loss = make_problem()
    for dtype in ("float32", "float64"):
        with config.change_flags(floatX=dtype):
            lr = sgd(loss, params, learning_rate=0.5).learning_rate
        assert lr.get_value().dtype == dtype and lr.get_value().shape == ()
        assert lr.get_value() == 0.5


def test_changing_shared_learning_rate_changes_next_step_without_recompiling():
    params, x, y, loss = make_problem()
    updates = adam(loss, params, learning_rate=0.05)
    train = function([x, y], loss, updates=updates)
    lrs = [0.05, 0.2, 0.0, 0.01]
    expected_params, states = [W0.copy(), B0.copy()], [{}, {}]
    for t, lr in enumerate(lrs, start=1):
        updates.learning_rate.set_value(np.float32(lr))
        lr = float(updates.learning_rate.get_value())
        grads = np_grads(*expected_params)
        expected_params = [ref_adam(p, g, s, t, learning_rate=lr)
                           for p, g, s in zip(expected_params, grads, states)]
        train(X, Y)
        np.testing.assert_allclose(params[0].get_value(), expected_params[0], rtol=1e-6)


SCHEDULES = [S.ConstantSchedule(0.3), S.StepDecay(0.4, step_size=2, gamma=0.5),
             S.ExponentialDecay(0.4, gamma=0.7), S.CosineDecay(0.4, total_steps=4, min_lr=0.05),
             S.LinearWarmup(S.CosineDecay(0.4, total_steps=6), warmup_steps=2, start_lr=0.01)]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.kind)
def test_schedule_apply_changes_the_next_step_without_recompiling(schedule):
    params, x, y, loss = make_problem()
    W = params[0]
    updates = sgd(loss, params, learning_rate=1.0)
    train = function([x, y], loss, updates=updates)
    for step in range(5):
        lr = schedule.apply(updates.learning_rate, step)
        assert lr == pytest.approx(schedule(step))
        assert updates.learning_rate.get_value() == np.float32(lr)
        before = [p.get_value() for p in params]
        train(X, Y)
        want = before[0] - float(updates.learning_rate.get_value()) * np_grads(*before)[0]
        np.testing.assert_allclose(W.get_value(), want, rtol=1e-6)


def test_symbolic_learning_rate_is_used_as_is():
    params, x, y, loss = make_problem()
    lr = T.dscalar("lr")
    updates = sgd(loss, params, learning_rate=lr)
    assert updates.learning_rate is lr and "learning_rate" not in updates.hyperparameters
    train = function([x, y, lr], loss, updates=updates)
    train(X, Y, 0.25)
    np.testing.assert_allclose(params[1].get_value(), B0 - 0.25 * np_grads(W0, B0)[1],
                               rtol=1e-12)
    with pytest.raises(TypeError, match="shared float scalar"):
        S.ConstantSchedule(0.1).apply(updates, 0)


# -- get_or_compute_grads and bad input --------------------------------------------------
def test_get_or_compute_grads():
    params, x, y, loss = make_problem("float32")
    grads = get_or_compute_grads(loss, params)
    assert [g.ndim for g in grads] == [2, 1] and all(g.dtype == "float32" for g in grads)
    given = [T.cast(g, "float64") for g in grads]
    assert [g.dtype for g in get_or_compute_grads(given, params)] == ["float32", "float32"]


def bad_call(params, loss):
    W, b = params
    return {
        "not shared": (lambda: sgd(loss, [W, T.dvector("v")], 0.1), TypeError,
                       r"params\[1\].*not a shared variable"),
        "single param": (lambda: sgd(loss, W, 0.1), TypeError, "wrap it in a list"),
        "int param": (lambda: sgd(loss, [shared(np.arange(3), name="n")], 0.1), TypeError,
                      r"params\[0\] \(n\) has dtype int64"),
        "empty params": (lambda: adam(loss, [], 0.1), ValueError, "params is empty"),
        "duplicate param": (lambda: sgd(loss, [W, W], 0.1), ValueError, "same shared variable"),
        "duplicate names": (lambda: adam(loss, [W, shared(np.ones(2), name="enc1/W")]),
                            ValueError, "both named 'enc1/W'"),
        "length mismatch": (lambda: sgd(T.grad(loss, params), [W], 0.1), ValueError,
                            "2 gradient.*1 variable"),
        "grad ndim": (lambda: sgd([T.dvector(), T.dvector()], params, 0.1), ValueError,
                      r"loss_or_grads\[0\] has type"),
        "grad static shape": (lambda: sgd([T.tensor("float64", (4, 2)), T.dvector()],
                                          [shared(np.ones((3, 2)), shape=(3, 2), name="s"), b],
                                          0.1), ValueError, "static length 4"),
        "vector loss": (lambda: adam(T.sum(T.sqr(W), axis=0), params), ValueError,
                        "loss must be a scalar"),
        "int loss": (lambda: adam(T.lscalar("k"), params), TypeError, "float scalar"),
        "complex grad": (lambda: sgd([T.zmatrix(), T.dvector()], params, 0.1), TypeError,
                         "must be real"),
        "loss not symbolic": (lambda: adam(1.0, params), TypeError, "loss_or_grads"),
        "negative lr": (lambda: sgd(loss, params, -0.1), ValueError, "learning_rate must be >= 0"),
        "string lr": (lambda: adam(loss, params, learning_rate="0.1"), TypeError,
                      "learning_rate must be a number"),
        "nan lr": (lambda: adam(loss, params, learning_rate=float("nan")), ValueError,
                   "learning_rate must be finite"),
        "vector lr": (lambda: sgd(loss, params, T.dvector("lr")), ValueError,
                      "learning_rate must be a scalar"),
        "int lr expr": (lambda: sgd(loss, params, T.lscalar("lr")), TypeError,
                        "learning_rate must be a float scalar"),
        "negative momentum": (lambda: momentum(loss, params, 0.1, momentum=-0.5), ValueError,
                              "momentum must be >= 0"),
        "momentum one": (lambda: nesterov_momentum(loss, params, 0.1, momentum=1.0), ValueError,
                         r"momentum must be in \[0, 1\)"),
        "bool epsilon": (lambda: adagrad(loss, params, epsilon=True), TypeError,
                         "epsilon must be a number"),
        "negative epsilon": (lambda: rmsprop(loss, params, epsilon=-1e-6), ValueError,
                             "epsilon must be >= 0"),
        "rho none": (lambda: adadelta(loss, params, rho=None), TypeError, "rho must be a number"),
        "beta1 one": (lambda: adam(loss, params, beta1=1.0), ValueError, "beta1"),
        "beta2 above": (lambda: adamax(loss, params, beta2=1.5), ValueError, "beta2"),
        "negative decay": (lambda: adamw(loss, params, weight_decay=-0.1), ValueError,
                           "weight_decay must be >= 0"),
        "bad name": (lambda: adam(loss, params, name=3), TypeError, "name must be"),
        "momentum on list": (lambda: apply_momentum([(W, W)]), TypeError, "dict of updates"),
        "momentum missing": (lambda: apply_momentum(sgd(loss, [W], 0.1), params=params),
                             ValueError, r"params\[1\].*no update"),
    }


def params_and_loss():
    params, _, _, loss = make_problem()
    return params, loss


@pytest.mark.parametrize("case", list(bad_call(*params_and_loss())))
def test_bad_input_is_a_clear_error(case):
    call, exc, match = bad_call(*params_and_loss())[case]
    with pytest.raises(exc, match=match):
        call()


def test_updates_copy_and_repr():
    params, x, y, loss = make_problem()
    updates = adam(loss, params)
    copy = updates.copy()
    assert isinstance(copy, Updates) and copy.state == updates.state and copy.rule == "adam"
    assert list(copy.items()) == list(updates.items())
    assert "adam/t" in repr(updates)
