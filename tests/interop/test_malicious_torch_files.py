"""Hostile torch files: each is refused with a message naming what was wrong, nothing runs,
nothing is written, and memory stays bounded. The files are assembled by hand
(tests/interop/torch_zip.py), so this suite needs no torch."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet.io import TorchFileError

sys.path.insert(0, os.path.dirname(__file__))
import torch_zip as tz  # noqa: E402


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A directory to run in; the attacks try to create ``marker`` here (and relative paths land here)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def refused(path, *needles):
    """Load ``path``; it must raise TorchFileError whose message holds every needle."""
    with pytest.raises(TorchFileError) as info:
        gn.load_torch(path)
    message = str(info.value)
    for needle in needles:
        assert needle in message, message
    return message


def assert_untouched(workdir, expected):
    assert sorted(p.name for p in workdir.iterdir()) == sorted(expected)
    assert not (workdir / "marker").exists()


def test_valid_hand_built_file_loads(workdir):
    # the builder itself is right: a well-formed file with a view and a shared storage loads
    data = np.arange(6, dtype="<f4")
    pkl = tz.state_dict(a=tz.tensor(tz.storage_pid("0", 6), (2, 3), (3, 1)),
                        b=tz.tensor(tz.storage_pid("0", 6), (2,), (3,), offset=1))
    tz.write_zip("ok.pt", pkl, {"0": data.tobytes()})
    got = gn.load_torch("ok.pt")
    np.testing.assert_array_equal(got["a"], data.reshape(2, 3))
    np.testing.assert_array_equal(got["b"], [1.0, 4.0])


# ------------------------------------------------------------------ code in the pickle
class _Reduce:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


CODE_ATTACKS = {
    "os.system": (_Reduce(os.system, ("echo pwned > marker",)), os.system.__module__ + ".system"),
    "builtins.eval": (_Reduce(eval, ("open('marker', 'w').write('pwned')",)), "builtins.eval"),
    "builtins.exec": (_Reduce(exec, ("open('marker', 'w')",)), "builtins.exec"),
    "subprocess.call": (_Reduce(subprocess.call, (["touch", "marker"],)), "subprocess.call"),
    "subprocess.Popen": (_Reduce(subprocess.Popen, (["touch", "marker"],)), "subprocess.Popen"),
}


@pytest.mark.parametrize("attack", sorted(CODE_ATTACKS))
def test_code_in_the_pickle_is_refused_by_name(workdir, attack):
    payload, name = CODE_ATTACKS[attack]
    tz.write_zip("evil.pt", pickle.dumps({"weight": payload}, protocol=2))
    refused("evil.pt", name, "refused")
    assert_untouched(workdir, ["evil.pt"])


@pytest.mark.parametrize("module, name", [("torch.nn.modules.linear", "Linear"), ("numpy", "load"),
                                          ("numpy.core.multiarray", "_reconstruct"), ("torch", "load"),
                                          ("collections", "defaultdict"), ("builtins", "getattr"),
                                          ("torch._utils", "_rebuild_device_tensor_from_numpy")])
def test_unknown_global_is_refused_by_name(workdir, module, name):
    tz.write_zip("evil.pt", tz.PROTO2 + tz.call(tz.glob(module, name)) + tz.STOP)
    refused("evil.pt", f"'{module}.{name}'")
    assert_untouched(workdir, ["evil.pt"])


def test_unknown_global_inside_a_real_state_dict_is_refused(workdir):
    evil = tz.call(tz.glob("posix", "system"), tz.s("touch marker"))
    pkl = tz.state_dict(weight=tz.tensor(tz.storage_pid("0", 1), (1,), (1,)), bias=evil)
    tz.write_zip("evil.pt", pkl, {"0": b"\0" * 4})
    refused("evil.pt", "posix.system")
    assert_untouched(workdir, ["evil.pt"])


# ------------------------------------------------------------------ persistent_load tricks
PID_TRICKS = {
    # the code hides inside the persistent id: find_class refuses it before persistent_load runs
    "code in the id": (tz.tup(tz.s("storage"), tz.call(tz.glob("os", "system"), tz.s("touch marker")),
                              tz.s("0"), tz.s("cpu"), tz.i(1)) + tz.BINPERSID, "os.system"),
    "not a tuple": (tz.s("../../etc/passwd") + tz.BINPERSID, "unexpected persistent record"),
    "wrong tag": (tz.tup(tz.s("module"), tz.glob("torch", "FloatStorage"), tz.s("0"), tz.s("cpu"), tz.i(1))
                  + tz.BINPERSID, "unexpected persistent record"),
    "key escapes": (tz.storage_pid("../../../etc/passwd", 1), "is not a plain name"),
    "type is a string": (tz.tup(tz.s("storage"), tz.s("FloatStorage"), tz.s("0"), tz.s("cpu"), tz.i(1))
                         + tz.BINPERSID, "not a torch storage type"),
    "negative size": (tz.storage_pid("0", -5), "integer >= 0"),
    "id inside an id": (tz.tup(tz.s("storage"), tz.storage_pid("0", 1), tz.s("0"), tz.s("cpu"), tz.i(1))
                        + tz.BINPERSID, "not a torch storage type"),
}


@pytest.mark.parametrize("trick", sorted(PID_TRICKS))
def test_persistent_load_tricks_are_refused(workdir, trick):
    pid, needle = PID_TRICKS[trick]
    pkl = tz.PROTO2 + tz.call(tz.glob("torch._utils", "_rebuild_tensor_v2"), pid, tz.i(0), tz.tup(tz.i(1)),
                              tz.tup(tz.i(1)), tz.FALSE, tz.call(tz.glob("collections", "OrderedDict"))) + tz.STOP
    tz.write_zip("evil.pt", pkl, {"0": b"\0" * 4})
    refused("evil.pt", needle)
    assert_untouched(workdir, ["evil.pt"])


def test_pickle_may_not_modify_a_storage_record(workdir):
    # BUILD on the storage would raise its element count and read past the end of its bytes
    pid = tz.storage_pid("0", 1) + tz.EMPTY_DICT + tz.s("numel") + tz.i(10**9) + b"s" + tz.BUILD
    tz.write_zip("evil.pt", tz.PROTO2 + tz.tensor(pid, (10**9,), (1,)) + tz.STOP, {"0": b"\0" * 4})
    refused("evil.pt", "modify a Storage record")


def test_storage_declared_twice_with_other_sizes(workdir):
    pkl = tz.state_dict(a=tz.tensor(tz.storage_pid("0", 1), (1,), (1,)),
                        b=tz.tensor(tz.storage_pid("0", 1000), (1000,), (1,)))
    tz.write_zip("evil.pt", pkl, {"0": b"\0" * 4})
    refused("evil.pt", "declared twice")


# ------------------------------------------------------------------ lying sizes
def test_storage_shorter_than_its_tensor_claims(workdir):
    pkl = tz.state_dict(weight=tz.tensor(tz.storage_pid("0", 1000), (1000,), (1,)))
    tz.write_zip("short.pt", pkl, {"0": b"\0" * 16})
    refused("short.pt", "holds 16 bytes", "exactly 4000")


def test_view_reaching_past_its_storage(workdir):
    pkl = tz.state_dict(weight=tz.tensor(tz.storage_pid("0", 4), (3, 3), (3, 1)))
    tz.write_zip("evil.pt", pkl, {"0": b"\0" * 16})
    refused("evil.pt", "reads element 8", "4 elements")


def test_storage_missing_from_the_archive(workdir):
    tz.write_zip("evil.pt", tz.state_dict(w=tz.tensor(tz.storage_pid("7", 1), (1,), (1,))), {})
    refused("evil.pt", "storage '7'", "does not contain")


def test_expanded_view_may_not_claim_unbounded_memory(workdir):
    # one stored float viewed as 10**6 x 10**6 through zero strides: a copy would need 4 TB
    tracemalloc.start()
    tz.write_zip("evil.pt", tz.state_dict(w=tz.tensor(tz.storage_pid("0", 1), (10**6, 10**6), (0, 0))),
                 {"0": b"\0" * 4})
    refused("evil.pt", "expanded view")
    assert tracemalloc.get_traced_memory()[1] < 16 * 2**20
    tracemalloc.stop()


@pytest.mark.parametrize("bad", [(-1,), ("4",), (2.5,)])
def test_sizes_that_are_not_counts(workdir, bad):
    size = tz.tup(*[tz.i(b) if isinstance(b, int) else (tz.s(b) if isinstance(b, str) else b"G" + __import__(
        "struct").pack(">d", b)) for b in bad])
    pkl = tz.PROTO2 + tz.call(tz.glob("torch._utils", "_rebuild_tensor_v2"), tz.storage_pid("0", 4), tz.i(0),
                              size, tz.tup(tz.i(1)), tz.FALSE,
                              tz.call(tz.glob("collections", "OrderedDict"))) + tz.STOP
    tz.write_zip("evil.pt", pkl, {"0": b"\0" * 16})
    refused("evil.pt", "size must be a tuple of integers")


def test_truncated_pickle(workdir):
    tz.write_zip("evil.pt", tz.state_dict(w=tz.tensor(tz.storage_pid("0", 1), (1,), (1,)))[:-12], {"0": b"\0" * 4})
    refused("evil.pt", "damaged or unsupported pickle")


# ------------------------------------------------------------------ the archive itself
@pytest.mark.parametrize("name", ["archive/../../escape", "../escape", "/etc/escape", "archive/data/../../x",
                                  "C:/escape", "archive\\..\\escape"])
def test_entries_escaping_the_archive(workdir, name):
    tz.write_zip("evil.pt", tz.state_dict(), extra={name: b"x"})
    refused("evil.pt", "escapes the archive")
    assert_untouched(workdir, ["evil.pt"])
    assert not (workdir.parent / "escape").exists()


def test_zip_bomb_is_refused_without_inflating(workdir):
    # 64 MiB of zeros deflate to ~64 KiB; torch never compresses, so such an entry is refused unread
    with zipfile.ZipFile("bomb.pt", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", tz.state_dict(w=tz.tensor(tz.storage_pid("0", 16 * 2**20),
                                                                  (16 * 2**20,), (1,))))
        zf.writestr("archive/data/0", bytes(64 * 2**20))
    assert os.path.getsize("bomb.pt") < 2**20
    tracemalloc.start()
    refused("bomb.pt", "zip bomb")
    assert tracemalloc.get_traced_memory()[1] < 8 * 2**20
    tracemalloc.stop()
    assert_untouched(workdir, ["bomb.pt"])


def test_stored_entry_larger_than_the_file(workdir):
    tz.write_zip("evil.pt", tz.state_dict(w=tz.tensor(tz.storage_pid("0", 1024), (1024,), (1,))),
                 {"0": b"\0" * 4096})
    raw = bytearray(open("evil.pt", "rb").read())
    open("evil.pt", "wb").write(bytes(raw[:-4096]))   # cut the storage's bytes (and the directory)
    refused("evil.pt")


def test_not_a_torch_zip(workdir):
    with zipfile.ZipFile("other.zip", "w") as zf:
        zf.writestr("readme.txt", "hello")
    refused("other.zip", "not one torch.save wrote")


def test_legacy_format_says_how_to_resave(workdir):
    with open("old.pt", "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)  # torch's legacy magic number opens the file
    refused("old.pt", "legacy", "torch.save")


def test_weights_only_false_is_refused(workdir):
    tz.write_zip("ok.pt", tz.state_dict())
    with pytest.raises(ValueError, match="weights_only must be True"):
        gn.load_torch("ok.pt", weights_only=False)


def test_nothing_runs_even_in_a_fresh_process(workdir):
    # the whole attack set, loaded in a separate interpreter: no marker may appear anywhere
    for n, attack in enumerate(sorted(CODE_ATTACKS)):
        tz.write_zip(f"evil{n}.pt", pickle.dumps(CODE_ATTACKS[attack][0], protocol=2))
    script = ("import glob, glassnet as gn\n"
              "for f in sorted(glob.glob('evil*.pt')):\n"
              "    try: gn.load_torch(f)\n"
              "    except gn.io.TorchFileError as e: print('refused', f)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=workdir, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("refused") == len(CODE_ATTACKS)
    assert not (workdir / "marker").exists()


def test_zip_entry_lying_about_its_size_is_read_no_further(workdir):
    # 32 MiB of zeros deflated, the headers claiming 64 bytes: zipfile must inflate only what is asked
    import struct
    with zipfile.ZipFile("lie.pt", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", bytes(32 * 2**20))
    raw = open("lie.pt", "rb").read().replace(struct.pack("<I", 32 * 2**20), struct.pack("<I", 64))
    open("lie.pt", "wb").write(raw)
    tracemalloc.start()
    refused("lie.pt", "damaged")
    assert tracemalloc.get_traced_memory()[1] < 8 * 2**20
    tracemalloc.stop()


@pytest.mark.parametrize("state", [
    tz.EMPTY_DICT + tz.s("x") + tz.i(1) + b"s",                                       # __dict__ entries
    tz.tup(b"N", tz.EMPTY_DICT + tz.s("__defaults__") + tz.tup(tz.i(1)) + b"s"),       # setattr (slot state)
])
def test_pickle_may_not_rewrite_an_allowed_function(workdir, state):
    # BUILD on the rebuild function itself would set its __defaults__ for every later load
    pkl = tz.PROTO2 + tz.glob("torch._utils", "_rebuild_tensor_v2") + state + tz.BUILD + tz.STOP
    tz.write_zip("evil.pt", pkl)
    refused("evil.pt", "modify a Function record")
    tz.write_zip("ok.pt", tz.state_dict(w=tz.tensor(tz.storage_pid("0", 1), (1,), (1,))), {"0": b"\0" * 4})
    assert gn.load_torch("ok.pt")["w"].shape == (1,)
