"""``gn.load_torch``: read the files ``torch.save`` writes, without torch and without running their code.

A ``.pt`` file written by ``torch.save`` (torch >= 1.6) is a zip archive::

    archive/data.pkl      a pickle of the saved object; each tensor in it is a call
                          torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)
    archive/data/0, 1...  each storage's raw bytes (what tensors view, with offsets and strides)
    archive/byteorder     "little" or "big"
    archive/version ...   small bookkeeping files

A pickle is a small program: it may name any importable function (``os.system``) and call
it. ``torch.load`` with ``weights_only=False`` runs it as written; here the pickle runs
in an unpickler whose ``find_class`` knows only what a state_dict or a training checkpoint
needs (``_TORCH_GLOBALS`` below): each allowed name maps to glassnet's own stand-in (a NumPy
rebuild, ``tuple`` for ``torch.Size``), and any other name is refused before it is
imported. Storages are resolved by ``persistent_load`` into lazy handles; their bytes are
read only when a tensor uses them, once per storage (shared storages stay shared while
loading), never more than the size declared in the archive, and each tensor's offset and
strides are checked to stay inside its storage.

``optimizer_state_from_torch`` turns a torch optimizer's ``state_dict`` into the form a
glassnet optimizer of the same algorithm loads, so a run started in torch continues here.
"""
from __future__ import annotations

import _compat_pickle
import collections
import pathlib
import pickle
import posixpath
import re
import zipfile
import zlib

from ..backend import xp
from .serialization import CheckpointError


class TorchFileError(CheckpointError):
    """A file ``gn.load_torch`` will not read: not a torch zip file, damaged, or asking to run code."""


# Limits that keep a hostile file from exhausting memory: the pickle of a state_dict is a few
# kilobytes per tensor, and an expanded (stride-0) tensor may not claim far more elements than
# its storage holds (a 1-element storage viewed as 10**12 elements would otherwise be copied out).
MAX_PICKLE_BYTES = 256 * 2**20
MAX_EXPANSION = 16          # elements per stored element a view may claim (beyond 2**20 elements)
MAX_COMPRESSION_RATIO = 100  # torch stores entries uncompressed; a compressed one may not inflate more

# storage class name -> (NumPy dtype of its elements, bytes per element). torch names storages
# by their element type; bfloat16 has no NumPy dtype, so it is read as its 16-bit pattern.
_STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "u2",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?", "ComplexFloatStorage": "c8", "ComplexDoubleStorage": "c16",
}
_TORCH_DTYPES = {"float32": "f4", "float": "f4", "float64": "f8", "double": "f8", "float16": "f2",
                 "half": "f2", "bfloat16": "f4", "int64": "i8", "long": "i8", "int32": "i4", "int": "i4",
                 "int16": "i2", "short": "i2", "int8": "i1", "uint8": "u1", "bool": "?"}


class _Sealed:
    """Objects the pickle receives but may not modify: the pickle opcode BUILD would otherwise
    set their attributes (say, a storage's element count, to read past its end)."""

    __slots__ = ()

    def __setstate__(self, state):
        raise TorchFileError(f"gn.load_torch: the pickle tries to modify a {type(self).__name__.lstrip('_')} "
                             f"record; refused")


class _Function(_Sealed):
    """A stand-in function as the pickle sees it: callable, but sealed (a plain function would let
    BUILD rewrite its ``__defaults__`` for every later load)."""

    __slots__ = ("function",)

    def __init__(self, function):
        self.function = function

    def __call__(self, *args):
        return self.function(*args)


class _StorageType(_Sealed):
    """What ``torch.FloatStorage`` (etc.) unpickles to: a name and an element dtype, nothing callable."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str):
        self.name, self.dtype = name, _STORAGE_DTYPES[name]


class _Storage(_Sealed):
    """A storage the pickle referred to; its bytes are read from the archive on first use."""

    __slots__ = ("reader", "type", "key", "numel", "_array")

    def __init__(self, reader: "_ArchiveReader", storage_type: _StorageType, key: str, numel: int):
        self.reader, self.type, self.key, self.numel = reader, storage_type, key, numel
        self._array = None

    def array(self):
        """The storage's elements as a read-only 1-d array in native byte order."""
        if self._array is None:
            dtype = xp.dtype(self.type.dtype).newbyteorder(self.reader.byteorder)
            raw = self.reader.read_storage(self.key, self.numel * dtype.itemsize)
            array = xp.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=False)
            if self.type.name == "BFloat16Storage":
                # bfloat16 is the upper half of a float32: shift the 16 bits into place
                array = (array.astype(xp.uint32) << 16).view(xp.float32)
            array.flags.writeable = False
            self._array = array
        return self._array


def _check_ints(name: str, values, minimum: int) -> tuple:
    if not isinstance(values, (tuple, list)) or not all(type(v) is int and v >= minimum for v in values):
        raise TorchFileError(f"gn.load_torch: a tensor's {name} must be a tuple of integers >= {minimum}, "
                             f"got {values!r:.80}")
    return tuple(values)


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                    metadata=None):
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: the tensor as a NumPy array (a copy).

    Element (i0, i1, ...) of a tensor is storage[offset + i0 * stride0 + i1 * stride1 + ...];
    the largest such index, offset + sum((size_k - 1) * stride_k), must lie inside the storage.
    """
    if not isinstance(storage, _Storage):
        raise TorchFileError(f"gn.load_torch: a tensor must be built from a storage record, got "
                             f"{type(storage).__name__}")
    if type(storage_offset) is not int or storage_offset < 0:
        raise TorchFileError(f"gn.load_torch: storage offset must be an integer >= 0, got {storage_offset!r}")
    size, stride = _check_ints("size", size, 0), _check_ints("stride", stride, 0)
    if len(size) != len(stride):
        raise TorchFileError(f"gn.load_torch: tensor size {size} and stride {stride} differ in length")
    if backward_hooks:
        raise TorchFileError("gn.load_torch: a tensor carries backward hooks (code), which are not loaded")
    numel = 1
    for s in size:
        numel *= s
    if numel == 0 and storage.reader.lazy:
        return storage.reader.describe(storage, size)
    if numel == 0:
        bfloat16 = storage.type.name == "BFloat16Storage"
        return xp.zeros(size, dtype=xp.float32 if bfloat16 else xp.dtype(storage.type.dtype))
    last = storage_offset + sum((s - 1) * st for s, st in zip(size, stride))
    if last >= storage.numel:
        raise TorchFileError(f"gn.load_torch: a tensor of size {size}, stride {stride} and offset "
                             f"{storage_offset} reads element {last} of storage '{storage.key}', which has "
                             f"{storage.numel} elements")
    if numel > max(MAX_EXPANSION * storage.numel, 2**20):
        raise TorchFileError(f"gn.load_torch: a tensor of size {size} claims {numel} elements from a storage "
                             f"of {storage.numel} (an expanded view); save it with .contiguous()")
    if storage.reader.lazy:
        return storage.reader.describe(storage, size)
    data = storage.array()
    view = xp.lib.stride_tricks.as_strided(data[storage_offset:], shape=size,
                                           strides=[st * data.itemsize for st in stride], writeable=False)
    return xp.array(view, copy=True)   # independent and writable, as a loaded tensor should be


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None, *state):
    """Stand-in for ``torch._utils._rebuild_parameter``: a Parameter's data is its array."""
    if backward_hooks:
        raise TorchFileError("gn.load_torch: a parameter carries backward hooks (code), which are not loaded")
    return data


def _ordered_dict(*args):
    """``collections.OrderedDict`` from its pickled items only (no keyword tricks)."""
    return collections.OrderedDict(*args)


def _torch_size(values=()):
    return tuple(_check_ints("size", tuple(values), 0))


def _torch_device(*args):
    return str(args[0]) if args else "cpu"


# (module, name) the pickle may name -> what it gets instead. Nothing else is ever imported.
_TORCH_GLOBALS = {
    ("collections", "OrderedDict"): _Function(_ordered_dict),
    ("torch._utils", "_rebuild_tensor_v2"): _Function(_rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): _Function(_rebuild_parameter),
    ("torch._utils", "_rebuild_parameter_with_state"): _Function(_rebuild_parameter),
    ("torch", "Size"): _Function(_torch_size),
    ("torch", "device"): _Function(_torch_device),
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
    # a dtype comes back as its NumPy name (a str: immutable, unlike a shared numpy.dtype object)
    **{("torch", name): xp.dtype(code).name for name, code in _TORCH_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles a state_dict or checkpoint; refuses every global outside ``_TORCH_GLOBALS``."""

    def __init__(self, file, reader: "_ArchiveReader"):
        super().__init__(file)
        self.reader = reader
        self.storages = {}   # key -> _Storage, so tensors that share a storage share its bytes

    def find_class(self, module, name):
        # protocol-2 pickles spell Python 3 names the Python 2 way ('__builtin__.eval' for
        # builtins.eval); translate them as pickle itself would, so errors name the real global
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        try:
            return _TORCH_GLOBALS[(module, name)]
        except (KeyError, TypeError):
            raise TorchFileError(
                f"gn.load_torch: {self.reader.path} asks for the global '{module}.{name}', which a "
                f"state_dict or checkpoint does not need; refused (loading it could run code from "
                f"the file)") from None

    def persistent_load(self, pid):
        # torch writes ('storage', storage type, key, location, number of elements)
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise TorchFileError(f"gn.load_torch: unexpected persistent record {pid!r:.80} "
                                 f"(expected ('storage', type, key, location, numel))")
        _, storage_type, key, location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise TorchFileError(f"gn.load_torch: storage record names {storage_type!r:.60} as its type, "
                                 f"not a torch storage type")
        if not (isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_]{1,64}", key)):
            raise TorchFileError(f"gn.load_torch: storage key {key!r:.80} is not a plain name")
        if not isinstance(location, str) or type(numel) is not int or numel < 0:
            raise TorchFileError(f"gn.load_torch: storage record for '{key}' has location {location!r:.40} "
                                 f"and size {numel!r:.40}; expected a string and an integer >= 0")
        known = self.storages.get(key)
        if known is not None:
            if known.type is not storage_type or known.numel != numel:
                raise TorchFileError(f"gn.load_torch: storage '{key}' is declared twice with different "
                                     f"types or sizes")
            return known
        storage = self.storages[key] = _Storage(self.reader, storage_type, key, numel)
        return storage


class TensorInfo(collections.namedtuple("TensorInfo", ["shape", "dtype", "storage", "nbytes"])):
    """What ``inspect_torch`` gives for a tensor: its shape, NumPy dtype name (``bfloat16`` kept
    as its own name), the storage it views and that storage's size in bytes; no data is read."""

    __slots__ = ()

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


class _ArchiveReader:
    """The zip archive: checks every entry's name and size, reads only what is declared."""

    def __init__(self, path: pathlib.Path, zf: zipfile.ZipFile, lazy: bool = False):
        self.path, self.zf, self.lazy = path, zf, lazy
        self.file_size = path.stat().st_size
        pickles = []
        for info in zf.infolist():
            name = info.filename
            parts = name.split("/")
            if name.startswith("/") or "\\" in name or ".." in parts or posixpath.isabs(name) or ":" in parts[0]:
                raise TorchFileError(f"gn.load_torch: {path} has an entry '{name[:80]}' that escapes the archive")
            if info.compress_type == zipfile.ZIP_STORED:
                if info.file_size != info.compress_size or info.header_offset + info.compress_size > self.file_size:
                    raise TorchFileError(f"gn.load_torch: {path} entry '{name[:80]}' declares {info.file_size} "
                                         f"bytes that the file does not hold (truncated or damaged)")
            elif info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
                raise TorchFileError(f"gn.load_torch: {path} entry '{name[:80]}' would inflate from "
                                     f"{info.compress_size} to {info.file_size} bytes (a zip bomb?); refused")
            if len(parts) == 2 and parts[1] == "data.pkl":
                pickles.append(info)
        if len(pickles) != 1:
            raise TorchFileError(f"gn.load_torch: {path} is a zip file but not one torch.save wrote "
                                 f"({len(pickles)} '<archive>/data.pkl' entries, expected 1)")
        self.pickle_info = pickles[0]
        self.prefix = self.pickle_info.filename.split("/")[0]
        self.byteorder = "<"
        try:
            order = self._read(f"{self.prefix}/byteorder", 16).decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise TorchFileError(f"gn.load_torch: {path} has byteorder '{order[:16]}', expected "
                                     f"'little' or 'big'")
            self.byteorder = "<" if order == "little" else ">"
        except KeyError:
            pass   # files from before torch 1.13 have no byteorder entry: they are little-endian

    def _read(self, name: str, expected: int, exact: bool = False) -> bytes:
        info = self.zf.getinfo(name)   # KeyError if absent
        if info.file_size > expected or (exact and info.file_size != expected):
            raise TorchFileError(f"gn.load_torch: {self.path} entry '{name}' holds {info.file_size} bytes, "
                                 f"expected {'exactly' if exact else 'at most'} {expected}")
        try:
            with self.zf.open(info) as f:
                # ask for no more than declared (+1 to notice a lie): zipfile inflates at most what is asked
                data = f.read(info.file_size + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
            raise TorchFileError(f"gn.load_torch: {self.path} entry '{name}' is damaged: {error}") from None
        if len(data) != info.file_size:
            raise TorchFileError(f"gn.load_torch: {self.path} entry '{name}' is damaged: declared "
                                 f"{info.file_size} bytes, found {len(data)}")
        return data

    def describe(self, storage: "_Storage", size: tuple) -> TensorInfo:
        """A tensor's description, its storage's declared size checked without reading it."""
        itemsize = xp.dtype(storage.type.dtype).itemsize
        name = f"{self.prefix}/data/{storage.key}"
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise TorchFileError(f"gn.load_torch: {self.path} refers to storage '{storage.key}', which the "
                                 f"archive does not contain") from None
        if info.file_size != storage.numel * itemsize:
            raise TorchFileError(f"gn.load_torch: {self.path} entry '{name}' holds {info.file_size} bytes, "
                                 f"expected exactly {storage.numel * itemsize}")
        dtype = "bfloat16" if storage.type.name == "BFloat16Storage" else xp.dtype(storage.type.dtype).name
        return TensorInfo(size, dtype, storage.key, info.file_size)

    def read_pickle(self) -> bytes:
        return self._read(self.pickle_info.filename, MAX_PICKLE_BYTES)

    def read_storage(self, key: str, nbytes: int) -> bytes:
        name = f"{self.prefix}/data/{key}"
        try:
            return self._read(name, nbytes, exact=True)
        except KeyError:
            raise TorchFileError(f"gn.load_torch: {self.path} refers to storage '{key}', which the "
                                 f"archive does not contain") from None


def load_torch(path, map_location=None, weights_only: bool = True):
    """Read a file written by ``torch.save`` (a state_dict or a training checkpoint) into NumPy arrays.

    Args:
        path: the ``.pt`` / ``.pth`` file (torch's zip format, the default since torch 1.6).
        map_location: accepted for torch compatibility; everything loads to NumPy on the CPU.
        weights_only: must stay True (torch's safe mode, its default since 2.6). glassnet never
            runs code from a file, so ``False`` is refused rather than silently ignored.

    Returns:
        The saved object with every tensor as a ``numpy.ndarray`` in its saved dtype
        (bfloat16 becomes float32: NumPy has no bfloat16), ``torch.Size`` as a tuple, dtypes
        as NumPy dtypes, devices as strings. A state_dict loads straight into a model:
        ``model.load_state_dict(gn.load_torch("resnet18.pth"))``.

    Raises:
        TorchFileError (a ``gn.io.CheckpointError``) naming what was wrong: an old (non-zip)
        file, a global outside the allow-list (the name is given), a storage shorter than its
        tensors claim, an entry that escapes the archive or inflates without bound.
    """
    if weights_only is not True:
        raise ValueError("gn.load_torch: weights_only must be True; glassnet never runs code from a file "
                         f"(got weights_only={weights_only!r})")
    return _unpickle(pathlib.Path(path), lazy=False)


def inspect_torch(path):
    """The object a torch file holds, each tensor as a ``TensorInfo`` (shape, dtype, storage,
    bytes): what ``glassnet inspect`` lists. The same checks as ``load_torch``; no tensor data is read."""
    return _unpickle(pathlib.Path(path), lazy=True)


def _unpickle(path: pathlib.Path, lazy: bool):
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:4] != b"PK\x03\x04":
        if head[:1] == b"\x80" or head[:2] == b"\x1f\x8b" or head[:5] == b"\x00\x00\x00\x00\x00":
            raise TorchFileError(
                f"gn.load_torch: {path} is in torch's legacy (pre-1.6, non-zip) format, which glassnet does not "
                f"read. Re-save it where torch is installed: torch.save(torch.load(f, weights_only=True), "
                f"'new.pt') writes the zip format")
        raise TorchFileError(f"gn.load_torch: {path} is not a torch file (expected a zip archive starting with "
                             f"'PK', found {head[:4]!r})")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise TorchFileError(f"gn.load_torch: {path} is a damaged zip file: {error}") from None
    with zf:
        reader = _ArchiveReader(path, zf, lazy=lazy)
        import io
        unpickler = _RestrictedUnpickler(io.BytesIO(reader.read_pickle()), reader)
        try:
            return unpickler.load()
        except TorchFileError:
            raise
        except zipfile.BadZipFile as error:
            raise TorchFileError(f"gn.load_torch: {path} is damaged: {error}") from None
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError,
                KeyError, RecursionError, MemoryError, OverflowError) as error:
            raise TorchFileError(f"gn.load_torch: {path} has a damaged or unsupported pickle: "
                                 f"{type(error).__name__}: {error}"[:400]) from None


# ------------------------------------------------------------------ optimizers
# torch's per-parameter state names for each algorithm glassnet shares; glassnet uses the same names
_OPTIMIZER_STATE = {
    "SGD": ("momentum_buffer",),
    "Adam": ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "AdamW": ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "RMSprop": ("step", "square_avg", "momentum_buffer", "grad_avg"),
    "Adagrad": ("step", "sum"),
}


def optimizer_state_from_torch(state_dict: dict, optimizer) -> dict:
    """Map a torch optimizer's ``state_dict`` (from ``gn.load_torch``) onto ``optimizer``'s format.

    torch and glassnet number parameters the same way (in group order) and name the buffers
    the same way (SGD ``momentum_buffer``; Adam/AdamW ``step``, ``exp_avg``, ``exp_avg_sq``,
    ``max_exp_avg_sq``; RMSprop ``square_avg``, ``momentum_buffer``, ``grad_avg``; Adagrad
    ``step``, ``sum``). What changes: torch keeps ``step`` as a 0-d float tensor (glassnet an
    int), and torch's groups carry settings glassnet has no use for (``foreach``, ``fused``,
    ``capturable``, ``differentiable``), which are dropped. A setting glassnet does not
    implement, set to anything but its neutral value, is refused.

        opt = gn.optim.Adam(model.parameters())
        ckpt = gn.load_torch("checkpoint.pt")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(gn.io.optimizer_state_from_torch(ckpt["optimizer"], opt))
    """
    kind = type(optimizer).__name__
    if kind not in _OPTIMIZER_STATE:
        raise ValueError(f"optimizer_state_from_torch: no mapping for {kind}; "
                         f"supported: {', '.join(_OPTIMIZER_STATE)}")
    if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
        raise ValueError("optimizer_state_from_torch: expected a torch optimizer state_dict "
                         "({'state': ..., 'param_groups': [...]})")
    # settings torch has and glassnet ignores only at their neutral value
    neutral = {"foreach": None, "fused": None, "capturable": False, "differentiable": False}
    known = set(optimizer.defaults) | {"params", "initial_lr"}
    groups = []
    for group in state_dict["param_groups"]:
        packed = {}
        for key, value in group.items():
            if key == "decoupled_weight_decay":
                if bool(value) != (kind == "AdamW"):
                    other = "AdamW" if value else "Adam"
                    raise ValueError(f"optimizer_state_from_torch: the torch optimizer was {other} "
                                     f"(decoupled_weight_decay={value}), this one is {kind}")
            elif key in known:
                packed[key] = tuple(value) if key == "betas" else value
            elif key in neutral or value in (None, False, 0, 0.0):
                continue
            else:
                raise ValueError(f"optimizer_state_from_torch: torch's {kind} setting {key}={value!r} has "
                                 f"no glassnet counterpart")
        groups.append(packed)
    names = _OPTIMIZER_STATE[kind]
    state = {}
    for index, buffers in state_dict["state"].items():
        entry = {}
        for name, value in buffers.items():
            if name not in names:
                raise ValueError(f"optimizer_state_from_torch: {kind} state '{name}' of parameter {index} "
                                 f"is not one glassnet's {kind} keeps ({', '.join(names)})")
            if name == "step":
                value = int(xp.asarray(value).item())
            entry[name] = value
        state[int(index)] = entry
    return {"state": state, "param_groups": groups}
