"""Evaluating a split, and the report of a finished run (``report.json``).

>>> final_metrics_lines({"test": {"accuracy": 0.98}, "seconds": 3.2}, ["test"])
['final test: accuracy 0.9800']
"""
import numpy as np

from nnframe.train import registry

__all__ = ["evaluate", "report", "final_metrics_lines", "batch_arguments"]


def _batches(n, size):
    return [np.arange(s, min(s + size, n)) for s in range(0, n, size)]


def batch_arguments(split, idx, target_is_input):
    """The arguments of ``train``/``evaluate`` for the examples ``idx`` of ``split``:
    ``x``, then the mask when the data has one, then the targets unless they are ``x``."""
    args = [split.x[idx]]
    if split.mask is not None:
        args.append(split.mask[idx])
    if not target_is_input:
        args.append(split.y[idx])
    return args


def _evaluated_batches(evaluate_fn, split, batch_size, target_is_input, world):
    """``[(loss, outputs)]`` of every batch of the split, in order.  In a data-parallel job
    (``world``) rank k evaluates batches k, k + N, ... and rank 0 gets them all (the same
    batches in the same order as one process: the same sums); the other ranks get None."""
    batches = _batches(len(split.x), batch_size)
    mine = range(len(batches)) if world is None else range(world.rank, len(batches), world.size)
    done = [(k, *evaluate_fn(*batch_arguments(split, batches[k], target_is_input)))
            for k in mine]
    if world is not None and world.size > 1:
        gathered = world.gather(done, "gathering the evaluation's batches")
        if gathered is None:
            return None, batches
        done = sorted((item for part in gathered for item in part), key=lambda item: item[0])
    return [(loss, out) for _, loss, out in done], batches


def evaluate(evaluate_fn, split, resolved, batch_size, predictions=False, recipe=None,
             world=None):
    """Loss and metrics of a split (deterministic outputs), averaged over its examples;
    ``recipe`` places a metric's error (``file:line:col: metrics[i]``).

    ``world``: a data-parallel job (:mod:`nnframe.distributed`), whose ranks share the
    batches; rank 0 gets the result, the other ranks None.
    """
    target_is_input = resolved["loss"]["target"] == "inputs"
    results, batches = _evaluated_batches(evaluate_fn, split, batch_size, target_is_input,
                                          world)
    if results is None:
        return (None, None) if predictions else None
    total, outs = 0.0, []
    for idx, (loss, out) in zip(batches, results):
        weight = len(idx) if resolved["loss"]["aggregate"] == "mean" else 1
        total += float(loss) * weight
        outs.append(out)
    n = len(split.x)
    result = {"loss": total / n if resolved["loss"]["aggregate"] == "mean" else total}
    output = np.concatenate(outs) if outs else None
    if resolved["metrics"]:
        result.update(registry.metric_values(resolved["metrics"], output, split.y, recipe))
    return (result, output) if predictions else result


#: report.json keys that describe the run rather than measure the model
_RUN_KEYS = {"recipe", "seed", "best", "epochs", "steps", "stopped_early", "seconds", "time"}


def final_metrics_lines(report, split_names):
    """The final metrics of a report, as printed at the end of a run.

    >>> final_metrics_lines({"test": {"accuracy": 0.98}, "seconds": 3.2, "mAP": 0.45},
    ...                     ["test"])
    ['final test: accuracy 0.9800', 'final mAP 0.4500']
    """
    def show(values):
        return "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in values.items())
    lines = [f"final {name}: {show(report[name])}" for name in split_names]
    extra = {k: v for k, v in report.items() if k not in _RUN_KEYS and k not in split_names}
    if extra:
        lines.append(f"final {show(extra)}")
    return lines


def report(p, eval_fn, resolved, progress, monitor, stopped_early, world=None):
    """The contents of ``report.json``: the final loss and metrics of every split, the best
    epoch and its ``monitor`` value, how long the run went, and what the model's report hook
    adds (the hashing builder's retrieval metrics).  In a data-parallel job (``world``)
    every rank evaluates a share; rank 0 gets the report, the others None."""
    result = {"recipe": resolved["name"], "seed": resolved["seed"]}
    outputs = {}
    batch_size = resolved["train"]["batch_size"]
    for name, split in p.splits.items():
        result[name], outputs[name] = evaluate(eval_fn, split, resolved, batch_size,
                                               predictions=True, recipe=p.recipe, world=world)
    if world is not None and not world.is_root:
        return None
    result["best"] = {"epoch": progress["best_epoch"], monitor: progress["best"]}
    result["epochs"] = progress["epoch"]
    result["steps"] = progress["step"]
    result["stopped_early"] = stopped_early
    if p.model.report_hook is not None:
        result.update(p.model.report_hook(p, resolved))
    return result
