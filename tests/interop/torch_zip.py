"""Build torch-format zip files by hand (no torch needed): a pickle assembled opcode by opcode,
and the archive around it. The malicious-file tests use this to write files torch never would."""
from __future__ import annotations

import struct
import zipfile

PROTO2 = b"\x80\x02"
MARK, TUPLE, REDUCE, BINPERSID, STOP, FALSE, EMPTY_TUPLE, BUILD, EMPTY_DICT = (
    b"(", b"t", b"R", b"Q", b".", b"\x89", b")", b"b", b"}")


def s(text: str) -> bytes:
    """A str (BINUNICODE)."""
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def i(n: int) -> bytes:
    """An int (LONG1: any size)."""
    data = n.to_bytes((n.bit_length() + 8) // 8 or 1, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data


def glob(module: str, name: str) -> bytes:
    """A global (GLOBAL opcode): what find_class is asked for."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def tup(*items: bytes) -> bytes:
    return MARK + b"".join(items) + TUPLE


def call(func: bytes, *args: bytes) -> bytes:
    return func + tup(*args) + REDUCE


def storage_pid(key="0", numel=4, kind="FloatStorage") -> bytes:
    return tup(s("storage"), glob("torch", kind), s(key), s("cpu"), i(numel)) + BINPERSID


def tensor(pid: bytes, size=(4,), stride=(1,), offset=0) -> bytes:
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""
    return call(glob("torch._utils", "_rebuild_tensor_v2"), pid, i(offset), tup(*map(i, size)),
                tup(*map(i, stride)), FALSE, call(glob("collections", "OrderedDict")))


def state_dict(**tensors: bytes) -> bytes:
    """{name: tensor, ...} as a pickle (a plain dict)."""
    body = b"".join(s(k) + v for k, v in tensors.items())
    return PROTO2 + EMPTY_DICT + MARK + body + b"u" + STOP


def write_zip(path, pickle_bytes: bytes, storages=None, prefix="archive", extra=None,
              compression=zipfile.ZIP_STORED, byteorder="little") -> None:
    """The archive torch.save writes: <prefix>/data.pkl, <prefix>/byteorder, <prefix>/data/<key>."""
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr(f"{prefix}/data.pkl", pickle_bytes)
        zf.writestr(f"{prefix}/byteorder", byteorder)
        for key, data in (storages or {}).items():
            zf.writestr(f"{prefix}/data/{key}", data)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
