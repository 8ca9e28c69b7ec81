"""gn.load_torch reads what torch.save writes: every storage dtype, views (offsets, strides),
shared storages, Parameters, torch.Size, dtypes, nested checkpoints. Hand-built files (no
torch needed) and, when torch is installed, files torch itself wrote."""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

import glassnet as gn

sys.path.insert(0, os.path.dirname(__file__))
import torch_zip as tz  # noqa: E402

HAS_TORCH = importlib.util.find_spec("torch") is not None

# storage class -> (NumPy dtype written, NumPy dtype expected back)
STORAGES = {"FloatStorage": ("f4", "f4"), "DoubleStorage": ("f8", "f8"), "HalfStorage": ("f2", "f2"),
            "LongStorage": ("i8", "i8"), "IntStorage": ("i4", "i4"), "ShortStorage": ("i2", "i2"),
            "CharStorage": ("i1", "i1"), "ByteStorage": ("u1", "u1"), "BoolStorage": ("?", "?")}


@pytest.mark.parametrize("kind", sorted(STORAGES))
@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_every_storage_dtype_in_either_byte_order(kind, byteorder, tmp_path):
    written, expected = STORAGES[kind]
    values = (np.arange(6) % 2 == 0) if written == "?" else np.arange(-3, 3).astype(written)
    raw = values.astype(np.dtype(written).newbyteorder("<" if byteorder == "little" else ">")).tobytes()
    tz.write_zip(tmp_path / "t.pt", tz.state_dict(w=tz.tensor(tz.storage_pid("0", 6, kind), (2, 3), (3, 1))),
                 {"0": raw}, byteorder=byteorder)
    got = gn.load_torch(tmp_path / "t.pt")["w"]
    assert got.dtype == np.dtype(expected)
    np.testing.assert_array_equal(got, values.reshape(2, 3))


def test_bfloat16_becomes_float32(tmp_path):
    values = np.array([1.0, -2.5, 3.140625, 0.0], np.float32)   # exactly representable in bfloat16
    bits = (values.view(np.uint32) >> 16).astype("<u2")
    tz.write_zip(tmp_path / "t.pt", tz.state_dict(w=tz.tensor(tz.storage_pid("0", 4, "BFloat16Storage"))),
                 {"0": bits.tobytes()})
    got = gn.load_torch(tmp_path / "t.pt")["w"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, values)


def test_views_share_one_storage_and_come_back_independent(tmp_path):
    base = np.arange(12, dtype="<f4")
    pkl = tz.state_dict(full=tz.tensor(tz.storage_pid("0", 12), (3, 4), (4, 1)),
                        transposed=tz.tensor(tz.storage_pid("0", 12), (4, 3), (1, 4)),
                        strided=tz.tensor(tz.storage_pid("0", 12), (2, 2), (4, 2), offset=5),
                        expanded=tz.tensor(tz.storage_pid("0", 12), (3, 2), (0, 1), offset=10))
    tz.write_zip(tmp_path / "t.pt", pkl, {"0": base.tobytes()})
    got = gn.load_torch(tmp_path / "t.pt")
    full = base.reshape(3, 4)
    np.testing.assert_array_equal(got["full"], full)
    np.testing.assert_array_equal(got["transposed"], full.T)
    np.testing.assert_array_equal(got["strided"], full[1:, 1::2])
    np.testing.assert_array_equal(got["expanded"], np.tile([10.0, 11.0], (3, 1)))
    got["full"][0, 0] = 99   # writable copies: changing one leaves the others alone
    assert got["transposed"][0, 0] == 0


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch to write the file (pip install torch==2.13.0)")
def test_files_torch_wrote(tmp_path):
    import torch

    base = torch.arange(24.0).reshape(4, 6)
    obj = {
        "model": torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)).state_dict(),
        "epoch": 7, "name": "run", "history": [0.5, 0.25], "nothing": None,
        "bf16": torch.randn(5).to(torch.bfloat16), "half": torch.randn(3).half(),
        "view": base[1:, 2:5], "transposed": base.t(), "base": base,
        "int8": torch.tensor([-3, 4], dtype=torch.int8), "uint8": torch.tensor([250], dtype=torch.uint8),
        "int16": torch.tensor([-300], dtype=torch.int16), "int32": torch.tensor([7], dtype=torch.int32),
        "long": torch.tensor([2**40]), "bool": torch.tensor([True, False]), "double": torch.tensor(3.5, dtype=torch.float64),
        "parameter": torch.nn.Parameter(torch.ones(2)), "size": torch.Size([2, 3]), "dtype": torch.float16,
        "empty": torch.zeros(0, 3), "expanded": torch.ones(1, 3).expand(4, 3),
    }
    torch.save(obj, tmp_path / "t.pt")
    got = gn.load_torch(tmp_path / "t.pt")

    def compare(a, b, where):
        if isinstance(b, torch.Tensor):
            ref = (b.float() if b.dtype == torch.bfloat16 else b).detach().numpy()
            assert isinstance(a, np.ndarray) and a.dtype == ref.dtype and a.shape == ref.shape, where
            np.testing.assert_array_equal(a, ref, err_msg=where)
        elif isinstance(b, dict):
            assert list(a) == list(b), where
            for k in b:
                compare(a[k], b[k], f"{where}.{k}")
        elif isinstance(b, torch.dtype):
            assert a == "float16"
        else:
            assert a == (tuple(b) if isinstance(b, torch.Size) else b), where

    compare(got, obj, "")
    model = gn.nn.Sequential(gn.nn.Linear(3, 2), gn.nn.BatchNorm1d(2))
    model.load_state_dict(got["model"])   # num_batches_tracked and all: strict keys
