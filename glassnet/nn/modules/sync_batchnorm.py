"""``SyncBatchNorm``: batch normalisation with statistics over the batches of every rank."""
from __future__ import annotations

from ...errors import ShapeError
from .. import functional as F
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    r"""Batch normalisation of (N, C, *) input whose mean and variance span all ranks' batches.

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

    In training mode, inside a process group of more than one rank, E[x] and Var[x] are
    taken over the union of every rank's batch (as one process would over the whole
    batch), and so are the sums in the backward pass (see
    ``glassnet/functions/sync_batch_norm.py``). Otherwise (eval mode, one rank, no process
    group) it is exactly ``BatchNorm1d/2d/3d``. Arguments, attributes and ``state_dict``
    keys as those; ``process_group`` is accepted (the whole world is the group).

    Shape:
        input (N, C, *)  ->  output of the same shape

    Convert a model's batch norms with ``SyncBatchNorm.convert_sync_batchnorm(model)``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input(self, input) -> None:
        if input.ndim < 2:
            raise ShapeError(f"expected at least 2D input (got {input.ndim}D input of shape "
                             f"{tuple(input.shape)})", self)
        if input.shape[1] != self.num_features:
            raise ShapeError(f"expected {self.num_features} channels (input of shape (N, {self.num_features}, "
                             f"...)), got input of shape {tuple(input.shape)} with {input.shape[1]} channels", self)

    def forward(self, input):
        from ... import distributed
        if not (self.training and distributed.is_initialized() and distributed.get_world_size() > 1):
            return super().forward(input)
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked._data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        from ...distributed.collectives import all_gather_array, all_reduce_array
        from ...functions.sync_batch_norm import SyncBatchNorm as SyncBatchNormFn
        return SyncBatchNormFn.apply(input, self.weight, self.bias, self.running_mean, self.running_var,
                                     momentum=factor, eps=self.eps, gather=all_gather_array,
                                     all_reduce=all_reduce_array)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every BatchNorm*d in ``module`` by a SyncBatchNorm sharing its parameters and buffers.

        Returns the converted module (``module`` itself is converted in place when it is not a
        batch norm), as torch's ``nn.SyncBatchNorm.convert_sync_batchnorm``.
        """
        output = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            output = cls(module.num_features, module.eps, module.momentum, module.affine,
                         module.track_running_stats, process_group)
            for name in ("weight", "bias"):
                if name in module._parameters:
                    output._parameters[name] = None
                    output.register_parameter(name, module._parameters[name])
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                output.register_buffer(name, module._buffers.get(name))
            output.eval_locked = module.eval_locked
            output.train(module.__dict__["_training"])
        for name, child in list(module.named_children()):
            converted = cls.convert_sync_batchnorm(child, process_group)
            if converted is not child:
                setattr(output, name, converted)
        return output
