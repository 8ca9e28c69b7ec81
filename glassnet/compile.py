"""``gn.compile(model)``: record a model's forward pass once, then replay it without the dispatch.

A glassnet forward pass is Python: every layer call goes through ``Module.__call__`` (its input
checks), ``nn.functional`` (argument checks), ``Function.apply`` (the grad-mode test, wrapping
arrays in Tensors). On a batch of one that dispatch is a large share of the time. ``compile``
shaped like ``torch.compile`` (and doing what ``torch.jit.trace`` does) removes it for inference:

1. **Record.** The first call for a given input signature -- each input's shape, dtype and
   strides, the grad mode, the model's ``training`` flag -- runs the model eagerly while
   ``Function.apply`` is watched, and keeps the sequence of primitive calls
   (``functions/``' ``Linear``, ``ReLU``, ``Conv2d`` ...; each with its inputs and options).
   Recording is at the Function level, not at the leaf-module level, because the Functions are
   the primitives: a user's ``forward`` with its own ``x + y``, ``out[:, -1]``, ``reshape`` is
   captured as well as the layers, and no layer's Python runs again on replay.
2. **Plan.** The calls become one straight-line Python function (``compiled.code`` shows it):
   each primitive's ``forward`` is called directly on arrays, and ``Linear`` and ``ReLU`` -- the
   batch-1 hot path -- write into buffers allocated once (``affine(x, W, b, out=buf)``), the
   way torch's ``mode="reduce-overhead"`` replays on static buffers. Parameters and buffers are
   read by reference, so an optimizer step, ``load_state_dict`` or any in-place update is seen.
3. **Check.** The first replay also runs the model eagerly and compares the two, value for value:
   a plan that differs is dropped (the buffer form first, then the whole plan) and eager runs
   instead. This catches what the recording cannot see, such as a value computed from an input's
   array outside glassnet's operations and baked into the plan as a constant.
4. **Replay** on later calls, after cheap guards: the model's modules still hold the same
   attributes (children, parameters, ``training``, hyper-parameters, hooks) and every parameter
   and buffer still holds the same array (a reassigned ``param.data`` records again).

Replayed results equal eager's bit for bit: each step runs the same NumPy / kernel call on the
same operands (the buffer forms call the very operation the Function's forward calls, with
``out=``: ``kernels.gemm.affine`` for Linear, ``maximum(x, 0)`` for ReLU, which is also what
the compiled ReLU kernel computes, NaN and the sign of zero included); the first-replay check
enforces it.

Eager runs instead (``compiled.explain()`` says why; the ``glassnet.compile`` logger says so too):

* gradients are enabled and the input or a parameter requires grad (training: the plan records
  no graph for ``backward``), or any module is in training mode (dropout's draws and batch
  norm's running statistics are state that a replay must not repeat silently);
* a new input signature arrives once ``cache_size_limit`` signatures are recorded (torch's
  recompile limit);
* the forward turns a tensor's values into Python (``.item()``, ``if t:``, ``.numpy()``,
  ``float(t)``...: data-dependent control flow) or changes a tensor in place, it draws random
  numbers (``F.dropout(..., training=True)``), a module has forward hooks, the inputs are not
  Tensors (or None / numbers), the output is not a Tensor or a tuple/list of them, or the first
  replay differs from eager.

With ``fullgraph=True`` those last reasons raise instead, as torch's graph breaks do.

Input checks: shapes and dtypes are part of the signature (eager checked them when recording);
the one check eager makes on values, an Embedding's index range, is repeated on replay.

One call at a time per compiled module: the plan's buffers are shared between calls.
"""
from __future__ import annotations

import itertools
import logging
import operator

from .autograd import grad_mode
from .autograd.function import RecordedApplies
from .backend import xp
from .functions.activation import ReLU as _ReLU
from .functions.dropout import Dropout as _Dropout
from .functions.embedding import Embedding as _Embedding
from .functions.linear import Linear as _Linear
from .kernels.gemm import affine as _affine
from .nn.functional.embedding import check_indices
from .nn.module import Module
from .tensor import Tensor

__all__ = ["compile", "CompiledModule", "CompileError"]

logger = logging.getLogger("glassnet.compile")

_recording = 0   # > 0 while a forward pass is being recorded (a compiled child then runs eagerly)

_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_BACKENDS = (None, "glassnet", "inductor", "eager")

# Tensor methods that hand a tensor's values to Python, or change a tensor outside the
# Functions: met while recording, they make the plan unsafe (its constants would be stale)
_ESCAPES = ("item", "tolist", "numpy", "__array__", "__bool__", "__float__", "__int__", "__index__",
            "_inplace", "zero_", "fill_", "__setitem__", "_compare", "argmax", "argmin", "all", "any")


class CompileError(RuntimeError):
    """Raised with ``fullgraph=True`` where the model cannot be replayed as one plan."""


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend=None, mode=None, options=None,
            disable: bool = False, cache_size_limit: int = 8, check: bool = True):
    """A module that runs ``model``'s forward as a recorded plan (see the module docstring).

    Keyword arguments, as ``torch.compile``'s where they make sense:

    * ``fullgraph``: raise :class:`CompileError` instead of running eagerly when the forward
      cannot be recorded whole (data-dependent Python, in-place changes, unsupported inputs or
      outputs, a replay that differs from eager);
    * ``dynamic``: ``None`` or ``False``; plans are specialised to each input shape (their
      buffers are allocated for it), so ``True`` is refused;
    * ``mode``: ``"default"``, ``"reduce-overhead"``, ``"max-autotune"``: all replay the same
      plan on preallocated buffers (what ``reduce-overhead`` means in torch);
    * ``backend``: ``"glassnet"`` (or torch's default name ``"inductor"``) replays plans;
      ``"eager"`` only wraps the model (for comparisons);
    * ``options``: a dict that may hold ``cache_size_limit`` and ``check``;
    * ``disable``: return ``model`` itself, as torch does.

    glassnet's own: ``cache_size_limit`` input signatures are recorded at most (torch's
    recompile limit, 8); ``check`` compares the first replay of each plan with eager.

    ``gn.compile`` also works as a decorator factory: ``gn.compile(mode=...)(model)``.
    """
    if model is None:
        return lambda m: compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                 options=options, disable=disable, cache_size_limit=cache_size_limit, check=check)
    if disable:
        return model
    if isinstance(model, CompiledModule):
        model = model._orig_mod
    if not isinstance(model, Module):
        raise TypeError(f"gn.compile: expected a gn.nn.Module, got {type(model).__name__} "
                        f"(wrap a function in a Module to compile it)")
    if dynamic:
        raise ValueError("gn.compile: dynamic=True is not supported: plans are specialised to each input shape "
                         "(expected dynamic=None or False); see cache_size_limit")
    if mode not in _MODES:
        raise ValueError(f"gn.compile: mode must be one of {', '.join(map(repr, _MODES[1:]))}, got {mode!r}")
    if backend not in _BACKENDS:
        raise ValueError(f"gn.compile: backend must be one of {', '.join(map(repr, _BACKENDS[1:]))}, "
                         f"got {backend!r}")
    options = dict(options or {})
    unknown = set(options) - {"cache_size_limit", "check"}
    if unknown:
        raise ValueError(f"gn.compile: unknown option(s) {sorted(unknown)} (expected cache_size_limit, check)")
    cache_size_limit = options.get("cache_size_limit", cache_size_limit)
    if not isinstance(cache_size_limit, int) or cache_size_limit < 1:
        raise ValueError(f"gn.compile: cache_size_limit must be a positive int, got {cache_size_limit!r}")
    return CompiledModule(model, fullgraph=bool(fullgraph), eager=backend == "eager",
                          cache_size_limit=cache_size_limit, check=bool(options.get("check", check)))


class CompiledModule(Module):
    """``model`` behind recorded plans. Its parameters, buffers, ``state_dict`` keys and children
    are ``model``'s own (the same objects), so optimizers, ``load_state_dict`` and ``gn.save``
    work on either; ``_orig_mod`` is the model, as in torch."""

    def __init__(self, model, fullgraph=False, eager=False, cache_size_limit=8, check=True):
        super().__init__()
        d = self.__dict__
        d["_orig_mod"] = model
        # the model's registries themselves: parameters(), state_dict(), to() ... see its entries
        d["_parameters"], d["_buffers"], d["_modules"] = model._parameters, model._buffers, model._modules
        d["_non_persistent"] = model._non_persistent
        d["training"] = model.training
        d["_fullgraph"], d["_eager"], d["_limit"], d["_verify"] = fullgraph, eager, cache_size_limit, check
        d["_plans"] = {}           # input signature -> _Plan
        d["_refused"] = {}         # input signature -> why it runs eagerly
        d["_last"] = None          # what the last call did, for explain()
        d["_counts"] = {"replayed": 0, "recorded": 0, "eager": 0}

    def __getattr__(self, name):   # only for names not found normally: the model's attributes
        d = self.__dict__
        if "_orig_mod" not in d:
            raise AttributeError(name)
        return getattr(d["_orig_mod"], name)

    def __setattr__(self, name, value):   # the model's forward reads its own attributes
        setattr(self._orig_mod, name, value)

    def __delattr__(self, name):
        delattr(self._orig_mod, name)

    # a container's indexing, length and iteration (dunder methods skip __getattr__)
    def __getitem__(self, index):
        return self._orig_mod[index]

    def __len__(self):
        return len(self._orig_mod)

    def __iter__(self):
        return iter(self._orig_mod)

    def train(self, mode: bool = True):
        self._orig_mod.train(mode)
        object.__setattr__(self, "training", bool(mode))
        return self

    def forward(self, *args, **kwargs):
        return self._call(args, kwargs)

    def __getstate__(self):    # copies (copy.deepcopy, pickle) record their own plans
        state = dict(self.__dict__)
        state.update(_plans={}, _refused={}, _last=None, _counts={"replayed": 0, "recorded": 0, "eager": 0})
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def reset(self) -> None:
        """Forget every recorded plan (torch._dynamo.reset()); the next call records again."""
        self._plans.clear()
        self._refused.clear()

    # ----------------------------------------------------------------- calling
    def __call__(self, *args, **kwargs):
        # the fast path, a batch in inference: one signature lookup, the guards, the plan
        if _recording:    # inside another compiled module's recording: be recorded, as eager
            return self._orig_mod(*args, **kwargs)
        if len(args) == 1 and not kwargs and not grad_mode._enabled:
            x = args[0]
            if type(x) is Tensor:
                a = x._data
                plan = self._plans.get((a.shape, a.dtype, a.strides, False, self._orig_mod.training))
                if plan is not None and plan.trusted and plan.guard():
                    self._counts["replayed"] += 1
                    return plan.replay(a)
        if self._forward_hooks:     # hooks on the compiled module itself: Module.__call__ runs them
            return Module.__call__(self, *args, **kwargs)
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        model = self._orig_mod
        if self._eager:
            return self._run_eager(args, kwargs, "backend='eager'")
        if kwargs:
            return self._run_eager(args, kwargs, f"keyword arguments ({', '.join(kwargs)}) are not recorded", True)
        key, problem = _signature(args, model.training)
        if problem:
            return self._run_eager(args, kwargs, problem, True)
        if grad_mode._enabled:
            if any(isinstance(a, Tensor) and a.requires_grad for a in args) or \
                    any(p.requires_grad for p in model.parameters()):
                return self._run_eager(args, kwargs, "gradients are enabled and the input or a parameter "
                                                     "requires grad (training): eager builds the graph")
        if key in self._refused:
            return self._run_eager(args, kwargs, self._refused[key])
        plan = self._plans.get(key)
        arrays = [a._data if isinstance(a, Tensor) else a for a in args]
        if plan is not None and plan.guard():
            if plan.trusted:
                self._counts["replayed"] += 1
                self.__dict__["_last"] = ("replayed", key, None)
                return plan.run(arrays)
            return self._check(plan, key, args, arrays)
        if plan is None and len(self._plans) >= self._limit:
            reason = (f"cache_size_limit ({self._limit}) reached: {len(self._plans)} input signatures are "
                      f"recorded; call reset() or raise the limit")
            return self._run_eager(args, kwargs, reason, log=logging.WARNING)
        if plan is not None:
            logger.info("gn.compile: %s changed (guard failed): recording again", type(model).__name__)
        return self._record(key, args)

    def _run_eager(self, args, kwargs, reason, graph_break=False, log=logging.DEBUG):
        if graph_break and self._fullgraph:
            raise CompileError(f"gn.compile(fullgraph=True) on {type(self._orig_mod).__name__}: {reason}")
        if self._last is None or self._last[2] != reason:
            logger.log(log if not graph_break else logging.INFO, "gn.compile: %s runs eagerly: %s",
                       type(self._orig_mod).__name__, reason)
        self.__dict__["_last"] = ("eager", None, reason)
        self._counts["eager"] += 1
        return self._orig_mod(*args, **kwargs)

    def _refuse(self, key, reason, graph_break=True):
        self._plans.pop(key, None)
        if graph_break and self._fullgraph:
            raise CompileError(f"gn.compile(fullgraph=True) on {type(self._orig_mod).__name__}: {reason}")
        self._refused[key] = reason
        logger.info("gn.compile: %s runs eagerly for inputs %s: %s", type(self._orig_mod).__name__, key[0], reason)

    def _record(self, key, args):
        model = self._orig_mod
        training = [name or "(root)" for name, m in model.named_modules() if m.training]
        hooked = [name or "(root)" for name, m in model.named_modules() if m._forward_hooks]
        # neither is remembered: both can change back, so each call asks again
        if training:
            return self._run_eager(args, {}, f"module(s) {', '.join(training[:4])} in training mode (dropout "
                                             f"draws and batch-norm statistics are state a replay must not "
                                             f"repeat); call eval()")
        if hooked:
            return self._run_eager(args, {}, f"forward hooks on {', '.join(hooked[:4])} would not run on replay",
                                   True)
        recording = _Recording()
        with recording:
            output = model(*args)
        self._counts["recorded"] += 1
        self.__dict__["_last"] = ("recorded", key, None)
        try:
            plan = _Plan.build(model, args, recording, output, buffers=True)
        except _Unsupported as why:
            self._refuse(key, str(why))
            return output
        plan.trusted = not self._verify
        if plan.trusted:
            plan.recording = plan.source_args = plan.source_output = None
        self._plans[key] = plan
        return output

    def _check(self, plan, key, args, arrays):
        """The first replay of a plan: run it and eager, keep the plan only if they agree."""
        eager = self._orig_mod(*args)          # first: an input eager refuses raises here, as eagerly
        self._counts["eager"] += 1
        try:
            difference = _difference(plan.run(arrays), eager)
        except Exception as error:             # a plan that cannot run is a plan that differs
            difference = f"the replay raised {type(error).__name__}: {error}"
        if difference is None:
            plan.trusted = True
            plan.recording = plan.source_args = plan.source_output = None   # the first call's activations
            self.__dict__["_last"] = ("checked", key, None)
            return eager
        if plan.buffered:      # try again without the buffer forms: each Function's own forward
            logger.info("gn.compile: the buffered plan differs from eager (%s): trying the plain plan", difference)
            self._plans[key] = _Plan.build(self._orig_mod, plan.source_args, plan.recording, plan.source_output,
                                           buffers=False)
        else:
            self._refuse(key, f"the replay differed from eager ({difference}): the forward computes something "
                              f"outside glassnet's operations (data-dependent)")
        self.__dict__["_last"] = ("eager", key, difference)
        return eager

    # ------------------------------------------------------------ explaining
    @property
    def counts(self) -> dict:
        """How many calls were recorded, replayed, and run eagerly (a first replay's check counts as eager)."""
        return dict(self._counts)

    @property
    def code(self) -> str:
        """The Python source of the most recently recorded plan ('' before any)."""
        plans = list(self._plans.values())
        return plans[-1].code if plans else ""

    def explain(self) -> str:
        """What was recorded, for which inputs, and why anything runs eagerly."""
        name = type(self._orig_mod).__name__
        lines = [f"gn.compile({name}): {self._counts['recorded']} recorded, {self._counts['replayed']} replayed, "
                 f"{self._counts['eager']} eager call(s); cache_size_limit {self._limit}"]
        for (shapes, *_), plan in self._plans.items():
            state = "replaying" if plan.trusted else "recorded, first replay checks it against eager"
            lines.append(f"  inputs {shapes}: {state}; {plan.summary()}")
        for (shapes, *_), reason in self._refused.items():
            lines.append(f"  inputs {shapes}: eager: {reason}")
        if self._last and self._last[0] == "eager" and self._last[2]:
            lines.append(f"  last call eager: {self._last[2]}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        inner = repr(self._orig_mod).replace("\n", "\n  ")
        return f"CompiledModule(\n  {inner}\n)"


# ------------------------------------------------------------------ signature
def _signature(args, training):
    """(key, None) for inputs a plan can be keyed on, or (None, why not)."""
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            # strides too: kernels pick their paths by memory layout, and the buffers copy eager's
            parts.append((a._data.shape, a._data.dtype, a._data.strides))
        elif a is None or type(a) in (int, float, bool, str):
            parts.append(("value", a))
        else:
            return None, f"input of type {type(a).__name__} (Tensors, None and numbers are recorded)"
    if len(parts) == 1 and parts[0][0] != "value":
        return (*parts[0], grad_mode._enabled, training), None
    return (tuple(parts), None, grad_mode._enabled, training), None


# ------------------------------------------------------------------ recording
class _Unsupported(Exception):
    pass


class _Call:
    __slots__ = ("function", "inputs", "options", "output", "outputs")

    def __init__(self, function, inputs, options, output):
        self.function, self.inputs, self.options, self.output = function, inputs, options, output
        self.outputs = list(output) if type(output) is tuple else [output]


class _Recording:
    """``with _Recording() as r: model(x)``: the outermost ``Function.apply`` calls, in order, and
    the Tensor methods met that take values out of the Functions (``escapes``).

    ``Function.apply`` (through ``autograd.function.RecordedApplies``, which ``onnx/trace.py``
    uses too) and those Tensor methods are patched for the duration of one forward pass only;
    nested applies (a Function built from others) are run, not recorded."""

    def __init__(self):
        self.calls, self.escapes = [], []
        self._applies = RecordedApplies(
            lambda cls, inputs, options, output: self.calls.append(_Call(cls, inputs, options, output)))

    @property
    def depth(self):
        """> 0 while a recorded apply runs (a Tensor method called then is the Function's own)."""
        return self._applies.depth

    def __enter__(self):
        global _recording
        _recording += 1
        self._methods = {name: Tensor.__dict__[name] for name in _ESCAPES if name in Tensor.__dict__}
        for name, method in self._methods.items():
            setattr(Tensor, name, _escape(self, name, method))
        self._applies.__enter__()
        return self

    def __exit__(self, *exc):
        global _recording
        _recording -= 1
        self._applies.__exit__(*exc)
        for name, method in self._methods.items():
            setattr(Tensor, name, method)
        return False


def _escape(recording, name, method):
    def escaped(self, *args, **kwargs):
        if not recording.depth:
            recording.escapes.append(name)
        return method(self, *args, **kwargs)
    return escaped


def _flatten(value):
    if isinstance(value, Tensor):
        return [value]
    if value is None:
        return []
    if type(value) in (tuple, list):
        return [t for v in value for t in _flatten(v)]
    raise _Unsupported(f"the forward returned {type(value).__name__} (a Tensor, or tuples/lists of them, "
                       f"are replayed)")


# ----------------------------------------------------------------------- plan
class _Plan:
    """One recorded forward pass as straight-line code, and the guards that keep it valid."""

    def __init__(self):
        self.trusted = False
        self.code = ""

    @classmethod
    def build(cls, model, args, recording, output, buffers):
        if recording.escapes:
            names = sorted(set(recording.escapes))
            raise _Unsupported(f"the forward used Tensor.{', Tensor.'.join(names)} outside glassnet's operations "
                               f"(data-dependent Python or an in-place change)")
        random = sorted({c.function.__name__ for c in recording.calls if c.function in _RANDOM})
        if random:
            raise _Unsupported(f"{', '.join(random)} draws random numbers on every call (a replay and its "
                               f"check would draw more than eager does)")
        plan = cls()
        plan.recording, plan.source_args, plan.source_output = recording, args, output
        plan.buffered = buffers
        _Builder(plan, model, args, recording.calls, output, buffers).build()
        return plan

    def run(self, arrays):
        return self.replay(*arrays)

    def summary(self) -> str:
        return (f"{self.ops} operation(s), {self.lowered} on preallocated buffers "
                f"({self.buffer_bytes} bytes), {self.constants} parameter/constant array(s) read by reference")


_NAMES = {_Linear: "linear", _ReLU: "relu"}
_RANDOM = (_Dropout,)   # Functions whose forward draws from glassnet's generator


class _Builder:
    def __init__(self, plan, model, args, calls, output, buffers):
        self.plan, self.model, self.args, self.calls, self.output = plan, model, args, calls, output
        self.use_buffers = buffers
        self.env = {"_wrap": Tensor._wrap, "_affine": _affine, "_maximum": xp.maximum}
        self.names = {}        # id(Tensor) -> local name
        self.arrays = {}       # id(ndarray) -> local name (a detached alias of a recorded value)
        self.owned = []        # (array, name): inputs and outputs that own their memory
        self.keep = []         # keeps recorded objects alive so ids stay unique
        self.const_tensors = []
        self.lines = []
        self.derived = set()   # names whose arrays may be (views of) a preallocated buffer
        self.counter = itertools.count()
        self.constants = 0

    def bind(self, prefix, value):
        name = f"{prefix}{next(self.counter)}"
        self.env[name] = value
        return name

    def value(self, t):
        """The local name that holds ``t`` (a recorded input/output, or a constant bound by reference)."""
        if isinstance(t, Tensor):
            name = self.names.get(id(t)) or self.arrays.get(id(t._data))
            if name:
                return name
            self.check_not_derived(t._data)
            name = self.bind("c", t._data)
            self.names[id(t)] = name
            self.keep.append(t)
            self.const_tensors.append((t, t._data))
            self.constants += 1
            return name
        if isinstance(t, xp.ndarray):
            self.check_not_derived(t)
            self.constants += 1
        return self.bind("k", t)

    def check_not_derived(self, array):
        for known, name in self.owned:
            if xp.may_share_memory(array, known):
                raise _Unsupported(f"a tensor sharing memory with {name} entered an operation without going "
                                   f"through glassnet's operations (data-dependent)")

    def define(self, tensors, names):
        for t, name in zip(tensors, names):
            self.names[id(t)] = name
            self.arrays.setdefault(id(t._data), name)
            if t._data.base is None:
                self.owned.append((t._data, name))
            self.keep.append(t)

    def build(self):
        plan, args = self.plan, self.args
        params = [f"a{i}" for i in range(len(args))]
        self.define([a for a in args if isinstance(a, Tensor)], [p for a, p in zip(args, params)
                                                                  if isinstance(a, Tensor)])
        out_ids = {id(t) for t in _flatten(self.output)}
        ops = lowered = nbytes = 0
        for k, call in enumerate(self.calls):
            ops += 1
            names = [f"v{k}_{j}" if len(call.outputs) > 1 else f"v{k}" for j in range(len(call.outputs))]
            is_output = any(id(o) in out_ids for o in call.outputs)
            form = self.buffer_form(call, names[0], is_output) if self.use_buffers else None
            if form is not None:
                lowered += 1
                nbytes += form
            else:
                self.generic(k, call, names)
            self.define(call.outputs, names)
        result = self.output_expression(self.output)
        header = f"def replay({', '.join(params)}):"
        plan.code = "\n".join([header] + ["    " + line for line in self.lines] + [f"    return {result}"]) + "\n"
        exec(compile_source(plan.code), self.env)
        plan.replay = self.env["replay"]
        plan.ops, plan.lowered, plan.buffer_bytes, plan.constants = ops, lowered, nbytes, self.constants
        plan.guard = _guard(self.model, self.const_tensors)

    def generic(self, k, call, names):
        """``outputs = Function.forward(new node, *arrays, **options)``: the Function's own code."""
        fn = call.function
        inputs = [self.value(t) for t in call.inputs]
        node, forward = self.bind("F", fn), self.bind("f", fn.forward)
        self.env.setdefault("_new", object.__new__)
        new = "_new" if fn.__new__ is object.__new__ else self.bind("n", fn.__new__)
        nograd = self.bind("g", (False,) * len(call.inputs))
        opts = f", **{self.bind('o', call.options)}" if call.options else ""
        if fn is _Embedding:     # eager checks the indices' values in nn.functional: so must the replay
            self.env["_rows"] = _check_rows
            self.lines.append(f"_rows({inputs[0]}, {inputs[1]})")
        self.lines.append(f"node = {new}({node}); node.needs_input_grad = {nograd}   # {fn.__name__}")
        target = ", ".join(names) + ("," if len(names) == 1 and type(call.output) is tuple else "")
        self.lines.append(f"{target} = {forward}(node, {', '.join(inputs)}{opts})")
        if any(n in self.derived for n in inputs):
            self.derived.update(names)

    def buffer_form(self, call, name, is_output):
        """Linear and ReLU writing into a buffer allocated once (a fresh array where the result is
        returned); the same NumPy operation their forward runs, with ``out=``. Returns the buffer's
        bytes, or None where the call keeps its generic form."""
        fn, out = call.function, call.outputs[0]
        if fn not in _NAMES or call.options or out._data.dtype.kind != "f":
            return None
        y = out._data
        if fn is _Linear:
            x, W = call.inputs[0], call.inputs[1]
            b = call.inputs[2] if len(call.inputs) > 2 else None
            if not (isinstance(x, Tensor) and (id(x) in self.names or id(x._data) in self.arrays)):
                return None          # a constant input: the generic form keeps it simple
            if not isinstance(W, Tensor) or W._data.ndim != 2 or (b is not None and not isinstance(b, Tensor)):
                return None
            if x._data.dtype != y.dtype or W._data.dtype != y.dtype:
                return None
            xs, Ws = self.value(x), self.value(W)
            bs = "None" if b is None else self.value(b)
            self.alloc(name, y, is_output)
            # the kernel eager's forward calls, writing into the buffer: the same operations, so
            # the same bits (W and b are read by reference: in-place updates are seen)
            self.lines.append(f"_affine({xs}, {Ws}, {bs}, out={name})   # Linear: y = x W^T + b")
            return y.nbytes
        x = call.inputs[0]
        if not isinstance(x, Tensor) or x._data.dtype != y.dtype:
            return None
        xs = self.value(x)
        zero = self.bind("z", y.dtype.type(0))
        self.alloc(name, y, is_output)
        self.lines.append(f"_maximum({xs}, {zero}, out={name})   # ReLU: y = max(0, x)")
        return y.nbytes

    def alloc(self, name, y, is_output):
        """A buffer laid out as eager's result was (a convolution's ReLU stays channel-major, so the
        layers after it take the same paths as eagerly)."""
        if is_output:   # returned to the caller: a fresh array each call, never a shared buffer
            self.env.setdefault("_empty_like", xp.empty_like)
            self.lines.append(f"{name} = _empty_like({self.bind('like', xp.empty_like(y))})")
        else:
            self.env[name] = xp.empty_like(y)
            self.derived.add(name)

    def output_expression(self, value):
        if value is None:
            return "None"
        if isinstance(value, Tensor):
            name = self.value(value)
            if name in self.derived or name[0] in "ck":   # a shared buffer (or a view of one), or an
                return f"_wrap({name}.copy())"              # array bound in the plan: the caller's own copy
            return f"_wrap({name})"
        inner = ", ".join(self.output_expression(v) for v in value)
        if type(value) is tuple:
            return f"({inner}{',' if len(value) == 1 else ''})"
        return f"[{inner}]"


def _check_rows(idx, W):
    """The index check ``nn.functional.embedding`` makes before its lookup, repeated on replay."""
    check_indices(idx, W.shape[0])


def compile_source(source):
    import builtins
    return builtins.compile(source, "<gn.compile plan>", "exec")


def _guard(model, const_tensors):
    """A function that is True while the plan still describes ``model``: every module holds the
    same attribute objects as when recorded (children, parameters, buffers, ``training``,
    hyper-parameters, an instance-level ``forward``), no module gained forward hooks, and every
    tensor the plan reads still holds the same array (``param.data = ...`` changes that)."""
    modules = list(model.modules())
    dicts = [m.__dict__ for m in modules]
    snapshot = list(itertools.chain.from_iterable(d.values() for d in dicts))
    count = len(snapshot)
    hooks = [m._forward_hooks for m in modules]
    tensors = [t for t, _ in const_tensors]
    arrays = [a for _, a in const_tensors]
    same, chain, values, data = operator.is_, itertools.chain.from_iterable, dict.values, operator.attrgetter("_data")

    def guard():
        return (sum(map(len, dicts)) == count and all(map(same, chain(map(values, dicts)), snapshot))
                and all(map(same, map(data, tensors), arrays)) and not any(hooks))
    guard.snapshot = snapshot   # keeps the recorded objects alive, so identity means unchanged
    return guard


def _structure(value):
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_structure(v) for v in value))
    return "None" if value is None else "Tensor"


def _difference(a, b):
    """None where two outputs agree value for value (NaN equal to NaN), else what differs."""
    fa, fb = _flatten(a), _flatten(b)
    if len(fa) != len(fb):
        return f"{len(fa)} outputs against {len(fb)}"
    if _structure(a) != _structure(b):
        return "the outputs are nested differently"
    for i, (x, y) in enumerate(zip(fa, fb)):
        x, y = x._data, y._data
        if x.shape != y.shape or x.dtype != y.dtype:
            return f"output {i}: {x.dtype}{x.shape} against {y.dtype}{y.shape}"
        if not xp.array_equal(x, y, equal_nan=x.dtype.kind in "fc"):
            return f"output {i}: largest difference {float(xp.max(xp.abs(x.astype('f8') - y))):.3g}"
    return None
