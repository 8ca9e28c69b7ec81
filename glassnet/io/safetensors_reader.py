"""Reading safetensors files by hand: every claim in the header checked before memory is used.

The format (https://github.com/huggingface/safetensors)::

    bytes 0..8        N, the header length, a little-endian unsigned 64-bit integer
    bytes 8..8+N      the header: a JSON object {name: {"dtype": "F32", "shape": [2, 3],
                      "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
    bytes 8+N..       the data: each tensor's bytes, little-endian, row-major, at
                      [begin, end) counted from the start of the data

A hostile file can claim anything, so before any tensor is touched: N must fit in the file
(and under the reference implementation's 100 MB header limit), the header must be a JSON
object without repeated names, each shape a list of non-negative integers whose byte count
(computed with Python's unbounded integers: no int64 wrap-around) equals its span, and the
spans must tile the data exactly: sorted, no overlap, no gap, no byte left over (the rule
the reference implementation applies). Only then is the data mapped.

Files of at least ``MMAP_THRESHOLD`` bytes are memory-mapped copy-on-write instead of read:
tensors view the page cache, pages are read when first touched, and writing to a loaded
tensor never changes the file. bf16 (which NumPy lacks) is widened to float32, exactly
(a bf16 is the top half of a float32).
"""
from __future__ import annotations

import json
import math
import mmap
import os
import stat

from ..backend import xp
from ..errors import CheckpointError

MAX_HEADER_BYTES = 100_000_000     # the reference implementation refuses larger headers
MMAP_THRESHOLD = 1 << 20           # below this, one read() is cheaper than setting up a mapping

# safetensors dtype -> NumPy dtype (little-endian, as stored)
DTYPES = {
    "BOOL": "?", "U8": "u1", "I8": "i1", "U16": "<u2", "I16": "<i2", "U32": "<u4", "I32": "<i4",
    "U64": "<u8", "I64": "<i8", "F16": "<f2", "F32": "<f4", "F64": "<f8", "C64": "<c8",
    "BF16": "<u2",                 # read as its 16-bit pattern, then widened to float32
}
# dtypes the format defines that NumPy has no type for, with their size in bits
UNSUPPORTED_BITS = {"F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8, "E8M0": 8, "F6_E2M3": 6, "F6_E3M2": 6, "F4": 4}

_FILE_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket")]


def open_regular_file(path):
    """Open ``path`` for reading, refusing anything but a regular file before reading a byte.

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer; the
    check is on the opened descriptor, so the file cannot be swapped between check and read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a file")
        raise CheckpointError(f"{path} is not a regular file ({kind}): a checkpoint is a file on disk")
    return os.fdopen(fd, "rb")


def read_safetensors(f, size: int, where: str):
    """(arrays by name, metadata dict) from the open file ``f`` of ``size`` bytes.

    ``where`` names the file in errors. Raises CheckpointError for anything not a valid file.
    """
    def bad(detail):
        return CheckpointError(f"{where} is not a valid checkpoint: {detail}")

    f.seek(0)
    if size < 8:
        raise bad(f"it has {size} bytes: too short for a safetensors file (an 8-byte header length, then the header)")
    n = int.from_bytes(f.read(8), "little")
    if n > size - 8:
        raise bad(f"header length {n} is larger than the file ({size} bytes): truncated, or not a safetensors file")
    if n > MAX_HEADER_BYTES:
        raise bad(f"header length {n} exceeds the format's limit of {MAX_HEADER_BYTES} bytes")
    header = _parse_header(f.read(n), bad)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise bad("__metadata__ must map strings to strings")
    data_size = size - 8 - n
    entries = [_checked_entry(name, info, bad) for name, info in header.items()]
    _check_tiling(entries, data_size, bad)
    for name, dtype, _, _, _ in entries:
        if dtype in UNSUPPORTED_BITS:
            raise CheckpointError(f"{where}: tensor '{name}' has dtype {dtype}, which glassnet does not support "
                                  f"(NumPy has no such type); readable: {', '.join(DTYPES)}. Convert it to "
                                  f"F16/BF16/F32 where it was made")
    buffer = _map_or_read(f, size, where)
    return {name: _array(buffer, 8 + n + begin, dtype, shape) for name, dtype, shape, begin, _ in entries}, metadata


def _parse_header(raw: bytes, bad) -> dict:
    def refuse_duplicates(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise bad(f"tensor '{key}' appears twice in the header")
            seen[key] = value
        return seen

    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=refuse_duplicates)
    except RecursionError:
        raise bad("header is not valid JSON (nested too deeply)") from None
    except (UnicodeDecodeError, ValueError) as error:     # JSONDecodeError is a ValueError
        raise bad(f"header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise bad(f"header is not a JSON object (got {type(header).__name__})")
    return header


def _checked_entry(name, info, bad):
    """(name, dtype, shape, begin, end) once each field is of the right kind and size."""
    if not (isinstance(info, dict) and {"dtype", "shape", "data_offsets"} <= info.keys()):
        raise bad(f"'{name}' is not a tensor entry (a {{dtype, shape, data_offsets}} object)")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or (dtype not in DTYPES and dtype not in UNSUPPORTED_BITS):
        raise bad(f"'{name}' has unknown dtype {dtype!r} (safetensors dtypes: "
                  f"{', '.join([*DTYPES, *UNSUPPORTED_BITS])})")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise bad(f"'{name}' has shape {shape!r}: expected a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        raise bad(f"'{name}' has data_offsets {offsets!r}: expected [begin, end] with 0 <= begin <= end")
    begin, end = offsets
    bits = UNSUPPORTED_BITS.get(dtype) or 8 * xp.dtype(DTYPES[dtype]).itemsize
    needed = math.ceil(math.prod(shape) * bits / 8)     # Python ints: a huge shape cannot wrap around
    if needed != end - begin:
        raise bad(f"'{name}' of shape {tuple(shape)} and dtype {dtype} needs {needed} bytes, but its "
                  f"offsets [{begin}, {end}] span {end - begin}")
    return name, dtype, tuple(shape), begin, end


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_tiling(entries, data_size: int, bad) -> None:
    """The spans must cover [0, data_size) exactly once, in order."""
    position, previous = 0, None
    for name, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if end > data_size:
            raise bad(f"'{name}' ends at byte {end} of the data, but the file holds only {data_size} bytes "
                      f"of data (truncated?)")
        if begin < position:
            raise bad(f"'{previous[0]}' [{previous[3]}, {previous[4]}] and '{name}' [{begin}, {end}] overlap")
        if begin > position:
            raise bad(f"bytes {position}..{begin} of the data belong to no tensor")
        position, previous = end, (name, None, None, begin, end)
    if position != data_size:
        raise bad(f"bytes {position}..{data_size} of the data belong to no tensor (trailing bytes)")


def _map_or_read(f, size: int, where: str):
    if size >= MMAP_THRESHOLD:
        try:
            # ACCESS_COPY: writable private pages; a write to a loaded tensor never reaches the file
            return mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)
        except (OSError, ValueError):   # a filesystem that cannot map files: read it instead
            pass
    f.seek(0)
    buffer = bytearray(size)
    if f.readinto(buffer) != size:
        raise CheckpointError(f"{where}: the file shrank while it was read")
    return buffer


def _array(buffer, offset: int, dtype: str, shape: tuple):
    np_dtype = xp.dtype(DTYPES[dtype])
    count = math.prod(shape)
    if count == 0:
        array = xp.empty(shape, np_dtype)
    else:
        array = xp.frombuffer(buffer, np_dtype, count, offset).reshape(shape)
        if offset % np_dtype.itemsize:      # the format does not promise alignment; NumPy prefers it
            array = array.copy()
    if dtype == "BF16":
        # a bf16 is the top 16 bits of the float32 with the same sign, exponent and leading mantissa
        array = (array.astype(xp.uint32) << 16).view(xp.float32)
    return array
