"""Collectives on Tensors, torch's names: every rank calls the same ones in the same order.

    all_reduce(t)         t <- t_0 + t_1 + ... + t_{p-1}  on every rank (in place)
    broadcast(t, src)     t <- t_src                      on every rank (in place)
    all_gather(ts, t)     ts[r] <- t_r                    on every rank
    barrier()             returns once every rank has called it

Each is one MPI non-blocking call followed by :func:`wait`, which polls the request and
yields the CPU between polls: MPI's own blocking wait spins at full speed, which on a
machine with more ranks than cores takes the core from the rank that is still computing.
"""
from __future__ import annotations

import enum
import os

from ..backend import xp
from .process_group import _mpi, world


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' values (torch's names). AVG is SUM / world size."""
    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PROD"
    MIN = "MIN"
    MAX = "MAX"
    BAND = "BAND"
    BOR = "BOR"
    BXOR = "BXOR"


def wait(request) -> None:
    """Complete an MPI request, yielding the CPU between polls (see the module docstring)."""
    while not request.Test():
        os.sched_yield()


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` completes it, ``is_completed()`` polls."""

    def __init__(self, request, finish=None):
        self.request, self.finish, self.done = request, finish, False

    def is_completed(self) -> bool:
        if not self.done and self.request.Test():
            self._complete()
        return self.done

    def wait(self, timeout=None) -> bool:
        if not self.done:
            wait(self.request)
            self._complete()
        return True

    def _complete(self):
        self.done = True
        if self.finish is not None:
            self.finish()


def _buffer(tensor, who):
    """The tensor's array, if MPI can write into it in place; else a contiguous copy to write back."""
    from ..tensor import Tensor
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{who}: expected a glassnet Tensor, got {type(tensor).__name__}")
    a = tensor._data
    return (a, None) if a.flags.c_contiguous else (xp.ascontiguousarray(a), a)


def _run(request, finish, async_op):
    work = Work(request, finish)
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Combine ``tensor`` across ranks with ``op``, in place on every rank (torch.distributed.all_reduce)."""
    MPI, comm = _mpi(), world()
    op = ReduceOp(op) if not isinstance(op, ReduceOp) else op
    buf, original = _buffer(tensor, "all_reduce")
    mpi_op = getattr(MPI, "SUM" if op is ReduceOp.AVG else op.value)
    request = comm.Iallreduce(MPI.IN_PLACE, buf, op=mpi_op)
    size = comm.Get_size()

    def finish():
        if op is ReduceOp.AVG:
            if buf.dtype.kind in "fc":
                buf[...] /= size
            else:
                buf[...] //= size
        if original is not None:
            original[...] = buf
    return _run(request, finish, async_op)


def broadcast(tensor, src: int, group=None, async_op: bool = False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank, in place."""
    comm = world()
    if not 0 <= src < comm.Get_size():
        raise ValueError(f"broadcast: src must be a rank in 0..{comm.Get_size() - 1}, got {src} "
                         f"(on rank {comm.Get_rank()})")
    buf, original = _buffer(tensor, "broadcast")
    request = comm.Ibcast(buf, root=src)

    def finish():
        if original is not None:
            original[...] = buf
    return _run(request, finish, async_op)


def all_gather(tensor_list, tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor``, on every rank (same shapes and dtypes everywhere)."""
    comm = world()
    size, rank = comm.Get_size(), comm.Get_rank()
    if len(tensor_list) != size:
        raise ValueError(f"all_gather: tensor_list needs one tensor per rank ({size}), got {len(tensor_list)} "
                         f"(on rank {rank})")
    for i, t in enumerate(tensor_list):
        if tuple(t.shape) != tuple(tensor.shape) or t.dtype != tensor.dtype:
            raise ValueError(f"all_gather: tensor_list[{i}] has shape {tuple(t.shape)} and dtype {t.dtype}, "
                             f"expected those of tensor: {tuple(tensor.shape)}, {tensor.dtype} (on rank {rank})")
    send = xp.ascontiguousarray(tensor._data)
    gathered = xp.empty((size,) + send.shape, send.dtype)
    request = comm.Iallgather(send, gathered)

    def finish():
        for t, part in zip(tensor_list, gathered):
            t._data[...] = part
    return _run(request, finish, async_op)


def barrier(group=None, async_op: bool = False):
    """Return once every rank has reached its ``barrier()``."""
    return _run(world().Ibarrier(), None, async_op)


def all_reduce_array(array, op: str = "SUM"):
    """A NumPy array summed (or MAX/MIN) across ranks, as a new float64 array (for glassnet's own layers)."""
    MPI, comm = _mpi(), world()
    out = xp.array(array, xp.float64)
    wait(comm.Iallreduce(MPI.IN_PLACE, out, op=getattr(MPI, op)))
    return out


def all_gather_array(array):
    """Every rank's NumPy array, stacked: (world_size, *array.shape), float64 (for glassnet's own layers)."""
    comm = world()
    send = xp.array(array, xp.float64)
    out = xp.empty((comm.Get_size(),) + send.shape, xp.float64)
    wait(comm.Iallgather(send, out))
    return out
