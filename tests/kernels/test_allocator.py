"""import glassnet leaves malloc alone; the explicit call tunes it, and the opt-out holds."""
import subprocess
import sys


def _run(code, **env):
    import os
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_import_has_no_allocator_side_effect():
    assert _run("import glassnet; print(glassnet.allocator.tuned)") == "False"


def test_tune_is_explicit_and_can_be_refused():
    if not sys.platform.startswith("linux"):
        return
    assert _run("import glassnet; print(glassnet.allocator.tune(), glassnet.allocator.tuned)") == "True True"
    assert _run("import glassnet; print(glassnet.allocator.tune())", GLASSNET_MALLOC_TUNING="0") == "False"


def test_train_command_tunes_the_allocator(monkeypatch):
    """glassnet train makes the call (the training job itself is stubbed out)."""
    from glassnet import allocator, cli
    from glassnet.training import recipes
    calls = []
    monkeypatch.setattr(allocator, "tune", lambda: calls.append("tune") or True)
    monkeypatch.setattr(recipes, "train_classifier", lambda *a, **k: calls.append("train"))
    assert cli.main(["train", "--quiet"]) == 0
    assert calls == ["tune", "train"]
