"""The Layer base classes (Lasagne's ``lasagne.layers.base``).

A layer knows its input layer(s), its output shape and its parameters, and
builds its part of the graph in ``get_output_for``.  Every layer has a name
that is stable for a given network construction: given (``name='enc1'``) or
derived from its type and its ancestors (``dense1``, ``dense2`` ...), never
from a process-wide counter.  Parameters are shared variables named
``<layer>/<param>`` (``enc1/W``), so checkpoints can address them by name.

Duplicate names are accepted, as in Lasagne, but names stay unique within a
network: a layer given a name that a connected layer already has is renamed
``<name>_2`` (``_3`` ...: the first free one) with a warning, so its
parameters are ``dense_2/W``.  Branches built separately and merged later are
made unique when they are merged: walking the merged inputs in order (each
one's ancestors, inputs first), the first layer with state (parameters or a
random stream) keeps the name and later ones are renamed, their parameters
and stream states with them.

>>> from nnframe.layers import InputLayer, DenseLayer
>>> l_in = InputLayer((None, 784))
>>> l_hid = DenseLayer(l_in, num_units=512, name='enc1')
>>> l_hid.W.name, l_hid.output_shape
('enc1/W', (None, 512))
"""
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnframe.config import config
from nnframe.core.graph import Variable
from nnframe.core.shared import SharedVariable, shared

__all__ = ["Layer", "MergeLayer", "LayerError"]

#: A layer's shape: one entry per axis, None where the length is not fixed (the batch).
Shape = tuple[int | None, ...]


class LayerError(ValueError):
    """A layer cannot be built as asked: wrong shapes, names or parameters."""


def _ancestors(incomings):
    """Every layer feeding ``incomings`` (themselves included), without repeats."""
    seen, order, stack = set(), [], list(incomings)
    while stack:
        layer = stack.pop()
        if layer is None or id(layer) in seen:
            continue
        seen.add(id(layer))
        order.append(layer)
        stack.extend(layer.input_layers)
    return order


def _connected(layers):
    """Every layer reachable from ``layers`` through inputs and children (built on them)."""
    seen, order, stack = set(), [], list(layers)
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        order.append(layer)
        stack.extend(layer.input_layers)
        stack.extend(layer._children)
    return order


def _network_order(layers):
    """Every layer feeding ``layers``, inputs first, in the order of ``layers`` and of
    each layer's inputs (a deterministic post-order walk)."""
    seen, order = set(), []
    stack = [(layer, False) for layer in reversed(layers)]
    while stack:
        layer, expanded = stack.pop()
        if expanded:
            order.append(layer)
            continue
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        stack.append((layer, True))
        stack.extend((parent, False) for parent in reversed(layer.input_layers)
                     if id(parent) not in seen)
    return order


def _free_name(name, taken):
    """``name_2``, ``name_3`` ...: the first one not in ``taken``."""
    k = 2
    while f"{name}_{k}" in taken:
        k += 1
    return f"{name}_{k}"


def _has_state(layer):
    """Whether ``layer`` owns variables named after it (parameters, a random stream)."""
    return bool(layer.params) or getattr(layer, "_srng", None) is not None


def _rename(layer, new):
    """Rename ``layer``, the parameters it created and its random stream's states."""
    old = layer.name
    layer.name = new
    for param in getattr(layer, "_created_params", ()):
        if param.name and param.name.startswith(old + "/"):
            param.name = new + param.name[len(old):]
    srng = getattr(layer, "_srng", None)
    if srng is not None and getattr(srng, "name", None) == old:
        srng.name = new
        for state in srng.state_variables:
            if state.name and state.name.startswith(old + "/"):
                state.name = new + state.name[len(old):]


def _warn(message):
    """A UserWarning pointing at the first caller outside nnframe's layers."""
    import os
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == here:
        level, frame = level + 1, frame.f_back
    warnings.warn(message, UserWarning, stacklevel=level + 1)


def _is_shape(obj):
    return isinstance(obj, (tuple, list)) and all(
        s is None or isinstance(s, (int, np.integer)) for s in obj)


class Layer:
    """A layer with one input: a layer, or a shape tuple (``None`` = any length).

    Subclasses implement ``get_output_shape_for(input_shape)`` and
    ``get_output_for(input, **kwargs)``, and create parameters with
    :meth:`add_param`.  ``default_name`` is the stem of automatic names.
    """

    default_name = "layer"

    def __init__(self, incoming, name=None):
        if _is_shape(incoming):
            self.input_shape = tuple(None if s is None else int(s) for s in incoming)
            self.input_layer = None
        elif isinstance(incoming, Layer):
            self.input_layer = incoming
            self.input_shape = incoming.output_shape
        else:
            raise LayerError(f"{type(self).__name__}: incoming must be a layer or a shape tuple, "
                             f"got {type(incoming).__name__} {incoming!r}")
        self.params = OrderedDict()
        self._attach(name)

    # -- structure ------------------------------------------------------------------
    @property
    def input_layers(self):
        return [self.input_layer] if self.input_layer is not None else []

    def _attach(self, name):
        """Choose this layer's name and register it as a child of its inputs."""
        self._children = []
        self.name = self._choose_name(name)
        for parent in self.input_layers:
            parent._children.append(self)

    def _choose_name(self, name):
        # Names are unique among every layer connected to this one, so two branches
        # built on one input get dense2 and dense3, not dense2 twice.  A name given twice
        # is accepted (as in Lasagne) and made unique: 'dense', then 'dense_2'.
        network = _connected(self.input_layers)
        taken = {layer.name for layer in network}
        if name is not None:
            if not isinstance(name, str) or not name or "/" in name:
                raise LayerError(f"{type(self).__name__}: name must be a non-empty string "
                                 f"without '/', got {name!r}")
            if name in taken:
                owner = next(l for l in network if l.name == name)
                new = _free_name(name, taken)
                _warn(f"duplicate layer name {name!r}: {owner.describe()} already uses "
                              f"it, so this {type(self).__name__} is named {new!r} (its "
                              f"parameters are {new}/...); give each layer its own name to "
                              "choose the names")
                return new
            return name
        k = 1
        while f"{self.default_name}{k}" in taken:
            k += 1
        return f"{self.default_name}{k}"

    def describe(self):
        """``DenseLayer 'enc1'``: how errors name this layer."""
        return f"{type(self).__name__} {self.name!r}"

    def fail(self, message):
        """A :class:`LayerError` that starts with this layer's description."""
        return LayerError(f"{self.describe()}: {message}")

    # -- shapes ----------------------------------------------------------------------
    @property
    def output_shape(self):
        return self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_output_for(self, input: Variable, **kwargs: Any) -> Variable:
        raise NotImplementedError(f"{type(self).__name__}.get_output_for")

    # -- parameters ------------------------------------------------------------------
    def add_param(self, spec: Any, shape: Sequence[int], name: str,
                  **tags: bool) -> SharedVariable:
        """Create (or adopt) the parameter ``<layer name>/<name>`` of ``shape``.

        ``spec`` is an initialiser or any callable ``f(shape) -> array``, a
        NumPy array, or an existing shared variable (shared between layers).
        Tags default to ``trainable=True, regularizable=True``.
        """
        shape = tuple(int(s) for s in shape)
        full_name = f"{self.name}/{name}"
        if isinstance(spec, SharedVariable):
            have = spec.get_value(borrow=True).shape
            if have != shape:
                raise self.fail(f"parameter {name} is a shared variable of shape {have}, but "
                                f"the layer needs {shape} ({self._input_description()})")
            param = spec
        else:
            value = spec(shape) if callable(spec) else np.asarray(spec)
            value = np.asarray(value, dtype=config.floatX)
            if value.shape != shape:
                raise self.fail(f"parameter {name} has shape {value.shape}, but the layer needs "
                                f"{shape} ({self._input_description()})")
            param = shared(value, name=full_name)
            # the parameters named after this layer (renamed with it, see _rename)
            self.__dict__.setdefault("_created_params", []).append(param)
        tags.setdefault("trainable", True)
        tags.setdefault("regularizable", True)
        self.params[param] = {t for t, on in tags.items() if on}
        return param

    def _input_description(self) -> str:
        """What the layer is built on, for error messages."""
        return f"input shape {self.input_shape}"

    def get_params(self, unwrap_shared: bool = True, **tags: bool) -> list[SharedVariable]:
        """This layer's parameters whose tags match: ``trainable=True`` keeps the
        trainable ones, ``regularizable=False`` drops the regularizable ones."""
        return [p for p, have in self.params.items()
                if all((tag in have) == wanted for tag, wanted in tags.items())]

    def __repr__(self):
        return f"<{self.describe()} output_shape={self.output_shape}>"


class MergeLayer(Layer):
    """A layer with several inputs (layers or shape tuples)."""

    def __init__(self, incomings, name=None):
        if not isinstance(incomings, (list, tuple)) or not incomings:
            raise LayerError(f"{type(self).__name__}: incomings must be a non-empty list of "
                             "layers or shape tuples")
        self.input_shapes = []
        self._input_layers = []
        for k, incoming in enumerate(incomings):
            if _is_shape(incoming):
                self.input_shapes.append(tuple(incoming))
                self._input_layers.append(None)
            elif isinstance(incoming, Layer):
                self.input_shapes.append(incoming.output_shape)
                self._input_layers.append(incoming)
            else:
                raise LayerError(f"{type(self).__name__}: incoming {k} must be a layer or a "
                                 f"shape tuple, got {type(incoming).__name__}")
        self.params = OrderedDict()
        self._attach(name)
        self._check_unique_names()

    @property
    def input_layers(self):
        return [l for l in self._input_layers if l is not None]

    def _input_description(self) -> str:
        return f"input shapes {self.input_shapes}"

    def _check_unique_names(self):
        """Branches built separately (e.g. from two InputLayers) may have chosen the
        same name.  Layers that own named state (parameters, random streams) must not:
        checkpoints address their variables by name.  In network order (the merged
        inputs in order, each one's ancestors inputs first) the first keeps its name
        and later ones are renamed ``<name>_2`` ... with a warning."""
        taken = {layer.name for layer in _connected(self.input_layers)}
        owners = {}
        for layer in _network_order(self.input_layers):
            if not _has_state(layer):
                continue
            other = owners.setdefault(layer.name, layer)
            if other is layer:
                continue
            new = _free_name(layer.name, taken)
            _warn(f"{self.describe()}: duplicate layer name {layer.name!r} in the "
                          f"merged inputs: {other.describe()} with output shape "
                          f"{other.output_shape} keeps it and {layer.describe()} with output "
                          f"shape {layer.output_shape} is renamed {new!r} (its parameters "
                          f"are {new}/...); give each layer its own name to choose the names")
            _rename(layer, new)
            taken.add(new)
            owners[new] = layer

    @property
    def output_shape(self):
        return self.get_output_shape_for(self.input_shapes)

    # Lasagne's MergeLayer takes lists where Layer takes one input: not a substitute
    # for Layer in these two methods, hence the ignores.
    def get_output_shape_for(self, input_shapes: list[Shape]) -> Shape:  # type: ignore[override]
        raise NotImplementedError(f"{type(self).__name__}.get_output_shape_for")

    def get_output_for(self, inputs: list[Variable],  # type: ignore[override]
                       **kwargs: Any) -> Variable:
        raise NotImplementedError(f"{type(self).__name__}.get_output_for")

    def describe_inputs(self):
        """``'a' (None, 3), 'b' (None, 4)``: the incoming layers and shapes, for errors."""
        return ", ".join(f"{l.name!r} {s}" if l is not None else f"{s}"
                         for l, s in zip(self._input_layers, self.input_shapes))
