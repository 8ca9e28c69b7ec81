"""``Module``: the base of every layer and model.

A Module owns Parameters (learned), buffers (state saved with the model but not
learned, such as BatchNorm's running mean) and sub-Modules, each registered by
attribute assignment. ``state_dict`` keys are the dotted attribute paths, exactly
as torch names them (``features.0.weight``), so torch-trained weights load by name.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

from .. import backend
from ..autograd import grad_mode
from ..backend import xp
from ..errors import InputTypeError, LayerError
from ..tensor import Tensor
from .parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def zero_grads(tensors, set_to_none: bool = True) -> None:
    """Clear ``.grad`` of each tensor: None (the default, as torch), or zeros in place."""
    for t in tensors:
        if t.grad is None:
            continue
        if set_to_none:
            t.grad = None
        else:
            t.grad._data[...] = 0


class _RemovableHandle:
    def __init__(self, hooks: dict, key: int):
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)


class Module:
    """Base class for layers and models: subclass it and write ``forward``.

    Parameters, buffers and sub-modules assigned as attributes are registered and
    also stay plain attributes, so reading ``self.weight`` in ``forward`` costs nothing.
    """

    _hook_id = 0

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "training", True)

    # ---------------------------------------------------------- registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called "
                                 f"(call super().__init__() first in {type(self).__name__}.__init__)")
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                f"(gn.nn.Parameter or None expected)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                f"(gn.nn.Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (Tensor or None expected)")
            buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self._non_persistent.discard(name)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param) -> None:
        if param is None:
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register state that is saved in ``state_dict`` (if persistent) but not learned."""
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})")
            module = module._modules[part]
        return module

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter {name!r}")
        return module._parameters[name]

    # ------------------------------------------------------------- traversal
    def named_modules(self, memo=None, prefix: str = ""):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry: str, prefix: str, recurse: bool):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """(dotted name, Parameter) pairs, each shared parameter once."""
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> "Module":
        """Training mode: dropout drops, batch norm uses and updates batch statistics."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode: dropout is the identity, batch norm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (False) or unfreeze (True) every parameter of this module and its children."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (to None, or to zeros with ``set_to_none=False``)."""
        zero_grads(self.parameters(), set_to_none)

    def apply(self, fn) -> "Module":
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, dtype=None, *args, **kwargs) -> "Module":
        """Convert floating parameters and buffers to ``dtype`` (in place); 'cpu' is a no-op."""
        dtype = kwargs.get("dtype", dtype)
        if dtype is None or (isinstance(dtype, str) and dtype.startswith("cpu")):
            return self
        dtype = backend.to_dtype(dtype)
        for m in self.modules():
            for registry in (m._parameters, m._buffers):
                for t in registry.values():
                    if t is not None and t._data.dtype.kind == "f":
                        t._data = t._data.astype(dtype)
                        if t.grad is not None:
                            t.grad._data = t.grad._data.astype(dtype)
        return self

    def float(self) -> "Module":
        return self.to(xp.float32)

    def double(self) -> "Module":
        return self.to(xp.float64)

    def cpu(self) -> "Module":
        return self

    # ------------------------------------------------------------- calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    # What Module.__call__ checks about the first argument before forward runs (torch's rule,
    # in one place for every layer): None for a user's module (its forward takes what it takes);
    # "float" for glassnet's layers (a floating Tensor, of the parameters' dtype if there are
    # any); "index" for Embedding (an integer Tensor); "loss" (a floating Tensor; targets free).
    _input_rule = None

    def __call__(self, *args, **kwargs):
        rule = self._input_rule
        if rule is not None and (args or "input" in kwargs):
            x = args[0] if args else kwargs["input"]
            # inline fast path (this runs on every layer call): a Tensor of the first parameter's dtype
            if type(x) is Tensor and rule == "float":
                dtype = x._data.dtype
                for p in self._parameters.values():
                    if p is not None:
                        if p._data.dtype is not dtype:
                            _check_input(self, rule, x)
                        break
                else:                                       # no parameters: any floating dtype
                    if dtype.kind != "f":
                        _check_input(self, rule, x)
            else:
                _check_input(self, rule, x)
        try:
            out = self.forward(*args, **kwargs)
        except LayerError as error:
            # the innermost module an error passes through owns it (nn.functional knows no layer);
            # each enclosing one then names it by its path from there, the outermost last
            if error.module is None:
                error.module = self
            for path, m in self.named_modules():
                if m is error.module:
                    error.path = path or None
                    break
            raise
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def register_forward_hook(self, hook) -> _RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward; returns a handle to remove it."""
        Module._hook_id += 1
        self._forward_hooks[Module._hook_id] = hook
        return _RemovableHandle(self._forward_hooks, Module._hook_id)

    # ----------------------------------------------------------- state dict
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by dotted name (tensors sharing storage, as torch)."""
        out = OrderedDict() if destination is None else destination
        for module_prefix, module in self.named_modules(prefix=prefix.rstrip(".")):
            base = f"{module_prefix}." if module_prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[base + name] = p if keep_vars else p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[base + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values into this module's parameters and buffers, by name.

        Everything is checked before anything is written: a shape mismatch (always), a value
        that cannot become the entry's dtype (a string, None, complex, an object array, a float
        that overflows float32, a fraction for an integer buffer) and a missing / unexpected key
        (with ``strict``) raise and leave the module unchanged. Every problem is listed at once.
        Values may be glassnet Tensors, NumPy arrays, or anything ``numpy.asarray`` takes.
        """
        own = self.state_dict(keep_vars=True)
        incoming, problems = {}, []
        for key, value in state_dict.items():
            target = own.get(key)
            if target is None:            # unexpected: reported below with strict, ignored without
                incoming[key] = value
                continue
            array, problem = _converted_entry(key, value, target._data)
            if problem:
                problems.append(problem)
            incoming[key] = array
        # as torch: checkpoints from before BatchNorm counted its batches lack num_batches_tracked;
        # the counter then keeps its current value instead of failing the whole load
        missing = [k for k in own if k not in incoming and not k.endswith("num_batches_tracked")]
        unexpected = [k for k in incoming if k not in own]
        if strict:
            if missing:
                problems.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing))
            if unexpected:
                problems.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__} "
                               f"(nothing was changed):\n\t" + "\n\t".join(problems))
        with grad_mode.no_grad():
            for key, target in own.items():
                if key in incoming:
                    xp.copyto(target._data, incoming[key])   # same dtype and shape: checked above
        return IncompatibleKeys(missing, unexpected)

    # --------------------------------------------------------------- display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()))


def _check_input(module, rule: str, x) -> None:
    """Refuse what ``module`` cannot take (see ``Module._input_rule``), before its forward runs.

    This runs on every layer call, so the common case (a Tensor of the parameters' dtype)
    is a few attribute reads and one identity test; messages are built only on failure.
    """
    if type(x) is not Tensor and not isinstance(x, Tensor):
        inner = getattr(x, "data", None)            # a PackedSequence carries its values in .data
        if rule == "float" and isinstance(inner, Tensor):
            x = inner
        else:
            wanted = "integer indices" if rule == "index" else "floating-point values"
            raise InputTypeError(f"expected a Tensor of {wanted} as input, got {_type_name(x)}: wrap it with "
                                 f"gn.tensor(x) (or gn.from_numpy(x) to share a NumPy array's memory)", module)
    dtype = x._data.dtype
    if rule == "index":
        if dtype.kind not in "iu":
            raise InputTypeError(f"expected integer indices, got {dtype} input", module)
        return
    expected = None
    if rule == "float":
        for p in module._parameters.values():       # the first parameter gives the layer's dtype
            if p is not None:
                expected = p._data.dtype
                if expected is dtype:                # the usual case: floating, and the same dtype
                    return
                break
    if dtype.kind != "f":
        raise InputTypeError(f"expected a floating-point input, got {dtype} (integer, boolean and complex "
                             f"inputs are not converted silently: x.float() makes float32)", module)
    if expected is not None and expected != dtype:
        raise InputTypeError(f"got a {dtype} input, but the layer has {expected} parameters: "
                             f"convert one (x.to(gn.{expected}) or layer.to(gn.{dtype}))", module)


def _type_name(x) -> str:
    kind = type(x)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


_KIND_NAMES = {"c": "complex", "O": "object", "U": "str", "S": "bytes", "V": "raw (void)",
               "M": "datetime", "m": "timedelta"}


def _converted_entry(key: str, value, target):
    """``value`` as an array of ``target``'s dtype and shape, and None; or None and what is wrong.

    Nothing here writes to ``target``: ``load_state_dict`` checks every entry first. The
    conversion refuses what would silently change a value: complex (the imaginary part would
    be dropped), a float that becomes inf in a narrower dtype, a fraction into an integer
    buffer. NaN and inf that were already in the file load as they are (as torch does).
    """
    dtype, shape = target.dtype, target.shape
    expected = f'"{key}": expected {dtype} values of shape {tuple(shape)}'
    if value is None:
        return None, f"{expected}, got None"
    if isinstance(value, Tensor):
        array = value._data
    else:
        try:
            array = xp.asarray(value)
        except (TypeError, ValueError) as error:   # ragged lists and the like
            return None, f"{expected}, got a {type(value).__name__} that is not an array ({error})"
    kind = array.dtype.kind
    if kind == "O" and array.ndim == 0:
        return None, f"{expected}, got {type(value).__name__}"
    if kind not in "biuf":
        return None, f"{expected}, got {array.dtype} values ({_KIND_NAMES.get(kind, kind)})"
    if target.ndim == 0 and array.shape == (1,):
        # as torch: a one-element 1-d value fills a 0-d entry (checkpoints written before
        # glassnet kept scalars 0-d stored num_batches_tracked as shape (1,))
        array = array.reshape(())
    if array.shape != shape:
        return None, (f"size mismatch for {key}: copying a param with shape {tuple(array.shape)}, "
                      f"the shape in current model is {tuple(shape)}")
    if array.dtype == dtype:
        return array, None
    with xp.errstate(over="ignore", invalid="ignore"):
        converted = array.astype(dtype)
    if dtype.kind == "f":
        lost = xp.isfinite(array) & ~xp.isfinite(converted)
        if lost.any():
            return None, (f"{expected}: value {array[lost].flat[0]:g} overflows {dtype} "
                          f"(largest finite {xp.finfo(dtype).max:g})")
    elif dtype.kind in "iu" or dtype.kind == "b":
        wrong = converted != array            # a fraction, NaN, or a value out of the dtype's range
        if wrong.any():
            return None, f"{expected}, got {array[wrong].flat[0].item()!r} (not representable as {dtype})"
    return converted, None
