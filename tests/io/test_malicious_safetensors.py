"""Hostile safetensors files (issue #13, item 5): each is refused with a CheckpointError that
says what is wrong, before any tensor memory is allocated, and nothing is written.

Each file is built byte by byte here (8-byte little-endian header length, JSON header, data),
so the tests do not depend on a writer that would refuse to produce them.
"""
import json
import os
import struct
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import glassnet as gn
from glassnet.io import CheckpointError


def _file(header, body=b"", header_length=None):
    raw = json.dumps(header).encode() if isinstance(header, dict) else header
    n = len(raw) if header_length is None else header_length
    return struct.pack("<Q", n) + raw + body


def _entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


HOSTILE = {
    # the header length claims more bytes than the file has
    "header-larger-than-file": (_file({"w": _entry("F32", [2], 0, 8)}, b"\0" * 8, header_length=10_000),
                                r"header length 10000 .*larger than the file"),
    "header-length-2**63": (_file(b'{"w": 1}', header_length=2**63), r"header length 9223372036854775808"),
    "header-length-max": (struct.pack("<Q", 2**64 - 1) + b"{}", r"header length 18446744073709551615"),
    "header-not-json": (_file(b"{not json at all}"), r"header is not valid JSON"),
    "header-not-utf8": (_file(b'{"\xff\xfe": 1}'), r"header is not valid JSON"),
    "header-a-list": (_file(b"[1, 2, 3]" + b" "), r"header is not a JSON object"),
    "header-deeply-nested": (_file(b'{"w": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
                             r"header is not valid JSON"),
    "duplicate-names": (_file(b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
                              b'"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', b"\0" * 8),
                        r"'w' appears twice"),
    "overlapping-offsets": (_file({"a": _entry("F32", [4], 0, 16), "b": _entry("F32", [4], 8, 24)}, b"\0" * 24),
                            r"'a' .* and 'b' .* overlap"),
    "offsets-past-the-end": (_file({"w": _entry("F32", [4], 0, 16)}, b"\0" * 8),
                             r"'w' ends at byte 16 .* only 8 bytes of data"),
    "negative-offset": (_file({"w": _entry("F32", [1], -4, 0)}, b"\0" * 4), r"'w' has data_offsets \[-4, 0\]"),
    "reversed-offsets": (_file({"w": _entry("F32", [0], 8, 4)}, b"\0" * 8), r"'w' has data_offsets \[8, 4\]"),
    "gap-between-tensors": (_file({"a": _entry("F32", [1], 0, 4), "b": _entry("F32", [1], 8, 12)}, b"\0" * 12),
                            r"bytes 4\.\.8 .* belong to no tensor"),
    "unknown-dtype": (_file({"w": _entry("F13", [1], 0, 4)}, b"\0" * 4), r"'w' has unknown dtype 'F13'"),
    "dtype-not-a-string": (_file({"w": _entry(["F32"], [1], 0, 4)}, b"\0" * 4), r"'w' has unknown dtype"),
    "byte-count-mismatch": (_file({"w": _entry("F32", [3], 0, 8)}, b"\0" * 8),
                            r"'w' .*\(3,\).* F32 needs 12 bytes.* offsets \[0, 8\] span 8"),
    # 2**32 * 2**32 elements: an int64 product would wrap around to 0 and match an empty span
    "shape-overflows-int64": (_file({"w": _entry("F32", [2**32, 2**32], 0, 0)}),
                              r"'w' .* needs 73786976294838206464 bytes"),
    "shape-negative": (_file({"w": _entry("F32", [-1, 4], 0, 16)}, b"\0" * 16), r"'w' has shape \[-1, 4\]"),
    "shape-not-ints": (_file({"w": _entry("F32", [1.5], 0, 4)}, b"\0" * 4), r"'w' has shape \[1.5\]"),
    "entry-not-an-object": (_file({"w": "F32"}, b""), r"'w' is not a tensor entry"),
    "entry-missing-offsets": (_file({"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4),
                              r"'w' is not a tensor entry"),
    "metadata-not-strings": (_file({"__metadata__": {"format": 3}}), r"__metadata__ must map strings to strings"),
    "trailing-bytes": (_file({"w": _entry("F32", [1], 0, 4)}, b"\0" * 12), r"bytes 4\.\.12 .* belong to no tensor"),
    "too-short": (b"\x05\0\0", r"3 bytes: too short"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_safetensors_files_are_refused_with_what_is_wrong(name, tmp_path):
    raw, pattern = HOSTILE[name]
    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(raw)
    with pytest.raises(CheckpointError, match=pattern):
        gn.load(path)
    assert os.listdir(tmp_path) == [path.name]          # nothing written beside it
    assert path.read_bytes() == raw                      # and the file itself untouched


def test_refusing_hostile_files_allocates_no_tensor_memory(tmp_path):
    """Files that claim huge tensors are refused before anything the size of a claim is allocated
    (NumPy reports its allocations to tracemalloc)."""
    claims = {
        "huge-shape": _file({"w": _entry("F64", [2**20, 2**20], 0, 8)}, b"\0" * 8),
        "huge-offsets": _file({"w": _entry("U8", [2**40], 0, 2**40)}, b"\0" * 8),
        "huge-header-length": _file(b"{}", header_length=2**62),
    }
    for name, raw in claims.items():
        (tmp_path / name).write_bytes(raw)
    tracemalloc.start()
    try:
        for name in claims:
            with pytest.raises(CheckpointError):
                gn.load(tmp_path / name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"refusing the files allocated {peak} bytes at peak"


def test_hostile_files_under_a_memory_limit_in_a_subprocess(tmp_path):
    """The same claims in a process whose address space is capped 1 GiB above what it uses after
    importing glassnet: a loader that believed a claim would die with MemoryError instead."""
    resource = pytest.importorskip("resource")
    path = tmp_path / "claims.safetensors"
    path.write_bytes(_file({"w": _entry("F32", [2**30, 4], 0, 2**32)}, b"\0" * 64))
    script = textwrap.dedent(f"""
        import resource, sys
        import glassnet as gn
        from glassnet.io import CheckpointError
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]))
        try:
            gn.load({str(path)!r})
        except CheckpointError as error:
            print("refused:", error)
            sys.exit(0)
        sys.exit(1)
    """)
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc to size the limit")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused:" in result.stdout and "'w'" in result.stdout


def test_a_valid_file_built_the_same_way_loads():
    """The byte builder above writes real safetensors files: the refusals are not artefacts of it."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ok.safetensors")
        body = np.arange(3, dtype="<f4").tobytes() + np.array([7], "<i8").tobytes()
        with open(path, "wb") as f:
            f.write(_file({"a": _entry("F32", [3], 0, 12), "b": _entry("I64", [1], 12, 20)}, body))
        back = gn.load(path)
        np.testing.assert_array_equal(back["a"].numpy(), [0, 1, 2])
        assert back["b"].numpy().tolist() == [7] and back["b"].dtype == np.int64
