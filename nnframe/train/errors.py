"""The ways a run of ``python -m nnframe.train`` can end other than by finishing.

Each is a :class:`RunError` whose message says what went wrong and what to do
about it; ``python -m nnframe.train`` prints it as one paragraph (no
traceback) and exits with the class's ``exit_code``.  Recipe problems are
:class:`~nnframe.train.recipe.RecipeErrors` (exit code 2), raised before
anything is written.

>>> try:
...     raise RunDirInUse("runs/mlp is in use by process 4242")
... except RunError as exc:
...     exc.exit_code
2
"""

__all__ = ["RunError", "RunDirError", "RunDirInUse", "RunDirNotEmpty", "ResumeError",
           "DataError", "TrainingStopped", "TrainingInterrupted"]


class RunError(Exception):
    """A run could not start or could not go on; the message says why and what to do."""

    exit_code = 2
    #: True when every rank of a data-parallel job raised it at the same step (a stop
    #: request or a loss they all see): the job then ends without MPI_Abort
    everywhere = False


class RunDirError(RunError, ValueError):
    """The run directory cannot be used: it lies outside where the user chose, is a file,
    or cannot be written."""


class RunDirInUse(RunDirError):
    """Another process is training into the same run directory (it holds the lock)."""


class RunDirNotEmpty(RunDirError):
    """The run directory holds an earlier run, and neither ``--resume`` nor ``--overwrite``
    was given."""


class ResumeError(RunError):
    """The checkpoint to resume from cannot be read, does not fit the model, or was written
    by a recipe that differs in a way that changes the result."""


class DataError(RunError):
    """The data holds values training cannot use (non-finite inputs or targets)."""


class TrainingStopped(RunError, RuntimeError):
    """Training stopped on a non-finite loss; the last good checkpoint is kept."""

    exit_code = 3


class TrainingInterrupted(RunError):
    """Ctrl-C (SIGINT) or SIGTERM: the run stopped at a step boundary after writing
    ``last.h5``; the message gives the ``--resume auto`` command that continues it."""

    exit_code = 130
