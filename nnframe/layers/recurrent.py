"""Recurrent layers (Lasagne's ``lasagne.layers.recurrent``).

The input of every layer is a batch of sequences, shape ``(batch, time,
features...)``; the output is the hidden state at every step, ``(batch,
time, num_units)``, or only the last one, ``(batch, num_units)``, with
``only_return_final=True``.  The loop is ``T.scan`` over the time axis, or,
with ``unroll_scan=True``, a graph written out step by step (the sequence
length must then be known).

- :class:`CustomRecurrentLayer`: ``h_t = f(input_to_hidden(x_t) + hidden_to_hidden(h_{t-1}))``
  with any two feed-forward networks;
- :class:`RecurrentLayer`: the same with two dense connections (a vanilla RNN);
- :class:`LSTMLayer` (with :class:`Gate` giving each gate's parameters) and
  :class:`GRULayer`.

Common options: ``mask_input`` (a layer giving a ``(batch, time)`` mask of
ones and zeros for sequences of different lengths: a masked step keeps the
previous state), ``backwards``, ``learn_init``, ``gradient_steps``
(truncated backpropagation through time), ``grad_clipping``,
``precompute_input`` and ``hid_init`` (a value, an initialiser or a layer).

>>> import numpy as np
>>> from nnframe import function
>>> from nnframe.layers import InputLayer, get_output
>>> l_in = InputLayer((None, 5, 3))
>>> l_lstm = LSTMLayer(l_in, num_units=4, unroll_scan=True, name='lstm')
>>> l_lstm.output_shape
(None, 5, 4)
>>> f = function([l_in.input_var], get_output(l_lstm))
>>> f(np.zeros((2, 5, 3), dtype='float32')).shape
(2, 5, 4)
"""
import numbers
import warnings

import numpy as np

import nnframe.tensor as T
from nnframe import init, nonlinearities
from nnframe.core.shared import SharedVariable
from nnframe.layers.base import Layer, LayerError, MergeLayer, _ancestors, _is_shape
from nnframe.layers.dense import DenseLayer
from nnframe.layers.helper import get_all_layers, get_all_params, get_output
from nnframe.layers.input import InputLayer
from nnframe.utils import unroll_scan

__all__ = ["CustomRecurrentLayer", "RecurrentLayer", "Gate", "LSTMLayer", "GRULayer"]


def _shape_of(incoming, cls, name):
    """The output shape of ``incoming`` (a layer or a shape tuple), before the layer exists."""
    if isinstance(incoming, Layer):
        return incoming.output_shape
    if _is_shape(incoming):
        return tuple(incoming)
    who = f"{cls.__name__} {name!r}" if name else cls.__name__
    raise LayerError(f"{who}: incoming must be a layer or a shape tuple, got "
                     f"{type(incoming).__name__} {incoming!r}")


def _check_sequence_shape(shape, who, need_features=True):
    """A recurrent input is (batch, time, features...): an error that says so otherwise."""
    if len(shape) < 3:
        raise LayerError(f"{who}: needs an input of shape (batch, time, features...), got shape "
                         f"{tuple(shape)}; a batch of scalar sequences of shape (batch, time) "
                         "needs a feature axis: reshape it to (batch, time, 1)")
    if need_features and any(s is None for s in shape[2:]):
        raise LayerError(f"{who}: the feature axes of the input shape {tuple(shape)} must be "
                         "known (only the batch and time axes may be None)")


def _sub_output(layer, input, kwargs):
    """``get_output`` of a network inside a recurrent layer.

    The keyword arguments are the whole network's: the outer ``get_output``
    already warns about those no layer uses, so the inner calls keep quiet
    instead of warning once per time step about arguments meant for other layers.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return get_output(layer, input, **kwargs)


class _Recurrent(MergeLayer):
    """What the recurrent layers share: their extra inputs (the mask and initial
    states given as layers), the options' checks, the loop and the output's layout."""

    def __init__(self, incoming, mask_input, init_layers, name, backwards, learn_init,
                 gradient_steps, grad_clipping, unroll_scan, precompute_input,
                 only_return_final):
        # The layer input is always incomings[0]; a mask and initial states given as
        # layers are further inputs, so get_output computes them and passes them in.
        incomings = [incoming]
        self.mask_incoming_index = -1
        if mask_input is not None:
            if not isinstance(mask_input, Layer):
                raise LayerError(f"{type(self).__name__}: mask_input must be a layer (e.g. an "
                                 f"InputLayer of shape (batch, time)), got "
                                 f"{type(mask_input).__name__}")
            incomings.append(mask_input)
            self.mask_incoming_index = len(incomings) - 1
        for key, value in init_layers:
            setattr(self, f"{key}_incoming_index", -1)
            if isinstance(value, Layer):
                incomings.append(value)
                setattr(self, f"{key}_incoming_index", len(incomings) - 1)
        super().__init__(incomings, name)

        input_shape = self.input_shapes[0]
        _check_sequence_shape(input_shape, self.describe(), need_features=False)
        if mask_input is not None:
            mask_shape = self.input_shapes[self.mask_incoming_index]
            if len(mask_shape) != 2:
                raise self.fail(f"mask_input {mask_input.describe()} must give a (batch, time) "
                                f"mask, but its output shape is {mask_shape}")
            for axis, what in ((0, "batch size"), (1, "sequence length")):
                a, b = input_shape[axis], mask_shape[axis]
                if a is not None and b is not None and a != b:
                    raise self.fail(f"the mask's {what} {b} (shape {mask_shape}) differs from "
                                    f"the input's {a} (shape {input_shape})")
        if isinstance(gradient_steps, bool) or not isinstance(gradient_steps, (int, np.integer)) \
                or not (gradient_steps == -1 or gradient_steps > 0):
            raise self.fail(f"gradient_steps must be -1 (no truncation) or a positive integer, "
                            f"got {gradient_steps!r}")
        if isinstance(grad_clipping, bool) or not isinstance(grad_clipping, numbers.Real) \
                or grad_clipping < 0:
            raise self.fail(f"grad_clipping must be a number >= 0 (0: no clipping), got "
                            f"{grad_clipping!r}")
        if unroll_scan and gradient_steps != -1:
            raise self.fail("gradient_steps must be -1 when unroll_scan is true (the unrolled "
                            "graph has no truncated gradient)")
        if unroll_scan and input_shape[1] is None:
            raise self.fail(f"unroll_scan=True needs the sequence length: the input shape "
                            f"{input_shape} has None on axis 1")
        self.backwards = bool(backwards)
        self.learn_init = bool(learn_init)
        self.gradient_steps = int(gradient_steps)
        self.grad_clipping = grad_clipping
        self.unroll_scan = bool(unroll_scan)
        self.precompute_input = bool(precompute_input)
        self.only_return_final = bool(only_return_final)

    @property
    def input_shape(self):
        # the sequences' shape; add_param's error messages name it (MergeLayer has only
        # input_shapes)
        return self.input_shapes[0]

    # -- pieces of __init__ -----------------------------------------------------------
    def _init_state(self, spec, shape, key):
        """``hid_init``/``cell_init``: a layer (checked against ``shape`` without the
        batch axis) or a parameter of shape ``(1,) + shape``."""
        if isinstance(spec, Layer):
            have = self.input_shapes[getattr(self, f"{key}_incoming_index")]
            if len(have) != len(shape) + 1 or any(
                    h is not None and h != s for h, s in zip(have[1:], shape)):
                raise self.fail(f"{key} {spec.describe()} has output shape {have}, but the "
                                f"layer needs (batch,) + {tuple(shape)}")
            return spec
        if spec is None:
            raise self.fail(f"{key} must be a layer, an initialiser, an array or a shared "
                            "variable, got None")
        return self.add_param(spec, (1,) + tuple(shape), name=key, trainable=self.learn_init,
                              regularizable=False)

    # -- pieces of get_output_for -------------------------------------------------------
    def _split_inputs(self, inputs):
        """(input, mask or None) from ``inputs``, checked."""
        input = inputs[0]
        if input.ndim < 3:
            raise self.fail(f"needs an input of shape (batch, time, features...), got "
                            f"{input.ndim}-D {input.type}")
        mask = inputs[self.mask_incoming_index] if self.mask_incoming_index > 0 else None
        if mask is not None and mask.ndim != 2:
            raise self.fail(f"the mask must be a (batch, time) matrix, got {mask.ndim}-D "
                            f"{mask.type}")
        return input, mask

    def _given_init(self, inputs, key):
        index = getattr(self, f"{key}_incoming_index")
        return inputs[index] if index > 0 else None

    def _tile(self, param, num_batch):
        """The (1, ...) initial-state parameter repeated for every sequence of the batch.

        As Lasagne, a dot with a column of ones: cheaper than a repeat, and its
        gradient sums the batch's contributions back into the one row.
        """
        shape = param.get_value(borrow=True).shape
        flat = param if len(shape) == 2 else T.reshape(param, (1, int(np.prod(shape[1:]))))
        tiled = T.dot(T.ones((num_batch, 1), dtype=param.dtype), flat)
        return tiled if len(shape) == 2 else T.reshape(tiled, (num_batch,) + tuple(shape[1:]))

    def _clip(self, x):
        if self.grad_clipping:
            return T.grad_clip(x, -self.grad_clipping, self.grad_clipping)
        return x

    def _sequences(self, input, mask, step, step_masked):
        """The scan sequences and the step that goes with them."""
        if mask is None:
            return input, step
        # (batch, time) -> (time, batch, 1): scan iterates over the first axis, and
        # the broadcastable last axis lets switch pick whole rows of the state
        return [input, mask.dimshuffle(1, 0, "x")], step_masked

    def _loop(self, step_fun, sequences, outputs_info, non_seqs):
        """The states at every step (a list, one per entry of ``outputs_info``), in the
        order the steps ran."""
        if self.unroll_scan:
            return unroll_scan(fn=step_fun, sequences=sequences, outputs_info=outputs_info,
                               go_backwards=self.backwards, non_sequences=non_seqs,
                               n_steps=self.input_shapes[0][1])
        # strict=True: every shared variable or outer expression the step uses is in
        # non_seqs, so the loop's inner graph has no hidden inputs
        outputs = T.scan(fn=step_fun, sequences=sequences, outputs_info=outputs_info,
                         go_backwards=self.backwards, non_sequences=non_seqs,
                         truncate_gradient=self.gradient_steps, strict=True)[0]
        return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

    def _output(self, hid_out):
        """(time, batch, ...) states -> the layer's output."""
        if self.only_return_final:
            # the state after the last step run (the first time step when backwards)
            return hid_out[-1]
        hid_out = hid_out.dimshuffle(1, 0, *range(2, hid_out.ndim))
        if self.backwards:
            # scan ran from the last time step to the first: put the states back in time order
            hid_out = hid_out[:, ::-1]
        return hid_out


class CustomRecurrentLayer(_Recurrent):
    """A recurrent layer over any two feed-forward networks (Lasagne's
    ``CustomRecurrentLayer``).

    .. math::
        h_t = \\sigma(f_i(x_t) + f_h(h_{t-1}))

    where :math:`f_i` is ``input_to_hidden`` and :math:`f_h`
    ``hidden_to_hidden``, each a network with exactly one
    :class:`InputLayer`, whose outputs have the same shape.  They may be any
    layers: dense for a vanilla RNN, convolutions for a convolutional RNN.

    Parameters
    ----------
    incoming : a Layer or a shape tuple
        The sequences, shape ``(batch, time, features...)``.
    input_to_hidden : Layer
        Applied to every step's input, shape ``(batch, features...)``.  With
        ``precompute_input`` it gets all steps at once, shape ``(batch * time,
        features...)``, so its InputLayer's first axis must be None.
    hidden_to_hidden : Layer
        Applied to the previous hidden state; its InputLayer has the shape of
        ``input_to_hidden``'s output.
    nonlinearity : callable or None (linear)
    hid_init : layer, initialiser, array or shared variable
        The initial hidden state: a layer giving ``(batch,) +
        hidden_to_hidden.output_shape[1:]``, or a parameter of shape ``(1,) +
        hidden_to_hidden.output_shape[1:]`` shared by all sequences.
    backwards : bool
        Run from the last time step to the first (the output stays in time order).
    learn_init : bool
        Train ``hid_init`` (when it is a parameter).
    gradient_steps : int
        Backpropagate through at most this many steps (-1: all).
    grad_clipping : float
        If nonzero, the gradient at the hidden pre-activation is clipped to
        ``[-grad_clipping, grad_clipping]`` at every step (the forward pass
        is unchanged).
    unroll_scan : bool
        Write the loop out step by step instead of ``T.scan`` (needs the
        sequence length; ``gradient_steps`` must be -1).
    precompute_input : bool
        Apply ``input_to_hidden`` to all time steps at once, outside the loop.
    mask_input : Layer, optional
        A ``(batch, time)`` mask of ones and zeros: where it is zero the state
        stays what it was (sequences of different lengths in one batch: mask
        the padding at their end).
    only_return_final : bool
        Return only the last state, shape ``(batch,) + hidden shape``.
    name : str, optional

    Examples
    --------
    A vanilla RNN built by hand (what :class:`RecurrentLayer` does):

    >>> from nnframe.layers import InputLayer, DenseLayer
    >>> n_batch, n_steps, n_in, n_hid = 2, 3, 4, 5
    >>> l_in = InputLayer((n_batch, n_steps, n_in))
    >>> l_in_hid = DenseLayer(InputLayer((None, n_in)), n_hid, name='in_hid')
    >>> l_hid_hid = DenseLayer(InputLayer((None, n_hid)), n_hid, name='hid_hid')
    >>> l_rec = CustomRecurrentLayer(l_in, l_in_hid, l_hid_hid, name='rnn')
    >>> l_rec.output_shape
    (2, 3, 5)
    >>> [p.name for p in l_rec.get_params(trainable=True)]
    ['in_hid/W', 'in_hid/b', 'hid_hid/W', 'hid_hid/b']
    """

    default_name = "customrecurrent"

    def __init__(self, incoming, input_to_hidden, hidden_to_hidden,
                 nonlinearity=nonlinearities.rectify, hid_init=init.Constant(0.),
                 backwards=False, learn_init=False, gradient_steps=-1, grad_clipping=0,
                 unroll_scan=False, precompute_input=True, mask_input=None,
                 only_return_final=False, name=None):
        super().__init__(incoming, mask_input, [("hid_init", hid_init)], name, backwards,
                         learn_init, gradient_steps, grad_clipping, unroll_scan,
                         precompute_input, only_return_final)
        for what, net in (("input_to_hidden", input_to_hidden),
                          ("hidden_to_hidden", hidden_to_hidden)):
            if not isinstance(net, Layer):
                raise self.fail(f"{what} must be a layer, got {type(net).__name__}")
            n_inputs = sum(isinstance(l, InputLayer) for l in get_all_layers(net))
            if n_inputs != 1:
                raise self.fail(f"{what} must have exactly one InputLayer, but it has "
                                f"{n_inputs}")
        hidden_to_hidden_in_layer = next(l for l in get_all_layers(hidden_to_hidden)
                                         if isinstance(l, InputLayer))
        self.input_to_hidden = input_to_hidden
        self.hidden_to_hidden = hidden_to_hidden
        input_shape = self.input_shapes[0]
        i2h, h2h = input_to_hidden.output_shape, hidden_to_hidden.output_shape

        # The shape checks are Lasagne's: with precompute_input the input network
        # gets all steps at once, (batch * time, ...); otherwise one step, (batch, ...)
        if (self.precompute_input and i2h[0] is not None and input_shape[0] is not None
                and input_shape[1] is not None and i2h[0] != input_shape[0] * input_shape[1]):
            raise self.fail(f"with precompute_input=True, input_to_hidden.output_shape[0] must "
                            f"equal batch_size * sequence_length ("
                            f"{input_shape[0] * input_shape[1]}) or be None, but it is {i2h[0]}")
        if (not self.precompute_input and i2h[0] is not None and h2h[0] is not None
                and i2h[0] != h2h[0]):
            raise self.fail(f"with precompute_input=False, input_to_hidden and hidden_to_hidden "
                            f"must have the same first output axis (the batch), got {i2h} "
                            f"and {h2h}")
        if len(i2h) != len(h2h) or not all(
                a is None or b is None or a == b for a, b in zip(i2h[1:], h2h[1:])):
            raise self.fail(f"the output shapes of input_to_hidden {i2h} and hidden_to_hidden "
                            f"{h2h} must be equal after the first axis")
        h2h_in = hidden_to_hidden_in_layer.output_shape
        if len(i2h) != len(h2h_in) or not all(
                a is None or b is None or a == b for a, b in zip(i2h[1:], h2h_in[1:])):
            raise self.fail(f"hidden_to_hidden's InputLayer has shape {h2h_in}, but the hidden "
                            f"state (input_to_hidden's output) has shape {i2h}")
        if any(s is None for s in h2h[1:]):
            raise self.fail(f"hidden_to_hidden's output shape {h2h} must be known after the "
                            "first axis (it is the hidden state's shape)")

        self.nonlinearity = nonlinearity or nonlinearities.identity
        self.hid_init = self._init_state(hid_init, h2h[1:], "hid_init")
        self._adopt_subnetworks()

    def _adopt_subnetworks(self):
        """The sub-networks' parameters are this layer's: their names must not clash with
        each other or with the rest of the network's (checkpoints address them by name),
        and later layers must not take their layer names."""
        owners = {}
        layers = _ancestors(self.input_layers) + [self]
        for layer in layers:
            for p in layer.get_params():
                other = owners.setdefault(p.name, p)
                if other is not p:
                    raise self.fail(
                        f"two different parameters are named {p.name!r} (in the network, "
                        "input_to_hidden or hidden_to_hidden); layers built separately choose "
                        "their automatic names separately: give the sub-networks' layers "
                        "their own names")
        # _children is what automatic naming walks: listing the sub-networks there
        # keeps their names taken for layers built on this one
        for net in (self.input_to_hidden, self.hidden_to_hidden):
            self._children.extend(l for l in get_all_layers(net) if l not in self._children)

    def get_params(self, unwrap_shared=True, **tags):
        # this layer's own (hid_init), then the two networks' (each once)
        params = super().get_params(unwrap_shared, **tags)
        for net in (self.input_to_hidden, self.hidden_to_hidden):
            params += [p for p in get_all_params(net, **tags) if p not in params]
        return params

    def get_output_shape_for(self, input_shapes):
        input_shape = input_shapes[0]
        hidden = tuple(self.hidden_to_hidden.output_shape[1:])
        if self.only_return_final:
            return (input_shape[0],) + hidden
        return (input_shape[0], input_shape[1]) + hidden

    def get_output_for(self, inputs, **kwargs):
        input, mask = self._split_inputs(inputs)
        hid_init = self._given_init(inputs, "hid_init")

        # (batch, time, ...) -> (time, batch, ...): scan iterates over the first axis
        input = input.dimshuffle(1, 0, *range(2, input.ndim))
        seq_len, num_batch = input.shape[0], input.shape[1]

        if self.precompute_input:
            # all steps through input_to_hidden at once: (time * batch, ...) and back
            trailing = tuple(input.shape[n] for n in range(2, input.ndim))
            input = T.reshape(input, (seq_len * num_batch,) + trailing)
            input = _sub_output(self.input_to_hidden, input, kwargs)
            trailing = tuple(input.shape[n] for n in range(1, input.ndim))
            input = T.reshape(input, (seq_len, num_batch) + trailing)

        # the step uses the hidden network's parameters, and the input network's when
        # the input is not precomputed: with strict=True they must all be non_seqs
        non_seqs = get_all_params(self.hidden_to_hidden)
        if not self.precompute_input:
            non_seqs += [p for p in get_all_params(self.input_to_hidden) if p not in non_seqs]

        def step(input_n, hid_previous, *args):
            hid_pre = _sub_output(self.hidden_to_hidden, hid_previous, kwargs)
            if self.precompute_input:
                hid_pre = hid_pre + input_n
            else:
                hid_pre = hid_pre + _sub_output(self.input_to_hidden, input_n, kwargs)
            return self.nonlinearity(self._clip(hid_pre))

        def step_masked(input_n, mask_n, hid_previous, *args):
            # mask 0: keep the previous state (padding after the end of a sequence)
            hid = step(input_n, hid_previous, *args)
            return [T.switch(mask_n, hid, hid_previous)]

        sequences, step_fun = self._sequences(input, mask, step, step_masked)
        if hid_init is None:
            hid_init = self._tile(self.hid_init, num_batch)
        hid_out = self._loop(step_fun, sequences, [hid_init], non_seqs)[0]
        return self._output(hid_out)


class RecurrentLayer(CustomRecurrentLayer):
    """A vanilla recurrent layer (Lasagne's ``RecurrentLayer``).

    .. math::
        h_t = \\sigma(x_t W_{x} + h_{t-1} W_{h} + b)

    A :class:`CustomRecurrentLayer` whose two networks are dense layers,
    named ``<name>.input_to_hidden`` and ``<name>.hidden_to_hidden``; their
    parameters are also this layer's attributes ``W_in_to_hid`` (shape
    ``(num_inputs, num_units)``, the features after the time axis
    flattened), ``W_hid_to_hid`` ``(num_units, num_units)`` and ``b``
    ``(num_units,)``, or None with ``b=None``.  The other arguments are
    :class:`CustomRecurrentLayer`'s.

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> l_rnn = RecurrentLayer(InputLayer((None, 10, 3)), num_units=8, name='rnn')
    >>> l_rnn.output_shape, l_rnn.W_in_to_hid.name
    ((None, 10, 8), 'rnn.input_to_hidden/W')
    >>> [p.name for p in l_rnn.get_params(regularizable=True)]
    ['rnn.input_to_hidden/W', 'rnn.hidden_to_hidden/W']
    """

    default_name = "recurrent"

    def __init__(self, incoming, num_units, W_in_to_hid=init.Uniform(),
                 W_hid_to_hid=init.Uniform(), b=init.Constant(0.),
                 nonlinearity=nonlinearities.rectify, hid_init=init.Constant(0.),
                 backwards=False, learn_init=False, gradient_steps=-1, grad_clipping=0,
                 unroll_scan=False, precompute_input=True, mask_input=None,
                 only_return_final=False, name=None):
        input_shape = _shape_of(incoming, type(self), name)
        # The sub-layers are named after this layer, so this layer's name is chosen
        # first (among the layers connected to its inputs, as it would be anyway)
        self._input_layers = [l for l in (incoming, mask_input, hid_init)
                              if isinstance(l, Layer)]
        name = self._choose_name(name)
        _check_sequence_shape(input_shape, f"{type(self).__name__} {name!r}")
        if isinstance(num_units, bool) or not isinstance(num_units, (int, np.integer)) \
                or num_units <= 0:
            raise LayerError(f"{type(self).__name__} {name!r}: num_units must be a positive "
                             f"integer, got {num_units!r}")
        # each step's input is (batch, features...): the dense layer flattens the features
        in_to_hid = DenseLayer(InputLayer((None,) + tuple(input_shape[2:])), num_units,
                               W=W_in_to_hid, b=b, nonlinearity=None,
                               name=f"{name}.input_to_hidden")
        # the hidden state is fed back: num_units in, num_units out, no second bias
        hid_to_hid = DenseLayer(InputLayer((None, num_units)), num_units, W=W_hid_to_hid,
                                b=None, nonlinearity=None, name=f"{name}.hidden_to_hidden")
        self.W_in_to_hid = in_to_hid.W
        self.W_hid_to_hid = hid_to_hid.W
        self.b = in_to_hid.b
        self.num_units = int(num_units)
        super().__init__(incoming, in_to_hid, hid_to_hid, nonlinearity=nonlinearity,
                         hid_init=hid_init, backwards=backwards, learn_init=learn_init,
                         gradient_steps=gradient_steps, grad_clipping=grad_clipping,
                         unroll_scan=unroll_scan, precompute_input=precompute_input,
                         mask_input=mask_input, only_return_final=only_return_final,
                         name=name)


def _check_spec(spec, what, allow_none=False):
    """A parameter spec: an initialiser or callable, an array or number, or a shared variable
    (what ``add_param`` takes); anything else is refused when the Gate is made, not later."""
    if spec is None and allow_none or isinstance(spec, SharedVariable) or callable(spec):
        return
    ok = spec is not None and not isinstance(spec, (str, bytes))
    if ok:
        try:
            np.asarray(spec, dtype=float)
        except (TypeError, ValueError):
            ok = False
    if not ok:
        raise TypeError(f"Gate: {what} must be an initialiser, an array or a shared variable"
                        f"{' (or None)' if allow_none else ''}, got {type(spec).__name__} "
                        f"{spec!r}")


class Gate:
    """The parameters of one LSTM or GRU gate (Lasagne's ``Gate``).

    Holds the initialisers (or arrays, or shared variables) of the gate's
    weights and its nonlinearity; the layer creates the parameters.

    Parameters
    ----------
    W_in : initialiser, array or shared variable
        Input-to-gate weights, shape ``(num_inputs, num_units)``.
    W_hid : initialiser, array or shared variable
        Hidden-to-gate weights, shape ``(num_units, num_units)``.
    W_cell : initialiser, array, shared variable or None
        Cell-to-gate (peephole) weights, shape ``(num_units,)``; only used by
        :class:`LSTMLayer` with ``peepholes=True``.  None: no peephole.
    b : initialiser, array or shared variable
        Bias, shape ``(num_units,)``.
    nonlinearity : callable or None (linear)

    Examples
    --------
    >>> from nnframe import init, nonlinearities
    >>> forget = Gate(b=init.Constant(1.0))   # a forget gate that starts open
    >>> cell = Gate(W_cell=None, nonlinearity=nonlinearities.tanh)
    """

    def __init__(self, W_in=init.Normal(0.1), W_hid=init.Normal(0.1), W_cell=init.Normal(0.1),
                 b=init.Constant(0.), nonlinearity=nonlinearities.sigmoid):
        _check_spec(W_in, "W_in")
        _check_spec(W_hid, "W_hid")
        _check_spec(W_cell, "W_cell", allow_none=True)
        _check_spec(b, "b")
        if nonlinearity is not None and not callable(nonlinearity):
            raise TypeError(f"Gate: nonlinearity must be callable or None, got "
                            f"{type(nonlinearity).__name__} {nonlinearity!r}")
        self.W_in = W_in
        self.W_hid = W_hid
        self.W_cell = W_cell
        self.b = b
        self.nonlinearity = nonlinearity or nonlinearities.identity

    def __repr__(self):
        return (f"Gate(W_in={self.W_in!r}, W_hid={self.W_hid!r}, W_cell={self.W_cell!r}, "
                f"b={self.b!r}, nonlinearity={getattr(self.nonlinearity, '__name__', '?')})")


class _GatedRecurrent(_Recurrent):
    """LSTM and GRU: ``num_units``, flattened features and gates' parameters."""

    def _setup_units(self, num_units):
        if isinstance(num_units, bool) or not isinstance(num_units, (int, np.integer)) \
                or num_units <= 0:
            raise self.fail(f"num_units must be a positive integer, got {num_units!r}")
        self.num_units = int(num_units)
        input_shape = self.input_shapes[0]
        _check_sequence_shape(input_shape, self.describe())
        # the features after the time axis are flattened, as in a DenseLayer
        self.num_inputs = int(np.prod(input_shape[2:]))

    def _add_gate_params(self, gate, gate_name):
        """(W_in, W_hid, b, nonlinearity) of ``gate``, as parameters named after ``gate_name``."""
        if not isinstance(gate, Gate):
            raise self.fail(f"{gate_name} must be a Gate (e.g. Gate(W_in=init.Normal(0.1))), "
                            f"got {type(gate).__name__} {gate!r}")
        n_in, n = self.num_inputs, self.num_units
        return (self.add_param(gate.W_in, (n_in, n), name=f"W_in_to_{gate_name}"),
                self.add_param(gate.W_hid, (n, n), name=f"W_hid_to_{gate_name}"),
                self.add_param(gate.b, (n,), name=f"b_{gate_name}", regularizable=False),
                gate.nonlinearity)

    def get_output_shape_for(self, input_shapes):
        input_shape = input_shapes[0]
        if self.only_return_final:
            return input_shape[0], self.num_units
        return input_shape[0], input_shape[1], self.num_units

    def _time_major(self, input):
        """(batch, time, features...) -> (time, batch, features)."""
        if input.ndim > 3:
            input = T.flatten(input, 3)
        return input.dimshuffle(1, 0, 2)

    def _slice(self, x, n):
        """Gate ``n``'s columns of the stacked pre-activations."""
        return x[:, n * self.num_units:(n + 1) * self.num_units]


class LSTMLayer(_GatedRecurrent):
    """A long short-term memory layer (Lasagne's ``LSTMLayer``; Hochreiter and
    Schmidhuber 1997, with forget gates and, optionally, peepholes as in Graves 2013).

    .. math ::
        i_t &= \\sigma_i(x_t W_{xi} + h_{t-1} W_{hi} + w_{ci} \\odot c_{t-1} + b_i)\\\\
        f_t &= \\sigma_f(x_t W_{xf} + h_{t-1} W_{hf} + w_{cf} \\odot c_{t-1} + b_f)\\\\
        c_t &= f_t \\odot c_{t - 1} + i_t \\odot \\sigma_c(x_t W_{xc} + h_{t-1} W_{hc} + b_c)\\\\
        o_t &= \\sigma_o(x_t W_{xo} + h_{t-1} W_{ho} + w_{co} \\odot c_t + b_o)\\\\
        h_t &= o_t \\odot \\sigma_h(c_t)

    Parameters
    ----------
    incoming : a Layer or a shape tuple
        The sequences, shape ``(batch, time, features...)`` (the features are
        flattened).
    num_units : int
        Number of hidden units (and cells).
    ingate, forgetgate, cell, outgate : Gate
        Each gate's parameters and nonlinearity; they become the parameters
        ``W_in_to_<gate>``, ``W_hid_to_<gate>``, ``b_<gate>`` and, with
        peepholes, ``W_cell_to_ingate``, ``W_cell_to_forgetgate`` and
        ``W_cell_to_outgate``.
    nonlinearity : callable or None
        :math:`\\sigma_h`, applied to the cell to give the hidden state.
    cell_init, hid_init : layer, initialiser, array or shared variable
        The initial cell and hidden state: layers giving ``(batch,
        num_units)``, or parameters of shape ``(1, num_units)``.
    backwards, learn_init, gradient_steps, unroll_scan, mask_input, only_return_final :
        See :class:`CustomRecurrentLayer`.
    peepholes : bool
        Connect the cell to the gates (elementwise weights).
    grad_clipping : float
        If nonzero, the gradient at the gates' pre-activations is clipped to
        ``[-grad_clipping, grad_clipping]`` at every step.
    precompute_input : bool
        Compute the input's contribution to all four gates for all time
        steps with one dot, outside the loop.
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> l_in = InputLayer((None, 20, 6))
    >>> l_lstm = LSTMLayer(l_in, 16, only_return_final=True, name='lstm')
    >>> l_lstm.output_shape, l_lstm.W_in_to_ingate.get_value().shape
    ((None, 16), (6, 16))
    >>> [p.name for p in l_lstm.get_params(trainable=False)]
    ['lstm/cell_init', 'lstm/hid_init']
    """

    default_name = "lstm"

    def __init__(self, incoming, num_units, ingate=Gate(), forgetgate=Gate(),
                 cell=Gate(W_cell=None, nonlinearity=nonlinearities.tanh), outgate=Gate(),
                 nonlinearity=nonlinearities.tanh, cell_init=init.Constant(0.),
                 hid_init=init.Constant(0.), backwards=False, learn_init=False, peepholes=True,
                 gradient_steps=-1, grad_clipping=0, unroll_scan=False, precompute_input=True,
                 mask_input=None, only_return_final=False, name=None):
        super().__init__(incoming, mask_input, [("hid_init", hid_init), ("cell_init", cell_init)],
                         name, backwards, learn_init, gradient_steps, grad_clipping, unroll_scan,
                         precompute_input, only_return_final)
        self._setup_units(num_units)
        self.nonlinearity = nonlinearity or nonlinearities.identity
        self.peepholes = bool(peepholes)

        (self.W_in_to_ingate, self.W_hid_to_ingate, self.b_ingate,
         self.nonlinearity_ingate) = self._add_gate_params(ingate, "ingate")
        (self.W_in_to_forgetgate, self.W_hid_to_forgetgate, self.b_forgetgate,
         self.nonlinearity_forgetgate) = self._add_gate_params(forgetgate, "forgetgate")
        (self.W_in_to_cell, self.W_hid_to_cell, self.b_cell,
         self.nonlinearity_cell) = self._add_gate_params(cell, "cell")
        (self.W_in_to_outgate, self.W_hid_to_outgate, self.b_outgate,
         self.nonlinearity_outgate) = self._add_gate_params(outgate, "outgate")

        if self.peepholes:
            # peepholes are elementwise products with the cell: vectors, not matrices
            for gate, gate_name in ((ingate, "ingate"), (forgetgate, "forgetgate"),
                                    (outgate, "outgate")):
                if gate.W_cell is None:
                    raise self.fail(f"peepholes=True needs the {gate_name}'s W_cell, but it is "
                                    f"None; give Gate(W_cell=...) or peepholes=False")
                setattr(self, f"W_cell_to_{gate_name}",
                        self.add_param(gate.W_cell, (self.num_units,),
                                       name=f"W_cell_to_{gate_name}"))

        self.cell_init = self._init_state(cell_init, (self.num_units,), "cell_init")
        self.hid_init = self._init_state(hid_init, (self.num_units,), "hid_init")

    def get_output_for(self, inputs, **kwargs):
        input, mask = self._split_inputs(inputs)
        hid_init = self._given_init(inputs, "hid_init")
        cell_init = self._given_init(inputs, "cell_init")
        input = self._time_major(input)
        num_batch = input.shape[1]

        # The four gates' weights side by side: one dot per step instead of four
        W_in_stacked = T.concatenate([self.W_in_to_ingate, self.W_in_to_forgetgate,
                                      self.W_in_to_cell, self.W_in_to_outgate], axis=1)
        W_hid_stacked = T.concatenate([self.W_hid_to_ingate, self.W_hid_to_forgetgate,
                                       self.W_hid_to_cell, self.W_hid_to_outgate], axis=1)
        b_stacked = T.concatenate([self.b_ingate, self.b_forgetgate, self.b_cell,
                                   self.b_outgate], axis=0)

        if self.precompute_input:
            # (time, batch, features) . (features, 4 * num_units): every step's input
            # projection in one dot, leaving only the recurrent dot inside the loop
            input = T.dot(input, W_in_stacked) + b_stacked

        def step(input_n, cell_previous, hid_previous, *args):
            if not self.precompute_input:
                input_n = T.dot(input_n, W_in_stacked) + b_stacked
            gates = self._clip(input_n + T.dot(hid_previous, W_hid_stacked))
            ingate = self._slice(gates, 0)
            forgetgate = self._slice(gates, 1)
            cell_input = self._slice(gates, 2)
            outgate = self._slice(gates, 3)
            if self.peepholes:
                ingate = ingate + cell_previous * self.W_cell_to_ingate
                forgetgate = forgetgate + cell_previous * self.W_cell_to_forgetgate
            ingate = self.nonlinearity_ingate(ingate)
            forgetgate = self.nonlinearity_forgetgate(forgetgate)
            cell_input = self.nonlinearity_cell(cell_input)
            cell = forgetgate * cell_previous + ingate * cell_input
            if self.peepholes:
                # the output gate looks at the new cell
                outgate = outgate + cell * self.W_cell_to_outgate
            outgate = self.nonlinearity_outgate(outgate)
            hid = outgate * self.nonlinearity(cell)
            return [cell, hid]

        def step_masked(input_n, mask_n, cell_previous, hid_previous, *args):
            cell, hid = step(input_n, cell_previous, hid_previous, *args)
            # mask 0: keep the previous cell and hidden state
            cell = T.switch(mask_n, cell, cell_previous)
            hid = T.switch(mask_n, hid, hid_previous)
            return [cell, hid]

        sequences, step_fun = self._sequences(input, mask, step, step_masked)
        if cell_init is None:
            cell_init = self._tile(self.cell_init, num_batch)
        if hid_init is None:
            hid_init = self._tile(self.hid_init, num_batch)

        # everything the step uses from outside (strict=True): the stacked recurrent
        # weights, the peepholes, and the input weights when they are applied inside
        non_seqs = [W_hid_stacked]
        if self.peepholes:
            non_seqs += [self.W_cell_to_ingate, self.W_cell_to_forgetgate,
                         self.W_cell_to_outgate]
        if not self.precompute_input:
            non_seqs += [W_in_stacked, b_stacked]

        cell_out, hid_out = self._loop(step_fun, sequences, [cell_init, hid_init], non_seqs)
        return self._output(hid_out)


class GRULayer(_GatedRecurrent):
    """A gated recurrent unit layer (Lasagne's ``GRULayer``; Cho et al. 2014).

    .. math ::
        r_t &= \\sigma_r(x_t W_{xr} + h_{t - 1} W_{hr} + b_r)\\\\
        u_t &= \\sigma_u(x_t W_{xu} + h_{t - 1} W_{hu} + b_u)\\\\
        c_t &= \\sigma_c(x_t W_{xc} + r_t \\odot (h_{t - 1} W_{hc}) + b_c)\\\\
        h_t &= (1 - u_t) \\odot h_{t - 1} + u_t \\odot c_t

    Parameters
    ----------
    incoming : a Layer or a shape tuple
        The sequences, shape ``(batch, time, features...)`` (the features are
        flattened).
    num_units : int
        Number of hidden units.
    resetgate, updategate, hidden_update : Gate
        Each gate's parameters (``W_in_to_<gate>``, ``W_hid_to_<gate>``,
        ``b_<gate>``) and nonlinearity; ``W_cell`` is not used.
    hid_init : layer, initialiser, array or shared variable
        The initial hidden state: a layer giving ``(batch, num_units)``, or a
        parameter of shape ``(1, num_units)``.
    backwards, learn_init, gradient_steps, unroll_scan, mask_input, only_return_final :
        See :class:`CustomRecurrentLayer`.
    grad_clipping : float
        If nonzero, the gradient at the gates' and the hidden update's
        pre-activations is clipped to ``[-grad_clipping, grad_clipping]``.
    precompute_input : bool
        Compute the input's contribution for all time steps with one dot,
        outside the loop.
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> l_gru = GRULayer(InputLayer((None, None, 6)), 16, backwards=True, name='gru')
    >>> l_gru.output_shape
    (None, None, 16)
    >>> [p.name for p in l_gru.get_params(regularizable=True)]  # doctest: +NORMALIZE_WHITESPACE
    ['gru/W_in_to_updategate', 'gru/W_hid_to_updategate', 'gru/W_in_to_resetgate',
     'gru/W_hid_to_resetgate', 'gru/W_in_to_hidden_update', 'gru/W_hid_to_hidden_update']
    """

    default_name = "gru"

    def __init__(self, incoming, num_units, resetgate=Gate(W_cell=None),
                 updategate=Gate(W_cell=None),
                 hidden_update=Gate(W_cell=None, nonlinearity=nonlinearities.tanh),
                 hid_init=init.Constant(0.), backwards=False, learn_init=False,
                 gradient_steps=-1, grad_clipping=0, unroll_scan=False, precompute_input=True,
                 mask_input=None, only_return_final=False, name=None):
        super().__init__(incoming, mask_input, [("hid_init", hid_init)], name, backwards,
                         learn_init, gradient_steps, grad_clipping, unroll_scan,
                         precompute_input, only_return_final)
        self._setup_units(num_units)
        # Lasagne's order of creation (and so of get_params): update, reset, hidden update
        (self.W_in_to_updategate, self.W_hid_to_updategate, self.b_updategate,
         self.nonlinearity_updategate) = self._add_gate_params(updategate, "updategate")
        (self.W_in_to_resetgate, self.W_hid_to_resetgate, self.b_resetgate,
         self.nonlinearity_resetgate) = self._add_gate_params(resetgate, "resetgate")
        (self.W_in_to_hidden_update, self.W_hid_to_hidden_update, self.b_hidden_update,
         self.nonlinearity_hid) = self._add_gate_params(hidden_update, "hidden_update")
        self.hid_init = self._init_state(hid_init, (self.num_units,), "hid_init")

    def get_output_for(self, inputs, **kwargs):
        input, mask = self._split_inputs(inputs)
        hid_init = self._given_init(inputs, "hid_init")
        input = self._time_major(input)
        num_batch = input.shape[1]

        # the three gates' weights side by side, in (reset, update, hidden update) order
        W_in_stacked = T.concatenate([self.W_in_to_resetgate, self.W_in_to_updategate,
                                      self.W_in_to_hidden_update], axis=1)
        W_hid_stacked = T.concatenate([self.W_hid_to_resetgate, self.W_hid_to_updategate,
                                       self.W_hid_to_hidden_update], axis=1)
        b_stacked = T.concatenate([self.b_resetgate, self.b_updategate,
                                   self.b_hidden_update], axis=0)

        if self.precompute_input:
            input = T.dot(input, W_in_stacked) + b_stacked

        def step(input_n, hid_previous, *args):
            hid_input = T.dot(hid_previous, W_hid_stacked)
            if not self.precompute_input:
                input_n = T.dot(input_n, W_in_stacked) + b_stacked
            # Lasagne clips input_n before the projection when it is not precomputed
            # (the raw input's gradient); clipping the projection instead gives the
            # same gradients with precompute_input on and off
            input_n = self._clip(input_n)
            hid_input = self._clip(hid_input)
            resetgate = self.nonlinearity_resetgate(
                self._slice(hid_input, 0) + self._slice(input_n, 0))
            updategate = self.nonlinearity_updategate(
                self._slice(hid_input, 1) + self._slice(input_n, 1))
            # the reset gate scales the recurrent contribution to the hidden update
            hidden_update = self._slice(input_n, 2) + resetgate * self._slice(hid_input, 2)
            hidden_update = self.nonlinearity_hid(self._clip(hidden_update))
            return (1 - updategate) * hid_previous + updategate * hidden_update

        def step_masked(input_n, mask_n, hid_previous, *args):
            hid = step(input_n, hid_previous, *args)
            # mask 0: keep the previous hidden state
            return T.switch(mask_n, hid, hid_previous)

        sequences, step_fun = self._sequences(input, mask, step, step_masked)
        if hid_init is None:
            hid_init = self._tile(self.hid_init, num_batch)
        non_seqs = [W_hid_stacked]
        if not self.precompute_input:
            non_seqs += [W_in_stacked, b_stacked]
        hid_out = self._loop(step_fun, sequences, [hid_init], non_seqs)[0]
        return self._output(hid_out)
