"""Data-parallel training across processes, over MPI (torch.distributed's names).

    mpiexec -n 4 python train.py

    import glassnet.distributed as dist
    dist.init_process_group("mpi")
    model = gn.nn.parallel.DistributedDataParallel(model)      # gradients averaged across ranks
    sampler = gn.data.DistributedSampler(dataset)               # each rank its own shard

Modules: ``process_group`` (init, rank, world size, the abort-on-error hook),
``collectives`` (all_reduce, broadcast, all_gather, barrier). mpi4py is imported on first use.
"""
from .collectives import ReduceOp, Work, all_gather, all_reduce, barrier, broadcast
from .process_group import (destroy_process_group, get_rank, get_world_size, init_process_group,
                            is_available, is_initialized)

__all__ = ["init_process_group", "is_initialized", "is_available", "get_rank", "get_world_size",
           "destroy_process_group", "all_reduce", "broadcast", "all_gather", "barrier", "ReduceOp", "Work"]
