"""The array backend: the only place the core imports NumPy.

Every primitive does its array work through ``xp``; a CuPy backend can later be
swapped in here without touching layers. The module also owns the default
floating dtype and the global random generator that ``manual_seed`` reseeds.
"""
from __future__ import annotations

import numpy as xp
from numpy.lib.stride_tricks import as_strided  # noqa: F401  (window views for convolution and pooling)

float32 = xp.dtype(xp.float32)
float64 = xp.dtype(xp.float64)
float16 = xp.dtype(xp.float16)
int32 = xp.dtype(xp.int32)
int64 = xp.dtype(xp.int64)
uint8 = xp.dtype(xp.uint8)
bool_ = xp.dtype(xp.bool_)

_default_dtype = float32
_rng = xp.random.default_rng(0)


def get_default_dtype():
    """The dtype of floating tensors built from Python numbers (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the dtype of new floating tensors; float32 or float64."""
    global _default_dtype
    dtype = xp.dtype(dtype)
    if dtype not in (float32, float64):
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_dtype = dtype


def manual_seed(seed: int):
    """Reseed glassnet's global generator (parameter init, dropout, shuffling, sampling)."""
    global _rng
    _rng = xp.random.default_rng(int(seed))
    return _rng


def rng():
    """The global ``numpy.random.Generator`` (fetch it at use time: ``manual_seed`` replaces it)."""
    return _rng


def to_dtype(dtype):
    """Normalise a dtype argument (NumPy dtype, type, string or None) to a NumPy dtype."""
    if dtype is None:
        return None
    return xp.dtype(dtype)
