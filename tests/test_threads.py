"""gn.set_num_threads / gn.get_num_threads, and the automatic choice on a busy machine."""
import os
import subprocess
import sys
import time

import pytest

import glassnet as gn
from glassnet import threads


@pytest.fixture
def restore_threads():
    yield
    gn.set_num_threads(None)


def test_set_and_get_num_threads(restore_threads):
    gn.set_num_threads(1)
    assert gn.get_num_threads() == 1
    if threads.cpu_count() >= 2:
        gn.set_num_threads(2)
        assert gn.get_num_threads() == 2
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads: expected a positive integer"):
            gn.set_num_threads(bad)


def test_the_environment_fixes_the_count():
    code = "import glassnet as gn; print(gn.get_num_threads())"
    env = dict(os.environ, GLASSNET_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "1", out.stderr


def test_busy_cores_get_fewer_threads(restore_threads):
    """With as many spinning programs as cores, glassnet takes one BLAS thread, not all cores."""
    cores = threads.cpu_count()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.5)
        assert threads.other_running() >= cores - 0.5
        gn.set_num_threads(None)                   # back to the automatic choice
        assert threads.adapt() == 1 and gn.get_num_threads() == 1
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def test_import_leaves_numpys_blas_alone_until_glassnet_computes():
    """import glassnet changes no thread count of the host process; the first backward pass
    (training starting) applies glassnet's choice."""
    code = (
        "import glassnet as gn\n"
        "from glassnet import threads\n"
        "blas = threads._find_blas()\n"
        "print(blas[1]() if blas else 2)\n"
        "x = gn.tensor([1.0, 2.0], requires_grad=True)\n"
        "(x * x).sum().backward()\n"
        "print(blas[1]() if blas else gn.get_num_threads())\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", GLASSNET_NUM_THREADS="1")
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["2", "1"], out.stderr


def test_the_thread_count_goes_to_numpys_openblas_when_scipy_brings_another():
    """SciPy ships a second OpenBLAS (and Numba loads it once it compiles a kernel); glassnet must
    set NumPy's, whose products are glassnet's, whichever the process mapped first."""
    pytest.importorskip("scipy.linalg")
    code = (
        "import scipy.linalg\n"
        "import glassnet as gn\n"
        "from glassnet import threads\n"
        "print(len(set(l.split()[-1] for l in open('/proc/self/maps') if 'openblas' in l.lower())))\n"
        "print(threads._loaded_openblas_paths()[0])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    libraries, chosen = out.stdout.split()
    if int(libraries) < 2:
        pytest.skip("this SciPy shares NumPy's OpenBLAS")
    import numpy
    assert chosen.startswith(os.path.dirname(os.path.dirname(numpy.__file__))) and "numpy" in chosen, chosen
