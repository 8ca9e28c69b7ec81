"""``Tensor``: an ``ndarray`` plus the link to the operation that made it.

Every differentiable method is a one-line call into :mod:`glassnet.functions`, where
the forward and backward live. Operations record the graph as they run
(define-by-run); ``backward()`` walks it in reverse (:mod:`glassnet.autograd.engine`).
"""
from __future__ import annotations

import numbers
import weakref
from collections import namedtuple

from . import backend
from .autograd import engine, grad_mode
from .autograd import function as _function_module
from .autograd.function import Function
from .backend import xp
from .functions import activation as _act
from .functions import arithmetic as _ar
from .functions import reduction as _red
from .functions import shape as _sh
from .functions import softmax as _sm
from .functions import unary as _un

ReturnTypes = namedtuple("values_indices", ["values", "indices"])


def _array_from(data, dtype=None):
    """Build the backing array for ``data`` the way ``torch.tensor`` chooses dtypes.

    Python floats become the default dtype (float32), ints int64, bools bool; NumPy
    arrays keep their dtype unless ``dtype`` says otherwise.
    """
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, xp.ndarray) or isinstance(data, xp.generic):
        a = xp.array(data, dtype=dtype)   # NumPy data keeps its dtype (int32, uint8, ...), as torch
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
            data = _nested_arrays(data)
        a = xp.array(data, dtype=dtype)
        if dtype is None and a.dtype == xp.float64:
            a = a.astype(backend.get_default_dtype())
        if dtype is None and a.dtype.kind in "iu" and a.dtype != xp.int64:
            a = a.astype(xp.int64)        # Python ints are int64 on every platform
    return a


_new_object = object.__new__
_ndarray = xp.ndarray
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _promoted_dtype(da, a_ndim, db, b_ndim):
    """torch.result_type for two tensors (see ``Tensor._pair``)."""
    ca, cb = _CATEGORY[da.kind], _CATEGORY[db.kind]
    if (a_ndim == 0) != (b_ndim == 0):               # one 0-d operand: it counts only if of a higher category
        (dim, c_dim), (zero, c_zero) = ((da, ca), (db, cb)) if b_ndim == 0 else ((db, cb), (da, ca))
        return zero if c_zero > c_dim else dim
    if ca != cb:
        return da if ca > cb else db
    return xp.promote_types(da, db)


def _flat(seq):
    for item in seq:
        if isinstance(item, (list, tuple)):
            yield from _flat(item)
        else:
            yield item


def _nested_arrays(seq):
    return [_nested_arrays(s) if isinstance(s, (list, tuple)) else (s._data if isinstance(s, Tensor) else s)
            for s in seq]


def _index_array(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return xp.asarray([i._data if isinstance(i, Tensor) else i for i in index])
    return index


def _forget_hooks(hooks: dict) -> None:
    engine.hooked_leaves -= len(hooks)
    hooks.clear()


class _HookHandle:
    """What ``register_post_accumulate_grad_hook`` returns: ``remove()`` unregisters the hook."""

    def __init__(self, hooks: dict, key: int):
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        if self.hooks.pop(self.key, None) is not None:
            engine.hooked_leaves -= 1


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Attributes:
        requires_grad: whether operations on it are recorded for differentiation.
        grad: dL/d(this tensor) after ``backward()`` (leaves only, unless ``retain_grad``).
        grad_fn: the Function node that produced it (None for leaves).
    """

    __slots__ = ("_data", "requires_grad", "grad", "grad_fn", "_output_index", "__weakref__", "__dict__")
    __array_priority__ = 1000  # numpy scalars/arrays on the left defer to Tensor's operators

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        self._data = _array_from(data, backend.to_dtype(dtype))
        self.grad = None
        self.grad_fn = None
        self._output_index = 0
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(array) -> "Tensor":
        """A Tensor around ``array`` without copying or dtype changes (internal)."""
        t = _new_object(Tensor)
        t._data = array if type(array) is _ndarray or isinstance(array, xp.ndarray) else xp.asarray(array)
        t.requires_grad = False
        t.grad = None
        t.grad_fn = None
        t._output_index = 0
        return t

    # ------------------------------------------------------------------ basics
    @property
    def shape(self):
        return self._data.shape

    def size(self, dim=None):
        return self._data.shape if dim is None else self._data.shape[dim]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    def numel(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def data(self) -> "Tensor":
        """A tensor sharing this one's storage, outside the graph (as torch's ``.data``)."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value) -> None:
        self._data = value._data if isinstance(value, Tensor) else xp.asarray(value)

    def numpy(self):
        """The backing ``numpy.ndarray`` (shared, not copied)."""
        return self._data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python scalar, "
                             f"got shape {tuple(self._data.shape)}")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __repr__(self) -> str:
        body = xp.array2string(self._data, separator=", ", prefix="tensor(")
        extra = ""
        if self._data.dtype not in (backend.float32, backend.int64, backend.bool_):
            extra += f", dtype={self._data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.name}Backward>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self._data)

    def __int__(self) -> int:
        return int(self._data)

    def __index__(self) -> int:
        return int(self._data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __hash__(self):
        return id(self)

    # --------------------------------------------------------------- autograd
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self._data.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) is only for leaves; use .detach() on a computed tensor")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (storage shared)."""
        return Tensor._wrap(self._data)

    def retain_grad(self) -> None:
        """Keep dL/d(this) in ``.grad`` during backward even though this is not a leaf."""
        if self.grad_fn is None:
            return
        retained = getattr(self.grad_fn, "retained", None)
        if retained is None:
            retained = self.grad_fn.retained = {}
        retained[self._output_index] = weakref.ref(self)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` in every backward, once the last gradient reaching this leaf is in ``.grad``.

        As torch's: for leaves only; returns a handle whose ``remove()`` unregisters it.
        Data-parallel training uses it to start averaging a gradient as soon as it is final.
        """
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        hooks = self.__dict__.get("_post_accumulate_grad_hooks")
        if hooks is None:
            hooks = self.__dict__["_post_accumulate_grad_hooks"] = {}
            weakref.finalize(self, _forget_hooks, hooks)   # the engine counts live hooks only
        key = max(hooks, default=0) + 1
        hooks[key] = hook
        engine.hooked_leaves += 1
        return _HookHandle(hooks, key)

    def backward(self, gradient=None, retain_graph: bool = False, *, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Args:
            gradient: dL/d(self), same shape; may be omitted for a one-element tensor
                (then 1). ``grad=`` is accepted as a synonym.
            retain_graph: keep the graph's saved arrays to call backward through it again.
        """
        if gradient is None:
            gradient = grad
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs, "
                                   f"got shape {tuple(self._data.shape)}: pass backward(gradient)")
            g = xp.ones(self._data.shape, self._data.dtype)
        else:
            g = gradient._data if isinstance(gradient, Tensor) else xp.asarray(gradient)
            if g.shape != self._data.shape:
                raise RuntimeError(f"backward: gradient has shape {g.shape}, expected {self._data.shape}")
            g = g.astype(self._data.dtype, copy=False)
        engine.backward(self, g, retain_graph=retain_graph)

    def zero_(self) -> "Tensor":
        self._data[...] = 0
        return self

    # ------------------------------------------------------------ arithmetic
    def _operand(self, other):
        """Turn a number or array into a Tensor that computes in this tensor's dtype."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, numbers.Number) and not isinstance(other, bool):
            kind = self._data.dtype.kind
            if kind in "fc" or isinstance(other, numbers.Integral):
                return Tensor._wrap(xp.asarray(other, dtype=self._data.dtype))
            return Tensor._wrap(xp.asarray(other, dtype=backend.get_default_dtype()))
        return Tensor._wrap(xp.asarray(other))

    def _pair(self, other):
        """(self, other) as Tensors of the dtype torch's type promotion gives them.

        torch ranks categories bool < integer < float. Operands of different categories meet
        in the higher category's dtype (int64 + float32 is float32, where NumPy widens to
        float64); within a category the wider dtype wins. A 0-d tensor counts only when its
        category is higher than a dimensioned operand's (float32 + 0-d float64 stays float32,
        int64 + 0-d float16 is float16), and a Python float meets an integer tensor in the
        default float dtype (int64 + 1.5 is float32).
        """
        a = self
        if (a._data.dtype.kind in "biu" and isinstance(other, numbers.Real)
                and not isinstance(other, numbers.Integral)):
            a = a.to(backend.get_default_dtype())
        b = a._operand(other)
        da, db = a._data.dtype, b._data.dtype
        if da == db:
            return a, b
        target = _promoted_dtype(da, a._data.ndim, db, b._data.ndim)
        return a.to(target), b.to(target)

    def __add__(self, other):
        return _ar.Add.apply(*self._pair(other))

    def __radd__(self, other):
        a, b = self._pair(other)
        return _ar.Add.apply(b, a)

    def __sub__(self, other):
        return _ar.Sub.apply(*self._pair(other))

    def __rsub__(self, other):
        a, b = self._pair(other)
        return _ar.Sub.apply(b, a)

    def __mul__(self, other):
        return _ar.Mul.apply(*self._pair(other))

    def __rmul__(self, other):
        a, b = self._pair(other)
        return _ar.Mul.apply(b, a)

    def __truediv__(self, other):
        x = self if self._data.dtype.kind in "fc" else self.to(backend.get_default_dtype())
        return _ar.Div.apply(*x._pair(other))

    def __rtruediv__(self, other):
        x = self if self._data.dtype.kind in "fc" else self.to(backend.get_default_dtype())
        a, b = x._pair(other)
        return _ar.Div.apply(b, a)

    def __pow__(self, other):
        return _ar.Pow.apply(*self._pair(other))

    def __rpow__(self, other):
        a, b = self._pair(other)
        return _ar.Pow.apply(b, a)

    def __matmul__(self, other):
        return _ar.MatMul.apply(self, self._operand(other))

    def __rmatmul__(self, other):
        return _ar.MatMul.apply(self._operand(other), self)

    def __neg__(self):
        return _ar.Neg.apply(self)

    def __pos__(self):
        return self

    # In-place forms update the array outside the graph; they are for leaves that do not
    # require grad (buffers, counters) or for code under ``no_grad`` (parameter updates).
    def _inplace(self, op, other) -> "Tensor":
        if self.requires_grad and grad_mode.is_grad_enabled():
            raise RuntimeError("in-place operation on a tensor that requires grad; "
                               "wrap it in gn.no_grad() or use the out-of-place form")
        op(self._data, other._data if isinstance(other, Tensor) else other, out=self._data, casting="unsafe")
        return self

    def __iadd__(self, other):
        return self._inplace(xp.add, other)

    def __isub__(self, other):
        return self._inplace(xp.subtract, other)

    def __imul__(self, other):
        return self._inplace(xp.multiply, other)

    def __itruediv__(self, other):
        return self._inplace(xp.true_divide, other)

    add_ = __iadd__
    sub_ = __isub__
    mul_ = __imul__
    div_ = __itruediv__

    def copy_(self, src) -> "Tensor":
        return self._inplace(lambda a, b, out, casting: xp.copyto(out, b, casting=casting), src)

    def fill_(self, value) -> "Tensor":
        self._data.fill(value)
        return self

    # ------------------------------------------------------------ comparison
    def _compare(self, op, other):
        o = other._data if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self._data, o))

    def __eq__(self, other):
        return self._compare(xp.equal, other)

    def __ne__(self, other):
        return self._compare(xp.not_equal, other)

    def __lt__(self, other):
        return self._compare(xp.less, other)

    def __le__(self, other):
        return self._compare(xp.less_equal, other)

    def __gt__(self, other):
        return self._compare(xp.greater, other)

    def __ge__(self, other):
        return self._compare(xp.greater_equal, other)

    def __and__(self, other):
        return self._compare(xp.logical_and, other)

    def __or__(self, other):
        return self._compare(xp.logical_or, other)

    def __invert__(self):
        return Tensor._wrap(~self._data)

    def eq(self, other):
        return self == other

    def equal(self, other) -> bool:
        return self.shape == other.shape and bool((self._data == other._data).all())

    def allclose(self, other, rtol=1e-5, atol=1e-8) -> bool:
        return bool(xp.allclose(self._data, other._data if isinstance(other, Tensor) else other, rtol, atol))

    # -------------------------------------------------------------- indexing
    def __getitem__(self, index):
        return _sh.GetItem.apply(self, index=_index_array(index))

    def __setitem__(self, index, value):
        if self.requires_grad and grad_mode.is_grad_enabled():
            raise RuntimeError("item assignment on a tensor that requires grad; "
                               "build the new tensor with gn.where or gn.cat instead")
        self._data[_index_array(index)] = value._data if isinstance(value, Tensor) else value

    # ------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim: bool = False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        return _red.Sum.apply(x, dim=dim, keepdim=keepdim)

    def mean(self, dim=None, keepdim: bool = False):
        return _red.Mean.apply(self, dim=dim, keepdim=keepdim)

    def var(self, dim=None, keepdim: bool = False, unbiased: bool = True, correction=None):
        c = (1 if unbiased else 0) if correction is None else correction
        return _red.Var.apply(self, dim=dim, keepdim=keepdim, correction=c)

    def std(self, dim=None, keepdim: bool = False, unbiased: bool = True, correction=None):
        return self.var(dim, keepdim, unbiased, correction).sqrt()

    def max(self, dim=None, keepdim: bool = False):
        """The largest element; with ``dim``, the named tuple ``(values, indices)`` as torch."""
        if isinstance(dim, Tensor):
            return maximum(self, dim)
        out = _red.MaxMin.apply(self, dim=dim, keepdim=keepdim, largest=True)
        return out if dim is None else ReturnTypes(*out)

    def min(self, dim=None, keepdim: bool = False):
        """The smallest element; with ``dim``, the named tuple ``(values, indices)`` as torch."""
        if isinstance(dim, Tensor):
            return minimum(self, dim)
        out = _red.MaxMin.apply(self, dim=dim, keepdim=keepdim, largest=False)
        return out if dim is None else ReturnTypes(*out)

    def amax(self, dim=None, keepdim: bool = False):
        """Largest value over ``dim`` (int, tuple, or None for all); ties share the gradient."""
        return _red.Extremum.apply(self, dim=dim, keepdim=keepdim, largest=True)

    def amin(self, dim=None, keepdim: bool = False):
        """Smallest value over ``dim`` (int, tuple, or None for all); ties share the gradient."""
        return _red.Extremum.apply(self, dim=dim, keepdim=keepdim, largest=False)

    def logsumexp(self, dim, keepdim: bool = False):
        return _red.LogSumExp.apply(self, dim=dim, keepdim=keepdim)

    def argmax(self, dim=None, keepdim: bool = False):
        if dim is None:
            return Tensor._wrap(xp.asarray(self._data.argmax()))
        return Tensor._wrap(self._data.argmax(axis=dim, keepdims=keepdim))

    def argmin(self, dim=None, keepdim: bool = False):
        if dim is None:
            return Tensor._wrap(xp.asarray(self._data.argmin()))
        return Tensor._wrap(self._data.argmin(axis=dim, keepdims=keepdim))

    def norm(self, p=2):
        if p == 2:
            return (self * self).sum().sqrt()
        if p == 1:
            return self.abs().sum()
        return (self.abs() ** p).sum() ** (1.0 / p)

    def all(self):
        return Tensor._wrap(xp.asarray(self._data.all()))

    def any(self):
        return Tensor._wrap(xp.asarray(self._data.any()))

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _sh.Reshape.apply(self, shape=tuple(shape))

    view = reshape

    def view_as(self, other):
        return self.reshape(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        shape = self.shape[:start] + (-1,) + self.shape[end + 1:]
        return self.reshape(shape)

    def unflatten(self, dim: int, sizes):
        dim = dim % self.ndim
        return self.reshape(self.shape[:dim] + tuple(sizes) + self.shape[dim + 1:])

    def permute(self, *dims):
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return _sh.Permute.apply(self, dims=tuple(d % self.ndim for d in dims))

    def transpose(self, dim0: int, dim1: int):
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return _sh.Permute.apply(self, dims=tuple(dims))

    def t(self):
        if self.ndim < 2:
            return self
        return self.transpose(0, 1)

    @property
    def T(self):
        return _sh.Permute.apply(self, dims=tuple(reversed(range(self.ndim))))

    def unsqueeze(self, dim: int):
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dims = (dim,) if isinstance(dim, int) else dim
        dims = {d % self.ndim for d in dims if self.shape[d] == 1}
        return self.reshape(tuple(s for i, s in enumerate(self.shape) if i not in dims))

    def expand(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        lead = len(shape) - self.ndim
        full = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
        return _sh.Expand.apply(self, shape=full)

    def expand_as(self, other):
        return self.expand(other.shape)

    def repeat(self, *sizes):
        """Tile the tensor ``sizes[i]`` times along each dimension (torch's ``repeat``)."""
        sizes = _shape_args(sizes)
        x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
        # tiling = broadcasting each axis s to (r, s) and merging the pair: differentiable via Expand
        pairs = tuple(v for s in x.shape for v in (1, s))
        tiled = tuple(v for r, s in zip(sizes, x.shape) for v in (r, s))
        return x.reshape(pairs).expand(tiled).reshape(tuple(r * s for r, s in zip(sizes, x.shape)))

    def chunk(self, chunks: int, dim: int = 0):
        n = self.shape[dim]
        step = -(-n // chunks)
        return self.split(step, dim)

    def split(self, split_size, dim: int = 0):
        n = self.shape[dim]
        sizes = [split_size] * (n // split_size) + ([n % split_size] if n % split_size else []) \
            if isinstance(split_size, int) else list(split_size)
        out, start = [], 0
        for s in sizes:
            index = (slice(None),) * (dim % self.ndim) + (slice(start, start + s),)
            out.append(self[index])
            start += s
        return tuple(out)

    def contiguous(self):
        return self

    def clone(self):
        return self + 0 if self.requires_grad else Tensor._wrap(self._data.copy())

    # -------------------------------------------------------------- dtypes
    def to(self, dtype=None, *args, **kwargs) -> "Tensor":
        """Convert to ``dtype`` (a no-op if it already is). Device strings are accepted for 'cpu'."""
        if isinstance(dtype, str) and dtype.startswith("cpu"):
            return self
        dtype = backend.to_dtype(kwargs.get("dtype", dtype))
        if dtype is None or dtype == self._data.dtype:
            return self
        if self.requires_grad and dtype.kind in "fc":
            return _Cast.apply(self, dtype=dtype)
        return Tensor._wrap(self._data.astype(dtype))

    def float(self):
        return self.to(backend.float32)

    def double(self):
        return self.to(backend.float64)

    def long(self):
        return self.to(backend.int64)

    def int(self):
        return self.to(backend.int32)

    def bool(self):
        return self.to(backend.bool_)

    def type(self, dtype):
        return self.to(dtype)

    def cpu(self):
        return self

    # ---------------------------------------------------------- elementwise
    def exp(self):
        return _un.Exp.apply(self)

    def log(self):
        return _un.Log.apply(self)

    def sqrt(self):
        return _un.Sqrt.apply(self)

    def abs(self):
        return _un.Abs.apply(self)

    def sin(self):
        return _un.Sin.apply(self)

    def cos(self):
        return _un.Cos.apply(self)

    def clamp(self, min=None, max=None):
        return _un.Clamp.apply(self, lo=min, hi=max)

    clip = clamp

    def sign(self):
        return Tensor._wrap(xp.sign(self._data))

    def relu(self):
        return _act.ReLU.apply(self)

    def sigmoid(self):
        return _act.Sigmoid.apply(self)

    def tanh(self):
        return _act.Tanh.apply(self)

    def softmax(self, dim):
        return _sm.Softmax.apply(self, dim=dim)

    def log_softmax(self, dim):
        return _sm.LogSoftmax.apply(self, dim=dim)

    def pow(self, exponent):
        return self ** exponent

    def add(self, other):
        return self + other

    def sub(self, other):
        return self - other

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def matmul(self, other):
        return self @ other

    def mm(self, other):
        return self @ other


# Function.apply wraps its outputs in Tensors; function.py cannot import this module (it is
# imported by it), so the class is handed over here, once, instead of imported on every call
_function_module._tensor_class = Tensor


class _Cast(Function):
    """y = x converted to another floating dtype; the gradient converts back."""

    def forward(self, x, dtype):
        self.dtype = x.dtype
        return x.astype(dtype)

    def backward(self, dy):
        return dy.astype(self.dtype)


# ---------------------------------------------------------------- factories
def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (floats default to float32, ints to int64)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def as_tensor(data, dtype=None) -> Tensor:
    if isinstance(data, Tensor) and (dtype is None or data.dtype == backend.to_dtype(dtype)):
        return data
    if isinstance(data, xp.ndarray) and (dtype is None or data.dtype == backend.to_dtype(dtype)):
        return Tensor._wrap(data)
    return Tensor(data, dtype=dtype)


def from_numpy(array) -> Tensor:
    """A tensor sharing ``array``'s memory (no copy), as ``torch.from_numpy``."""
    if not isinstance(array, xp.ndarray):
        raise TypeError(f"from_numpy: expected numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def _shape_args(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def _float_dtype(dtype):
    return backend.to_dtype(dtype) or backend.get_default_dtype()


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor._wrap(xp.zeros(_shape_args(shape), _float_dtype(dtype))).requires_grad_(requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor._wrap(xp.ones(_shape_args(shape), _float_dtype(dtype))).requires_grad_(requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor._wrap(xp.full(tuple(shape), fill_value, _float_dtype(dtype))).requires_grad_(requires_grad)


def zeros_like(t, dtype=None) -> Tensor:
    return Tensor._wrap(xp.zeros(t.shape, backend.to_dtype(dtype) or t.dtype))


def ones_like(t, dtype=None) -> Tensor:
    return Tensor._wrap(xp.ones(t.shape, backend.to_dtype(dtype) or t.dtype))


def empty(*shape, dtype=None) -> Tensor:
    return Tensor._wrap(xp.empty(_shape_args(shape), _float_dtype(dtype)))


def randn(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from glassnet's seeded generator (``gn.manual_seed``)."""
    a = backend.rng().standard_normal(_shape_args(shape)).astype(_float_dtype(dtype))
    return Tensor._wrap(a).requires_grad_(requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from glassnet's seeded generator."""
    a = backend.rng().random(_shape_args(shape)).astype(_float_dtype(dtype))
    return Tensor._wrap(a).requires_grad_(requires_grad)


def randint(low, high=None, size=(), dtype=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return Tensor._wrap(backend.rng().integers(low, high, size=tuple(size)).astype(backend.to_dtype(dtype) or xp.int64))


def randperm(n: int) -> Tensor:
    return Tensor._wrap(backend.rng().permutation(n).astype(xp.int64))


def arange(start, end=None, step=1, dtype=None) -> Tensor:
    if end is None:
        start, end = 0, start
    a = xp.arange(start, end, step)
    if dtype is not None:
        a = a.astype(backend.to_dtype(dtype))
    elif a.dtype.kind == "f":
        a = a.astype(backend.get_default_dtype())
    else:
        a = a.astype(xp.int64)
    return Tensor._wrap(a)


def linspace(start, end, steps: int, dtype=None) -> Tensor:
    return Tensor._wrap(xp.linspace(start, end, steps).astype(_float_dtype(dtype)))


def eye(n: int, m=None, dtype=None) -> Tensor:
    return Tensor._wrap(xp.eye(n, m, dtype=_float_dtype(dtype)))


# --------------------------------------------------------------- operations
def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return _sh.Cat.apply(*tensors, dim=dim)


concat = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return _sh.Stack.apply(*tensors, dim=dim)


def where(condition, input, other) -> Tensor:
    """Elementwise ``input if condition else other``; the gradient flows to the chosen side."""
    cond = condition._data if isinstance(condition, Tensor) else xp.asarray(condition)
    if not isinstance(input, Tensor):
        input = (other._operand(input) if isinstance(other, Tensor) else Tensor(input))
    if not isinstance(other, Tensor):
        other = input._operand(other)
    return _sh.Where.apply(Tensor._wrap(cond), input, other)


def maximum(a, b) -> Tensor:
    return where(a >= b, a, b)


def minimum(a, b) -> Tensor:
    return where(a <= b, a, b)


def matmul(a, b) -> Tensor:
    return a @ b


def exp(x):
    return x.exp()


def log(x):
    return x.log()


def sqrt(x):
    return x.sqrt()


def tanh(x):
    return x.tanh()


def sigmoid(x):
    return x.sigmoid()


def relu(x):
    return x.relu()


def abs(x):  # noqa: A001 - torch's name
    return x.abs()


def clamp(x, min=None, max=None):  # noqa: A002
    return x.clamp(min, max)


def sum(x, dim=None, keepdim=False):  # noqa: A001
    return x.sum(dim, keepdim)


def mean(x, dim=None, keepdim=False):
    return x.mean(dim, keepdim)


def argmax(x, dim=None, keepdim=False):
    return x.argmax(dim, keepdim)


def softmax(x, dim):
    return x.softmax(dim)


def log_softmax(x, dim):
    return x.log_softmax(dim)


def allclose(a, b, rtol=1e-5, atol=1e-8) -> bool:
    return a.allclose(b, rtol, atol)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(x) -> int:
    return x.numel()
