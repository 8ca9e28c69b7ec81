"""``DistributedDataParallel``: the same model on every rank, gradients averaged across ranks.

Data parallelism: each of p ranks runs forward and backward on its own 1/p of the
batch, and since the loss over the whole batch is the mean of the ranks' mean losses,

    dL/dw = (1/p) * sum_r dL_r/dw          (L_r: rank r's mean loss over its B samples)

so averaging the ranks' gradients (an all-reduce, then / p) gives every rank the
gradient of the whole p*B batch, and identical optimizer steps keep the copies equal.

How the averaging overlaps the backward pass (as torch's reducer):

* parameters are packed, in reverse registration order (roughly the order backward
  finishes them), into flat buckets of one dtype: the first of about 1 MB (so the
  first message starts early; smaller if ``bucket_cap_mb`` is), the rest of about ``bucket_cap_mb``;
* a hook fires when a parameter's gradient is final in this backward
  (``Tensor.register_post_accumulate_grad_hook``); it copies the gradient into its
  bucket, and once a bucket is full, a non-blocking ``MPI_Iallreduce`` starts on it
  (buckets start strictly in order, so every rank issues the same collectives in the
  same order) while the backward goes on computing earlier layers' gradients;
* when the backward is over (``engine.queue_callback``) the reductions are waited
  for, divided by p and copied back into ``.grad``.

MPI libraries such as MPICH advance a non-blocking reduction only inside MPI calls, so
each hook also polls (``MPI_Test``) the reductions in flight.
"""
from __future__ import annotations

import contextlib
import time

from ..autograd import engine, grad_mode
from ..backend import xp
from ..tensor import Tensor
from .module import Module

FIRST_BUCKET_BYTES = 1024 * 1024      # torch's dist._DEFAULT_FIRST_BUCKET_BYTES


class _Bucket:
    """One flat array holding several parameters' gradients, reduced as one message."""

    def __init__(self, params, dtype):
        self.params = params                         # [(index, Parameter)] in bucket order
        self.offsets, size = [], 0
        for _, p in params:
            self.offsets.append(size)
            size += p._data.size
        self.flat = xp.zeros(size, dtype)
        self.ready = 0
        self.request = None

    def slot(self, k):
        start = self.offsets[k]
        return self.flat[start:start + self.params[k][1]._data.size]


class DistributedDataParallel(Module):
    """Wrap ``module`` so that ``backward()`` averages its gradients across all ranks.

    Args:
        module: the model, built the same way on every rank; rank 0's parameters and
            buffers are broadcast to the others at construction.
        broadcast_buffers: copy rank 0's buffers (e.g. BatchNorm's running statistics) to
            every rank at the start of each forward. Default: True.
        bucket_cap_mb: bucket size in MiB. Default: 25 (torch's).
        find_unused_parameters: allow parameters that get no gradient in a backward: they
            count as zero on this rank, and one whose gradient is missing on every rank
            keeps its ``.grad`` untouched (as torch). Default False: a parameter without a
            gradient is an error naming it (after the reductions, so no rank is left waiting).
        device_ids, output_device, dim, process_group, gradient_as_bucket_view, static_graph:
            accepted so torch code runs; one CPU process per rank, the whole world as group.

    ``no_sync()`` skips the averaging (gradients just accumulate locally), for gradient
    accumulation; the next backward outside it averages the accumulated gradients.
    The wrapped model is ``.module``; ``state_dict()`` keys start with ``module.`` as torch's.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers: bool = True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False, static_graph: bool = False):
        super().__init__()
        from .. import distributed
        from ..distributed import process_group as pg
        if not distributed.is_initialized():
            raise RuntimeError(f"DistributedDataParallel: the default process group has not been initialized on "
                               f"launcher rank {pg.launcher_rank()}: call gn.distributed.init_process_group('mpi') "
                               f"before wrapping the model")
        self.module = module
        self.broadcast_buffers, self.find_unused_parameters = broadcast_buffers, find_unused_parameters
        self.bucket_cap_mb = 25 if bucket_cap_mb is None else bucket_cap_mb
        self.require_backward_grad_sync = True
        self.overlap = True                  # False: start every reduction after backward (for measuring)
        self._comm = pg.world()
        self.rank, self.world_size = self._comm.Get_rank(), self._comm.Get_size()
        self._named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._check_same_model()
        self._sync_module_states()
        self._build_buckets()
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad_ready) for _, p in self._named]
        self._round = None                   # state of the reduction of the backward now running
        self.comm_wait_seconds = 0.0         # time spent waiting for reductions after backward (all steps)
        self.last_overlap_window = 0.0       # last backward: seconds from the first reduction's start to its end

    # ------------------------------------------------------------ construction
    def _check_same_model(self) -> None:
        """Every rank must hold the same parameter and buffer shapes; name the first difference."""
        mine = [(n, tuple(t.shape), str(t.dtype)) for n, t in
                list(self.module.named_parameters()) + list(self.module.named_buffers()) if t is not None]
        everyone = self._comm.allgather(mine)
        reference = everyone[0]
        for rank, theirs in enumerate(everyone):
            if theirs == reference:
                continue
            ref, got = dict((n, s) for n, *s in reference), dict((n, s) for n, *s in theirs)
            for name in sorted(set(ref) | set(got)):
                if ref.get(name) != got.get(name):
                    describe = lambda v: "missing" if v is None else f"shape {v[0]}, dtype {v[1]}"  # noqa: E731
                    raise RuntimeError(
                        f"DistributedDataParallel: rank {rank}'s model differs from rank 0's: {name!r} has "
                        f"{describe(got.get(name))} on rank {rank} and {describe(ref.get(name))} on rank 0 "
                        f"(raised on rank {self.rank}); build the same model on every rank")
            raise RuntimeError(f"DistributedDataParallel: rank {rank}'s parameters are registered in a different "
                               f"order from rank 0's (raised on rank {self.rank})")

    def _sync_module_states(self) -> None:
        """Rank 0's parameters and buffers, everywhere (so every rank starts from the same model)."""
        from ..distributed.collectives import wait
        tensors = [p for _, p in self.module.named_parameters()] + [b for b in self.module.buffers() if b is not None]
        for t in tensors:
            a = t._data
            buf = a if a.flags.c_contiguous else xp.ascontiguousarray(a)
            wait(self._comm.Ibcast(buf, root=0))
            if buf is not a:
                a[...] = buf

    def _build_buckets(self) -> None:
        cap = int(self.bucket_cap_mb * 1024 * 1024)
        self._buckets, self._where = [], {}
        open_by_dtype = {}                          # dtype -> (params, bytes) of the bucket being filled
        first = True
        for index in reversed(range(len(self._named))):
            p = self._named[index][1]
            params, nbytes = open_by_dtype.setdefault(p.dtype, ([], 0))
            params.append((index, p))
            nbytes += p._data.nbytes
            open_by_dtype[p.dtype] = (params, nbytes)
            if nbytes >= (min(FIRST_BUCKET_BYTES, cap) if first else cap):
                self._close_bucket(params, p.dtype)
                del open_by_dtype[p.dtype]
                first = False
        for dtype, (params, _) in open_by_dtype.items():
            self._close_bucket(params, dtype)

    def _close_bucket(self, params, dtype) -> None:
        bucket = _Bucket(params, dtype)
        for k, (_, p) in enumerate(params):
            self._where[id(p)] = (len(self._buckets), k)
        self._buckets.append(bucket)

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self.world_size > 1 and grad_mode.is_grad_enabled():
            self._broadcast_buffers()
        return self.module(*inputs, **kwargs)

    def _broadcast_buffers(self) -> None:
        from ..distributed.collectives import wait
        for b in self.module.buffers():
            if b is not None and b._data.flags.c_contiguous:
                wait(self._comm.Ibcast(b._data, root=0))

    @contextlib.contextmanager
    def no_sync(self):
        """Gradients accumulate locally inside this block; the first backward after it averages them."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ----------------------------------------------------------------- backward
    def _on_grad_ready(self, p) -> None:
        """Hook: ``p.grad`` is final for this backward. Pack it; start every full bucket, in order."""
        if not self.require_backward_grad_sync:
            return
        if self._round is None:
            self._round = {"next": 0, "used": set()}
            for bucket in self._buckets:
                bucket.ready, bucket.request = 0, None
            engine.queue_callback(self._finish)
        b, k = self._where[id(p)]
        bucket = self._buckets[b]
        bucket.slot(k)[...] = p.grad._data.reshape(-1)
        self._round["used"].add(id(p))
        bucket.ready += 1
        if self.overlap:
            self._start_full_buckets(self._round)
            self._progress()

    def _start_full_buckets(self, state) -> None:
        MPI = _mpi()
        while state["next"] < len(self._buckets):
            bucket = self._buckets[state["next"]]
            if bucket.ready < len(bucket.params):
                return
            bucket.request = self._comm.Iallreduce(MPI.IN_PLACE, bucket.flat, op=MPI.SUM)
            state.setdefault("first_started", time.perf_counter())
            state["next"] += 1

    def _progress(self) -> None:
        """Let MPI move the messages in flight (most MPI libraries progress only inside MPI calls)."""
        for bucket in self._buckets:
            if bucket.request is not None:
                bucket.request.Test()

    def _finish(self) -> None:
        """End of backward: zero-fill gradients that never came, wait, average, write back to ``.grad``."""
        from ..distributed.collectives import wait
        MPI = _mpi()
        state, self._round = self._round, None
        if state is None:
            return
        # how long reductions could run alongside the backward (the benchmark's overlap window)
        self.last_overlap_window = time.perf_counter() - state.get("first_started", time.perf_counter())
        used = state["used"]
        unused = [(i, n) for i, (n, p) in enumerate(self._named) if id(p) not in used]
        for bucket in self._buckets:
            for k, (_, p) in enumerate(bucket.params):
                if id(p) not in used:
                    bucket.slot(k)[...] = 0
                    bucket.ready += 1
        self._start_full_buckets(state)
        used_everywhere = None
        if unused and self.find_unused_parameters:
            # which parameters got a gradient on some rank (torch keeps the others' .grad untouched)
            used_everywhere = xp.array([id(p) in used for _, p in self._named], xp.int32)
            wait(self._comm.Iallreduce(MPI.IN_PLACE, used_everywhere, op=MPI.MAX))
        started = time.perf_counter()
        for bucket in self._buckets:
            wait(bucket.request)
        self.comm_wait_seconds += time.perf_counter() - started
        for bucket in self._buckets:
            bucket.flat /= self.world_size
            for k, (index, p) in enumerate(bucket.params):
                averaged = bucket.slot(k).reshape(p.shape)
                if id(p) in used:
                    p.grad._data[...] = averaged
                elif used_everywhere is not None and used_everywhere[index]:
                    p.grad = Tensor._wrap(averaged.copy())
        if unused and not self.find_unused_parameters:
            raise RuntimeError(
                f"DistributedDataParallel: on rank {self.rank}, parameters {[n for _, n in unused]} (indices "
                f"{[i for i, _ in unused]}) received no gradient in this backward: they were not used to "
                f"compute the loss. Pass find_unused_parameters=True to DistributedDataParallel to allow it, "
                f"or make sure every output of forward takes part in the loss")


def _mpi():
    from ..distributed.process_group import _mpi as mpi
    return mpi()


__all__ = ["DistributedDataParallel"]
