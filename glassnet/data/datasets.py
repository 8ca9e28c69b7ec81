"""Datasets that ship with glassnet or that the user points to. Nothing is downloaded."""
from __future__ import annotations

import gzip
import os
import pathlib
import sysconfig

from ..backend import xp
from ..tensor import Tensor

_HERE = pathlib.Path(__file__).parent


def load_digits(images: bool = False, normalize: bool = True):
    """The 8x8 handwritten digits (1,797 samples, 10 classes) that scikit-learn ships.

    The UCI "Optical Recognition of Handwritten Digits" test set (E. Alpaydin, C. Kaynak,
    1998): 32x32 bitmaps counted in 4x4 blocks, so each pixel is 0..16. Embedded in the
    package (45 KB), so no download is needed.

    Args:
        images: return X as (N, 1, 8, 8) images instead of (N, 64) vectors.
        normalize: scale pixels to [0, 1] (divide by 16).
    Returns:
        (X, y): X float32 (N, 64) or (N, 1, 8, 8); y int64 (N,) class labels 0..9.
    """
    with xp.load(_HERE / "digits.npz") as data:
        pixels, targets = data["images"], data["targets"]
    X = pixels.astype(xp.float32)
    if normalize:
        X /= 16.0
    X = X.reshape(-1, 1, 8, 8) if images else X.reshape(-1, 64)
    return Tensor._wrap(X), Tensor._wrap(targets.astype(xp.int64))


# --------------------------------------------------------------------- MNIST
_IDX_TYPES = {0x08: xp.uint8, 0x09: xp.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read one IDX file (plain or gzipped) into an ndarray.

    Format: 2 zero bytes, a type byte, a byte with the number of dims, one big-endian
    uint32 per dim, then the values.
    """
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"read_idx: cannot read {path}: {error}") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = xp.dtype(_IDX_TYPES[raw[2]])
    expected = dtype.itemsize
    for s in shape:
        expected *= s
    if len(raw) - header != expected:
        raise ValueError(f"read_idx: {path} declares shape {shape} ({expected} bytes of data) but holds "
                         f"{len(raw) - header} bytes: the file is truncated or corrupt")
    return xp.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(directory, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        candidate = directory / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"load_mnist: no {stem}[.gz] in {directory}")


def load_mnist(path, normalize: bool = True):
    """MNIST (or Fashion-MNIST) from the four IDX files in directory ``path``.

    Expects train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
    t10k-labels-idx1-ubyte, each optionally gzipped (.gz).

    Returns:
        ((X_train, y_train), (X_test, y_test)): X float32 (N, 1, 28, 28) in [0, 1]
        (raw 0..255 if ``normalize`` is False), y int64 (N,).
    """
    directory = pathlib.Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"load_mnist: {directory} is not a directory with the MNIST IDX files")
    out = []
    for prefix in ("train", "t10k"):
        images = read_idx(_find(directory, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_find(directory, f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"load_mnist: {prefix} images {images.shape} and labels {labels.shape} do not match")
        X = images.astype(xp.float32)[:, None]
        if normalize:
            X /= 255.0
        out.append((Tensor._wrap(X), Tensor._wrap(labels.astype(xp.int64))))
    return tuple(out)


# ---------------------------------------------------------------------- text
class TextCorpus:
    """A text with its character vocabulary.

    Attributes:
        text: the raw string.  vocab: sorted list of distinct characters.
        stoi / itos: char -> id and id -> char.  data: int64 Tensor of ids, one per character.
    """

    def __init__(self, text: str, vocab=None):
        if not text:
            raise ValueError("TextCorpus: the text is empty")
        self.text = text
        self.vocab = sorted(set(text)) if vocab is None else list(vocab)
        self.stoi = {c: i for i, c in enumerate(self.vocab)}
        self.itos = dict(enumerate(self.vocab))
        self.data = Tensor._wrap(self.encode(text))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, s: str):
        missing = sorted(set(s) - self.stoi.keys())
        if missing:
            raise KeyError(f"characters not in the vocabulary: {missing[:10]!r}")
        return xp.fromiter((self.stoi[c] for c in s), dtype=xp.int64, count=len(s))

    def decode(self, ids) -> str:
        ids = ids._data if isinstance(ids, Tensor) else ids
        return "".join(self.itos[int(i)] for i in xp.asarray(ids).reshape(-1))

    def __len__(self) -> int:
        return len(self.text)


def python_stdlib_text(max_chars: int = 2_000_000) -> str:
    """Source of the Python standard library found on this machine (sorted *.py files, no tests)."""
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    parts, total = [], 0
    for path in sorted(root.glob("*.py")):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        source = "".join(c for c in source if c == "\n" or 32 <= ord(c) < 127)  # ASCII: a small vocabulary
        parts.append(source)
        total += len(source)
        if total >= max_chars:
            break
    if not parts:
        raise FileNotFoundError(f"no Python sources found under {root}")
    return "".join(parts)[:max_chars]


def load_text(path=None, max_chars=None, encoding: str = "utf-8") -> TextCorpus:
    """A character-level corpus from the text file at ``path``.

    With no path, the Python standard library's own source files on this machine
    (no download): a corpus whose samples are easy to judge by eye. A file that is not text
    (NUL bytes, or over 1% of it undecodable) is refused with a ValueError.
    """
    if path is None:
        text = python_stdlib_text(max_chars or 2_000_000)
    else:
        path = os.fspath(path)
        with open(path, encoding=encoding, errors="replace") as f:
            text = f.read() if max_chars is None else f.read(max_chars)
        _refuse_binary(text, path, encoding)
    return TextCorpus(text)


def _refuse_binary(text: str, path, encoding: str) -> None:
    """A binary file read as text gives a corpus of noise: NUL characters (which text files
    never hold) or more than 1% undecodable bytes mean the file is not text."""
    sample = text[:1_000_000]
    if "\x00" in sample:
        raise ValueError(f"load_text: {path} is not text (it holds NUL bytes, first at character "
                         f"{sample.index(chr(0))}): give a text file")
    bad = sample.count("\ufffd")
    if sample and bad > 0.01 * len(sample):
        raise ValueError(f"load_text: {path} is not text in {encoding} ({bad:,} of {len(sample):,} characters "
                         f"do not decode): give a text file, or its encoding=")
