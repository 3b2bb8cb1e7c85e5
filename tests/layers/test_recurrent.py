"""Recurrent layers: outputs against NumPy recurrences (scan and unrolled loops, forwards
and backwards, precomputed input or not, peepholes), masks, gradients, parameters and
their tags, shapes, initial states given as layers, errors, and an LSTM that learns the
adding problem."""
import time

import numpy as np
import pytest

import nnframe.rng
import nnframe.tensor as T
from nnframe import config, function, init, nonlinearities, verify_grad
from nnframe.core.graph import clone_replace
from nnframe.layers import (
    CustomRecurrentLayer,
    DenseLayer,
    Gate,
    GRULayer,
    InputLayer,
    LayerError,
    LSTMLayer,
    RecurrentLayer,
    get_all_params,
    get_output,
)
from nnframe.optim import adam
from nnframe.utils import unroll_scan

N_BATCH, N_STEPS, N_IN, N_UNITS = 3, 4, 2, 3
KINDS = ["rnn", "lstm", "lstm_nopeep", "gru"]


@pytest.fixture(autouse=True)
def _float64():
    # every parameter and input variable in float64, so NumPy references agree to 1e-10
    with config.change_flags(floatX="float64"):
        yield


# -- NumPy references --------------------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _v(p):
    return p.get_value()


def _rnn_step(layer):
    W_in, W_hid, b = _v(layer.W_in_to_hid), _v(layer.W_hid_to_hid), _v(layer.b)
    return lambda x, h: [np.tanh(x @ W_in + b + h @ W_hid)]


def _lstm_step(layer):
    g = {name: (_v(getattr(layer, f"W_in_to_{name}")), _v(getattr(layer, f"W_hid_to_{name}")),
                _v(getattr(layer, f"b_{name}")))
         for name in ("ingate", "forgetgate", "cell", "outgate")}
    peep = layer.peepholes

    def pre(name, x, h):
        W_in, W_hid, b = g[name]
        return x @ W_in + h @ W_hid + b

    def step(x, c, h):
        i, f, o = pre("ingate", x, h), pre("forgetgate", x, h), pre("outgate", x, h)
        if peep:
            i, f = i + c * _v(layer.W_cell_to_ingate), f + c * _v(layer.W_cell_to_forgetgate)
        c_new = _sigmoid(f) * c + _sigmoid(i) * np.tanh(pre("cell", x, h))
        if peep:
            o = o + c_new * _v(layer.W_cell_to_outgate)
        return [c_new, _sigmoid(o) * np.tanh(c_new)]
    return step


def _gru_step(layer):
    def part(name):
        return (_v(getattr(layer, f"W_in_to_{name}")), _v(getattr(layer, f"W_hid_to_{name}")),
                _v(getattr(layer, f"b_{name}")))
    (Wxr, Whr, br), (Wxu, Whu, bu), (Wxc, Whc, bc) = (part("resetgate"), part("updategate"),
                                                      part("hidden_update"))

    def step(x, h):
        r = _sigmoid(x @ Wxr + br + h @ Whr)
        u = _sigmoid(x @ Wxu + bu + h @ Whu)
        c = np.tanh(x @ Wxc + bc + r * (h @ Whc))
        return [(1 - u) * h + u * c]
    return step


def reference(layer, x, mask=None, inits=None):
    """(all hidden states in time order, the state after the last step run) of ``layer``."""
    step = {RecurrentLayer: _rnn_step, LSTMLayer: _lstm_step, GRULayer: _gru_step}[
        type(layer)](layer)
    x = x.reshape(x.shape[0], x.shape[1], -1)
    n_batch, n_steps = x.shape[:2]
    if inits is None:
        names = ["cell_init", "hid_init"] if isinstance(layer, LSTMLayer) else ["hid_init"]
        inits = [np.repeat(_v(getattr(layer, n)), n_batch, axis=0) for n in names]
    states = list(inits)
    hids = np.zeros((n_batch, n_steps, states[-1].shape[1]))
    for t in (reversed(range(n_steps)) if layer.backwards else range(n_steps)):
        new = step(x[:, t], *states)
        if mask is not None:
            new = [np.where(mask[:, t, None] != 0, n, s) for n, s in zip(new, states)]
        states = new
        hids[:, t] = states[-1]
    return hids, states[-1]


# -- building layers ---------------------------------------------------------------------
def make(kind, l_in, params=None, seed=0, **kwargs):
    """A layer of ``kind`` on ``l_in``; with ``params`` (another layer's), the same parameters
    (shared variables), else random values everywhere (biases and initial states included)."""
    if kind == "rnn":
        spec = dict(W_in_to_hid=params.W_in_to_hid, W_hid_to_hid=params.W_hid_to_hid,
                    b=params.b, hid_init=params.hid_init) if params else {}
        layer = RecurrentLayer(l_in, N_UNITS, nonlinearity=nonlinearities.tanh,
                               **{**spec, **kwargs})
    elif kind in ("lstm", "lstm_nopeep"):
        peep = kind == "lstm"
        spec = {}
        if params:
            for g in ("ingate", "forgetgate", "cell", "outgate"):
                cell = getattr(params, f"W_cell_to_{g}", None) if peep and g != "cell" else None
                spec[g] = Gate(getattr(params, f"W_in_to_{g}"), getattr(params, f"W_hid_to_{g}"),
                               cell, getattr(params, f"b_{g}"),
                               nonlinearities.tanh if g == "cell" else nonlinearities.sigmoid)
            spec.update(hid_init=params.hid_init, cell_init=params.cell_init)
        layer = LSTMLayer(l_in, N_UNITS, peepholes=peep, **{**spec, **kwargs})
    else:
        spec = {}
        if params:
            for g in ("resetgate", "updategate", "hidden_update"):
                spec[g] = Gate(getattr(params, f"W_in_to_{g}"), getattr(params, f"W_hid_to_{g}"),
                               None, getattr(params, f"b_{g}"),
                               nonlinearities.tanh if g == "hidden_update" else
                               nonlinearities.sigmoid)
            spec.update(hid_init=params.hid_init)
        layer = GRULayer(l_in, N_UNITS, **{**spec, **kwargs})
    if params is None:
        rng = np.random.default_rng(seed)
        for p in layer.get_params():
            p.set_value(rng.normal(0, 0.5, size=p.get_value().shape))
    return layer


def compile_out(layer, *extra_inputs, **kwargs):
    inputs = [l.input_var for l in layer.input_layers if isinstance(l, InputLayer)]
    return function(inputs + list(extra_inputs), get_output(layer, **kwargs))


def data(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape)


def mask_for(lengths, n_steps):
    return (np.arange(n_steps)[None, :] < np.asarray(lengths)[:, None]).astype("float64")


# -- outputs -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("unroll", [False, True], ids=["scan", "unroll"])
@pytest.mark.parametrize("backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("precompute", [True, False], ids=["pre", "nopre"])
def test_output_matches_numpy(kind, unroll, backwards, precompute):
    l_in = InputLayer((None, N_STEPS, N_IN))
    layer = make(kind, l_in, unroll_scan=unroll, backwards=backwards,
                 precompute_input=precompute)
    last = make(kind, l_in, params=layer, unroll_scan=unroll, backwards=backwards,
                precompute_input=precompute, only_return_final=True)
    assert last.output_shape == (None, N_UNITS)
    x = data(N_BATCH, N_STEPS, N_IN)
    f = function([l_in.input_var], get_output([layer, last]))
    out, final = f(x)
    want, want_final = reference(layer, x)
    assert out.shape == (N_BATCH, N_STEPS, N_UNITS)
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(final, want_final, rtol=1e-10, atol=1e-12)
    # the final state is the last one computed: the last time step, or the first backwards
    np.testing.assert_allclose(final, out[:, 0 if backwards else -1], rtol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_unknown_sequence_length_and_several_feature_axes(kind):
    l_in = InputLayer((None, None, 2, 3))
    layer = make(kind, l_in)
    assert layer.output_shape == (None, None, N_UNITS)
    f = compile_out(layer)
    for n_steps in (1, 5):
        x = data(2, n_steps, 2, 3)
        np.testing.assert_allclose(f(x), reference(layer, x)[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_precompute_input_does_not_change_the_result(kind):
    l_in = InputLayer((None, None, N_IN))
    a = make(kind, l_in, precompute_input=True)
    b = make(kind, l_in, params=a, precompute_input=False)
    x = data(N_BATCH, 6, N_IN)
    out_a, out_b = function([l_in.input_var], get_output([a, b]))(x)
    np.testing.assert_allclose(out_a, out_b, rtol=1e-12, atol=1e-14)


def test_peepholes_change_the_lstm():
    l_in = InputLayer((None, N_STEPS, N_IN))
    peep = make("lstm", l_in)
    plain = make("lstm_nopeep", l_in, params=peep)
    assert not hasattr(plain, "W_cell_to_ingate")
    assert len(peep.get_params()) == len(plain.get_params()) + 3
    x = data(N_BATCH, N_STEPS, N_IN)
    out_peep, out_plain = function([l_in.input_var], get_output([peep, plain]))(x)
    np.testing.assert_allclose(out_plain, reference(plain, x)[0], rtol=1e-10)
    assert np.abs(out_peep - out_plain).max() > 1e-3


def test_default_nonlinearity_and_initialisers():
    # RecurrentLayer's defaults: rectify, Uniform weights, zero bias and hid_init
    l_in = InputLayer((None, N_STEPS, N_IN))
    layer = RecurrentLayer(l_in, N_UNITS, unroll_scan=True)
    assert layer.nonlinearity is nonlinearities.rectify
    assert np.abs(layer.W_in_to_hid.get_value()).max() <= 0.01
    x = data(N_BATCH, N_STEPS, N_IN) * 100
    W_in, W_hid = layer.W_in_to_hid.get_value(), layer.W_hid_to_hid.get_value()
    h, want = np.zeros((N_BATCH, N_UNITS)), []
    for t in range(N_STEPS):
        h = np.maximum(x[:, t] @ W_in + h @ W_hid, 0)
        want.append(h)
    np.testing.assert_allclose(compile_out(layer)(x), np.stack(want, 1), rtol=1e-10)


# -- masks -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("unroll", [False, True], ids=["scan", "unroll"])
@pytest.mark.parametrize("backwards", [False, True], ids=["fwd", "bwd"])
def test_masked_batch_equals_shorter_sequences_run_alone(kind, unroll, backwards):
    n_steps, lengths = 5, [5, 2, 3]
    l_in = InputLayer((None, n_steps, N_IN))
    l_mask = InputLayer((None, n_steps))
    masked = make(kind, l_in, mask_input=l_mask, unroll_scan=unroll, backwards=backwards)
    last = make(kind, l_in, params=masked, mask_input=l_mask, unroll_scan=unroll,
                backwards=backwards, only_return_final=True)
    x, mask = data(len(lengths), n_steps, N_IN), mask_for(lengths, n_steps)
    out, final = function([l_in.input_var, l_mask.input_var], get_output([masked, last]))(x, mask)
    np.testing.assert_allclose(out, reference(masked, x, mask)[0], rtol=1e-10, atol=1e-12)
    for k, n in enumerate(lengths):
        # the same parameters on the unpadded sequence alone, without a mask
        l_alone = InputLayer((1, n, N_IN))
        alone = make(kind, l_alone, params=masked, unroll_scan=unroll, backwards=backwards)
        got = compile_out(alone)(x[k:k + 1, :n])
        want_final = got[0, 0] if backwards else got[0, -1]
        np.testing.assert_allclose(final[k], want_final, rtol=1e-10, atol=1e-12)
        if not backwards:
            # forwards, the steps before the end are the unpadded run's, then the state stays
            np.testing.assert_allclose(out[k, :n], got[0], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(out[k, n:], np.broadcast_to(got[0, -1], out[k, n:].shape))


# -- gradients ---------------------------------------------------------------------------
def _grads(layer, wrt, x, extra=()):
    """The gradients of a fixed projection of ``layer``'s output w.r.t. ``wrt``."""
    out = get_output(layer)
    proj = T.constant(data(*[N_BATCH] + [n for n in layer.output_shape[1:]], seed=7))
    inputs = [l.input_var for l in layer.input_layers if isinstance(l, InputLayer)]
    return function(inputs, T.grad(T.sum(out * proj), wrt))(x, *extra)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", [
    dict(), dict(backwards=True, precompute_input=False), dict(only_return_final=True),
    dict(grad_clipping=0.05), dict(mask=True, backwards=True)],
    ids=["plain", "bwd_nopre", "final", "clip", "mask_bwd"])
def test_gradients_agree_between_scan_and_unroll(kind, options):
    options = dict(options)
    use_mask = options.pop("mask", False)
    l_in = InputLayer((N_BATCH, N_STEPS, N_IN))
    l_mask = InputLayer((N_BATCH, N_STEPS)) if use_mask else None
    scan = make(kind, l_in, mask_input=l_mask, learn_init=True, **options)
    unrolled = make(kind, l_in, params=scan, mask_input=l_mask, learn_init=True,
                    unroll_scan=True, **options)
    params = scan.get_params(trainable=True)
    assert params == unrolled.get_params(trainable=True)
    x = data(N_BATCH, N_STEPS, N_IN)
    extra = [mask_for([4, 1, 3], N_STEPS)] if use_mask else []
    got = _grads(scan, params + [l_in.input_var], x, extra)
    want = _grads(unrolled, params + [l_in.input_var], x, extra)
    for p, g, w in zip(params + ["input"], got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, err_msg=str(p))
    if options.get("grad_clipping"):
        # the clipping is on: the gradient differs from the unclipped one
        free = make(kind, InputLayer((N_BATCH, N_STEPS, N_IN)), params=scan, unroll_scan=True)
        free_grads = _grads(free, params, x)
        assert any(np.abs(a - b).max() > 1e-6 for a, b in zip(got, free_grads))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("unroll", [False, True], ids=["scan", "unroll"])
def test_numerical_gradient(kind, unroll):
    l_in = InputLayer((2, 3, N_IN))
    layer = make(kind, l_in, learn_init=True, unroll_scan=unroll)
    params = layer.get_params(trainable=True)
    x = data(2, 3, N_IN)

    def fun(x_var, *ps):
        out = get_output(layer, inputs=x_var)
        return clone_replace([out], dict(zip(params, ps)))[0]

    verify_grad(fun, [x] + [p.get_value() for p in params], rng=np.random.default_rng(3))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_gradient_steps_truncate_backpropagation(kind):
    # Theano's truncate_gradient: the gradient goes back through the last k steps only
    n_steps, k = 5, 2
    l_in = InputLayer((N_BATCH, n_steps, N_IN))
    full = make(kind, l_in, only_return_final=True)
    cut = make(kind, l_in, params=full, only_return_final=True, gradient_steps=k)
    x = data(N_BATCH, n_steps, N_IN)
    g_full, = _grads(full, [l_in.input_var], x)
    g_cut, = _grads(cut, [l_in.input_var], x)
    np.testing.assert_allclose(g_cut[:, -k:], g_full[:, -k:], rtol=1e-10)
    np.testing.assert_array_equal(g_cut[:, :-k], 0)
    assert np.abs(g_full[:, :-k]).max() > 1e-4


# -- parameters, initial states, shapes ----------------------------------------------------
def test_lstm_parameters_names_shapes_and_tags():
    layer = LSTMLayer(InputLayer((None, None, 5)), 4, name="lstm")
    names = [p.name.split("/")[1] for p in layer.get_params()]
    assert names == ["W_in_to_ingate", "W_hid_to_ingate", "b_ingate",
                     "W_in_to_forgetgate", "W_hid_to_forgetgate", "b_forgetgate",
                     "W_in_to_cell", "W_hid_to_cell", "b_cell",
                     "W_in_to_outgate", "W_hid_to_outgate", "b_outgate",
                     "W_cell_to_ingate", "W_cell_to_forgetgate", "W_cell_to_outgate",
                     "cell_init", "hid_init"]
    assert layer.W_in_to_cell.get_value().shape == (5, 4)
    assert layer.W_hid_to_outgate.get_value().shape == (4, 4)
    assert layer.b_forgetgate.get_value().shape == (4,)
    assert layer.W_cell_to_outgate.get_value().shape == (4,)
    assert layer.hid_init.get_value().shape == layer.cell_init.get_value().shape == (1, 4)
    trainable = {p.name.split("/")[1] for p in layer.get_params(trainable=True)}
    assert trainable == set(names) - {"cell_init", "hid_init"}
    regularizable = {p.name.split("/")[1] for p in layer.get_params(regularizable=True)}
    assert regularizable == {n for n in names if n.startswith("W_")}
    learned = LSTMLayer(InputLayer((None, None, 5)), 4, learn_init=True, name="lstm2")
    assert {"cell_init", "hid_init"} <= {p.name.split("/")[1]
                                         for p in learned.get_params(trainable=True)}
    assert not {"cell_init", "hid_init"} & {p.name.split("/")[1]
                                            for p in learned.get_params(regularizable=True)}


def test_gru_and_rnn_parameters_and_tags():
    gru = GRULayer(InputLayer((None, None, 5)), 4, learn_init=True, name="gru")
    assert [p.name for p in gru.get_params(regularizable=False)] == [
        "gru/b_updategate", "gru/b_resetgate", "gru/b_hidden_update", "gru/hid_init"]
    assert gru.W_in_to_hidden_update.get_value().shape == (5, 4)
    assert len(gru.get_params(trainable=True)) == 10
    rnn = RecurrentLayer(InputLayer((None, None, 2, 3)), 4, name="rnn")
    assert [p.name for p in rnn.get_params()] == [
        "rnn/hid_init", "rnn.input_to_hidden/W", "rnn.input_to_hidden/b",
        "rnn.hidden_to_hidden/W"]
    assert rnn.W_in_to_hid.get_value().shape == (6, 4)
    assert [p.name for p in get_all_params(rnn, trainable=True)] == [
        "rnn.input_to_hidden/W", "rnn.input_to_hidden/b", "rnn.hidden_to_hidden/W"]
    nobias = RecurrentLayer(InputLayer((None, None, 3)), 4, b=None)
    assert nobias.b is None and len(nobias.get_params()) == 3


def test_gate_parameters_are_used():
    l_in = InputLayer((None, None, 3))
    W = np.full((3, 4), 0.25)
    layer = LSTMLayer(l_in, 4, ingate=Gate(W_in=W, b=init.Constant(2.0)),
                      forgetgate=Gate(nonlinearity=None))
    np.testing.assert_array_equal(layer.W_in_to_ingate.get_value(), W)
    np.testing.assert_array_equal(layer.b_ingate.get_value(), 2.0)
    assert layer.nonlinearity_forgetgate is nonlinearities.identity
    assert layer.nonlinearity_cell is nonlinearities.tanh


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("unroll", [False, True], ids=["scan", "unroll"])
def test_initial_states_given_as_layers(kind, unroll):
    l_in = InputLayer((None, N_STEPS, N_IN))
    l_hid = InputLayer((None, N_UNITS))
    kwargs = dict(hid_init=l_hid, unroll_scan=unroll)
    l_cell = None
    if kind == "lstm":
        l_cell = InputLayer((None, N_UNITS))
        kwargs["cell_init"] = l_cell
    layer = make(kind, l_in, **kwargs)
    assert not any("init" in p.name for p in layer.get_params())
    x, h0, c0 = data(N_BATCH, N_STEPS, N_IN), data(N_BATCH, N_UNITS, seed=2), \
        data(N_BATCH, N_UNITS, seed=3)
    inputs = [l_in.input_var, l_hid.input_var] + ([l_cell.input_var] if l_cell else [])
    out = function(inputs, get_output(layer))(x, h0, *([c0] if l_cell else []))
    inits = [c0, h0] if kind == "lstm" else [h0]
    np.testing.assert_allclose(out, reference(layer, x, inits=inits)[0], rtol=1e-10)


def test_learned_initial_state_gets_a_gradient():
    l_in = InputLayer((None, N_STEPS, N_IN))
    layer = make("gru", l_in, learn_init=True, unroll_scan=True)
    assert layer.hid_init in layer.get_params(trainable=True)
    g = function([l_in.input_var], T.grad(T.sum(get_output(layer)), layer.hid_init))(
        data(N_BATCH, N_STEPS, N_IN))
    assert g.shape == (1, N_UNITS) and np.abs(g).max() > 0


@pytest.mark.parametrize("shape, final, want", [
    ((None, None, 3), False, (None, None, 5)), ((None, None, 3), True, (None, 5)),
    ((7, 4, 3), False, (7, 4, 5)), ((7, None, 2, 2), True, (7, 5)),
])
@pytest.mark.parametrize("cls", [RecurrentLayer, LSTMLayer, GRULayer])
def test_output_shapes(cls, shape, final, want):
    layer = cls(InputLayer(shape), 5, only_return_final=final)
    assert layer.output_shape == want
    assert layer.get_output_shape_for([(2, 9) + shape[2:]]) == ((2, 5) if final else (2, 9, 5))


def test_custom_recurrent_layer_with_dense_networks_is_a_vanilla_rnn():
    l_in = InputLayer((None, N_STEPS, N_IN))
    i2h = DenseLayer(InputLayer((None, N_IN)), N_UNITS, nonlinearity=None)   # 'dense1'
    h2h = DenseLayer(InputLayer((None, N_UNITS)), N_UNITS, b=None, nonlinearity=None,
                     name="h2h")
    custom = CustomRecurrentLayer(l_in, i2h, h2h, nonlinearity=nonlinearities.tanh,
                                  unroll_scan=True, name="custom")
    rnn = make("rnn", l_in, unroll_scan=True)
    for p, q in zip(rnn.get_params(), custom.get_params()):
        q.set_value(p.get_value())
    x = data(N_BATCH, N_STEPS, N_IN)
    a, b = function([l_in.input_var], get_output([custom, rnn]))(x)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    # the sub-networks' names stay taken: a layer on top is not a second 'dense1'
    top = DenseLayer(custom, 2)
    assert i2h.name == "dense1" and top.name == "dense2"
    names = [p.name for p in get_all_params(top)]
    assert len(names) == len(set(names)) == 6


def test_unroll_scan_helper_forwards_and_backwards():
    x = T.dmatrix("x")
    fwd, = unroll_scan(lambda x_t, acc: acc * 2 + x_t, [x], [T.zeros_like(x[0])], [], 3)
    bwd, = unroll_scan(lambda x_t, acc: acc * 2 + x_t, [x], [T.zeros_like(x[0])], [], 3,
                       go_backwards=True)
    v = np.array([[1.0], [10.0], [100.0]])
    a, b = function([x], [fwd, bwd])(v)
    np.testing.assert_array_equal(a[:, 0], [1, 12, 124])
    np.testing.assert_array_equal(b[:, 0], [100, 210, 421])


# -- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [RecurrentLayer, LSTMLayer, GRULayer])
def test_two_dimensional_input_is_an_error(cls):
    with pytest.raises(LayerError, match=r"needs an input of shape \(batch, time, features"):
        cls(InputLayer((None, 10)), 4, name="r")


def test_two_dimensional_input_variable_is_an_error():
    layer = LSTMLayer(InputLayer((None, None, 1)), 4, name="lstm")
    with pytest.raises(LayerError, match="LSTMLayer 'lstm': needs an input of shape"):
        get_output(layer, inputs=T.dmatrix())


@pytest.mark.parametrize("cls", [RecurrentLayer, LSTMLayer, GRULayer])
def test_mask_of_wrong_rank_is_an_error(cls):
    l_in = InputLayer((None, 10, 3))
    with pytest.raises(LayerError, match=r"must give a \(batch, time\) mask"):
        cls(l_in, 4, mask_input=InputLayer((None, 10, 1)))
    with pytest.raises(LayerError, match="sequence length 9"):
        cls(l_in, 4, mask_input=InputLayer((None, 9)))
    with pytest.raises(LayerError, match="mask_input must be a layer"):
        cls(l_in, 4, mask_input=np.ones((2, 10)))


def test_gate_of_wrong_type_is_an_error():
    l_in = InputLayer((None, 10, 3))
    with pytest.raises(LayerError, match=r"LSTMLayer 'lstm': ingate must be a Gate"):
        LSTMLayer(l_in, 4, ingate=init.Normal(0.1), name="lstm")
    with pytest.raises(LayerError, match=r"GRULayer 'gru': resetgate must be a Gate"):
        GRULayer(l_in, 4, resetgate={"W_in": init.Normal()}, name="gru")
    with pytest.raises(TypeError, match="Gate: W_hid must be an initialiser"):
        Gate(W_hid="normal")
    with pytest.raises(TypeError, match="Gate: b must be an initialiser"):
        Gate(b=None)
    with pytest.raises(TypeError, match="nonlinearity must be callable"):
        Gate(nonlinearity="tanh")
    with pytest.raises(LayerError, match="peepholes=True needs the ingate's W_cell"):
        LSTMLayer(l_in, 4, ingate=Gate(W_cell=None))


def test_option_errors():
    with pytest.raises(LayerError, match="unroll_scan=True needs the sequence length"):
        GRULayer(InputLayer((None, None, 3)), 4, unroll_scan=True)
    with pytest.raises(LayerError, match="gradient_steps must be -1 when unroll_scan"):
        GRULayer(InputLayer((None, 5, 3)), 4, unroll_scan=True, gradient_steps=2)
    with pytest.raises(LayerError, match="gradient_steps must be -1"):
        LSTMLayer(InputLayer((None, 5, 3)), 4, gradient_steps=0)
    with pytest.raises(LayerError, match="grad_clipping must be a number"):
        LSTMLayer(InputLayer((None, 5, 3)), 4, grad_clipping=-1)
    with pytest.raises(LayerError, match="num_units must be a positive integer"):
        GRULayer(InputLayer((None, 5, 3)), 0)
    with pytest.raises(LayerError, match="feature axes of the input shape"):
        LSTMLayer(InputLayer((None, 5, None)), 4)
    with pytest.raises(LayerError, match=r"hid_init InputLayer .* has output shape \(None, 3\)"):
        LSTMLayer(InputLayer((None, 5, 3)), 4, hid_init=InputLayer((None, 3)))
    with pytest.raises(LayerError, match=r"parameter hid_init has shape \(1, 3\)"):
        GRULayer(InputLayer((None, 5, 3)), 4, hid_init=np.zeros((1, 3)))


def test_custom_recurrent_layer_errors():
    l_in = InputLayer((None, 5, 3))
    i2h = DenseLayer(InputLayer((None, 3)), 4, name="i2h")
    with pytest.raises(LayerError, match="output shapes of input_to_hidden"):
        CustomRecurrentLayer(l_in, i2h, DenseLayer(InputLayer((None, 4)), 6, name="h2h"))
    with pytest.raises(LayerError, match="hidden_to_hidden's InputLayer has shape"):
        CustomRecurrentLayer(l_in, i2h, DenseLayer(InputLayer((None, 5)), 4, name="h2h"))
    with pytest.raises(LayerError, match="input_to_hidden must be a layer"):
        CustomRecurrentLayer(l_in, None, i2h)
    # two sub-networks built apart both chose 'dense1': their parameters would share a name
    with pytest.raises(LayerError, match="two different parameters are named 'dense1/W'"):
        CustomRecurrentLayer(l_in, DenseLayer(InputLayer((None, 3)), 4),
                             DenseLayer(InputLayer((None, 4)), 4))


# -- learning ------------------------------------------------------------------------------
def adding_problem(rng, n_batch, length):
    """Hochreiter & Schmidhuber's adding problem as in Lasagne's examples/recurrent.py:
    (value, marker) pairs; the target is the sum of the two marked values (one marker in
    the first tenth of the sequence, one in the second half); centred."""
    x = np.zeros((n_batch, length, 2))
    x[:, :, 0] = rng.uniform(size=(n_batch, length))
    rows = np.arange(n_batch)
    x[rows, rng.integers(0, length // 10, n_batch), 1] = 1
    x[rows, rng.integers(length // 2, length, n_batch), 1] = 1
    y = np.sum(x[:, :, 0] * x[:, :, 1], axis=1)
    return x - [0.5, 2.0 / length], y - 1.0


def test_lstm_learns_the_adding_problem():
    # about 250 Adam steps (10 to 30 s on two cores); the loss starts at 1/6 (the
    # target's variance) and stays there for ~150 steps before the LSTM finds the markers
    length, n_batch, n_units = 50, 100, 32
    rng = np.random.default_rng(0)
    saved = nnframe.rng.get_rng()
    nnframe.rng.set_rng(1)     # the initial weights
    try:
        with config.change_flags(floatX="float32"):
            l_in = InputLayer((None, length, 2))
            # a forget gate that starts open: the first marked value must survive ~45 steps
            l_lstm = LSTMLayer(l_in, n_units, forgetgate=Gate(b=init.Constant(1.0)),
                               grad_clipping=100, only_return_final=True, name="lstm")
            l_out = DenseLayer(l_lstm, 1, nonlinearity=None, name="out")
    finally:
        nnframe.rng.set_rng(saved)
    y = T.fvector("y")
    loss = T.mean((get_output(l_out)[:, 0] - y) ** 2)
    params = get_all_params(l_out, trainable=True)
    train = function([l_in.input_var, y], loss, updates=adam(loss, params, 0.01))
    evaluate = function([l_in.input_var, y], loss)
    x_test, y_test = adding_problem(rng, 500, length)
    start, losses = time.perf_counter(), []
    for step in range(600):
        x, t = adding_problem(rng, n_batch, length)
        losses.append(float(train(x.astype("float32"), t.astype("float32"))))
        if step % 50 == 49 and np.mean(losses[-20:]) < 0.003:
            break
    mse = float(evaluate(x_test.astype("float32"), y_test.astype("float32")))
    assert mse < 0.01, (mse, step, time.perf_counter() - start, losses[::50])


@pytest.mark.parametrize("unroll", [False, True], ids=["scan", "unroll"])
def test_custom_recurrent_layer_with_convolutions(unroll):
    # a convolutional RNN: the hidden state is (batch, channels, rows, columns), so
    # hid_init is a (1, 2, 4, 4) parameter and the time axis moves around 4-D states
    from nnframe.layers import Conv2DLayer
    l_in = InputLayer((None, 3, 1, 4, 4))
    i2h = Conv2DLayer(InputLayer((None, 1, 4, 4)), 2, 3, pad=1, nonlinearity=None, name="i2h")
    h2h = Conv2DLayer(InputLayer((None, 2, 4, 4)), 2, 3, pad=1, nonlinearity=None, name="h2h")
    layer = CustomRecurrentLayer(l_in, i2h, h2h, nonlinearity=nonlinearities.tanh,
                                 learn_init=True, unroll_scan=unroll, backwards=True)
    assert layer.output_shape == (None, 3, 2, 4, 4)
    assert layer.hid_init.get_value().shape == (1, 2, 4, 4)
    layer.hid_init.set_value(data(1, 2, 4, 4, seed=5))
    x = data(2, 3, 1, 4, 4)
    f_i2h = compile_out(i2h)
    f_h2h = compile_out(h2h)
    h, want = np.repeat(layer.hid_init.get_value(), 2, axis=0), np.zeros((2, 3, 2, 4, 4))
    for t in (2, 1, 0):
        h = np.tanh(f_i2h(x[:, t]) + f_h2h(h))
        want[:, t] = h
    out = compile_out(layer)(x)
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)
    g = function([l_in.input_var], T.grad(T.sum(get_output(layer) ** 2), layer.hid_init))(x)
    assert g.shape == (1, 2, 4, 4) and np.abs(g).max() > 0
