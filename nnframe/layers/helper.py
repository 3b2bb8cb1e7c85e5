"""Functions over whole networks (Lasagne's ``lasagne.layers.helper``).

>>> from nnframe.layers import InputLayer, DenseLayer, get_output, get_all_params
>>> l_out = DenseLayer(InputLayer((None, 4)), 3)
>>> [p.name for p in get_all_params(l_out)]
['dense1/W', 'dense1/b']
>>> y = get_output(l_out)      # a symbolic expression of the InputLayer's variable
"""
import difflib
import inspect
import warnings

import numpy as np

from nnframe.core.op import as_tensor_variable
from nnframe.layers.base import Layer, LayerError, MergeLayer
from nnframe.layers.input import InputLayer

__all__ = ["get_all_layers", "get_output", "get_output_shape", "get_all_params",
           "count_params", "get_all_param_values", "set_all_param_values", "summary"]


def _as_list(layer_or_layers):
    if isinstance(layer_or_layers, Layer):
        return [layer_or_layers], True
    return list(layer_or_layers), False


def get_all_layers(layer, treat_as_input=None):
    """Every layer ``layer`` (or a list of layers) depends on, inputs first.

    Layers in ``treat_as_input`` are included but their inputs are not.
    """
    layers, _ = _as_list(layer)
    stop = {id(l) for l in (treat_as_input or [])}
    done, order = set(), []
    stack = [(l, False) for l in reversed(layers)]
    while stack:
        current, expanded = stack.pop()
        if id(current) in done:
            continue
        if expanded or id(current) in stop:
            done.add(id(current))
            order.append(current)
            continue
        stack.append((current, True))
        for parent in reversed(current.input_layers):
            if id(parent) not in done:
                stack.append((parent, False))
    return order


def _accepted_keywords(layer):
    params = inspect.signature(layer.get_output_for).parameters.values()
    return {p.name for p in params if p.kind == p.KEYWORD_ONLY or
            (p.kind == p.POSITIONAL_OR_KEYWORD and p.default is not p.empty)}


def get_output(layer_or_layers, inputs=None, **kwargs):
    """The symbolic output of one layer (or a list of layers).

    ``inputs`` is None (use the InputLayers' variables), a Variable or array
    for the single InputLayer, or a dict ``{layer: expression}`` that also
    replaces the output of any layer.  Keyword arguments such as
    ``deterministic=True`` go to every layer's ``get_output_for``; one that no
    layer accepts gets a warning with the closest known name (a typo in
    ``deterministic`` would otherwise silently train in test mode).
    """
    layers, single = _as_list(layer_or_layers)
    treat = list(inputs) if isinstance(inputs, dict) else []
    all_layers = get_all_layers(layers, treat_as_input=treat)
    outputs = {}
    if isinstance(inputs, dict):
        for layer, expr in inputs.items():
            outputs[id(layer)] = as_tensor_variable(expr)
    elif inputs is not None:
        input_layers = [l for l in all_layers if isinstance(l, InputLayer)]
        if len(input_layers) != 1:
            raise LayerError(f"get_output: a single input was given but the network has "
                             f"{len(input_layers)} InputLayers; pass a dict {{layer: input}}")
        outputs[id(input_layers[0])] = as_tensor_variable(inputs)
    # 'deterministic' is always understood (as in Lasagne): a network without
    # dropout or noise simply ignores it.
    accepted = {"deterministic"}
    for layer in all_layers:
        if id(layer) in outputs:
            continue
        if isinstance(layer, InputLayer):
            outputs[id(layer)] = layer.input_var
            continue
        parents = layer._input_layers if isinstance(layer, MergeLayer) else [layer.input_layer]
        if any(l is None for l in parents):
            raise LayerError(f"get_output: {layer.describe()} was built from a shape, not a "
                             "layer; give its input in inputs={layer: expression}")
        known = _accepted_keywords(layer)
        accepted |= known
        if isinstance(layer, MergeLayer):
            layer_input = [outputs[id(l)] for l in layer.input_layers]
        else:
            layer_input = outputs[id(layer.input_layer)]
        outputs[id(layer)] = layer.get_output_for(layer_input, **kwargs)
    unused = set(kwargs) - accepted
    for name in sorted(unused):
        close = difflib.get_close_matches(name, sorted(accepted), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        warnings.warn(f"get_output() was passed {name}={kwargs[name]!r}, which no layer of the "
                      f"network uses{hint}", stacklevel=2)
    result = [outputs[id(l)] for l in layers]
    return result[0] if single else result


def get_output_shape(layer_or_layers, input_shapes=None):
    """Output shape(s) computed from the layers' shapes, or from ``input_shapes``
    (a shape for the single InputLayer, or ``{layer: shape}``)."""
    layers, single = _as_list(layer_or_layers)
    if input_shapes is None:
        result = [l.output_shape for l in layers]
        return result[0] if single else result
    treat = list(input_shapes) if isinstance(input_shapes, dict) else []
    all_layers = get_all_layers(layers, treat_as_input=treat)
    shapes = {}
    if isinstance(input_shapes, dict):
        shapes.update({id(l): tuple(s) for l, s in input_shapes.items()})
    else:
        input_layers = [l for l in all_layers if isinstance(l, InputLayer)]
        if len(input_layers) != 1:
            raise LayerError("get_output_shape: pass {layer: shape} for networks with several "
                             "InputLayers")
        shapes[id(input_layers[0])] = tuple(input_shapes)
    for layer in all_layers:
        if id(layer) in shapes:
            continue
        if isinstance(layer, MergeLayer):
            shapes[id(layer)] = layer.get_output_shape_for(
                [shapes[id(l)] for l in layer.input_layers])
        else:
            shapes[id(layer)] = layer.get_output_shape_for(shapes[id(layer.input_layer)])
    result = [shapes[id(l)] for l in layers]
    return result[0] if single else result


def get_all_params(layer, unwrap_shared=True, **tags):
    """The parameters of every layer of the network (no repeats), inputs first.

    ``trainable=True`` keeps trainable ones; ``regularizable=True`` keeps
    those weight penalties apply to (weights, not biases).
    """
    params, seen = [], set()
    for l in get_all_layers(layer):
        for p in l.get_params(**tags):
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


def count_params(layer, **tags):
    """Number of scalar parameters of the network."""
    return int(sum(np.prod(p.get_value(borrow=True).shape) for p in get_all_params(layer, **tags)))


def get_all_param_values(layer, **tags):
    """The values (copies) of :func:`get_all_params`, in the same order."""
    return [p.get_value() for p in get_all_params(layer, **tags)]


def set_all_param_values(layer, values, **tags):
    """Set the network's parameters from a list in :func:`get_all_params` order.

    The number of arrays and every shape must match; all mismatches are
    reported at once and nothing is changed when one is wrong.
    """
    params = get_all_params(layer, **tags)
    values = list(values)
    if len(values) != len(params):
        raise LayerError(f"set_all_param_values: got {len(values)} arrays for {len(params)} "
                         f"parameters ({', '.join(p.name for p in params)})")
    problems = []
    for p, v in zip(params, values):
        have = p.get_value(borrow=True).shape
        if np.shape(v) != have:
            problems.append(f"{p.name}: parameter shape {have}, value shape {np.shape(v)}")
    if problems:
        raise LayerError("set_all_param_values: shape mismatch:\n  " + "\n  ".join(problems))
    for p, v in zip(params, values):
        p.set_value(v)


def summary(layer):
    """A text table of the network: name, type, output shape and parameter count."""
    rows = [("name", "type", "output shape", "params")]
    for l in get_all_layers(layer):
        n = int(sum(np.prod(p.get_value(borrow=True).shape) for p in l.get_params()))
        shape = "(" + ", ".join("?" if s is None else str(s) for s in l.output_shape) + (
            ",)" if len(l.output_shape) == 1 else ")")
        rows.append((l.name, type(l).__name__, shape, str(n)))
    rows.append(("total", "", "", str(count_params(layer))))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(-1, "-" * len(lines[0]))
    return "\n".join(lines)
