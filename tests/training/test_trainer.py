import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassnet as gn
from glassnet.training import EarlyStopping, TrainingError


def _digits_subset(n=300):
    X, y = gn.data.load_digits()
    return X[:n], y[:n]


def _mlp(dropout=0.0):
    return gn.models.mlp(64, (32,), 10, dropout=dropout)


def test_fit_learns_and_records_history():
    gn.manual_seed(0)
    model = _mlp()
    trainer = gn.Trainer(model, gn.optim.Adam(model.parameters(), lr=1e-2), gn.nn.CrossEntropyLoss(),
                         progress=False, verbose=False)
    history = trainer.fit(_digits_subset(), epochs=5, batch_size=32, val_split=0.2)
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
    assert len(history["loss"]) == 5 and history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.7


def test_resume_continues_exactly(tmp_path):
    """Two epochs, stop, a new process-like start from the checkpoint, three more: the same
    weights as five uninterrupted epochs (shuffling and dropout masks included)."""
    def run(epochs, directory, fresh_model=True):
        gn.manual_seed(1)
        model = _mlp(dropout=0.3)
        opt = gn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        trainer = gn.Trainer(model, opt, gn.nn.CrossEntropyLoss(), checkpoint_dir=directory,
                             scheduler=gn.optim.lr_scheduler.StepLR(opt, 2, 0.5), progress=False, verbose=False)
        trainer.fit(_digits_subset(), epochs=epochs, batch_size=50)
        return model, trainer

    straight, _ = run(5, tmp_path / "a")
    run(2, tmp_path / "b")
    resumed, trainer = run(5, tmp_path / "b")
    assert trainer.epoch == 5 and len(trainer.history["loss"]) == 5
    for p, q in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_resume_of_a_model_with_batch_norm(tmp_path):
    """A checkpoint holding BatchNorm's 0-d counter resumes (it once came back as shape (1,))."""
    def run(epochs):
        gn.manual_seed(2)
        model = gn.nn.Sequential(gn.nn.Linear(64, 16), gn.nn.BatchNorm1d(16), gn.nn.ReLU(), gn.nn.Linear(16, 10))
        trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), gn.nn.CrossEntropyLoss(),
                             checkpoint_dir=tmp_path, progress=False, verbose=False)
        trainer.fit(_digits_subset(100), epochs=epochs, batch_size=50)
        return model, trainer

    run(1)
    model, trainer = run(2)
    assert trainer.epoch == 2 and int(model[1].num_batches_tracked.item()) == 4


def test_resuming_past_a_planned_schedule_says_so(tmp_path):
    """A run planned (cosine, T_max) for 1 epoch, resumed for 3: the user is told that the
    schedule has ended rather than silently training at eta_min."""
    lines = []

    def run(epochs):
        gn.manual_seed(3)
        model = _mlp()
        opt = gn.optim.SGD(model.parameters(), lr=0.1)
        trainer = gn.Trainer(model, opt, gn.nn.CrossEntropyLoss(), checkpoint_dir=tmp_path, progress=False,
                             scheduler=gn.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs), log=lines.append)
        trainer.fit(_digits_subset(100), epochs=epochs, batch_size=50)

    run(1)
    assert not any("planned for" in line for line in lines)
    run(3)
    assert any("planned for 1 epochs (T_max=1); epochs 2-3 run past its end" in line for line in lines)


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    script = textwrap.dedent("""
        import os, signal, sys
        import numpy as np
        import glassnet as gn
        out, kill_after = sys.argv[1], int(sys.argv[2])
        gn.manual_seed(0)
        X, y = gn.data.load_digits()
        model = gn.models.mlp(64, (32,), 10, dropout=0.2)
        def log(line):
            if line.startswith(f"epoch {kill_after}/"):
                os.kill(os.getpid(), signal.SIGKILL)   # the checkpoint for this epoch is on disk
        trainer = gn.Trainer(model, gn.optim.Adam(model.parameters(), lr=3e-3), gn.nn.CrossEntropyLoss(),
                             checkpoint_dir=out, progress=False, log=log)
        trainer.fit((X[:400], y[:400]), epochs=4, batch_size=32)
        np.save(os.path.join(out, "final.npy"), np.concatenate([p.numpy().ravel() for p in model.parameters()]))
    """)
    path = tmp_path / "train.py"
    path.write_text(script)
    killed = subprocess.run([sys.executable, str(path), str(tmp_path / "k"), "2"])
    assert killed.returncode == -9 and (tmp_path / "k" / "last.safetensors").exists()
    assert subprocess.run([sys.executable, str(path), str(tmp_path / "k"), "0"]).returncode == 0
    assert subprocess.run([sys.executable, str(path), str(tmp_path / "s"), "0"]).returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "k" / "final.npy"), np.load(tmp_path / "s" / "final.npy"))


def test_nan_loss_stops_with_the_step():
    model = _mlp()
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), gn.nn.CrossEntropyLoss(),
                         progress=False, verbose=False)
    X, y = _digits_subset(64)
    X = X.numpy().copy()
    X[40] = np.nan
    with pytest.raises(TrainingError, match=r"loss is nan at epoch 1, step 2"):
        trainer.fit((gn.tensor(X), y), epochs=1, batch_size=32, shuffle=False)


def test_clipping_logs_pre_clip_norm():
    model = _mlp()
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), gn.nn.CrossEntropyLoss(),
                         clip_grad_norm=0.01, progress=False, verbose=False)
    history = trainer.fit(_digits_subset(64), epochs=1, batch_size=32)
    assert history["grad_norm_max"][0] > 0.01  # the logged norm is the one before clipping


def test_early_stopping_restores_best_weights():
    gn.manual_seed(0)
    model = _mlp()
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=5.0), gn.nn.CrossEntropyLoss(),
                         early_stopping=stopper, progress=False, verbose=False)
    try:
        history = trainer.fit(_digits_subset(), epochs=30, batch_size=32, val_split=0.3)
    except TrainingError:
        pytest.skip("diverged to NaN before early stopping could trigger")
    assert len(history["loss"]) < 30
    best = min(history["val_loss"])
    X, y = _digits_subset()
    np.testing.assert_allclose(stopper.best, best)


def test_early_stopping_needs_its_metric():
    model = _mlp()
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), gn.nn.CrossEntropyLoss(),
                         early_stopping=3, progress=False, verbose=False)
    with pytest.raises(KeyError, match="val_loss"):
        trainer.fit(_digits_subset(64), epochs=2)
