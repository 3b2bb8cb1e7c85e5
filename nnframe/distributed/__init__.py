"""nnframe.distributed: synchronous data-parallel training over MPI (mpi4py).

Start the same program on N processes with ``mpirun -n N python ...``; each takes a
shard of every global minibatch, the gradients are summed over the processes, and every
process applies the same update.  ``python -m nnframe.train`` does this for recipes; a
hand-written loop uses :func:`data_parallel` (see ``examples/data_parallel_mlp.py`` and
docs/distributed.md).

>>> from nnframe import distributed
>>> distributed.world().size            # started without mpirun: one process
1
"""
from nnframe.distributed.comm import (
    DEFAULT_TIMEOUT,
    DistributedError,
    MPIWorld,
    SingleWorld,
    Watchdog,
    launched,
    launcher_rank,
    launcher_size,
    mpirun_command,
    mpirun_words,
    world,
)
from nnframe.distributed.step import (
    DataParallel,
    broadcast_values,
    data_parallel,
    is_random_state,
    rank_streams,
    shard,
)

__all__ = ["world", "launched", "launcher_size", "launcher_rank", "mpirun_command", "mpirun_words", "DistributedError",
           "SingleWorld", "MPIWorld", "Watchdog", "DEFAULT_TIMEOUT", "DataParallel",
           "data_parallel", "broadcast_values", "shard", "is_random_state", "rank_streams"]
