"""Normalisation layers: BatchNorm1d, BatchNorm2d, LayerNorm."""
from __future__ import annotations

from ...backend import get_default_dtype, xp
from ...errors import InputTypeError, ShapeError
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from .arguments import count, positive_number

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    r"""Shared body of BatchNorm1d and BatchNorm2d (see their docstrings).

    The ``eval_locked`` flag keeps a layer in evaluation mode whatever ``train()`` says:
    :func:`glassnet.models.freeze` sets it on the batch norms of a frozen backbone, whose
    running statistics must stay those of pretraining. ``training`` is a property here,
    so ``Module.train`` (which assigns ``training`` on every sub-module) still works,
    and a locked layer reads ``training == False`` to anyone who asks.
    """

    _expected_dims: tuple = ()
    _input_rule = "float"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        # torch builds BatchNorm2d(0) and eps <= 0 but fails on the first batch: refused here at once
        num_features = count(type(self).__name__, "num_features", num_features, minimum=1)
        eps = positive_number(type(self).__name__, "eps", eps)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.eval_locked = False
        dtype = dtype or get_default_dtype()
        if affine:
            self.weight = Parameter(xp.empty(num_features, dtype))
            self.register_parameter("bias", Parameter(xp.empty(num_features, dtype)) if bias else None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._wrap(xp.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor._wrap(xp.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor._wrap(xp.array(0, xp.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    # training is True only if train() says so and no freeze() locked the layer in eval mode
    @property
    def training(self) -> bool:
        return self.__dict__["_training"] and not self.__dict__.get("eval_locked", False)

    @training.setter
    def training(self, mode: bool) -> None:
        self.__dict__["_training"] = bool(mode)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input(self, input) -> None:
        if input.ndim not in self._expected_dims:
            dims = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ShapeError(f"expected {dims} input (got {input.ndim}D input of shape {tuple(input.shape)})",
                             self)
        if input.shape[1] != self.num_features:
            raise ShapeError(f"expected {self.num_features} channels (input of shape (N, {self.num_features}, "
                             f"...)), got input of shape {tuple(input.shape)} with {input.shape[1]} channels",
                             self)
        stats = self.running_mean
        # with affine=True Module.__call__ checks the input against the parameters; without, the
        # running statistics give the layer its dtype (torch refuses a mix too), else a float64
        # input would update float32 statistics and a float32 one leave as float64
        if self.weight is None and stats is not None and input._data.dtype != stats._data.dtype:
            raise InputTypeError(f"got a {input._data.dtype} input, but the layer has {stats._data.dtype} running "
                                 f"statistics: convert one (x.to(gn.{stats._data.dtype}) or "
                                 f"layer.to(gn.{input._data.dtype}))", self)

    def forward(self, input):
        self._check_input(input)
        training = self.training
        # momentum=None means a cumulative average: the k-th batch enters with weight 1/k
        factor = 0.0 if self.momentum is None else self.momentum
        if training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        # batch statistics in training, and in eval too when there are no running ones to use
        use_batch_stats = training or self.running_mean is None
        # running statistics are passed only where they are used or updated
        track = not training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    r"""Batch normalisation of (N, C) or (N, C, L) input, per channel c.

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

    In training mode E[x] and Var[x] (biased) are taken over the batch (and L), and the running
    estimates are updated: running = (1 - momentum) * running + momentum * batch statistic,
    the variance entering unbiased (times m / (m - 1) for m values per channel). With
    ``momentum=None`` they are the cumulative average over all batches seen. In eval mode
    the running estimates are used instead.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance for numerical stability. Default: 1e-5.
        momentum: weight of the newest batch in the running estimates, or None for a
            cumulative average. Default: 0.1.
        affine: if True, learn weight (gamma) and bias (beta). Default: True.
        track_running_stats: if False, keep no running estimates and always use batch
            statistics. Default: True.
        bias: (keyword) if False with ``affine``, learn only the weight. Default: True.

    Shape:
        input (N, C) or (N, C, L)  ->  output of the same shape

    Attributes:
        weight: (C,), ones.  bias: (C,), zeros.
        running_mean: (C,) buffer, zeros.  running_var: (C,) buffer, ones.
        num_batches_tracked: int64 scalar buffer, batches seen in training mode.
    """

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    r"""Batch normalisation of (N, C, H, W) input, per channel c (statistics over N, H and W).

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

    Training and eval behaviour, arguments and attributes as :class:`BatchNorm1d`.

    Shape:
        input (N, C, H, W)  ->  output (N, C, H, W)
    """

    _expected_dims = (4,)


class LayerNorm(Module):
    r"""Layer normalisation over the last dims of each sample.

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

    E[x] and the biased Var[x] are taken over the trailing ``normalized_shape`` dims of each
    sample, in training and eval alike (there are no running statistics).

    Args:
        normalized_shape: int or tuple, the trailing shape to normalise over.
        eps: added to the variance for numerical stability. Default: 1e-5.
        elementwise_affine: if True, learn weight and bias of shape ``normalized_shape``. Default: True.
        bias: if False, learn only the weight. Default: True.

    Shape:
        input (*, *normalized_shape)  ->  output of the same shape

    Attributes:
        weight: normalized_shape, ones.  bias: normalized_shape, zeros.
    """

    _input_rule = "float"

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if not isinstance(normalized_shape, (tuple, list)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(count("LayerNorm", "normalized_shape", d) for d in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dtype = dtype or get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(xp.ones(self.normalized_shape, dtype))
            self.register_parameter("bias", Parameter(xp.zeros(self.normalized_shape, dtype)) if bias else None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise ShapeError(f"expected input with shape (*, {', '.join(map(str, self.normalized_shape))}), "
                             f"got input of shape {tuple(input.shape)}", self)
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")
