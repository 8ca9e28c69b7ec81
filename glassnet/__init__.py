"""glassnet: a deep-learning library you can read. NumPy only, shaped like PyTorch.

    import glassnet as gn
    x = gn.randn(4, 3, requires_grad=True)
    (x @ x.T).sum().backward()
"""
from . import allocator, backend
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.gradcheck import GradcheckError, gradcheck
from .backend import bool_, float16, float32, float64, get_default_dtype, int32, int64, set_default_dtype, uint8
from .errors import InputTypeError, ShapeError
from .tensor import (Tensor, abs, allclose, arange, argmax, as_tensor, cat, clamp, concat, empty, exp, eye,
                     from_numpy, full, is_tensor, linspace, log, log_softmax, matmul, maximum, mean, minimum,
                     numel, ones, ones_like, rand, randint, randn, randperm, relu, sigmoid, softmax, sqrt, stack,
                     sum, tanh, tensor, where, zeros, zeros_like)

from . import nn  # noqa: E402  (nn builds on the names above)
from . import optim  # noqa: E402
from . import data  # noqa: E402
from . import distributed  # noqa: E402  (mpi4py is imported only when a process group starts)
from .io import load, load_torch, save  # noqa: E402
from .glassbox import explain, summary  # noqa: E402
from .training import Trainer  # noqa: E402
from . import threads  # noqa: E402
from .threads import get_num_threads, set_num_threads  # noqa: E402
from . import models  # noqa: E402
from . import sampling  # noqa: E402
from . import plot  # noqa: E402  (gn.plot: matplotlib is imported only when a picture is drawn)
from . import onnx  # noqa: E402  (gn.onnx.export; the onnx package is imported only when exporting)
from . import lessons  # noqa: E402  (the notes' worked examples; lesson modules load on first use)
from .compile import compile  # noqa: E402,A001  (gn.compile as torch.compile; shadows the builtin here only)
from .autograd import functional as _autograd_functional  # noqa: E402,F401  (gn.autograd.functional)

__version__ = "0.1.0"

__all__ = [
    "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled", "GradcheckError", "gradcheck",
    "bool_", "float16", "float32", "float64", "get_default_dtype", "int32", "int64",
    "set_default_dtype", "uint8", "ShapeError", "InputTypeError", "Tensor", "abs", "allclose", "arange", "argmax",
    "as_tensor", "cat", "clamp", "concat", "empty", "exp", "eye", "from_numpy", "full", "is_tensor",
    "linspace", "log", "log_softmax", "matmul", "maximum", "mean", "minimum", "numel", "ones",
    "ones_like", "rand", "randint", "randn", "randperm", "relu", "sigmoid", "softmax", "sqrt", "stack",
    "sum", "tanh", "tensor", "where", "zeros", "zeros_like", "nn", "optim", "data", "load", "load_torch", "save",
    "explain", "summary", "Trainer", "models", "sampling", "plot", "onnx", "lessons", "manual_seed", "long", "double", "float",
    "__version__", "set_num_threads", "get_num_threads",
]

# No thread count is applied on import (it would change NumPy's BLAS for the whole host
# process): glassnet applies its choice when it first computes with threads (threads.py).


def manual_seed(seed: int):
    """Seed glassnet's generator: parameter init, dropout masks, shuffling, sampling."""
    return backend.manual_seed(seed)


long = int64
double = float64
float = float32  # noqa: A001 - torch's alias
