import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.io import CheckpointError


def _model():
    gn.manual_seed(0)
    return gn.nn.Sequential(gn.nn.Linear(4, 3), gn.nn.ReLU(), gn.nn.Linear(3, 2))


def test_state_dict_round_trip_is_bitwise(tmp_path):
    model = _model()
    gn.save(model.state_dict(), tmp_path / "m.safetensors")
    other = gn.nn.Sequential(gn.nn.Linear(4, 3), gn.nn.ReLU(), gn.nn.Linear(3, 2))
    other.load_state_dict(gn.load(tmp_path / "m.safetensors"))
    for a, b in zip(model.parameters(), other.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_nested_checkpoint_keeps_types(tmp_path):
    ckpt = {"epoch": 3, "lr": 0.5, "name": "run", "flag": True, "none": None, "betas": (0.9, 0.999),
            "history": {"loss": [1.0, 0.5]}, "state": {0: {"step": 2, "buf": gn.ones(2, 2)}},
            "ids": gn.tensor([1, 2, 3]), "f64": gn.zeros(2, dtype=gn.float64)}
    gn.save(ckpt, tmp_path / "c.safetensors")
    back = gn.load(tmp_path / "c.safetensors")
    assert back["epoch"] == 3 and back["betas"] == (0.9, 0.999) and back["none"] is None and back["flag"] is True
    assert list(back["state"].keys()) == [0]
    assert back["ids"].dtype == gn.int64 and back["f64"].dtype == gn.float64
    np.testing.assert_array_equal(back["state"][0]["buf"].numpy(), np.ones((2, 2), np.float32))


def test_zero_dim_entries_keep_their_shape_and_old_one_element_ones_still_load(tmp_path):
    """BatchNorm's num_batches_tracked is 0-d; it round-trips as 0-d, and a checkpoint that
    stored it as shape (1,) (glassnet before this fix) loads into it, as torch allows."""
    gn.manual_seed(0)
    bn = gn.nn.BatchNorm1d(3)
    bn(gn.randn(4, 3))
    gn.save(bn.state_dict(), tmp_path / "bn.safetensors")
    back = gn.load(tmp_path / "bn.safetensors")
    assert back["num_batches_tracked"].shape == () and int(back["num_batches_tracked"].item()) == 1
    old = dict(back, num_batches_tracked=np.array([7]))
    other = gn.nn.BatchNorm1d(3)
    other.load_state_dict(old)
    assert other.num_batches_tracked.shape == () and int(other.num_batches_tracked.item()) == 7
    with pytest.raises(RuntimeError, match="size mismatch for num_batches_tracked"):
        other.load_state_dict(dict(back, num_batches_tracked=np.array([1, 2])))


def test_refuses_objects_that_would_need_pickle(tmp_path):
    with pytest.raises(TypeError, match="no pickling"):
        gn.save({"fn": lambda x: x}, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_corrupt_or_truncated_checkpoint_raises_clear_error(tmp_path):
    path = tmp_path / "m.safetensors"
    gn.save(_model().state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a valid checkpoint"):
        gn.load(path)
    path.write_bytes(b"garbage!" * 4)
    with pytest.raises(CheckpointError):
        gn.load(path)


def test_pickle_files_are_never_unpickled(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 64)  # torch's zip-of-pickles container
    with pytest.raises(CheckpointError, match="never unpickles"):
        gn.load(path)


def test_pickle_protocol_byte_is_refused_too(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(b"\x80\x04\x95" + b"\x00" * 64)       # a pickle stream, protocol 4
    with pytest.raises(CheckpointError, match="never unpickles"):
        gn.load(path)


def test_checkpoint_whose_header_length_starts_with_pickle_byte_loads(tmp_path):
    """A safetensors header length of 0x..80 starts the file with 0x80, as a pickle does:
    such a checkpoint must load, not be refused as a pickle (1 in 256 of them did)."""
    path = tmp_path / "c.safetensors"
    for n in range(300):
        gn.save({"w": gn.ones(2), "pad": "x" * n}, path)
        if path.read_bytes()[:1] == b"\x80":
            break
    else:
        pytest.fail("no header length with low byte 0x80 in range")
    back = gn.load(path)
    assert back["pad"] == "x" * n and back["w"].shape == (2,)


def test_crash_during_save_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.safetensors"
    first = _model().state_dict()
    gn.save(first, path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        gn.save({k: v * 0 for k, v in first.items()}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["last.safetensors"]  # no temporary file left behind


def test_plain_safetensors_files_load_as_flat_dicts(tmp_path):
    from safetensors.numpy import save_file
    save_file({"fc.weight": np.ones((2, 3), np.float32)}, str(tmp_path / "w.safetensors"))
    loaded = gn.load(tmp_path / "w.safetensors")
    assert list(loaded) == ["fc.weight"] and loaded["fc.weight"].shape == (2, 3)
