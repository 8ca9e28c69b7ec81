"""``gn.save`` / ``gn.load``: checkpoints as safetensors files, written atomically, never pickled.

A checkpoint is any nesting of dicts, lists and tuples whose leaves are Tensors, arrays,
numbers, strings, booleans or None (a ``state_dict``, an optimizer's state, a training
run's epoch counter and history). Arrays go into the safetensors body; the structure
around them is JSON in the header's metadata. Loading parses data only: no code from the
file is ever executed (unlike pickle-based ``torch.load``).

Writes go to a temporary file beside the target, are flushed to disk, and then renamed
over the target in one step, so a crash mid-save leaves the previous checkpoint intact.
The file gets the mode any new file would (0666 less the umask), or keeps the mode of the
file it replaces; saving to a symlink writes through it (the link stays, its target is
replaced atomically).

``gn.load`` reads safetensors files only (``safetensors_reader.py`` checks every claim in
the header before using memory, and maps large files instead of reading them). It names
what else it was given: a pickle or a PyTorch zip file (pointing to ``gn.load_torch``),
a NumPy or HDF5 file; FIFOs, devices and directories are refused before a byte is read.
"""
from __future__ import annotations

import json
import os
import pathlib
import pickletools
import tempfile

from ..backend import xp
from ..errors import CheckpointError
from ..tensor import Tensor
from .safetensors_reader import open_regular_file, read_safetensors

FORMAT = "glassnet.checkpoint.v1"


def _encode(obj, arrays: dict, path: str):
    """Replace every array in ``obj`` by a reference into ``arrays``; returns JSON-able data."""
    if isinstance(obj, Tensor):
        obj = obj._data
    if isinstance(obj, xp.ndarray):
        key = path or "tensor"
        if key in arrays:   # "a/b" and {"a": {"b": ...}} (or 1 and "1") would share one name
            raise ValueError(f"gn.save: two entries are both stored as {key!r} (nested keys are joined "
                             f"with '/', and numbers become strings): rename one of them")
        # reshape: ascontiguousarray turns a 0-d array (BatchNorm's num_batches_tracked) into (1,)
        arrays[key] = xp.ascontiguousarray(obj).reshape(obj.shape)
        return {"__tensor__": key}
    if isinstance(obj, xp.generic):
        return obj.item()
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": {k: _encode(v, arrays, f"{path}/{k}" if path else k) for k, v in obj.items()}}
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)):
                raise TypeError(f"gn.save: dict key {k!r} at {path or 'top level'} is not a str or number")
            items.append([k, _encode(v, arrays, f"{path}/{k}" if path else str(k))])
        return {"__items__": items}
    if isinstance(obj, (list, tuple)):
        encoded = [_encode(v, arrays, f"{path}/{i}" if path else str(i)) for i, v in enumerate(obj)]
        return {"__tuple__": encoded} if isinstance(obj, tuple) else encoded
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"gn.save: cannot store {type(obj).__name__} at {path or 'top level'} "
                    f"(Tensors, arrays, numbers, strings, None, dicts, lists and tuples only: no pickling)")


def _decode(data, arrays: dict):
    if isinstance(data, dict):
        if "__tensor__" in data:
            return Tensor._wrap(arrays[data["__tensor__"]])
        if "__dict__" in data:
            return {k: _decode(v, arrays) for k, v in data["__dict__"].items()}
        if "__items__" in data:
            return {k: _decode(v, arrays) for k, v in data["__items__"]}
        if "__tuple__" in data:
            return tuple(_decode(v, arrays) for v in data["__tuple__"])
        raise ValueError(f"unknown entry in checkpoint structure: {sorted(data)[:3]}")
    if isinstance(data, list):
        return [_decode(v, arrays) for v in data]
    return data


def save(obj, path) -> None:
    """Write ``obj`` (a Tensor, a state_dict, or a nested checkpoint dict) to ``path`` atomically.

    A symlink at ``path`` is written through: its target is replaced, the link kept.
    """
    from safetensors.numpy import save as st_save

    arrays = {}
    structure = _encode(obj, arrays, "")
    payload = st_save(arrays, metadata={"format": FORMAT, "structure": json.dumps(structure)})
    # through a symlink (or a chain of them) to the file it names, so the rename below replaces
    # that file and not the link; the temporary file must sit beside the real target for the
    # rename to stay on one filesystem
    path = pathlib.Path(os.path.realpath(path)) if os.path.islink(path) else pathlib.Path(path)
    directory = path.parent if str(path.parent) else pathlib.Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.chmod(tmp, mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows: readers see the old file or the new one
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _mode_for(path: pathlib.Path) -> int:
    """The permission bits ``open(path, "w")`` would leave: those of the file being replaced,
    or 0666 less the umask for a new one (mkstemp alone would make every checkpoint 0600)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    try:   # Linux >= 4.7 shows it without changing it (os.umask can only read it by setting it)
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _foreign_format(head: bytes, last: bytes, size: int):
    """What the file is if it is clearly not safetensors (None when it may be).

    The safetensors layout is checked first: a header length such as 0x1080 also starts the
    file with the byte 0x80 that opens a pickle. A pickle of protocol 2+ starts with PROTO
    (0x80, then the protocol number); one of protocol 0 or 1 starts with any opcode and ends
    with STOP ('.'): both are recognised without running the pickle.
    """
    if head[:4] == b"PK\x03\x04":
        return "a zip archive (the format of torch.save since PyTorch 1.6, or a NumPy .npz)"
    if len(head) >= 9 and 8 + int.from_bytes(head[:8], "little") <= size and head[8:9] == b"{":
        return None
    if head[:1] == b"\x80" and head[1:2] and 2 <= head[1] <= 5:
        return f"a pickle (protocol {head[1]}; torch.save before PyTorch 1.6 writes these too)"
    if last == b"." and head[:1] and chr(head[0]) in pickletools.code2op and head[:1] != b"{":
        return "a pickle (protocol 0 or 1)"
    if head[:6] == b"\x93NUMPY":
        return "a NumPy .npy file (read it with numpy.load, then gn.from_numpy)"
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        return "an HDF5 file (such as a Keras .h5 model)"
    return None


def load(path, map_location=None, weights_only: bool = True):
    """Read a checkpoint written by ``gn.save``, or any plain safetensors file (a flat
    {name: Tensor} dict, e.g. torch weights saved with ``safetensors.torch.save_file``).

    Reads tensors of every safetensors dtype NumPy has, plus bf16 (as float32). Large files
    are memory-mapped (copy-on-write). ``map_location`` and ``weights_only`` are accepted for
    torch compatibility; loading is always data-only. Raises ``CheckpointError`` for anything
    else: a damaged file, an unsupported dtype, a pickle or torch file, a FIFO or device.
    """
    path = pathlib.Path(path)
    with open_regular_file(path) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(16)
        f.seek(max(size - 1, 0))
        foreign = _foreign_format(head, f.read(1), size)
        if foreign and ("pickle" in foreign or "zip" in foreign):
            raise CheckpointError(f"{path} is {foreign}, not safetensors: gn.load never unpickles (a pickle "
                                  f"can run arbitrary code). For a PyTorch state_dict use gn.load_torch(path), "
                                  f"which reads it without running its code, or convert it where torch is "
                                  f"installed: safetensors.torch.save_file(torch.load(f), 'weights.safetensors')")
        if foreign:
            raise CheckpointError(f"{path} is {foreign}, not safetensors")
        arrays, metadata = read_safetensors(f, size, str(path))
    if metadata.get("format") != FORMAT:
        return {k: Tensor._wrap(v) for k, v in arrays.items()}
    try:
        return _decode(json.loads(metadata["structure"]), arrays)
    except RecursionError:
        raise CheckpointError(f"{path}: checkpoint structure is damaged: nested too deeply") from None
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise CheckpointError(f"{path}: checkpoint structure is damaged: "
                              f"{type(error).__name__}: {error}") from None
