"""A grayscale PNG encoder in a few lines (zlib + the PNG chunk layout), so a report can show
small images such as digits without matplotlib."""
from __future__ import annotations

import struct
import zlib

from ..backend import xp


def _chunk(kind: bytes, data: bytes) -> bytes:
    # each chunk: length, type, data, CRC-32 of type + data
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def gray_png(image, invert: bool = True) -> bytes:
    """PNG bytes of a 2-d array, scaled from its min..max to 0..255 (ink dark when ``invert``)."""
    a = xp.asarray(image, dtype=xp.float64)
    if a.ndim != 2:
        raise ValueError(f"gray_png: expected a 2-d image, got shape {a.shape}")
    lo, hi = float(a.min()), float(a.max())
    scaled = (a - lo) / (hi - lo) if hi > lo else xp.zeros_like(a)
    pixels = (255 * (1 - scaled if invert else scaled)).round().astype(xp.uint8)
    h, w = pixels.shape
    rows = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))    # filter type 0 per row
    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)                 # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")
