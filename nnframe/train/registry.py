"""The vocabularies a recipe may name, each one table: layers, initialisers,
nonlinearities, losses, metrics, optimizers, schedules, datasets, model builders
and data splits.

Each entry pairs a name with what it builds and the schema of its arguments, so a
recipe is validated completely before anything is built, and nothing a recipe says
can import or construct anything else.  The argument schemas are read from the
Python signatures, so adding a layer to recipes is one line:

>>> from nnframe import layers
>>> entry = layer_entry(layers.DenseLayer)
>>> entry.spec.fields["W"][1], entry.spec.fields["nonlinearity"][1]
({'type': 'glorot_uniform', 'gain': 1.0}, 'relu')

How a signature becomes a schema (:func:`layer_entry`): an ``int``, ``float``,
``bool`` or ``str`` default gives that type; an initialiser default (``W=init.X()``)
gives ``{type: ..., <argument>: ...}`` with the default read from the object; a
``nonlinearity`` (or ``pool_function``) gives the names of :data:`NONLINEARITIES`
(:data:`POOL_FUNCTIONS`); a ``Literal[...]`` annotation gives its choices; what a
signature cannot say (ranges, "an int or a pair") comes from :data:`ARGUMENTS`, one
schema per argument name shared by every layer, or from the layer's line.

Python code adds entries (:func:`register_layer`, :func:`register_model`,
:func:`register_dataset`, :func:`register_split`); an installed package declares
them as entry points of the groups ``nnframe.recipe_layers``,
``nnframe.recipe_models``, ``nnframe.recipe_datasets`` and ``nnframe.recipe_splits``,
imported only when a recipe names them (:func:`application`).  A recipe never can.
"""
import dataclasses
import functools
import importlib.metadata
import inspect
import types
import typing
from collections.abc import Callable, Mapping

import nnframe.tensor as T
from nnframe import init, layers, losses, metrics, nonlinearities, optim
from nnframe.layers import LayerError
from nnframe.train.errors import RunError
from nnframe.train.recipe import (
    REQUIRED,
    Bool,
    Choice,
    Float,
    Int,
    Map,
    Nullable,
    OneOf,
    RecipeError,
    RecipeErrors,
    Seq,
    Spec,
    Str,
)

__all__ = ["NONLINEARITIES", "POOL_FUNCTIONS", "INITIALIZERS", "make_initializer",
           "initializer_spec", "ARGUMENTS", "PerAxis", "Argument", "LayerEntry", "layer_entry",
           "LAYERS", "SEQUENCE_LAYERS", "register_layer", "layer_takes_mask", "build_layer",
           "layer_choice", "LossEntry", "LOSSES", "MetricEntry", "metric_entry", "METRICS",
           "logged_name",
           "metric_values", "OPTIMIZERS", "optimizer_choice", "SCHEDULES", "schedule_choice",
           "DATASETS", "MODELS", "SPLITS", "register_dataset", "register_model",
           "register_split", "dataset_spec", "dataset_entry", "model_entry", "model_choice",
           "application", "application_names", "declared_applications", "GROUPS"]

# -- named functions -------------------------------------------------------------------
#: Nonlinearities by recipe name (the first name of a function is the one defaults show).
NONLINEARITIES = {
    "relu": nonlinearities.rectify, "rectify": nonlinearities.rectify,
    "tanh": nonlinearities.tanh, "sigmoid": nonlinearities.sigmoid,
    "softmax": nonlinearities.softmax, "linear": nonlinearities.linear,
    "identity": nonlinearities.linear, "elu": nonlinearities.elu, "selu": nonlinearities.selu,
    "softplus": nonlinearities.softplus, "leaky_relu": nonlinearities.leaky_rectify,
}

#: The reductions of ``globalpool``, by recipe name.
POOL_FUNCTIONS = {"mean": T.mean, "max": T.max, "sum": T.sum}

#: Layer arguments whose value is a function, picked by name from a table.
_NAMED_FUNCTIONS = {"nonlinearity": NONLINEARITIES, "pool_function": POOL_FUNCTIONS}


# -- initialisers ------------------------------------------------------------------------
def _gain_field():
    return {"gain": (OneOf(Float(min=0), Str(["relu"])), 1.0)}


# name -> (initialiser class, schema of its arguments)
INITIALIZERS = {
    "constant": (init.Constant, Map({"val": (Float(), 0.0)}, "a constant initialiser")),
    "normal": (init.Normal, Map({"std": (Float(min=0), 0.01), "mean": (Float(), 0.0)},
                                "a normal initialiser")),
    "uniform": (init.Uniform, Map({"range": (Float(min=0), 0.01)}, "a uniform initialiser")),
    "glorot_uniform": (init.GlorotUniform, Map(_gain_field(), "glorot_uniform")),
    "glorot_normal": (init.GlorotNormal, Map(_gain_field(), "glorot_normal")),
    "he_uniform": (init.HeUniform, Map(_gain_field(), "he_uniform")),
    "he_normal": (init.HeNormal, Map(_gain_field(), "he_normal")),
    "orthogonal": (init.Orthogonal, Map(_gain_field(), "orthogonal")),
}
INIT_SPEC = Choice({name: spec for name, (_, spec) in INITIALIZERS.items()}, "initialiser")

# How to read an initialiser object's recipe arguments where they are not its attributes:
# Uniform keeps its range as the pair (-range, range).
_INIT_READERS = {"uniform": lambda u: {"range": u.range[1]}}


def make_initializer(spec):
    """An initialiser object from a checked ``{type: ..., ...}`` spec (None stays None)."""
    if spec is None:
        return None
    cls, _ = INITIALIZERS[spec["type"]]
    return cls(**{k: v for k, v in spec.items() if k != "type"})


def initializer_spec(initializer):
    """The recipe form ``{type: ..., <argument>: ...}`` of an initialiser object.

    >>> initializer_spec(init.Uniform(0.05))
    {'type': 'uniform', 'range': 0.05}

    TypeError if no recipe form makes the same initialiser (e.g. one with a seed).
    """
    for name, (cls, spec) in INITIALIZERS.items():
        if type(initializer) is not cls:
            continue
        read = _INIT_READERS.get(name)
        arguments = read(initializer) if read else {k: getattr(initializer, k)
                                                    for k in spec.fields}
        errors = []
        form = INIT_SPEC.check({"type": name, **arguments}, (), errors)
        # the recipe form must rebuild the very same initialiser, or it says something else
        if not errors and vars(make_initializer(form)) == vars(initializer):
            return form
    raise TypeError(f"the initialiser {initializer!r} has no recipe form (recipes know "
                    f"{', '.join(INITIALIZERS)} without a seed)")


# -- layers: argument schemas read from the constructors' signatures ----------------------
class PerAxis:
    """The schema of a per-axis argument (``filter_size: 3`` or ``[3, 5]``): an int for
    every axis, or a list of one int per axis (the layer's ``ndim`` axes), or one of
    ``words`` (``pad: same``).

    >>> PerAxis(min=1).spec(2).describe
    'an integer >= 1 or a list of 2 an integer >= 1'
    """

    def __init__(self, min, words=()):
        self.min, self.words = min, tuple(words)

    def spec(self, ndim):
        forms = [Str(self.words)] if self.words else []
        forms.append(Int(min=self.min))
        if ndim > 1:
            forms.append(Seq(Int(min=self.min), length=ndim))
        return forms[0] if len(forms) == 1 else OneOf(*forms)


class _GradientSteps(Int):
    """``gradient_steps``: -1 (backpropagate through every step) or a positive count."""

    describe = "-1 (no truncation) or an integer >= 1"

    def check(self, value, path, errors):
        if self.convert(value) is None or not (value == -1 or value >= 1):
            return self.fail(value, path, errors)
        return value


_BORDER_MODES = ("valid", "full", "same")

#: What a signature cannot say, by argument name, shared by every layer: ranges, per-axis
#: sizes, and the forms of list arguments.  A layer whose argument means something else
#: gives its own schema in its line (``layer_entry(cls, alpha=Float(...))``).
ARGUMENTS = {
    "num_units": Int(min=1), "num_filters": Int(min=1), "num_leading_axes": Int(min=1),
    "outdim": Int(min=1), "n": Int(min=1), "batch_ndim": Int(min=0),
    "filter_size": PerAxis(min=1), "stride": PerAxis(min=1), "pool_size": PerAxis(min=1),
    "dilation": PerAxis(min=1), "scale_factor": PerAxis(min=1), "output_size": PerAxis(min=1),
    "pad": PerAxis(min=0, words=_BORDER_MODES), "crop": PerAxis(min=0, words=_BORDER_MODES),
    "p": Float(min=0, max=1), "sigma": Float(min=0), "alpha": Float(min=0),
    "epsilon": Float(min=0, exclusive_min=True),
    "gradient_steps": _GradientSteps(), "grad_clipping": Float(min=0),
    "axes": OneOf(Str(["auto"]), Int(), Seq(Int(), min_len=1)),
    "shared_axes": Seq(Int(min=0)),
    "shape": Seq(OneOf(Int(min=-1), Seq(Int(min=0), length=1))),
    "pattern": Seq(OneOf(Int(min=0), Str(["x"]))),
    "indices": OneOf(Int(), Seq(Nullable(Int()), min_len=1)),
    "width": OneOf(Int(min=0), Seq(OneOf(Int(min=0), Seq(Int(min=0), length=2)))),
}

#: Initialiser arguments a layer may be given null for (Lasagne's "no bias", "no shift",
#: "no scale").
NULLABLE_INITIALIZERS = frozenset({"b", "beta", "gamma"})

#: Arguments the network gives a layer, never the recipe: its input layer(s) and the
#: mask of sequence data (passed to layers that take one).  ``name`` is every layer's
#: recipe key, added separately.
_FROM_THE_NETWORK = frozenset({"incoming", "incomings", "mask_input", "name"})


@dataclasses.dataclass(frozen=True)
class Argument:
    """One recipe argument of a layer: its schema, its default in the recipe's form
    (``REQUIRED``: none) and how a checked value becomes the constructor's."""

    spec: Spec
    default: object
    convert: Callable = lambda value: value


@dataclasses.dataclass(frozen=True)
class LayerEntry:
    """A layer type of recipes: the class, the recipe arguments (in signature order),
    an optional ``build(incoming, name, kwargs)`` used instead of
    ``cls(incoming, name=name, **kwargs)``, whether it takes the mask of sequence data
    (``kwargs['mask_input']``), and the constructor's arguments a recipe cannot set
    (they keep their Python defaults)."""

    cls: type
    arguments: dict
    build: Callable | None = None
    takes_mask: bool = False
    python_only: tuple = ()
    what: str = ""

    @property
    def spec(self):
        fields = {key: (arg.spec, arg.default) for key, arg in self.arguments.items()}
        fields["name"] = (Nullable(Str()), None)
        return Map(fields, self.what or f"a {self.cls.__name__}")

    def constructor_arguments(self, checked):
        """The keyword arguments (without ``name``) a checked layer spec gives the layer."""
        return {key: arg.convert(checked[key]) for key, arg in self.arguments.items()}


def _as_tuples(value):
    """A recipe list is the tuple Lasagne's constructors take (nested lists stay lists)."""
    return tuple(value) if isinstance(value, list) else value


def _annotation_spec(annotation):
    """The schema a parameter's type annotation says, or None when it says none we read:
    ``int``, ``float``, ``bool``, ``str``, ``Literal['a', 'b']`` and ``X | None``."""
    simple = {int: Int(), float: Float(), bool: Bool(), str: Str()}
    if annotation in simple:
        return simple[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal and all(isinstance(a, str) for a in args):
        return Str(args)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        inner = _annotation_spec(rest[0]) if len(rest) == 1 else None
        return Nullable(inner) if inner is not None else None
    return None


def _accepts_none(parameter):
    args = typing.get_args(parameter.annotation)
    return parameter.name in NULLABLE_INITIALIZERS or type(None) in args


def _function_name(table, function, where):
    for name, candidate in table.items():
        if candidate is function:
            return name
    raise TypeError(f"{where}: the default {function!r} is none of the recipe names "
                    f"{', '.join(table)}; add it to the table of names")


def _recipe_default(value, spec, where):
    """The default as a recipe writes it, checked by ``spec``: a tuple is a list, or its
    one value when every item is the same (``stride=(1, 1)`` is ``stride: 1``)."""
    if value is REQUIRED:
        return value
    forms = [value]
    if isinstance(value, tuple):
        forms = ([value[0]] if value and len(set(value)) == 1 else []) + [list(value)]
    for form in forms:
        errors = []
        checked = spec.check(form, (), errors)
        if not errors:
            return checked
    raise TypeError(f"{where}: the default {value!r} is not a value of its recipe schema "
                    f"({spec.describe}); give the argument a schema that accepts it")


def _derived_spec(default):
    """The schema a plain default says: bool, int, float, str, or a tuple of ints."""
    if isinstance(default, bool):
        return Bool()
    if isinstance(default, int):
        return Int()
    if isinstance(default, float):
        return Float()
    if isinstance(default, str):
        return Str()
    if isinstance(default, tuple) and default and all(
            isinstance(v, int) and not isinstance(v, bool) for v in default):
        return Seq(Int(), length=len(default))
    return None


def _function_argument(table, default, where):
    """An argument naming a function of ``table`` (``nonlinearity: tanh``)."""
    spec = Str(sorted(table))
    if default is None:
        return Argument(Nullable(spec), None, lambda v: None if v is None else table[v])
    recipe_default = default if default is REQUIRED else _function_name(table, default, where)
    return Argument(spec, recipe_default, table.__getitem__)


def _initializer_argument(parameter, default):
    """An initialiser argument (``W: {type: glorot_uniform, gain: 1.0}``)."""
    spec = Nullable(INIT_SPEC) if _accepts_none(parameter) else INIT_SPEC
    return Argument(spec, initializer_spec(default), make_initializer)


def _value_argument(parameter, default, ndim, overrides, where):
    """An argument holding plain values, its schema from the layer's line, the shared
    :data:`ARGUMENTS`, the annotation or the default, in that order; None when none says."""
    spec = overrides.get(parameter.name, ARGUMENTS.get(parameter.name)) or \
        _annotation_spec(parameter.annotation)
    if isinstance(spec, PerAxis):
        spec = spec.spec(ndim)
    spec = spec or _derived_spec(default)
    if spec is None:
        if default is REQUIRED:
            raise TypeError(f"{where} has no default, annotation or entry in ARGUMENTS to "
                            "read its recipe schema from; annotate it (e.g. `: int`) or give "
                            "its schema in the layer's line")
        return None
    if default is None and not isinstance(spec, Nullable):
        spec = Nullable(spec)
    return Argument(spec, _recipe_default(default, spec, where), _as_tuples)


def _argument(parameter, ndim, overrides, where):
    """The recipe :class:`Argument` of one constructor parameter, or None when a recipe
    cannot give it (a Python object: a gate, a callable, an array, a shared variable)."""
    default = REQUIRED if parameter.default is parameter.empty else parameter.default
    if parameter.name in _NAMED_FUNCTIONS and parameter.name not in overrides:
        return _function_argument(_NAMED_FUNCTIONS[parameter.name], default, where)
    if isinstance(default, init.Initializer):
        return _initializer_argument(parameter, default)
    return _value_argument(parameter, default, ndim, overrides, where)


def _signature_arguments(cls, ndim=2, overrides=None, only=None):
    """``(arguments, python_only)`` of ``cls``'s constructor (see :func:`layer_entry`)."""
    overrides = overrides or {}
    arguments, python_only = {}, []
    for parameter in inspect.signature(cls).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.name in _FROM_THE_NETWORK or (only and parameter.name not in only):
            continue
        argument = _argument(parameter, ndim, overrides,
                             f"{cls.__name__} argument {parameter.name!r}")
        if argument is None:
            python_only.append(parameter.name)
        else:
            arguments[parameter.name] = argument
    unknown = set(overrides) - set(arguments)
    if unknown:
        raise TypeError(f"{cls.__name__} has no recipe argument {', '.join(sorted(unknown))} "
                        "to give a schema to")
    return arguments, tuple(python_only)


def layer_entry(cls, build=None, ndim=2, extra=None, **overrides):
    """The :class:`LayerEntry` of layer class ``cls``, its recipe arguments read from
    its constructor's signature.

    ``ndim``: the number of axes of per-axis arguments (``filter_size`` of a 1-d
    layer is an int); ``overrides``: argument name -> schema (a :class:`Spec` or
    :class:`PerAxis`) of a plain-value argument where this layer differs from
    :data:`ARGUMENTS` (initialisers and nonlinearities have their own); ``extra``:
    argument name -> :class:`Argument` that only ``build`` takes.  Left out of the
    recipe: the input layer(s), ``mask_input`` (given by the network) and arguments
    no recipe value can express (their Python defaults stay).

    >>> entry = layer_entry(layers.DropoutLayer)
    >>> sorted(entry.spec.fields)
    ['name', 'p', 'rescale', 'shared_axes']
    """
    arguments, python_only = _signature_arguments(cls, ndim, overrides)
    arguments.update(extra or {})
    takes_mask = "mask_input" in inspect.signature(cls).parameters
    return LayerEntry(cls, arguments, build, takes_mask, python_only)


def _check_sequence_input(incoming, kind, name):
    """Recurrent layers take (batch, time, features...): say so, and how to get it."""
    shape = incoming.output_shape
    if len(shape) < 3:
        who = f"{kind} layer {name!r}" if name else f"{kind} layer"
        raise LayerError(
            f"{who}: needs an input of shape (batch, time, features), got shape {shape} from "
            f"{incoming.describe()}; give the image datasets (digits, mnist5k) shape: sequence "
            "(each image row a time step), store npz/hdf5 sequences as (n, time, features), "
            "and put a recurrent layer that feeds another one on only_return_final: false")


def _gates(kwargs):
    """A maker of Lasagne's gates with the recipe's ``W_in`` and ``W_hid`` (popped)."""
    w_in, w_hid = kwargs.pop("W_in"), kwargs.pop("W_hid")
    return lambda **gate: layers.Gate(W_in=w_in, W_hid=w_hid, **gate)


def _lstm(incoming, name, kwargs):
    _check_sequence_input(incoming, "lstm", name)
    gate = _gates(kwargs)
    return layers.LSTMLayer(incoming, ingate=gate(), forgetgate=gate(),
                            cell=gate(W_cell=None, nonlinearity=nonlinearities.tanh),
                            outgate=gate(), name=name, **kwargs)


def _gru(incoming, name, kwargs):
    _check_sequence_input(incoming, "gru", name)
    gate = _gates(kwargs)
    return layers.GRULayer(incoming, resetgate=gate(W_cell=None), updategate=gate(W_cell=None),
                           hidden_update=gate(W_cell=None, nonlinearity=nonlinearities.tanh),
                           name=name, **kwargs)


def _recurrent(incoming, name, kwargs):
    _check_sequence_input(incoming, "recurrent", name)
    return layers.RecurrentLayer(incoming, name=name, **kwargs)


def _slice(incoming, name, kwargs):
    indices = kwargs["indices"]
    if not isinstance(indices, int):
        if len(indices) > 3:
            who = f"slice layer {name!r}" if name else "slice layer"
            raise LayerError(f"{who}: indices must be an int or [start, stop] or "
                             f"[start, stop, step] (null for none), got {list(indices)}")
        indices = slice(*indices)
    return layers.SliceLayer(incoming, indices, axis=kwargs["axis"], name=name)


def _pad(incoming, name, kwargs):
    width = kwargs["width"]
    if not isinstance(width, int):
        width = [w if isinstance(w, int) else tuple(w) for w in width]
    return layers.PadLayer(incoming, width, val=kwargs["val"], batch_ndim=kwargs["batch_ndim"],
                           name=name)


#: the weights of every gate of an LSTM or GRU layer, with the defaults of Lasagne's Gate
_GATE_WEIGHTS = _signature_arguments(layers.Gate, only=("W_in", "W_hid"))[0]
#: pooling pads: no border-mode words
_POOL_PAD = PerAxis(min=0)

# recipe name -> layer entry: one line each
LAYERS = {
    "dense": layer_entry(layers.DenseLayer),
    "conv2d": layer_entry(layers.Conv2DLayer),
    "maxpool2d": layer_entry(layers.MaxPool2DLayer, pad=_POOL_PAD),
    "pool2d": layer_entry(layers.Pool2DLayer, pad=_POOL_PAD),
    "dropout": layer_entry(layers.DropoutLayer),
    "gaussian_noise": layer_entry(layers.GaussianNoiseLayer),
    "batchnorm": layer_entry(layers.BatchNormLayer, alpha=Float(min=0, max=1)),
    "nonlinearity": layer_entry(layers.NonlinearityLayer),
    "flatten": layer_entry(layers.FlattenLayer),
    "reshape": layer_entry(layers.ReshapeLayer),
    "dimshuffle": layer_entry(layers.DimshuffleLayer),
    "globalpool": layer_entry(layers.GlobalPoolLayer),
    "conv1d": layer_entry(layers.Conv1DLayer, ndim=1),
    "transposed_conv2d": layer_entry(layers.TransposedConv2DLayer),
    "maxpool1d": layer_entry(layers.MaxPool1DLayer, ndim=1, pad=_POOL_PAD),
    "upscale2d": layer_entry(layers.Upscale2DLayer),
    "lrn": layer_entry(layers.LocalResponseNormalization2DLayer),
    "slice": layer_entry(layers.SliceLayer, _slice),
    "pad": layer_entry(layers.PadLayer, _pad),
    "binary_code": layer_entry(layers.BinaryCodeLayer),
    "lstm": layer_entry(layers.LSTMLayer, _lstm, extra=_GATE_WEIGHTS),
    "gru": layer_entry(layers.GRULayer, _gru, extra=_GATE_WEIGHTS),
    "recurrent": layer_entry(layers.RecurrentLayer, _recurrent),
}


def _bidirectional(incoming, name, kwargs):
    """A recurrent layer (``layer``) and its copy with ``backwards: true``, both on the
    same input, joined along the last axis (``merge: concat``) or summed (``merge: sum``).

    Names: the inner layer's ``name`` X gives X and X.backward; otherwise the
    wrapper's name N gives N.forward and N.backward (the merge layer is N).
    """
    inner, mask_input = kwargs["layer"], kwargs["mask_input"]
    forward_name = inner["name"] or (f"{name}.forward" if name else None)
    forward = build_layer(dict(inner, name=forward_name), incoming, mask_input)
    backward_name = f"{name}.backward" if name and not inner["name"] else \
        f"{forward.name}.backward"
    backward = build_layer(dict(inner, name=backward_name, backwards=True), incoming,
                           mask_input)
    if kwargs["merge"] == "concat":
        return layers.ConcatLayer([forward, backward], axis=-1, name=name)
    return layers.ElemwiseSumLayer([forward, backward], name=name)


LAYERS["bidirectional"] = LayerEntry(layers.ConcatLayer, {
    "layer": Argument(Choice({k: e.spec for k, e in LAYERS.items() if e.takes_mask},
                             "recurrent layer"), REQUIRED),
    "merge": Argument(Str(["concat", "sum"]), "concat")},
    _bidirectional, takes_mask=True, what="a bidirectional wrapper")

#: Layer types that take the dataset's mask (``mask_input``) when it has one.
SEQUENCE_LAYERS = frozenset(k for k, entry in LAYERS.items() if entry.takes_mask)


def register_layer(name, cls, build=None, ndim=2, extra=None, **overrides):
    """Make layer class ``cls`` available to recipes as ``type: name`` (see
    :func:`layer_entry` for the arguments).

    >>> register_layer("my_dense", layers.DenseLayer)          # doctest: +SKIP
    """
    LAYERS[name] = layer_entry(cls, build, ndim, extra, **overrides)


def layer_takes_mask(name):
    """Whether layer type ``name`` takes the dataset's mask (``mask_input``): the built-in
    :data:`SEQUENCE_LAYERS`, and any registered layer whose constructor takes one.

    >>> layer_takes_mask("gru"), layer_takes_mask("dense")
    (True, False)
    """
    return application("recipe_layers", name).takes_mask


def build_layer(spec, incoming, mask_input=None):
    """The layer a checked ``{type: ..., name: ..., ...}`` spec describes, on ``incoming``.

    The layers that take a mask (:data:`SEQUENCE_LAYERS`) get ``mask_input`` (a layer
    giving the ``(batch, time)`` mask, or None); the others ignore it.
    """
    entry = application("recipe_layers", spec["type"])
    kwargs = entry.constructor_arguments(spec)
    if entry.takes_mask:
        kwargs["mask_input"] = mask_input
    if entry.build is not None:
        return entry.build(incoming, spec["name"], kwargs)
    return entry.cls(incoming, name=spec["name"], **kwargs)


def layer_choice():
    """The schema of one layer of ``model.layers``."""
    return Choice(_Specs("recipe_layers", lambda entry: entry.spec), "layer")


# -- losses and metrics -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LossEntry:
    """A loss of recipes: ``expression(prediction, target)`` gives the per-item loss;
    ``target`` says what it compares with: ``'labels'`` (class labels) or ``'any'``
    (labels, values, or the inputs themselves); ``targets`` how it reads them:
    ``'class_indices'`` (one output per class, 1-d integer targets), ``'probabilities'``
    (one target in [0, 1] per output unit) or ``'values'`` (one target per output unit).
    The last two compare element by element."""

    expression: Callable
    target: str
    targets: str = "values"

    @property
    def elementwise(self):
        return self.targets != "class_indices"


LOSSES = {
    "categorical_crossentropy_from_logits": LossEntry(
        losses.categorical_crossentropy_from_logits, "labels", "class_indices"),
    "categorical_crossentropy": LossEntry(losses.categorical_crossentropy, "labels",
                                          "class_indices"),
    "binary_crossentropy_from_logits": LossEntry(losses.binary_crossentropy_from_logits,
                                                 "labels", "probabilities"),
    "binary_crossentropy": LossEntry(losses.binary_crossentropy, "labels", "probabilities"),
    "squared_error": LossEntry(losses.squared_error, "any", "values"),
    "multiclass_hinge": LossEntry(losses.multiclass_hinge_loss, "labels", "class_indices"),
}


@dataclasses.dataclass(frozen=True)
class MetricEntry:
    """A metric of recipes: ``compute(outputs, y, **args)`` scores a split's outputs
    (NumPy arrays), ``spec`` checks its arguments, and ``logged_name(args)`` is the name
    it is logged under (None: the metric's own name).

    An entry checks a recipe's arguments as its ``spec`` does, so the table is the
    options of the recipe's ``metrics`` choice.
    """

    compute: Callable
    spec: Map
    logged_name: Callable | None = None

    def check(self, value, path, errors):
        return self.spec.check(value, path, errors)


def metric_entry(function, logged_name=None, **overrides):
    """The entry of metric ``function(predictions, targets, **args)``, its arguments read
    from the signature (``overrides``: argument name -> schema).

    >>> entry = metric_entry(metrics.top_k_accuracy, k=Int(min=1))
    >>> entry.spec.fields["k"][1]
    5
    """
    fields = {}
    for p in list(inspect.signature(function).parameters.values())[2:]:
        default = REQUIRED if p.default is p.empty else p.default
        spec = overrides.get(p.name) or _annotation_spec(p.annotation) or \
            _derived_spec(default)
        if spec is None:
            raise TypeError(f"{function.__name__} argument {p.name!r}: no default or "
                            "annotation to read its recipe schema from; give its schema")
        fields[p.name] = (spec, default)
    return MetricEntry(function, Map(fields, f"the {function.__name__} metric"), logged_name)


METRICS = {
    "accuracy": metric_entry(metrics.accuracy),
    "top_k_accuracy": metric_entry(metrics.top_k_accuracy, k=Int(min=1),
                              logged_name=lambda args: f"top_{args['k']}_accuracy"),
}


def logged_name(metric_spec):
    """The name a checked metric spec is logged under (``valid.<name>``).

    >>> logged_name({"type": "top_k_accuracy", "k": 3})
    'top_3_accuracy'
    """
    entry = METRICS[metric_spec["type"]]
    args = {k: v for k, v in metric_spec.items() if k != "type"}
    return entry.logged_name(args) if entry.logged_name else metric_spec["type"]


def metric_values(metric_specs, outputs, y, recipe=None):
    """``{logged name: value}`` of the checked ``metric_specs`` (``resolved['metrics']``)
    on a split's ``outputs`` and labels ``y``.

    A metric that cannot score these outputs (``top_k_accuracy`` with k past the
    number of classes) is a RecipeErrors at ``metrics[i]`` (its position when
    ``recipe`` is given).

    >>> import numpy as np
    >>> metric_values([{"type": "accuracy"}, {"type": "top_k_accuracy", "k": 2}],
    ...               np.array([[0.9, 0.1, 0.0], [0.2, 0.5, 0.3]]), np.array([0, 2]))
    {'accuracy': 0.5, 'top_2_accuracy': 1.0}
    """
    values = {}
    for k, spec in enumerate(metric_specs):
        args = {key: v for key, v in spec.items() if key != "type"}
        try:
            value = METRICS[spec["type"]].compute(outputs, y, **args)
        except (ValueError, IndexError) as exc:
            path = ("metrics", k)
            where = recipe.where(path) if recipe is not None else None
            raise RecipeErrors([RecipeError(f"cannot score the model's outputs: {exc}", path,
                                            where)]) from None
        values[logged_name(spec)] = float(value)
    return values


# -- optimizers and schedules: hyperparameters read from the signatures -----------------
def _hyperparameters(fn, skip):
    """``{name: (schema, default)}`` of ``fn``'s numeric arguments: bools, ints (and
    required ``*steps``/``step_size``: counts >= 1), else numbers >= 0."""
    fields = {}
    for p in inspect.signature(fn).parameters.values():
        if p.name in skip or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        default = REQUIRED if p.default is p.empty else p.default
        if isinstance(default, bool):
            fields[p.name] = (Bool(), default)
        elif (isinstance(default, int) and not isinstance(default, bool)) or (
                default is REQUIRED and p.name.endswith(("steps", "step_size"))):
            fields[p.name] = (Int(min=1 if default is REQUIRED else 0), default)
        else:
            fields[p.name] = (Float(min=0), default)
    return fields


OPTIMIZERS = dict(optim.RULES)


def _optimizer_spec(name, rule):
    fields = _hyperparameters(rule, {"loss_or_grads", "params", "name", "updates"})
    if "learning_rate" in fields:
        # 0 would train and change nothing: refused for every optimizer alike
        fields["learning_rate"] = (Float(min=0, exclusive_min=True),
                                   fields["learning_rate"][1])
    fields["grad_clip"] = (Nullable(Float(min=0, exclusive_min=True)), None)
    fields["weight_decay_l2"] = (Float(min=0), 0.0)
    return Map(fields, f"the {name} optimizer")


def optimizer_choice():
    """The schema of ``optimizer``: an update rule and its hyperparameters."""
    return Choice({name: _optimizer_spec(name, rule) for name, rule in OPTIMIZERS.items()},
                  "optimizer")


#: schedules a recipe names (``warmup`` is the ``warmup:`` key of every schedule)
SCHEDULES = {name: cls for name, cls in optim.SCHEDULES.items() if name != "warmup"}


def _schedule_spec(name, cls):
    fields = _hyperparameters(cls, {"self", "base_lr", "lr", "schedule_or_lr"})
    fields["per"] = (Str(["epoch", "step"]), "epoch")
    fields["warmup"] = (Int(min=0), 0)
    return Map(fields, f"the {name} schedule")


def schedule_choice():
    """The schema of ``schedule``: a learning-rate schedule and its arguments."""
    return Choice({name: _schedule_spec(name, cls) for name, cls in SCHEDULES.items()},
                  "schedule")


# -- datasets, model builders, data splits: registered in code or by installed packages ---
DATASETS = {}   # registered in code: name -> (loader(**args) -> Dataset, Map of args)
# name -> (builder(input_layer, args, context) -> output layer, Map of args, report hook):
# context holds the prepared splits and the seed; report_hook(prepared, resolved) -> dict
# of extra entries for report.json
MODELS = {}
SPLITS = {}     # name -> (function, Map of args): a protocol splitting a dataset its own way


def register_dataset(name, loader, spec=None):
    """Make dataset ``name`` available to recipes (``data.dataset.type``); ``spec``
    defaults to the schema read from ``loader``'s signature."""
    DATASETS[name] = (loader, spec if spec is not None else _dataset_spec(name, loader))


def register_model(name, builder, spec, report_hook=None):
    """Make model builder ``name`` available to recipes (``model.builder.type``)."""
    MODELS[name] = (builder, spec, report_hook)


def register_split(name, function, spec):
    """Make the data split protocol ``name`` available to recipes."""
    SPLITS[name] = (function, spec)


def _dataset_spec(name, loader):
    """The schema of a loader's arguments, from its signature."""
    fields = {}
    for p in inspect.signature(loader).parameters.values():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        default = REQUIRED if p.default is p.empty else p.default
        if isinstance(default, bool):
            spec = Bool()
        elif isinstance(default, int):
            spec = Int()
        elif isinstance(default, float):
            spec = Float()
        else:   # paths, array names, shapes: each loader checks its own
            spec = Nullable(OneOf(Str(), Int(), Float(), Seq(Int(min=1))))
        fields[p.name] = (spec, default)
    return Map(fields, f"the {name} dataset")


@functools.cache
def _builtin_datasets():
    """The loaders of :mod:`nnframe.data` with their schemas, read on first use
    (importing nnframe.data costs, and listing the vocabulary must not)."""
    from nnframe import data
    return {name: (loader, _dataset_spec(name, loader)) for name, loader in data.DATASETS.items()}


def _datasets():
    """The datasets recipes may name: nnframe's, and those registered in code (which win)."""
    return {**_builtin_datasets(), **DATASETS}


def _as_model(obj):
    if not isinstance(obj, tuple) or len(obj) not in (2, 3) or not callable(obj[0]) or \
            not isinstance(obj[1], Map):
        raise TypeError("a model builder entry is (builder, Map of its arguments[, "
                        f"report_hook]), got {obj!r}")
    return obj if len(obj) == 3 else (*obj, None)


def _as_split(obj):
    if not isinstance(obj, tuple) or len(obj) != 2 or not callable(obj[0]) or \
            not isinstance(obj[1], Map):
        raise TypeError(f"a data split entry is (function, Map of its arguments), got {obj!r}")
    return obj


def _as_layer(obj):
    if isinstance(obj, LayerEntry):
        return obj
    if isinstance(obj, type) and issubclass(obj, layers.Layer):
        return layer_entry(obj)
    raise TypeError(f"a layer entry is a Layer subclass or a LayerEntry, got {obj!r}")


def _as_dataset(obj):
    if isinstance(obj, tuple) and len(obj) == 2 and callable(obj[0]) and \
            isinstance(obj[1], Map):
        return obj
    if callable(obj):
        return obj, _dataset_spec(getattr(obj, "__name__", "dataset"), obj)
    raise TypeError(f"a dataset entry is a loader function or (loader, Map of its "
                    f"arguments), got {obj!r}")


@dataclasses.dataclass(frozen=True)
class _Group:
    """A vocabulary installed packages may add to: the table of entries registered in
    code (they win over entry points), how an entry point's object becomes an entry,
    and what an entry is called in messages."""

    table: Callable
    adapt: Callable
    what: str


#: entry point group ``nnframe.<key>`` -> its vocabulary
GROUPS = {
    "recipe_layers": _Group(lambda: LAYERS, _as_layer, "layer"),
    "recipe_models": _Group(lambda: MODELS, _as_model, "model builder"),
    "recipe_datasets": _Group(_datasets, _as_dataset, "dataset"),
    "recipe_splits": _Group(lambda: SPLITS, _as_split, "data split"),
}
_LOADED = {group: {} for group in GROUPS}     # entries loaded from entry points


def declared_applications(group):
    """``{name: EntryPoint}`` of the installed packages' entry points in group
    ``nnframe.<group>`` (nothing is imported)."""
    return {point.name: point
            for point in importlib.metadata.entry_points(group=f"nnframe.{group}")}


def application_names(group):
    """The names of ``group``'s entries, registered in code or declared by installed
    packages, sorted; nothing is imported.

    >>> "dense" in application_names("recipe_layers")
    True
    """
    return sorted(set(GROUPS[group].table()) | set(declared_applications(group)))


def application(group, name):
    """Entry ``name`` of ``group`` (``recipe_models``, ``recipe_splits``,
    ``recipe_layers``, ``recipe_datasets``): the one registered in code, else the entry
    point ``name`` of group ``nnframe.<group>``, imported now (once).

    KeyError when neither knows the name; a RunError naming the package when its entry
    point cannot be loaded or is not an entry of this group.
    """
    kind = GROUPS[group]
    table = kind.table()
    if name in table:
        return table[name]
    loaded = _LOADED[group]
    if name not in loaded:
        point = declared_applications(group).get(name)
        if point is None:
            raise KeyError(f"no {kind.what} {name!r} (known: "
                           f"{', '.join(application_names(group))})")
        loaded[name] = _load(point, kind)
    return loaded[name]


def _load(point, kind):
    package = point.dist.name if point.dist is not None else "an installed package"
    try:
        return kind.adapt(point.load())
    except Exception as exc:    # an installed package's import may fail in any way
        raise RunError(
            f"the {kind.what} {point.name!r} is declared by {package} (entry point "
            f"{point.name} = {point.value} in group {point.group}) but cannot be loaded: "
            f"{type(exc).__name__}: {exc}; fix or reinstall that package (for nnframe "
            "itself: pip install -e .)") from exc


class _Specs(Mapping):
    """The argument schemas of a group's entries by name; an entry point is loaded only
    when its schema is asked for, so listing the names imports nothing."""

    def __init__(self, group, spec_of):
        self.group, self.spec_of = group, spec_of

    def __getitem__(self, name):
        return self.spec_of(application(self.group, name))

    def __contains__(self, name):
        return name in application_names(self.group)

    def __iter__(self):
        return iter(application_names(self.group))

    def __len__(self):
        return len(application_names(self.group))


def model_entry(name):
    """``(builder, spec, report_hook)`` of model builder ``name`` (KeyError if unknown)."""
    return application("recipe_models", name)


def dataset_entry(name):
    """``(loader, spec)`` of dataset ``name`` (KeyError if unknown)."""
    return application("recipe_datasets", name)


def model_choice():
    """The schema of ``model.builder``."""
    return Choice(_Specs("recipe_models", lambda entry: entry[1]), "model builder")


def dataset_spec():
    """The schema of ``data.dataset``."""
    return Choice(_Specs("recipe_datasets", lambda entry: entry[1]), "dataset")
