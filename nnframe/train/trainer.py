"""The training loop of ``python -m nnframe.train``.

One seed drives everything: ``SeedSequence(seed)`` gives independent streams
for parameter initialisation (and the seeds of dropout/noise streams), the
data split and the minibatch order.  The minibatch order of epoch e depends
only on (seed, e), and checkpoints hold every piece of state that changes
while training (parameters, optimizer state, the random streams' states,
progress), so a run resumed from the checkpoint of epoch k redoes exactly
what the uninterrupted run did: the final parameters are bit for bit equal on
the NumPy backend.
"""
import math
import os
import sys
import time

import numpy as np
import yaml

from nnframe import checkpoint as ckpt
from nnframe import config, data, metrics, rng
from nnframe.train import registry
from nnframe.train.logs import MetricsLog, plot_curves, write_report
from nnframe.train.model import build_functions, build_network
from nnframe.train.recipe import RecipeError, RecipeErrors, load_recipe, parse_override
from nnframe.train.schema import check_recipe

__all__ = ["run", "TrainingStopped", "prepare"]


class TrainingStopped(RuntimeError):
    """Training stopped on a non-finite loss; the last good checkpoint is kept."""


# -- setting up ----------------------------------------------------------------------------
class Prepared:
    """Everything built from a recipe before training: data, model, functions."""


def _seeds(seed):
    init_ss, split_ss, shuffle_ss = np.random.SeedSequence(seed).spawn(3)
    return (np.random.default_rng(init_ss), int(split_ss.generate_state(1)[0]),
            int(shuffle_ss.generate_state(1)[0]))


def _load_data(resolved, recipe, split_seed):
    spec = dict(resolved["data"]["dataset"])
    name = spec.pop("type")
    loader, _ = registry.DATASETS[name]
    try:
        dataset = loader(**spec)
    except (data.DatasetError, ImportError, OSError, ValueError) as exc:
        # at the argument naming the array at fault (x, y, mask) when the error says which
        argument = getattr(exc, "argument", None)
        path = ("data", "dataset") + ((argument,) if argument in spec else ())
        raise RecipeErrors([RecipeError(str(exc), path, recipe.where(path))]) from None
    if resolved["data"]["retrieval"] is not None:
        if dataset.mask is not None:
            path = ("data", "dataset", "mask")
            raise RecipeErrors([RecipeError("the retrieval protocol takes no mask (it is for "
                                            "sequences and recurrent layers)", path,
                                            recipe.where(path))])
        return dataset, _retrieval_split(dataset, resolved, recipe)
    split = resolved["data"]["split"]
    sizes = {k: split[k] for k in ("train", "valid", "test") if split[k]}
    as_counts = all(isinstance(v, int) and not (v == 1 and k == "train" and len(sizes) == 1)
                    for k, v in sizes.items())
    try:
        if as_counts:
            parts = data.split(dataset, sizes=sizes, seed=split_seed,
                               stratify=split["stratify"])
        else:
            parts = data.split(dataset, fractions={k: float(v) for k, v in sizes.items()},
                               seed=split_seed, stratify=split["stratify"])
    except (data.DatasetError, ValueError) as exc:
        path = ("data", "split")
        raise RecipeErrors([RecipeError(str(exc), path, recipe.where(path))]) from None
    mode = resolved["data"]["standardize"]
    if mode != "none":
        standardizer = data.Standardizer(scale=(mode == "standard")).fit(parts["train"].x)
        parts = {k: standardizer.transform(v) for k, v in parts.items()}
    return dataset, parts


def _retrieval_split(dataset, resolved, recipe):
    """The hashing protocol's query/database split (the database is the training set).

    It uses the recipe's seed itself, so baselines fitted with the same seed
    (``nnframe.hashing.compare``) see exactly the same split.
    """
    from nnframe.hashing.protocol import split_protocol
    conf = resolved["data"]["retrieval"]
    x = dataset.x.reshape(len(dataset.x), -1)
    try:
        parts = split_protocol(x, dataset.y, resolved["seed"], conf["queries_per_class"],
                               conf["scale"])
    except ValueError as exc:
        path = ("data", "retrieval")
        raise RecipeErrors([RecipeError(str(exc), path, recipe.where(path))]) from None
    shape = dataset.x.shape[1:]
    as_float = lambda a: a.astype(config.floatX).reshape((len(a),) + shape)  # noqa: E731
    return {"train": data.Dataset(as_float(parts.db_x), parts.db_y, name=f"{dataset.name}:database",
                                  num_classes=dataset.num_classes),
            "query": data.Dataset(as_float(parts.query_x), parts.query_y,
                                  name=f"{dataset.name}:query", num_classes=dataset.num_classes)}


def prepare(recipe_path, overrides=(), seed=None):
    """Read, override, validate and build everything; raises RecipeErrors on bad input."""
    recipe = load_recipe(recipe_path)
    for assignment in overrides:
        parse_override(recipe, assignment)
    if seed is not None:
        parse_override(recipe, f"seed={int(seed)}")
    resolved = check_recipe(recipe)
    p = Prepared()
    p.recipe, p.resolved = recipe, resolved
    init_rng, p.split_seed, p.shuffle_seed = _seeds(resolved["seed"])
    p.dataset, p.splits = _load_data(resolved, recipe, p.split_seed)
    rng.set_rng(init_rng)
    p.model = build_network(resolved, p.splits["train"].x.shape[1:], recipe,
                            context={"splits": p.splits, "seed": resolved["seed"]},
                            mask=p.splits["train"].mask is not None)
    needs_labels = resolved["loss"]["target"] == "labels"
    if needs_labels and p.dataset.y is None:
        path = ("loss", "target")
        raise RecipeErrors([RecipeError(f"the dataset {p.dataset.name!r} has no labels; use "
                                        "target: inputs", path, recipe.where(path))])
    return p


# -- state -------------------------------------------------------------------------------
def _state_variables(train, params, updates):
    """Shared variables training changes: (params, optimizer state, random streams)."""
    param_ids = {id(p) for p in params}
    optim_vars = list(updates.state)
    if hasattr(updates.learning_rate, "container"):
        optim_vars.append(updates.learning_rate)
    optim_ids = {id(v) for v in optim_vars}
    streams = [v for v in train.maker.fgraph.inputs
               if hasattr(v, "container") and id(v) not in param_ids and id(v) not in optim_ids
               and v.default_update is not None]
    return optim_vars, streams


def _save(path, p, params, optim_vars, streams, progress, updates):
    ckpt.save_checkpoint(
        path, params=list(params), optim=list(optim_vars),
        rng={v.name: v for v in streams},
        progress=progress, recipe_original=p.recipe.text,
        recipe_resolved=yaml.safe_dump(p.resolved, sort_keys=False),
        optim_info={"rule": updates.rule, "hyperparameters": updates.hyperparameters})


def _restore(path, params, optim_vars, streams):
    saved = ckpt.load_checkpoint(path)
    ckpt.restore_state(params, saved.params)
    ckpt.restore_state(optim_vars, saved.optim)
    ckpt.restore_state(streams, saved.rng)
    return saved.progress


# -- evaluation ------------------------------------------------------------------------------
def _batches(n, size):
    return [np.arange(s, min(s + size, n)) for s in range(0, n, size)]


def _arguments(split, idx, target_is_input):
    """The arguments of ``train``/``evaluate`` for the examples ``idx`` of ``split``:
    ``x``, then the mask when the data has one, then the targets unless they are ``x``."""
    args = [split.x[idx]]
    if split.mask is not None:
        args.append(split.mask[idx])
    if not target_is_input:
        args.append(split.y[idx])
    return args


def evaluate(evaluate_fn, split, resolved, batch_size, predictions=False):
    """Loss and metrics of a split (deterministic outputs), averaged over its examples."""
    target_is_input = resolved["loss"]["target"] == "inputs"
    total, outs = 0.0, []
    for idx in _batches(len(split.x), batch_size):
        loss, out = evaluate_fn(*_arguments(split, idx, target_is_input))
        weight = len(idx) if resolved["loss"]["aggregate"] == "mean" else 1
        total += float(loss) * weight
        outs.append(out)
    n = len(split.x)
    result = {"loss": total / n if resolved["loss"]["aggregate"] == "mean" else total}
    output = np.concatenate(outs) if outs else None
    for m in resolved["metrics"]:
        if m["type"] == "accuracy":
            result["accuracy"] = float(metrics.accuracy(output, split.y))
        elif m["type"] == "top_k_accuracy":
            result[f"top_{m['k']}_accuracy"] = float(metrics.top_k_accuracy(output, split.y,
                                                                             k=m["k"]))
    return (result, output) if predictions else result


def _better(value, best, mode, min_delta):
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _mode_of(monitor, mode):
    return mode or ("min" if monitor.endswith("loss") else "max")


# -- the run ------------------------------------------------------------------------------
class RunDirError(ValueError):
    """The run directory would lie outside the directory the user chose."""


def _default_run_dir(name):
    """``runs/<name>``, refusing a symlink that leads out of ``runs/``.

    The schema already allows only plain directory names (no ``/``, no ``..``).
    """
    base = os.path.realpath("runs")
    out = os.path.join("runs", name)
    if os.path.commonpath([base, os.path.realpath(out)]) != base:
        raise RunDirError(f"the run directory {out} is a link to {os.path.realpath(out)}, "
                          "outside runs/: remove the link or choose the directory with --out")
    return out


def run(recipe_path, overrides=(), resume=None, out=None, device=None, seed=None,
        stdout=None):
    """Train the recipe; returns the report dict (also written to ``report.json``)."""
    stdout = stdout or sys.stdout
    if device is not None:
        config.device = device
    start_time = time.perf_counter()
    p = prepare(recipe_path, overrides, seed)
    resolved = p.resolved
    out = out or _default_run_dir(resolved["name"])
    ckpt_dir = os.path.join(out, "checkpoints")
    os.makedirs(ckpt_dir, exist_ok=True)
    with open(os.path.join(out, "recipe.yaml"), "w", encoding="utf-8") as fh:
        fh.write(p.recipe.text)
    with open(os.path.join(out, "recipe.resolved.yaml"), "w", encoding="utf-8") as fh:
        yaml.safe_dump(resolved, fh, sort_keys=False)

    y_dtype = p.splits["train"].y.dtype if p.splits["train"].y is not None else np.dtype("f4")
    train_fn, eval_fn, updates = build_functions(resolved, p.model, y_dtype)
    params = p.model.params
    optim_vars, streams = _state_variables(train_fn, params, updates)
    schedule = _schedule(resolved, updates)

    progress = {"epoch": 0, "step": 0, "best": None, "best_epoch": None, "wait": 0,
                "seconds": 0.0, "history": []}
    last_path = os.path.join(ckpt_dir, "last.h5")
    best_path = os.path.join(ckpt_dir, "best.h5")
    if resume == "auto":
        resume = last_path if os.path.exists(last_path) else None
        if resume is None:
            print("--resume auto: no checkpoint yet, starting from scratch", file=stdout)
    if resume:
        progress.update(_restore(resume, params, optim_vars, streams))
        print(f"resumed from {resume} after epoch {progress['epoch']}", file=stdout)
    log = MetricsLog(out, progress["history"])

    epochs = resolved["train"]["epochs"]
    batch_size = resolved["train"]["batch_size"]
    train_split = p.splits["train"]
    target_is_input = resolved["loss"]["target"] == "inputs"
    monitor_conf = resolved["checkpoint"]
    stopping = resolved["early_stopping"]
    monitor = (monitor_conf["monitor"] or (stopping["monitor"] if stopping else None) or
               ("valid.loss" if "valid" in p.splits else "train.loss"))
    mode = _mode_of(monitor, monitor_conf["mode"] or (stopping["mode"] if stopping else None))
    min_delta = stopping["min_delta"] if stopping else 0.0
    show_bars = _progress_enabled(resolved, stdout)
    # training time of the epochs before this process (a resumed run), plus this process's
    segment_start, seconds_before = time.perf_counter(), progress["seconds"]
    stopped_early = False

    for epoch in range(progress["epoch"], epochs):
        if schedule is not None and schedule[1] == "epoch":
            schedule[0].apply(updates.learning_rate, epoch)
        order = data.iterate_minibatches(len(train_split.x), batch_size, shuffle=True,
                                         seed=p.shuffle_seed, epoch=epoch,
                                         drop_last=resolved["train"]["drop_last"])
        order = list(order)
        bar = _bar(show_bars, len(order), epoch, epochs)
        total, seen = 0.0, 0
        for b, idx in enumerate(order):
            if schedule is not None and schedule[1] == "step":
                schedule[0].apply(updates.learning_rate, progress["step"])
            loss = float(train_fn(*_arguments(train_split, idx, target_is_input)))
            progress["step"] += 1
            if not math.isfinite(loss):
                if bar is not None:
                    bar.close()
                last = last_path if os.path.exists(last_path) else "none (no epoch finished)"
                raise TrainingStopped(
                    f"the training loss is {loss} at step {progress['step']} (epoch {epoch + 1}, "
                    f"batch {b + 1}); training stopped. The last good checkpoint is {last}. "
                    "Lower the learning rate or clip gradients (optimizer.grad_clip)")
            total += loss * len(idx)
            seen += len(idx)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{total / seen:.4f}")
        if bar is not None:
            bar.close()
        row = {"epoch": epoch + 1, "step": progress["step"],
               "lr": float(np.asarray(updates.learning_rate.get_value()))
               if hasattr(updates.learning_rate, "get_value") else None,
               "train.loss": total / max(seen, 1)}
        if "valid" in p.splits:
            for k, v in evaluate(eval_fn, p.splits["valid"], resolved, batch_size).items():
                row[f"valid.{k}"] = v
        row["seconds"] = round(seconds_before + time.perf_counter() - segment_start, 3)
        log.append(row)
        progress["history"] = log.rows
        progress["epoch"] = epoch + 1
        progress["seconds"] = row["seconds"]
        improved = _better(row.get(monitor), progress["best"], mode, min_delta)
        if improved:
            progress["best"], progress["best_epoch"], progress["wait"] = \
                row.get(monitor), epoch + 1, 0
        else:
            progress["wait"] += 1
        if not show_bars:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in row.items()
                              if isinstance(v, float) and k not in ("seconds", "lr"))
            print(f"epoch {epoch + 1}/{epochs}  {shown}", file=stdout, flush=True)
        if improved:
            _save(best_path, p, params, optim_vars, streams, progress, updates)
        if (epoch + 1) % monitor_conf["every_epochs"] == 0 or epoch + 1 == epochs:
            _save(last_path, p, params, optim_vars, streams, progress, updates)
        if stopping and progress["wait"] >= stopping["patience"]:
            stopped_early = True
            print(f"early stopping: {monitor} did not improve for {stopping['patience']} "
                  f"epoch(s)", file=stdout)
            _save(last_path, p, params, optim_vars, streams, progress, updates)
            break

    if stopping and stopping["restore_best"] and os.path.exists(best_path):
        ckpt.restore_state(params, ckpt.load_checkpoint(best_path).params)
    report = _report(p, eval_fn, resolved, batch_size, progress, monitor, stopped_early,
                     time.perf_counter() - start_time)
    path = write_report(out, report)
    if resolved["logging"]["plots"]:
        plot_curves(out, log.rows)
    for line in final_metrics_lines(report, list(p.splits)):
        print(line, file=stdout)
    print(f"report: {path}", file=stdout)
    return report


#: report.json keys that describe the run rather than measure the model
_RUN_KEYS = {"recipe", "seed", "best", "epochs", "steps", "stopped_early", "seconds"}


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


def _report(p, eval_fn, resolved, batch_size, progress, monitor, stopped_early, seconds):
    report = {"recipe": resolved["name"], "seed": resolved["seed"]}
    outputs = {}
    for name, split in p.splits.items():
        report[name], outputs[name] = evaluate(eval_fn, split, resolved, batch_size,
                                               predictions=True)
    report["best"] = {"epoch": progress["best_epoch"], monitor: progress["best"]}
    report["epochs"] = progress["epoch"]
    report["steps"] = progress["step"]
    report["stopped_early"] = stopped_early
    report["seconds"] = round(seconds, 3)
    if p.model.report_hook is not None:
        report.update(p.model.report_hook(p, resolved))
    return report


def _schedule(resolved, updates):
    spec = resolved["schedule"]
    if spec is None:
        return None
    from nnframe import optim
    args = {k: v for k, v in spec.items() if k not in ("type", "per", "warmup")}
    base = float(resolved["optimizer"].get("learning_rate") or
                 np.asarray(updates.learning_rate.get_value()))
    schedule = optim.SCHEDULES[spec["type"]](base, **args)
    if spec["warmup"]:
        schedule = optim.LinearWarmup(schedule, spec["warmup"])
    return schedule, spec["per"]


def _progress_enabled(resolved, stdout):
    setting = resolved["logging"]["progress"]
    if setting == "never":
        return False
    if setting == "always":
        return True
    isatty = getattr(stdout, "isatty", None)
    return bool(isatty and isatty())


def _bar(enabled, total, epoch, epochs):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=f"epoch {epoch + 1}/{epochs}", leave=False, file=sys.stdout)
