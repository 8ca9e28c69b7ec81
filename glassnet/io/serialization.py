"""``gn.save`` / ``gn.load``: checkpoints as safetensors files, written atomically, never pickled.

A checkpoint is any nesting of dicts, lists and tuples whose leaves are Tensors, arrays,
numbers, strings, booleans or None (a ``state_dict``, an optimizer's state, a training
run's epoch counter and history). Arrays go into the safetensors body; the structure
around them is JSON in the header's metadata. Loading parses data only: no code from the
file is ever executed (unlike pickle-based ``torch.load``).

Writes go to a temporary file beside the target, are flushed to disk, and then renamed
over the target in one step, so a crash mid-save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import pathlib
import tempfile

from ..backend import xp
from ..tensor import Tensor

FORMAT = "glassnet.checkpoint.v1"


class CheckpointError(ValueError):
    """The file is not a readable checkpoint (corrupt, truncated, or of an unsafe format)."""


def _encode(obj, arrays: dict, path: str):
    """Replace every array in ``obj`` by a reference into ``arrays``; returns JSON-able data."""
    if isinstance(obj, Tensor):
        obj = obj._data
    if isinstance(obj, xp.ndarray):
        key = path or "tensor"
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
        raise CheckpointError(f"unknown entry in checkpoint structure: {sorted(data)[:3]}")
    if isinstance(data, list):
        return [_decode(v, arrays) for v in data]
    return data


def save(obj, path) -> None:
    """Write ``obj`` (a Tensor, a state_dict, or a nested checkpoint dict) to ``path`` atomically."""
    from safetensors.numpy import save as st_save

    arrays = {}
    structure = _encode(obj, arrays, "")
    payload = st_save(arrays, metadata={"format": FORMAT, "structure": json.dumps(structure)})
    path = pathlib.Path(path)
    directory = path.parent if str(path.parent) else pathlib.Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
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


def _safetensors_layout(raw: bytes) -> bool:
    """Whether raw starts as a safetensors file does: an 8-byte little-endian header length
    that fits the file, then a JSON object. Checked before the pickle/zip signatures, since
    a header length like 0x1080 also starts with the byte 0x80 that opens a pickle."""
    if len(raw) < 9:
        return False
    return 8 + int.from_bytes(raw[:8], "little") <= len(raw) and raw[8:9] == b"{"


def load(path, map_location=None, weights_only: bool = True):
    """Read a checkpoint written by ``gn.save``, or any plain safetensors file (a flat
    {name: Tensor} dict, e.g. torch weights saved with ``safetensors.torch.save_file``).

    ``map_location`` and ``weights_only`` are accepted for torch compatibility; loading
    is always data-only. Raises ``CheckpointError`` for a corrupt or foreign file.
    """
    from safetensors.numpy import load as st_load

    path = pathlib.Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if not _safetensors_layout(raw) and (raw[:4] == b"PK\x03\x04" or raw[:1] == b"\x80"):
        raise CheckpointError(f"{path} looks like a pickle-based torch file: glassnet never unpickles "
                              f"(it can run arbitrary code). Convert it where torch is installed: "
                              f"safetensors.torch.save_file(torch.load(f), 'weights.safetensors')")
    try:
        arrays = st_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        metadata = json.loads(raw[8:8 + header_len]).get("__metadata__") or {}
    except Exception as error:  # safetensors raises its own error types for bad headers/lengths
        raise CheckpointError(f"{path} is not a valid checkpoint (corrupt or truncated?): {error}") from error
    if metadata.get("format") != FORMAT:
        return {k: Tensor._wrap(v) for k, v in arrays.items()}
    try:
        return _decode(json.loads(metadata["structure"]), arrays)
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: checkpoint structure is damaged: {error}") from error
