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


# --------------------------------------------------------------- what gn.save refuses
@pytest.mark.parametrize("obj, names", [
    ({"a/b": gn.ones(1), "a": {"b": gn.zeros(1)}}, "'a/b'"),
    ({"x": [gn.ones(1)], "x/0": gn.zeros(1)}, "'x/0'"),
    ({1: gn.ones(1), "1": gn.zeros(1)}, "'1'"),
])
def test_save_refuses_keys_that_collide_once_flattened(obj, names, tmp_path):
    path = tmp_path / "c.safetensors"
    with pytest.raises(ValueError, match=f"gn.save: two entries are both stored as {names}"):
        gn.save(obj, path)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------- half precision and other dtypes
def _raw_safetensors(name, dtype, shape, data: bytes, metadata=None):
    import json
    import struct
    header = {name: {"dtype": dtype, "shape": list(shape), "data_offsets": [0, len(data)]}}
    if metadata is not None:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def test_bf16_tensors_load_as_float32(tmp_path):
    # values whose float32 bits end in 16 zero bits are exactly bf16: the top half is the bf16 pattern
    values = np.array([[1.5, -2.0], [0.15625, 2.0 ** 100]], np.float32)
    assert not (values.view(np.uint32) & 0xFFFF).any()
    bits = (values.view(np.uint32) >> 16).astype("<u2")
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(_raw_safetensors("w", "BF16", values.shape, bits.tobytes()))
    w = gn.load(path)["w"]
    assert w.dtype == gn.float32
    np.testing.assert_array_equal(w.numpy(), values)


def test_bf16_written_by_torch_loads_as_torch_reads_it(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    t = torch.randn(5, 7).to(torch.bfloat16)
    save_file({"w": t}, str(tmp_path / "t.safetensors"))
    np.testing.assert_array_equal(gn.load(tmp_path / "t.safetensors")["w"].numpy(), t.float().numpy())


def test_fp16_tensors_load_as_float16_and_into_a_float32_model(tmp_path):
    from safetensors.numpy import save_file
    model = _model()
    half = {k: v.numpy().astype(np.float16) for k, v in model.state_dict().items()}
    save_file(half, str(tmp_path / "h.safetensors"))
    back = gn.load(tmp_path / "h.safetensors")
    assert back["0.weight"].dtype == np.float16
    model.load_state_dict(back)
    np.testing.assert_array_equal(model[0].weight.numpy(), half["0.weight"].astype(np.float32))


@pytest.mark.parametrize("dtype", ["F8_E4M3", "F8_E5M2", "F4"])
def test_other_known_dtypes_are_called_unsupported_not_corrupt(dtype, tmp_path):
    path = tmp_path / "f8.safetensors"
    path.write_bytes(_raw_safetensors("w", dtype, (4,), b"\0" * 4 if dtype != "F4" else b"\0" * 2))
    with pytest.raises(CheckpointError, match=f"'w' has dtype {dtype}, which glassnet does not support") as info:
        gn.load(path)
    assert "corrupt" not in str(info.value)


# ------------------------------------------------------------- files that are not safetensors
@pytest.mark.parametrize("protocol", [0, 1, 2, 5])
def test_any_pickle_is_named_a_pickle_and_pointed_to_load_torch(protocol, tmp_path):
    import pickle
    path = tmp_path / "state.pkl"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=protocol))
    with pytest.raises(CheckpointError, match=r"is a pickle.*never unpickles.*gn\.load_torch"):
        gn.load(path)


def test_torch_zip_file_is_pointed_to_load_torch(tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with pytest.raises(CheckpointError, match=r"zip archive.*gn\.load_torch"):
        gn.load(path)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="not a regular file.*FIFO"):
        gn.load(fifo)                     # used to block forever in open()/read()


@pytest.mark.parametrize("path, kind", [("/dev/zero", "character device"), (".", "directory")])
def test_devices_and_directories_are_refused_before_reading(path, kind):
    if not os.path.exists(path):
        pytest.skip(f"no {path} here")
    with pytest.raises(CheckpointError, match=f"not a regular file.*{kind}"):
        gn.load(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        gn.load(tmp_path / "nope.safetensors")


# ---------------------------------------------------------- damaged glassnet structure metadata
def _glassnet_file(structure: str):
    return _raw_safetensors("w", "F32", (1,), b"\0" * 4,
                            metadata={"format": "glassnet.checkpoint.v1", "structure": structure})


@pytest.mark.parametrize("structure", [
    "[" * 100_000 + "]" * 100_000,                             # RecursionError in the JSON parser
    '{"__tuple__": ' * 5000 + "1" + "}" * 5000,                 # RecursionError while rebuilding
    '{"__dict__": [1, 2]}',                                     # AttributeError: a list has no .items()
    '{"__items__": 5}',                                         # TypeError
    '{"__items__": [[1]]}',                                     # ValueError (unpacking)
    '{"__items__": [[[1], 2]]}',                                # unhashable key
    '{"__tensor__": "missing"}',                                # KeyError
    '{"__tensor__": ["w"]}',                                    # unhashable reference
    '{"__what__": 1}',                                          # unknown tag
    "not json",
], ids=["deep-json", "deep-tuples", "dict-of-list", "items-int", "items-short", "items-unhashable",
        "tensor-missing", "tensor-unhashable", "unknown-tag", "not-json"])
def test_damaged_structure_metadata_is_a_checkpoint_error(structure, tmp_path):
    path = tmp_path / "d.safetensors"
    path.write_bytes(_glassnet_file(structure))
    with pytest.raises(CheckpointError, match="checkpoint structure is damaged"):
        gn.load(path)


# ------------------------------------------------------------------ large files are mapped
def test_large_files_are_memory_mapped_and_their_tensors_writable(tmp_path):
    import mmap
    path = tmp_path / "big.safetensors"
    big = np.arange(2**20, dtype=np.float32)      # 4 MiB: above the mapping threshold
    gn.save({"big": gn.from_numpy(big), "small": gn.ones(3)}, path)
    back = gn.load(path)
    array = back["big"].numpy()
    base = array
    while getattr(base, "base", None) is not None and not isinstance(base, mmap.mmap):
        base = base.base
    base = base.obj if isinstance(base, memoryview) else base
    assert isinstance(base, mmap.mmap), "expected the tensor to view a memory map of the file"
    np.testing.assert_array_equal(array, big)
    array[0] = -1                                  # copy-on-write: the file is not changed
    assert gn.load(path)["big"].numpy()[0] == 0
    gn.save({"big": gn.zeros(4)}, path)            # replacing the mapped file is fine (POSIX)
    assert back["big"].numpy()[1] == 1


# ------------------------------------------------------------------ file modes and symlinks
def test_saved_checkpoint_respects_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        gn.save({"w": gn.ones(1)}, tmp_path / "a.safetensors")
    finally:
        os.umask(old)
    assert (tmp_path / "a.safetensors").stat().st_mode & 0o777 == 0o640      # was 0600 whatever the umask


def test_overwriting_keeps_the_existing_files_mode(tmp_path):
    path = tmp_path / "a.safetensors"
    gn.save({"w": gn.ones(1)}, path)
    os.chmod(path, 0o604)
    gn.save({"w": gn.zeros(1)}, path)
    assert path.stat().st_mode & 0o777 == 0o604


def test_saving_to_a_symlink_writes_through_it_atomically(tmp_path):
    target_dir = tmp_path / "store"
    target_dir.mkdir()
    target = target_dir / "real.safetensors"
    gn.save({"w": gn.ones(2)}, target)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(target)
    gn.save({"w": gn.zeros(2)}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)        # the link is kept
    np.testing.assert_array_equal(gn.load(target)["w"].numpy(), [0, 0])   # the target got the data
    assert sorted(os.listdir(target_dir)) == ["real.safetensors"]         # no temporary left behind
