"""The closed registries a recipe may name: layers, initialisers, nonlinearities,
losses, metrics, optimizers, schedules, datasets and model builders.

Each entry pairs a name with the schema of its arguments, so a recipe is
validated completely before anything is built, and nothing a recipe says can
import or construct anything else.  Python code may add entries
(``register_model('my_net', builder, Map({...}))``); a recipe never can.
"""
import importlib
import inspect
from collections.abc import Mapping

from nnframe import init, layers, nonlinearities, optim
from nnframe.layers import LayerError
from nnframe.train.recipe import REQUIRED, Bool, Choice, Float, Int, Map, Nullable, OneOf, Seq, Str

__all__ = ["LAYERS", "SEQUENCE_LAYERS", "INITIALIZERS", "NONLINEARITIES", "LOSSES", "METRICS",
           "OPTIMIZERS", "SCHEDULES", "MODELS", "register_model", "register_dataset", "dataset_spec",
           "layer_choice", "optimizer_choice", "schedule_choice", "model_entry",
           "APPLICATION_MODELS"]

NONLINEARITIES = {
    "relu": nonlinearities.rectify, "rectify": nonlinearities.rectify,
    "tanh": nonlinearities.tanh, "sigmoid": nonlinearities.sigmoid,
    "softmax": nonlinearities.softmax, "linear": nonlinearities.linear,
    "identity": nonlinearities.linear, "elu": nonlinearities.elu, "selu": nonlinearities.selu,
    "softplus": nonlinearities.softplus, "leaky_relu": nonlinearities.leaky_rectify,
}

INITIALIZERS = {
    "constant": (init.Constant, Map({"val": (Float(), 0.0)}, "a constant initialiser")),
    "normal": (init.Normal, Map({"std": (Float(min=0), 0.01), "mean": (Float(), 0.0)},
                                "a normal initialiser")),
    "uniform": (init.Uniform, Map({"range": (Float(min=0), 0.01)}, "a uniform initialiser")),
    "glorot_uniform": (init.GlorotUniform, Map({"gain": (OneOf(Float(min=0), Str(["relu"])),
                                                         1.0)}, "glorot_uniform")),
    "glorot_normal": (init.GlorotNormal, Map({"gain": (OneOf(Float(min=0), Str(["relu"])),
                                                       1.0)}, "glorot_normal")),
    "he_uniform": (init.HeUniform, Map({"gain": (OneOf(Float(min=0), Str(["relu"])), 1.0)},
                                       "he_uniform")),
    "he_normal": (init.HeNormal, Map({"gain": (OneOf(Float(min=0), Str(["relu"])), 1.0)},
                                     "he_normal")),
    "orthogonal": (init.Orthogonal, Map({"gain": (OneOf(Float(min=0), Str(["relu"])), 1.0)},
                                        "orthogonal")),
}
INIT_SPEC = Choice({name: spec for name, (_, spec) in INITIALIZERS.items()}, "initialiser")


def make_initializer(spec):
    """An initialiser object from a checked ``{type: ..., ...}`` spec."""
    cls, _ = INITIALIZERS[spec["type"]]
    return cls(**{k: v for k, v in spec.items() if k != "type"})


_NONLIN = Str(sorted(NONLINEARITIES))
_PAIR = OneOf(Int(min=1), Seq(Int(min=1), length=2))
_PAD = OneOf(Str(["valid", "full", "same"]), Int(min=0), Seq(Int(min=0), length=2))


def _layer(cls, fields, build=None):
    fields = dict(fields)
    fields["name"] = (Nullable(Str()), None)
    return (cls, Map(fields, f"a {cls.__name__}"), build)


def _dense(incoming, name, args):
    return layers.DenseLayer(incoming, args["num_units"], W=make_initializer(args["W"]),
                             b=None if args["b"] is None else make_initializer(args["b"]),
                             nonlinearity=NONLINEARITIES[args["nonlinearity"]],
                             num_leading_axes=args["num_leading_axes"], name=name)


def _conv(incoming, name, args):
    return layers.Conv2DLayer(incoming, args["num_filters"], args["filter_size"],
                              stride=args["stride"], pad=args["pad"],
                              W=make_initializer(args["W"]),
                              b=None if args["b"] is None else make_initializer(args["b"]),
                              nonlinearity=NONLINEARITIES[args["nonlinearity"]],
                              flip_filters=args["flip_filters"], dilation=args["dilation"],
                              name=name)


def _conv1d(incoming, name, args):
    return layers.Conv1DLayer(incoming, args["num_filters"], args["filter_size"],
                              stride=args["stride"], pad=args["pad"],
                              W=make_initializer(args["W"]),
                              b=None if args["b"] is None else make_initializer(args["b"]),
                              nonlinearity=NONLINEARITIES[args["nonlinearity"]],
                              flip_filters=args["flip_filters"], name=name)


def _transposed_conv(incoming, name, args):
    output_size = args["output_size"]
    return layers.TransposedConv2DLayer(
        incoming, args["num_filters"], args["filter_size"], stride=args["stride"],
        crop=args["crop"], W=make_initializer(args["W"]),
        b=None if args["b"] is None else make_initializer(args["b"]),
        nonlinearity=NONLINEARITIES[args["nonlinearity"]], flip_filters=args["flip_filters"],
        output_size=output_size if output_size is None or isinstance(output_size, int)
        else tuple(output_size), name=name)


def _slice(incoming, name, args):
    indices = args["indices"]
    if not isinstance(indices, int):
        if len(indices) > 3:
            who = f"slice layer {name!r}" if name else "slice layer"
            raise LayerError(f"{who}: indices must be an int or [start, stop] or "
                             f"[start, stop, step] (null for none), got {indices}")
        indices = slice(*indices)
    return layers.SliceLayer(incoming, indices, axis=args["axis"], name=name)


def _pad(incoming, name, args):
    width = args["width"]
    if not isinstance(width, int):
        width = [w if isinstance(w, int) else tuple(w) for w in width]
    return layers.PadLayer(incoming, width, val=args["val"], batch_ndim=args["batch_ndim"],
                           name=name)


_GLOROT = {"type": "glorot_uniform", "gain": 1.0}
_ZERO = {"type": "constant", "val": 0.0}

# name -> (layer class, argument schema, builder(incoming, name, args) or None)
LAYERS = {
    "dense": _layer(layers.DenseLayer, {
        "num_units": (Int(min=1), REQUIRED), "nonlinearity": (_NONLIN, "relu"),
        "W": (INIT_SPEC, _GLOROT), "b": (Nullable(INIT_SPEC), _ZERO),
        "num_leading_axes": (Int(min=1), 1)}, _dense),
    "conv2d": _layer(layers.Conv2DLayer, {
        "num_filters": (Int(min=1), REQUIRED), "filter_size": (_PAIR, REQUIRED),
        "stride": (_PAIR, 1), "pad": (_PAD, 0), "nonlinearity": (_NONLIN, "relu"),
        "W": (INIT_SPEC, _GLOROT), "b": (Nullable(INIT_SPEC), _ZERO),
        "flip_filters": (Bool(), True), "dilation": (_PAIR, 1)}, _conv),
    "maxpool2d": _layer(layers.MaxPool2DLayer, {
        "pool_size": (_PAIR, REQUIRED), "stride": (Nullable(_PAIR), None),
        "pad": (OneOf(Int(min=0), Seq(Int(min=0), length=2)), 0),
        "ignore_border": (Bool(), True)}),
    "pool2d": _layer(layers.Pool2DLayer, {
        "pool_size": (_PAIR, REQUIRED), "stride": (Nullable(_PAIR), None),
        "pad": (OneOf(Int(min=0), Seq(Int(min=0), length=2)), 0),
        "ignore_border": (Bool(), True),
        "mode": (Str(["max", "average_inc_pad", "average_exc_pad"]), "max")}),
    "dropout": _layer(layers.DropoutLayer, {"p": (Float(min=0, max=1), 0.5),
                                            "rescale": (Bool(), True)}),
    "gaussian_noise": _layer(layers.GaussianNoiseLayer, {"sigma": (Float(min=0), 0.1)}),
    "batchnorm": _layer(layers.BatchNormLayer, {"epsilon": (Float(min=0, exclusive_min=True),
                                                            1e-4),
                                                "alpha": (Float(min=0, max=1), 0.1)}),
    "nonlinearity": _layer(layers.NonlinearityLayer, {"nonlinearity": (_NONLIN, "relu")},
                           lambda incoming, name, args: layers.NonlinearityLayer(
                               incoming, NONLINEARITIES[args["nonlinearity"]], name=name)),
    "flatten": _layer(layers.FlattenLayer, {"outdim": (Int(min=1), 2)}),
    "reshape": _layer(layers.ReshapeLayer, {"shape": (Seq(OneOf(Int(min=-1),
                                                                Seq(Int(min=0), length=1))),
                                                      REQUIRED)},
                      lambda incoming, name, args: layers.ReshapeLayer(
                          incoming, tuple(s if isinstance(s, int) else list(s)
                                          for s in args["shape"]), name=name)),
    "dimshuffle": _layer(layers.DimshuffleLayer, {"pattern": (Seq(OneOf(Int(min=0),
                                                                        Str(["x"]))), REQUIRED)},
                         lambda incoming, name, args: layers.DimshuffleLayer(
                             incoming, tuple(args["pattern"]), name=name)),
    "globalpool": _layer(layers.GlobalPoolLayer, {"pool_function": (Str(["mean", "max", "sum"]),
                                                                    "mean")},
                         lambda incoming, name, args: layers.GlobalPoolLayer(
                             incoming, _POOL_FUNCTIONS[args["pool_function"]], name=name)),
    "conv1d": _layer(layers.Conv1DLayer, {
        "num_filters": (Int(min=1), REQUIRED), "filter_size": (Int(min=1), REQUIRED),
        "stride": (Int(min=1), 1), "pad": (OneOf(Str(["valid", "full", "same"]), Int(min=0)), 0),
        "nonlinearity": (_NONLIN, "relu"), "W": (INIT_SPEC, _GLOROT),
        "b": (Nullable(INIT_SPEC), _ZERO), "flip_filters": (Bool(), True)}, _conv1d),
    "transposed_conv2d": _layer(layers.TransposedConv2DLayer, {
        "num_filters": (Int(min=1), REQUIRED), "filter_size": (_PAIR, REQUIRED),
        "stride": (_PAIR, 1), "crop": (_PAD, 0), "nonlinearity": (_NONLIN, "relu"),
        "W": (INIT_SPEC, _GLOROT), "b": (Nullable(INIT_SPEC), _ZERO),
        "flip_filters": (Bool(), False), "output_size": (Nullable(_PAIR), None)},
        _transposed_conv),
    "maxpool1d": _layer(layers.MaxPool1DLayer, {
        "pool_size": (Int(min=1), REQUIRED), "stride": (Nullable(Int(min=1)), None),
        "pad": (Int(min=0), 0), "ignore_border": (Bool(), True)}),
    "upscale2d": _layer(layers.Upscale2DLayer, {
        "scale_factor": (_PAIR, REQUIRED), "mode": (Str(["repeat", "dilate"]), "repeat")}),
    "lrn": _layer(layers.LocalResponseNormalization2DLayer, {
        "alpha": (Float(min=0), 1e-4), "k": (Float(), 2.0), "beta": (Float(), 0.75),
        "n": (Int(min=1), 5)}),
    "slice": _layer(layers.SliceLayer, {
        "indices": (OneOf(Int(), Seq(Nullable(Int()), min_len=1)), REQUIRED),
        "axis": (Int(), -1)}, _slice),
    "pad": _layer(layers.PadLayer, {
        "width": (OneOf(Int(min=0), Seq(OneOf(Int(min=0), Seq(Int(min=0), length=2)))),
                  REQUIRED),
        "val": (Float(), 0.0), "batch_ndim": (Int(min=0), 2)}, _pad),
    "binary_code": _layer(layers.BinaryCodeLayer, {
        "estimator": (Str(["none", "identity", "hardtanh", "noise"]), "identity"),
        "sigma": (Float(min=0), 3.0)}),
}


# -- recurrent layers -------------------------------------------------------------------
class _GradientSteps(Int):
    """``gradient_steps``: -1 (backpropagate through every step) or a positive count."""

    describe = "-1 (no truncation) or an integer >= 1"

    def check(self, value, path, errors):
        if self.convert(value) is None or not (value == -1 or value >= 1):
            return self.fail(value, path, errors)
        return value


_RECURRENT_OPTIONS = {
    "only_return_final": (Bool(), False), "backwards": (Bool(), False),
    "learn_init": (Bool(), False), "gradient_steps": (_GradientSteps(), -1),
    "grad_clipping": (Float(min=0), 0.0), "precompute_input": (Bool(), True),
    "unroll_scan": (Bool(), False)}
#: Lasagne's Gate() weights: N(0, 0.1)
_GATE_W = {"type": "normal", "std": 0.1, "mean": 0.0}
#: Lasagne's RecurrentLayer weights: init.Uniform() (range 0.01)
_RNN_W = {"type": "uniform", "range": 0.01}


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


def _recurrent_options(args, mask_input):
    options = {k: args[k] for k in _RECURRENT_OPTIONS}
    options["mask_input"] = mask_input
    return options


def _lstm(incoming, name, args, mask_input=None):
    _check_sequence_input(incoming, "lstm", name)

    def gate(**kwargs):   # Lasagne's gates, with the recipe's W_in and W_hid
        return layers.Gate(W_in=make_initializer(args["W_in"]),
                           W_hid=make_initializer(args["W_hid"]), **kwargs)

    return layers.LSTMLayer(incoming, args["num_units"], ingate=gate(), forgetgate=gate(),
                            cell=gate(W_cell=None, nonlinearity=nonlinearities.tanh),
                            outgate=gate(), nonlinearity=NONLINEARITIES[args["nonlinearity"]],
                            peepholes=args["peepholes"], name=name,
                            **_recurrent_options(args, mask_input))


def _gru(incoming, name, args, mask_input=None):
    _check_sequence_input(incoming, "gru", name)

    def gate(**kwargs):
        return layers.Gate(W_in=make_initializer(args["W_in"]),
                           W_hid=make_initializer(args["W_hid"]), W_cell=None, **kwargs)

    return layers.GRULayer(incoming, args["num_units"], resetgate=gate(), updategate=gate(),
                           hidden_update=gate(nonlinearity=nonlinearities.tanh), name=name,
                           **_recurrent_options(args, mask_input))


def _rnn(incoming, name, args, mask_input=None):
    _check_sequence_input(incoming, "recurrent", name)
    return layers.RecurrentLayer(
        incoming, args["num_units"], W_in_to_hid=make_initializer(args["W_in_to_hid"]),
        W_hid_to_hid=make_initializer(args["W_hid_to_hid"]),
        b=None if args["b"] is None else make_initializer(args["b"]),
        nonlinearity=NONLINEARITIES[args["nonlinearity"]], name=name,
        **_recurrent_options(args, mask_input))


_RECURRENT = {
    "lstm": _layer(layers.LSTMLayer, {
        "num_units": (Int(min=1), REQUIRED), "nonlinearity": (_NONLIN, "tanh"),
        "peepholes": (Bool(), True), "W_in": (INIT_SPEC, _GATE_W),
        "W_hid": (INIT_SPEC, _GATE_W), **_RECURRENT_OPTIONS}, _lstm),
    "gru": _layer(layers.GRULayer, {
        "num_units": (Int(min=1), REQUIRED), "W_in": (INIT_SPEC, _GATE_W),
        "W_hid": (INIT_SPEC, _GATE_W), **_RECURRENT_OPTIONS}, _gru),
    "recurrent": _layer(layers.RecurrentLayer, {
        "num_units": (Int(min=1), REQUIRED), "nonlinearity": (_NONLIN, "relu"),
        "W_in_to_hid": (INIT_SPEC, _RNN_W), "W_hid_to_hid": (INIT_SPEC, _RNN_W),
        "b": (Nullable(INIT_SPEC), _ZERO), **_RECURRENT_OPTIONS}, _rnn),
}


def _bidirectional(incoming, name, args, mask_input=None):
    """The recurrent layer ``args['layer']`` and its copy with backwards=True, both on
    ``incoming``, joined by concatenation along the last axis or by a sum.

    Names: the inner layer's ``name`` X gives X and X.backward; otherwise the
    wrapper's name N gives N.forward and N.backward (the merge layer is N).
    """
    inner = args["layer"]
    build = LAYERS[inner["type"]][2]
    inner_args = {k: v for k, v in inner.items() if k not in ("type", "name")}
    forward_name = inner["name"] or (f"{name}.forward" if name else None)
    forward = build(incoming, forward_name, inner_args, mask_input)
    backward_name = f"{name}.backward" if name and not inner["name"] else \
        f"{forward.name}.backward"
    backward = build(incoming, backward_name, dict(inner_args, backwards=True), mask_input)
    if args["merge"] == "concat":
        return layers.ConcatLayer([forward, backward], axis=-1, name=name)
    return layers.ElemwiseSumLayer([forward, backward], name=name)


LAYERS.update(_RECURRENT)
LAYERS["bidirectional"] = (layers.ConcatLayer, Map({
    "layer": (Choice({k: spec for k, (_, spec, _) in _RECURRENT.items()}, "recurrent layer"),
              REQUIRED),
    "merge": (Str(["concat", "sum"]), "concat"),
    "name": (Nullable(Str()), None)}, "a bidirectional wrapper"), _bidirectional)

#: Layer types that take the dataset's mask (``mask_input``) when it has one.
SEQUENCE_LAYERS = frozenset(_RECURRENT) | {"bidirectional"}


def _pool_functions():
    import nnframe.tensor as T
    return {"mean": T.mean, "max": T.max, "sum": T.sum}


_POOL_FUNCTIONS = _pool_functions()


def build_layer(spec, incoming, mask_input=None):
    """The layer a checked ``{type: ..., name: ..., ...}`` spec describes, on ``incoming``.

    The layers of :data:`SEQUENCE_LAYERS` get ``mask_input`` (a layer giving the
    ``(batch, time)`` mask, or None); the others ignore it.
    """
    cls, _, build = LAYERS[spec["type"]]
    args = {k: v for k, v in spec.items() if k not in ("type", "name")}
    if spec["type"] in SEQUENCE_LAYERS:
        return build(incoming, spec["name"], args, mask_input)
    if build is not None:
        return build(incoming, spec["name"], args)
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    return cls(incoming, name=spec["name"], **args)


def layer_choice():
    return Choice({name: spec for name, (_, spec, _) in LAYERS.items()}, "layer")


# -- losses and metrics ---------------------------------------------------------------
LOSSES = {
    "categorical_crossentropy_from_logits": "labels",
    "categorical_crossentropy": "labels",
    "binary_crossentropy_from_logits": "labels",
    "binary_crossentropy": "labels",
    "squared_error": "any",
    "multiclass_hinge": "labels",
}

METRICS = {
    "accuracy": Map({}, "the accuracy metric"),
    "top_k_accuracy": Map({"k": (Int(min=1), 5)}, "the top_k_accuracy metric"),
}


# -- optimizers and schedules: argument schemas read from the functions' signatures ------
def _numeric_fields(fn, skip):
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


OPTIMIZERS = {name: rule for name, rule in optim.RULES.items()}


def optimizer_choice():
    options = {}
    for name, rule in OPTIMIZERS.items():
        fields = _numeric_fields(rule, {"loss_or_grads", "params", "name", "updates"})
        if "learning_rate" in fields and fields["learning_rate"][1] is REQUIRED:
            fields["learning_rate"] = (Float(min=0, exclusive_min=True), REQUIRED)
        fields["grad_clip"] = (Nullable(Float(min=0, exclusive_min=True)), None)
        fields["weight_decay_l2"] = (Float(min=0), 0.0)
        options[name] = Map(fields, f"the {name} optimizer")
    return Choice(options, "optimizer")


SCHEDULES = dict(optim.SCHEDULES)


def schedule_choice():
    options = {}
    for name, cls in SCHEDULES.items():
        if name == "warmup":
            continue
        fields = _numeric_fields(cls, {"self", "base_lr", "lr", "schedule_or_lr"})
        fields["per"] = (Str(["epoch", "step"]), "epoch")
        fields["warmup"] = (Int(min=0), 0)
        options[name] = Map(fields, f"the {name} schedule")
    return Choice(options, "schedule")


# -- datasets and model builders ----------------------------------------------------------
DATASETS = {}   # name -> (loader(**args) -> Dataset, Map of args)
# name -> (builder(input_layer, args, context) -> output layer, Map of args, report hook):
# context holds the prepared splits and the seed; report_hook(prepared, resolved) -> dict
# of extra entries for report.json
MODELS = {}


def register_dataset(name, loader, spec):
    """Make dataset ``name`` available to recipes (``data.dataset.type``)."""
    DATASETS[name] = (loader, spec)


def register_model(name, builder, spec, report_hook=None):
    """Make model builder ``name`` available to recipes (``model.builder.type``)."""
    MODELS[name] = (builder, spec, report_hook)


#: Model builders of nnframe's applications: name -> the module that registers it.  The
#: module is imported only when a recipe names the builder, so training an MLP never
#: imports the hashing package.
APPLICATION_MODELS = {"hashing_autoencoder": "nnframe.hashing.model"}


def model_entry(name):
    """``(builder, spec, report_hook)`` of model builder ``name`` (KeyError if unknown)."""
    if name not in MODELS and name in APPLICATION_MODELS:
        importlib.import_module(APPLICATION_MODELS[name])
    return MODELS[name]


class _ModelSpecs(Mapping):
    """The argument schemas of the model builders, by name, loading applications lazily."""

    def __getitem__(self, name):
        return model_entry(name)[1]

    def __iter__(self):
        return iter(sorted(set(MODELS) | set(APPLICATION_MODELS)))

    def __len__(self):
        return len(set(MODELS) | set(APPLICATION_MODELS))


def model_choice():
    return Choice(_ModelSpecs(), "model builder")


def dataset_spec():
    _register_builtin_datasets()
    return Choice({name: spec for name, (_, spec) in DATASETS.items()}, "dataset")


def _register_builtin_datasets():
    """The loaders of :mod:`nnframe.data`, with argument schemas from their signatures."""
    if DATASETS:
        return
    from nnframe import data
    for name, loader in data.DATASETS.items():
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
            else:
                spec = Nullable(OneOf(Str(), Int(), Float(), Seq(Int(min=1))))
            fields[p.name] = (spec, default)
        DATASETS[name] = (loader, Map(fields, f"the {name} dataset"))
