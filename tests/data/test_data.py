import gzip
import struct

import numpy as np
import pytest

import glassnet as gn


def test_load_digits_is_the_embedded_uci_set():
    X, y = gn.data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == gn.float32
    assert y.shape == (1797,) and y.dtype == gn.int64
    assert X.numpy().min() == 0.0 and X.numpy().max() == 1.0
    np.testing.assert_array_equal(np.bincount(y.numpy()), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    images, _ = gn.data.load_digits(images=True, normalize=False)
    assert images.shape == (1797, 1, 8, 8) and images.numpy().max() == 16.0


def test_dataloader_batches_shuffles_reproducibly_and_drops_last():
    ds = gn.data.TensorDataset(gn.arange(10), gn.arange(10) * 2)
    batches = list(gn.data.DataLoader(ds, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(batches[0][1].numpy(), [0, 2, 4, 6])
    assert len(gn.data.DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert [len(b[0]) for b in gn.data.DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]
    gn.manual_seed(3)
    first = np.concatenate([b[0].numpy() for b in gn.data.DataLoader(ds, batch_size=3, shuffle=True)])
    gn.manual_seed(3)
    again = np.concatenate([b[0].numpy() for b in gn.data.DataLoader(ds, batch_size=3, shuffle=True)])
    np.testing.assert_array_equal(first, again)
    assert sorted(first) == list(range(10)) and list(first) != list(range(10))


def test_dataloader_collates_plain_datasets():
    class Squares(gn.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return gn.tensor([float(i)]), i * i

    x, y = next(iter(gn.data.DataLoader(Squares(), batch_size=5)))
    assert x.shape == (5, 1)
    np.testing.assert_array_equal(y.numpy(), [0, 1, 4, 9, 16])


def test_random_split_partitions_with_fractions_and_seed():
    ds = gn.data.TensorDataset(gn.arange(10))
    a, b = gn.data.random_split(ds, [0.7, 0.3], generator=1)
    assert (len(a), len(b)) == (7, 3)
    got = sorted(int(a[i][0].item()) for i in range(7)) + sorted(int(b[i][0].item()) for i in range(3))
    assert sorted(got) == list(range(10))
    with pytest.raises(ValueError, match="sum to 9"):
        gn.data.random_split(ds, [5, 4])


def _write_idx(path, array, magic_type=0x08, compress=False):
    header = bytes([0, 0, magic_type, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(payload)


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_reads_idx_files(tmp_path, compress):
    rng = np.random.default_rng(0)
    train_images = rng.integers(0, 256, (6, 28, 28))
    test_images = rng.integers(0, 256, (3, 28, 28))
    suffix = ".gz" if compress else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", train_images, compress=compress)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", np.arange(6), compress=compress)
    _write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", test_images, compress=compress)
    _write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", np.arange(3), compress=compress)
    (Xtr, ytr), (Xte, yte) = gn.data.load_mnist(tmp_path)
    assert Xtr.shape == (6, 1, 28, 28) and Xte.shape == (3, 1, 28, 28) and Xtr.dtype == gn.float32
    np.testing.assert_allclose(Xtr.numpy()[:, 0], train_images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(yte.numpy(), [0, 1, 2])


def test_read_idx_rejects_corrupt_files(tmp_path):
    bad = tmp_path / "bad-idx1-ubyte"
    bad.write_bytes(b"\x12\x34\x08\x01")
    with pytest.raises(ValueError, match="not an IDX file"):
        gn.data.read_idx(bad)
    truncated = tmp_path / "short-idx1-ubyte"
    truncated.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x01\x02")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        gn.data.read_idx(truncated)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        gn.data.load_mnist(tmp_path / "missing")


def test_load_text_vocabulary_round_trips(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("hello world\n")
    corpus = gn.data.load_text(path)
    assert corpus.vocab == sorted(set("hello world\n"))
    assert corpus.decode(corpus.data) == "hello world\n"
    assert corpus.data.dtype == gn.int64 and len(corpus.data) == 12
    with pytest.raises(KeyError, match="not in the vocabulary"):
        corpus.encode("xyz")


def test_load_text_defaults_to_python_stdlib_sources():
    corpus = gn.data.load_text(max_chars=20_000)
    assert len(corpus) == 20_000
    assert "def " in corpus.text and "return" in corpus.text


def test_dataloader_accepts_torch_worker_arguments():
    ds = gn.data.TensorDataset(gn.arange(6))
    loader = gn.data.DataLoader(ds, batch_size=4, num_workers=2, pin_memory=True)
    assert [len(b[0]) for b in loader] == [4, 2]
    with pytest.raises(ValueError, match="non-negative"):
        gn.data.DataLoader(ds, num_workers=-1)


def test_dataloader_batch_size_none_yields_single_samples_as_torch():
    import pytest
    ds = gn.data.TensorDataset(gn.arange(10).reshape(5, 2), gn.arange(5))
    dl = gn.data.DataLoader(ds, batch_size=None)
    items = list(dl)
    assert len(dl) == 5 and len(items) == 5
    x, y = items[3]
    assert x.shape == (2,) and y.shape == () and x.tolist() == [6, 7] and y.item() == 3
    plain = gn.data.DataLoader([np.array([1.0, 2.0]), np.array([3.0, 4.0])], batch_size=None)
    assert [t.tolist() for t in plain] == [[1.0, 2.0], [3.0, 4.0]]          # converted, not stacked
    assert len(gn.data.DataLoader(ds, batch_size=np.int64(2))) == 3           # NumPy integers are integers
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        gn.data.DataLoader(ds, batch_size=None, drop_last=True)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="batch_size should be a positive integer"):
            gn.data.DataLoader(ds, batch_size=bad)


class _PlainDataset(gn.data.Dataset):
    """A custom Dataset with only __getitem__/__len__, as a user writes one."""

    def __init__(self, n=20):
        self.n = n

    def __getitem__(self, i):
        return gn.tensor([float(i), float(-i)]), i % 3

    def __len__(self):
        return self.n


def test_subset_of_a_plain_dataset_batches_through_the_loader():
    """Subset.__getitems__ over a Dataset without __getitems__ once yielded an uncollated list
    ("too many values to unpack" in every training loop); the loader now collates it, as torch."""
    subset = gn.data.Subset(_PlainDataset(), [3, 1, 4, 1, 5])
    (x, y), = list(gn.data.DataLoader(subset, batch_size=8))
    np.testing.assert_array_equal(x.numpy(), [[3, -3], [1, -1], [4, -4], [1, -1], [5, -5]])
    np.testing.assert_array_equal(y.numpy(), [0, 1, 1, 1, 2])
    seen = []
    loader = gn.data.DataLoader(subset, batch_size=2, collate_fn=lambda samples: seen.append(len(samples)) or samples)
    list(loader)
    assert seen == [2, 2, 1]          # a custom collate_fn gets the samples, as torch's does


def test_dataloader_shuffle_state_round_trips():
    """The loader's shuffling generator can be saved and restored (for exact resumption)."""
    loader = gn.data.DataLoader(gn.data.TensorDataset(gn.arange(10)), batch_size=10, shuffle=True, generator=3)
    state = loader.state_dict()
    first = next(iter(loader))[0].numpy()
    loader.load_state_dict(state)
    np.testing.assert_array_equal(next(iter(loader))[0].numpy(), first)
    assert gn.data.DataLoader(gn.data.TensorDataset(gn.arange(3))).state_dict() == {}
