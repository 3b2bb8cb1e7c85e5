"""Building the network, the loss and the compiled functions a recipe describes."""
import numpy as np

import nnframe.tensor as T
from nnframe import Out, function, layers, optim
from nnframe.layers import LayerError
from nnframe.train import registry
from nnframe.train.recipe import RecipeError, RecipeErrors

__all__ = ["build_network", "build_functions", "Model"]


class Model:
    """The network of a recipe and what training needs of it.

    ``mask_layer`` is the ``InputLayer((None, time), name='mask')`` the
    recurrent layers take their ``mask_input`` from when the dataset has a
    mask, else None; the compiled functions then take the mask after ``x``.
    """

    def __init__(self, input_layer, output_layer, report_hook=None, mask_layer=None):
        self.input_layer = input_layer
        self.output_layer = output_layer
        self.report_hook = report_hook   # builder-specific evaluation for report.json
        self.mask_layer = mask_layer

    @property
    def params(self):
        return layers.get_all_params(self.output_layer)

    def summary(self):
        return layers.summary(self.output_layer)


def build_network(resolved, input_shape, recipe=None, context=None, mask=False):
    """The :class:`Model` of ``resolved['model']`` for examples of ``input_shape``.

    A model builder gets ``context``: the prepared data splits and the seed
    (e.g. to initialise from a baseline fitted on the training data).  With
    ``mask`` (the dataset has a ``(n, time)`` mask), every recurrent layer of
    the stack gets a mask ``InputLayer((None, time), name='mask')`` as its
    ``mask_input``; a model with no recurrent layer is then an error.
    """
    spec = resolved["model"]
    if spec["input_shape"] is not None and tuple(spec["input_shape"]) != tuple(input_shape):
        raise _error(f"the dataset's examples have shape {tuple(input_shape)}, not "
                     f"{tuple(spec['input_shape'])}", ("model", "input_shape"), recipe)
    l_in = layers.InputLayer((None,) + tuple(input_shape), name="input")
    l_mask = layers.InputLayer((None, input_shape[0]), name="mask") if mask else None
    if mask and not any(registry.layer_takes_mask(layer_spec["type"])
                        for layer_spec in spec["layers"] or []):
        raise _error("the dataset has a mask, but no layer of the model takes one: masks are "
                     f"for the recurrent layers ({', '.join(sorted(registry.SEQUENCE_LAYERS))}); "
                     "add one, or drop the mask from the dataset", ("data", "dataset", "mask"),
                     recipe)
    if spec["builder"] is not None:
        builder, _, report_hook = registry.model_entry(spec["builder"]["type"])
        args = {k: v for k, v in spec["builder"].items() if k != "type"}
        try:
            return Model(l_in, builder(l_in, args, context or {}), report_hook)
        except LayerError as exc:
            raise _error(str(exc), ("model", "builder"), recipe) from None
    layer = l_in
    for k, layer_spec in enumerate(spec["layers"]):
        try:
            layer = registry.build_layer(layer_spec, layer, mask_input=l_mask)
        except LayerError as exc:
            message = str(exc)
            if repr(layer.name) not in message:     # say what the layer was built on
                message += f" (after {layer.describe()} with output shape {layer.output_shape})"
            raise _error(message, ("model", "layers", k), recipe) from None
    return Model(l_in, layer, mask_layer=l_mask)


def _error(message, path, recipe):
    err = RecipeError(message, path, recipe.where(path) if recipe is not None else None)
    return RecipeErrors([err])


def loss_expression(resolved, prediction, target):
    """The symbolic training loss (a scalar) of ``prediction`` against ``target``: the
    per-item loss of ``registry.LOSSES[loss.type]``, summed over each item's features
    with ``sum_features``, then the mean or sum over the batch (``aggregate``).

    >>> import nnframe.tensor as T
    >>> resolved = {"loss": {"type": "squared_error", "sum_features": True,
    ...                      "aggregate": "mean"}}
    >>> loss = loss_expression(resolved, T.fmatrix("prediction"), T.fmatrix("target"))
    >>> loss.ndim
    0
    """
    spec = resolved["loss"]
    entry = registry.LOSSES[spec["type"]]
    if target.ndim == 1 and prediction.ndim == 2 and entry.elementwise:
        # 0/1 labels or one number per example, against one output unit (checked by
        # nnframe.train.checks): a column, as the outputs are
        target = target.dimshuffle(0, "x")
    per_item = entry.expression(prediction, target)
    if per_item.ndim > 1 and spec["sum_features"]:
        per_item = per_item.sum(axis=tuple(range(1, per_item.ndim)))
    return per_item.mean() if spec["aggregate"] == "mean" else per_item.sum()


def target_variable(resolved, model, y_dtype, y_ndim=None):
    """The symbolic targets the compiled functions take: the input variable for
    ``loss.target: inputs``; else class indices ``(n,)`` as int64, other targets of their
    dtype and rank ``y_ndim`` (the output's rank when not given).

    >>> import numpy as np
    >>> resolved = {"loss": {"target": "labels"}}
    >>> target_variable(resolved, None, np.dtype("float64"), 1).ndim
    1
    """
    if resolved["loss"]["target"] == "inputs":
        return model.input_layer.input_var
    if y_ndim is None:
        y_ndim = 1 if y_dtype.kind in "iu" else len(model.output_layer.output_shape)
    if y_dtype.kind in "iu" and y_ndim == 1:
        return T.lvector("y")
    return T.tensor("float32" if y_dtype == np.float32 else str(y_dtype),
                    shape=(None,) * y_ndim, name="y")


def build_functions(resolved, model, y_dtype, y_ndim=None, world=None):
    """Compiled ``train(x, y) -> loss``, ``evaluate(x, y) -> (loss, prediction)`` and the
    optimizer's updates, from the resolved recipe.

    With a mask (``model.mask_layer``) they are ``train(x, mask, y)`` and
    ``evaluate(x, mask, y)``; without labels (``loss.target: inputs``) ``y`` is left out.
    With ``world`` (a data-parallel job, :mod:`nnframe.distributed`) ``train`` is a
    :class:`~nnframe.distributed.DataParallel` step instead: the same objective, the
    gradients summed over the ranks, then the same update rule on every rank.
    """
    from nnframe.regularization import l1, l2, regularize_network_params
    target_is_input = resolved["loss"]["target"] == "inputs"
    x = model.input_layer.input_var
    y = target_variable(resolved, model, y_dtype, y_ndim)
    train_out = layers.get_output(model.output_layer, deterministic=False)
    test_out = layers.get_output(model.output_layer, deterministic=True)
    loss = loss_expression(resolved, train_out, y)
    penalties = [resolved["loss"][kind] * regularize_network_params(model.output_layer, norm)
                 for kind, norm in (("l2", l2), ("l1", l1)) if resolved["loss"][kind]]
    params = layers.get_all_params(model.output_layer, trainable=True)
    opt = dict(resolved["optimizer"])
    rule = registry.OPTIMIZERS[opt.pop("type")]
    clip, decay = opt.pop("grad_clip"), opt.pop("weight_decay_l2")

    def update_rule(grads, params):
        if decay:
            grads = optim.apply_weight_decay(grads, params, decay)
        if clip:
            grads = optim.total_norm_constraint(grads, clip)
        return rule(grads, params, **opt)

    inputs = [x]
    if model.mask_layer is not None:
        inputs.append(model.mask_layer.input_var)
    if not target_is_input:
        inputs.append(y)
    if world is not None:
        from nnframe.distributed import DataParallel
        penalty = sum(penalties[1:], penalties[0]) if penalties else None
        train = DataParallel(inputs, loss, params, update_rule, penalty=penalty,
                             mean=resolved["loss"]["aggregate"] == "mean", world=world)
        updates = train.updates
    else:
        objective = sum(penalties, loss)     # loss + l2 term + l1 term, in that order
        updates = update_rule(T.grad(objective, params), params)
        # borrowed: on OpenCL the loss stays on the device until the trainer reads it
        train = function(inputs, Out(loss, borrow=True), updates=updates, name="train")
    test_loss = loss_expression(resolved, test_out, y)
    evaluate = function(inputs, [test_loss, test_out], name="evaluate")
    return train, evaluate, updates
