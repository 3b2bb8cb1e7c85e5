"""The BLAS threads of a process that an MPI launcher started, set before NumPy loads.

``mpirun -n N`` starts N processes per machine; NumPy's OpenBLAS would start one thread
per core in each, N times too many, and on the project's 2-core machines a 2-rank run
spent 40x longer per step than with one thread per rank.  So when a launcher started
this process alongside others on the same machine and the user set no thread count,
each process gets its share of the cores.  It must run before NumPy is imported (the BLAS
reads the variables when it loads), hence this module imports nothing but ``os`` and
``nnframe/__init__.py`` runs it first; a program that imports NumPy before nnframe keeps
NumPy's default (set ``OPENBLAS_NUM_THREADS`` yourself, e.g. ``mpirun -x``).
"""
import os

#: what launchers put in the environment of the processes they start: the number of ranks
#: on this machine (Open MPI, MPICH/Hydra, PMIx).  Not Slurm's SLURM_NTASKS_PER_NODE: an
#: allocation's variable, also set for a plain one-process program run inside it.
_LOCAL_SIZE_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PMIX_LOCAL_SIZE")
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def share_cores(environ=os.environ):
    """Set the BLAS thread variables to this rank's share of the cores, when a launcher
    put several ranks on this machine and none of them is set; returns the count set or
    None.

    >>> share_cores({"OMPI_COMM_WORLD_LOCAL_SIZE": "64"})
    1
    >>> share_cores({"OMPI_COMM_WORLD_LOCAL_SIZE": "2", "OMP_NUM_THREADS": "4"}) is None
    True
    """
    local = next((environ[v] for v in _LOCAL_SIZE_VARIABLES if environ.get(v, "").isdigit()),
                 None)
    if local is None or int(local) < 2 or any(v in environ for v in _THREAD_VARIABLES):
        return None
    threads = max(1, (os.cpu_count() or 1) // int(local))
    if hasattr(os, "sched_getaffinity"):          # the launcher may have bound us to fewer
        threads = min(threads, len(os.sched_getaffinity(0)))
    for name in _THREAD_VARIABLES:
        environ[name] = str(threads)
    return threads


share_cores()
