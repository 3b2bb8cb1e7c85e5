"""``python -m nnframe.train RECIPE.yaml [--set key.path=value ...] [--check] ...``

Exit codes: 0 the run finished (or ``--check`` found the recipe good); 2 the recipe,
the run directory, a checkpoint or a file cannot be used (one paragraph says what and
how to fix it); 3 training stopped on a non-finite loss; 130 interrupted (Ctrl-C or
SIGTERM).  A bug in nnframe still shows its traceback.

Started by ``mpirun -n N`` (or another MPI launcher), the run is data-parallel over the N
processes (docs/distributed.md).  Rank 0 prints; another rank's error is printed with
its rank, and a rank's failure ends the whole job (``MPI_Abort``) so that no rank waits
forever for one that is gone.  A stop that every rank takes at the same step (a stop
request, a non-finite loss) ends every rank normally, with the codes above.

>>> main(["recipes/mlp_digits.yaml", "--check"])           # doctest: +SKIP
0
"""
import argparse
import errno
import os
import sys

import yaml

from nnframe.train import errors

__all__ = ["main"]

#: the exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it)
EXIT_INTERRUPTED = 130


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m nnframe.train",
        description="Train a model from a YAML recipe (see recipes/ for examples).",
        epilog="exit codes: 0 done; 2 bad recipe, run directory, checkpoint or file; "
               "3 training stopped (non-finite loss); 130 interrupted")
    parser.add_argument("recipe", help="the recipe file (YAML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE", help="override a recipe value (repeatable)")
    parser.add_argument("--check", action="store_true",
                        help="validate the recipe, print it resolved and the model summary, "
                             "and exit without training")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", metavar="CKPT|auto",
                       help="continue from a checkpoint, or from OUT/checkpoints/last.h5 (auto)")
    start.add_argument("--overwrite", action="store_true",
                       help="start over in a run directory that holds an earlier run "
                            "(deletes its checkpoints, metrics and report)")
    parser.add_argument("--allow-changes", action="store_true",
                        help="resume although the recipe changed in a way that makes the "
                             "result differ from an uninterrupted run")
    parser.add_argument("--out", metavar="DIR", help="run directory (default runs/<name>)")
    parser.add_argument("--device", choices=["numpy", "opencl", "native"],
                        help="backend to train on (default: config.device, native: generated "
                             "C, see docs/native.md; numpy: the reference backend)")
    parser.add_argument("--seed", type=int, help="override the recipe's seed")
    parser.add_argument("--distributed", action="store_true",
                        help="require a data-parallel run (started by mpirun -n N; runs "
                             "started by mpirun are data-parallel without it)")
    return parser


def main(argv=None):
    from nnframe.distributed import launched, launcher_rank
    if not launched():
        return _main(argv)
    # in a job: rank 0 speaks; another rank's messages wait a moment, so that when every rank
    # fails alike (a bad recipe) rank 0's message ends the job alone
    rank = launcher_rank() or 0
    stdout, stderr, captured = sys.stdout, sys.stderr, None
    if rank > 0:                        # rank 0 prints what every rank would print
        import io
        sys.stderr = captured = io.StringIO()
        sys.stdout = open(os.devnull, "w")
    code, _ENDED_EVERYWHERE[:] = 1, [False]
    try:
        code = _main(argv)
    finally:
        if captured is not None:
            sys.stdout.close()
            sys.stdout, sys.stderr = stdout, stderr
            text = captured.getvalue()
            if _ENDED_EVERYWHERE[0]:
                text = ""               # rank 0 said it for every rank
            elif code:
                import time
                time.sleep(2)
            for line in text.splitlines():
                print(f"rank {rank}: {line}", file=stderr, flush=True)
    if code and not _ENDED_EVERYWHERE[0]:
        from nnframe.distributed import world
        world().abort(code)
    return code


#: [whether the run ended by an error every rank raised at the same step]
_ENDED_EVERYWHERE = [False]


def _main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.resume is not None and not args.resume.strip():
        parser.error("--resume needs a checkpoint path or 'auto' (got an empty value)")
    # imported after parsing, so that --help answers at once
    from nnframe.checkpoint import CheckpointError, CheckpointWriteError
    from nnframe.distributed import DistributedError
    from nnframe.train.recipe import RecipeErrors
    try:
        if args.check:
            return _check(args)
        _train(args)
        return 0
    except RecipeErrors as exc:
        _recipe_errors(exc)
        return 2
    except errors.RunError as exc:
        _run_error(exc)
        _ENDED_EVERYWHERE[0] = exc.everywhere
        return exc.exit_code
    except DistributedError as exc:
        _error(str(exc))
        return 2
    except CheckpointWriteError as exc:   # the disk refused last.h5/best.h5: not about --resume
        _error(str(exc))
        return 2
    except CheckpointError as exc:
        _error(f"{exc}{_resume_hint(args)}")
        return 2
    except OSError as exc:
        _error(_os_error_text(exc, args))
        return 2
    except MemoryError as exc:
        _error(f"out of memory while {'checking' if args.check else 'preparing or training'} "
               f"the recipe ({exc or 'no detail'}): the model or the data is too large for "
               "this machine; make the layers smaller (num_units, num_filters), the batch "
               "smaller (train.batch_size), or the dataset smaller")
        return 2
    except KeyboardInterrupt:
        # Ctrl-C during training is TrainingInterrupted (the trainer saves last.h5 first);
        # one that gets here came while reading the recipe, the data or building the model.
        _error("interrupted (Ctrl-C) while checking the recipe; nothing was written"
               if args.check else
               "interrupted (Ctrl-C) before training started; nothing was trained")
        return EXIT_INTERRUPTED


def _check(args):
    """``--check``: the resolved recipe, the model summary and the data, nothing written."""
    from nnframe.train import trainer
    if args.device:
        from nnframe import config
        config.device = args.device
    p = trainer.prepare(args.recipe, args.overrides, args.seed)
    print(yaml.safe_dump(p.resolved, sort_keys=False), end="")
    print()
    print(p.model.summary())
    sizes = ", ".join(f"{k} {len(v.x)}" for k, v in p.splits.items())
    masked = " with a mask" if p.splits["train"].mask is not None else ""
    print(f"\ndata: {p.dataset.name}, examples of shape {p.splits['train'].x.shape[1:]}"
          f"{masked}; splits: {sizes}")
    print("recipe OK")
    return 0


def _train(args):
    from nnframe.train import trainer
    trainer.run(args.recipe, args.overrides, resume=args.resume, out=args.out,
                device=args.device, seed=args.seed, overwrite=args.overwrite,
                allow_changes=args.allow_changes, distributed=args.distributed)


# -- errors ----------------------------------------------------------------------------------
def _error(text):
    print(f"error: {text}", file=sys.stderr)


def _recipe_errors(exc):
    print(f"recipe error{'s' if len(exc.errors) > 1 else ''}:", file=sys.stderr)
    for error in exc.errors:
        print(f"  {error}", file=sys.stderr)


def _run_error(exc):
    if isinstance(exc, errors.TrainingStopped):
        print(f"training stopped: {exc}", file=sys.stderr)
    elif isinstance(exc, errors.TrainingInterrupted):
        print(exc, file=sys.stderr)     # not a failure: it says how to continue
    else:
        _error(exc)


def _resume_hint(args):
    """Why a checkpoint error matters, when the run was resuming."""
    if not args.resume:
        return ""
    which = ("the checkpoint --resume auto found (OUT/checkpoints/last.h5)"
             if args.resume == "auto" else f"the checkpoint {args.resume}")
    return (f"; {which} cannot be used to resume: give another checkpoint, or start over "
            "with --overwrite")


#: errors that only writing meets
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}
_HINTS = {
    errno.ENOSPC: "the disk is full: free some space, or choose another --out on a disk with "
                  "room",
    errno.EDQUOT: "the disk quota is used up: free some space, or choose another --out",
    errno.EROFS: "the file system is read-only: choose another --out",
    errno.EACCES: "check the permissions of the file and its directory, or choose another "
                  "--out",
    errno.EPERM: "check the permissions of the file and its directory, or choose another --out",
    errno.ENOENT: "check the path",
    errno.EISDIR: "it is a directory: give the path of a file",
    errno.ENOTDIR: "a part of the path is a file, not a directory: check the path",
    errno.EIO: "the disk (or network file system) failed: check it, or choose another --out",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) and run again",
}


def _os_error_text(exc, args):
    """``cannot write runs/x/metrics.jsonl: No space left on device; <hint>``."""
    if exc.filename is None:        # h5py and others put the file in the message
        hint = _HINTS.get(exc.errno, "check the files the run reads and writes")
        return f"{exc}; {hint}"
    filename = os.fsdecode(exc.filename)
    hint = _HINTS.get(exc.errno, "check the file, or choose another --out")
    if exc.errno == errno.ENOENT and args.resume and filename == args.resume:
        hint = "check the --resume path (or give --resume auto)"
    reason = exc.strerror or str(exc)
    return f"cannot {_verb(exc.errno, filename)} {filename}: {reason}; {hint}"


def _verb(code, filename):
    """Whether an OSError came from reading or writing ``filename``, as far as it shows."""
    if code in _WRITE_ERRNOS:
        return "write"
    if code in (errno.ENOENT, errno.EISDIR):
        return "read"       # writing would have created the file
    if code in (errno.EACCES, errno.EPERM):
        if not os.path.exists(filename):
            return "create"
        return "read" if not os.access(filename, os.R_OK) else "write"
    return "use"


if __name__ == "__main__":
    sys.exit(main())
