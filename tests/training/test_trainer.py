import subprocess
import sys
import textwrap
import time

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


# ---------------------------------------------------------------- hardening (issue 15)
def _quiet_trainer(model=None, lr=0.1, **kwargs):
    model = model or _mlp()
    return gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=lr), gn.nn.CrossEntropyLoss(),
                      progress=False, verbose=False, **kwargs)


def test_fit_and_evaluate_refuse_empty_data():
    """An empty dataset or a loader with no batches used to report loss 0.0, accuracy 0.0."""
    X, y = _digits_subset(10)
    trainer = _quiet_trainer()
    with pytest.raises(ValueError, match=r"Trainer.fit: the training data is empty \(0 samples\)"):
        trainer.fit((X[:0], y[:0]), epochs=1)
    with pytest.raises(ValueError, match=r"Trainer.evaluate: the data is empty \(0 samples\)"):
        trainer.evaluate((X[:0], y[:0]))
    loader = gn.data.DataLoader(gn.data.TensorDataset(X, y), batch_size=32, drop_last=True)
    with pytest.raises(ValueError, match=r"yields no batches: 10 samples, batch_size 32, drop_last=True"):
        trainer.fit(loader, epochs=1)
    with pytest.raises(ValueError, match="yields no batches"):
        trainer.evaluate(loader)


class _DigitsAsPlainDataset(gn.data.Dataset):
    def __init__(self, n=80):
        self.X, self.y = _digits_subset(n)

    def __getitem__(self, i):
        return self.X[i], int(self.y[i].item())

    def __len__(self):
        return len(self.y)


def test_fit_with_val_split_on_a_plain_dataset():
    history = _quiet_trainer().fit(_DigitsAsPlainDataset(), epochs=2, batch_size=16, val_split=0.25)
    assert len(history["val_loss"]) == 2 and np.isfinite(history["val_loss"]).all()


def test_resuming_a_checkpoint_holding_nan_says_so(tmp_path):
    _quiet_trainer(checkpoint_dir=tmp_path).fit(_digits_subset(64), epochs=1)
    state = gn.load(tmp_path / "last.safetensors")
    weight = state["model"]["0.weight"].numpy().copy()
    weight[0, 0] = np.nan
    state["model"]["0.weight"] = weight
    gn.save(state, tmp_path / "last.safetensors")
    with pytest.raises(gn.io.CheckpointError, match=r"holds non-finite values \(1 NaN\) in '0.weight'"):
        _quiet_trainer(checkpoint_dir=tmp_path).fit(_digits_subset(64), epochs=2)


def test_nan_advice_does_not_suggest_lowering_a_zero_learning_rate():
    X, y = _digits_subset(64)
    X = X.numpy().copy()
    X[3] = np.nan
    for lr, advice in [(0.0, "learning rate is 0"), (0.1, "Lower the learning rate (now 0.1)")]:
        with pytest.raises(TrainingError) as info:
            _quiet_trainer(lr=lr).fit((gn.tensor(X), y), epochs=1, batch_size=32, shuffle=False)
        assert advice in str(info.value)
        assert (lr == 0) == ("Lower the learning rate" not in str(info.value))


def test_resuming_with_a_new_learning_rate_applies_it_and_says_so(tmp_path):
    lines = []

    def run(lr, epochs):
        gn.manual_seed(0)
        model = _mlp()
        opt = gn.optim.SGD(model.parameters(), lr=lr)
        trainer = gn.Trainer(model, opt, gn.nn.CrossEntropyLoss(), progress=False, log=lines.append,
                             scheduler=gn.optim.lr_scheduler.StepLR(opt, 1, 0.5), checkpoint_dir=tmp_path)
        return trainer.fit(_digits_subset(64), epochs=epochs)

    run(0.1, 1)
    history = run(0.4, 3)
    assert history["lr"][0] == pytest.approx(0.1) and history["lr"][1:] == pytest.approx([0.2, 0.1])
    assert any("learning rate 0.4 replaces the checkpoint's 0.1" in line for line in lines), lines
    lines.clear()
    run(0.4, 4)                                   # the same lr again: nothing to say
    assert not any("replaces" in line for line in lines)


def test_two_trainings_into_one_run_directory_are_refused(tmp_path):
    from glassnet.training import RunLockedError
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "train.lock").write_text(f"{sleeper.pid}\n")
        with pytest.raises(RunLockedError, match=rf"another training \(process {sleeper.pid}\) is writing"):
            _quiet_trainer(checkpoint_dir=tmp_path).fit(_digits_subset(64), epochs=1)
    finally:
        sleeper.kill()
        sleeper.wait()
    lines = []                                   # its process is gone: the stale lock is taken over
    model = _mlp()
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), gn.nn.CrossEntropyLoss(),
                         progress=False, log=lines.append, checkpoint_dir=tmp_path)
    trainer.fit(_digits_subset(64), epochs=1)
    assert any("stale lock" in line and str(sleeper.pid) in line for line in lines), lines
    assert not (tmp_path / "train.lock").exists()  # released at the end


def test_keyboard_interrupt_names_the_last_checkpoint(tmp_path):
    from glassnet.training import TrainingInterrupted
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return gn.nn.functional.cross_entropy(out, y)

    model = _mlp()
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), loss_fn, progress=False, verbose=False,
                         checkpoint_dir=tmp_path)
    with pytest.raises(TrainingInterrupted) as info:
        trainer.fit(_digits_subset(64), epochs=3, batch_size=32)
    assert isinstance(info.value, KeyboardInterrupt)
    assert info.value.checkpoint == tmp_path / "last.safetensors" and info.value.epoch == 2
    assert not (tmp_path / "train.lock").exists()


def test_keyboard_interrupt_in_the_evaluation_after_fit_names_the_checkpoint(tmp_path):
    """Ctrl-C in the evaluation that follows fit (as `glassnet train` runs it): the run's checkpoint is
    named, and the model is back in training mode."""
    from glassnet.training import TrainingInterrupted
    interrupt = []

    def loss_fn(out, y):
        if interrupt:
            raise KeyboardInterrupt
        return gn.nn.functional.cross_entropy(out, y)

    model = _mlp()
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), loss_fn, progress=False, verbose=False,
                         checkpoint_dir=tmp_path)
    trainer.fit(_digits_subset(64), epochs=1, batch_size=32)
    interrupt.append(True)
    with pytest.raises(TrainingInterrupted) as info:
        trainer.evaluate(_digits_subset(64))
    assert info.value.checkpoint == tmp_path / "last.safetensors" and info.value.epoch == 1
    assert model.training


def test_keyboard_interrupt_in_evaluate_without_a_checkpoint_stays_a_keyboard_interrupt():
    from glassnet.training import TrainingInterrupted

    def loss_fn(out, y):
        raise KeyboardInterrupt

    model = _mlp()
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), loss_fn, progress=False, verbose=False)
    with pytest.raises(KeyboardInterrupt) as info:
        trainer.evaluate(_digits_subset(64))
    assert not isinstance(info.value, TrainingInterrupted)
    assert model.training


# ------------------------------------------------- truncated BPTT and mid-epoch checkpoints
class _TinyLM(gn.nn.Module):
    """Embedding -> LSTM -> Linear on every step, called as model(x, state) -> (logits, state)."""

    def __init__(self, vocab=5, hidden=6, dropout=0.0):
        super().__init__()
        self.embedding = gn.nn.Embedding(vocab, 4)
        self.lstm = gn.nn.LSTM(4, hidden, batch_first=True)
        self.drop = gn.nn.Dropout(dropout)
        self.fc = gn.nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embedding(x), state)
        return self.fc(self.drop(out)), state


def _lm_loss(logits, y):
    return gn.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def _streams(n=4, length=25, vocab=5, seed=0):
    ids = np.random.default_rng(seed).integers(0, vocab, (n, length + 1))
    return gn.tensor(ids[:, :-1]), gn.tensor(ids[:, 1:])


def test_tbptt_matches_a_hand_written_truncated_loop():
    """Trainer(tbptt=K): windows of K steps, one SGD step each, the state carried detached;
    the same weights as the loop written out by hand."""
    x, y = _streams(length=10)
    gn.manual_seed(0)
    ours = _TinyLM()
    gn.manual_seed(0)
    hand = _TinyLM()
    trainer = gn.Trainer(ours, gn.optim.SGD(ours.parameters(), lr=0.5), _lm_loss, tbptt=4, progress=False,
                         verbose=False)
    history = trainer.fit((x, y), epochs=1, batch_size=4, shuffle=False)
    assert trainer.global_step == 3                     # windows of 4, 4 and 2 steps
    opt = gn.optim.SGD(hand.parameters(), lr=0.5)
    state, losses = None, []
    for start in range(0, 10, 4):
        logits, state = hand(x[:, start:start + 4], state)
        loss = _lm_loss(logits, y[:, start:start + 4])
        opt.zero_grad()
        loss.backward()
        opt.step()
        state = tuple(s.detach() for s in state)
        losses.append((loss.item(), y[:, start:start + 4].numel()))
    for p, q in zip(ours.parameters(), hand.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-6, atol=1e-7)
    expected = sum(v * n for v, n in losses) / sum(n for _, n in losses)
    assert history["loss"][0] == pytest.approx(expected, rel=1e-6)


def test_tbptt_many_to_one_takes_the_loss_on_the_last_window():
    from glassnet.training import TBPTT
    windows = list(TBPTT(3).windows(gn.zeros(2, 7, 1), gn.tensor([1, 0])))
    assert [(w.shape[1], t is None, last) for w, t, last in windows] == [(3, True, False), (3, True, False),
                                                                         (1, False, True)]
    with pytest.raises(ValueError, match="TBPTT: steps must be a positive integer, got 0"):
        TBPTT(0)


def test_mid_epoch_checkpoint_resumes_exactly(tmp_path):
    """A checkpoint every 3 steps (mid-batch: the carried LSTM state goes into it), an
    interruption at step 5 of an epoch of 4 batches x 2 windows, a resume: the same weights
    as an uninterrupted run (shuffle order and dropout masks included)."""
    x, y = _streams(n=8, length=12)

    def run(directory, interrupt_at=None):
        gn.manual_seed(3)
        model = _TinyLM(dropout=0.3)
        calls = []

        def loss_fn(out, target):
            calls.append(1)
            if len(calls) == interrupt_at:
                raise KeyboardInterrupt
            return _lm_loss(out, target)

        trainer = gn.Trainer(model, gn.optim.Adam(model.parameters(), lr=0.01), loss_fn, tbptt=6, metrics=(),
                             checkpoint_dir=directory, checkpoint_every_steps=3, progress=False, verbose=False)
        trainer.fit((x, y), epochs=2, batch_size=2)
        return model, trainer

    straight, _ = run(tmp_path / "a")
    from glassnet.training import TrainingInterrupted
    with pytest.raises(TrainingInterrupted) as info:
        run(tmp_path / "b", interrupt_at=5)           # the 5th window: 4 steps done, a checkpoint at step 3
    assert info.value.step == 3 and info.value.epoch == 0
    assert gn.load(tmp_path / "b" / "last.safetensors")["position"]["state"] is not None
    resumed, trainer = run(tmp_path / "b")
    assert trainer.global_step == 16
    for p, q in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_a_mid_epoch_checkpoint_resumed_with_another_batch_size_skips_no_samples(tmp_path):
    """Stopped after 3 of 12 batches of 8 (24 samples); resumed with batches of 16, the epoch goes on
    at batch 1 of 6 (the same share, rounded down): samples 16-95 are trained, 16-23 a second time,
    none of 24-47 skipped (resuming at batch 3 would start at sample 48)."""
    from glassnet.training import TrainingInterrupted
    seen, interrupt_at = [], [5]

    def loss_fn(out, y):
        seen.append(len(y))
        if len(seen) == interrupt_at[0]:
            raise KeyboardInterrupt
        return gn.nn.functional.cross_entropy(out, y)

    def trainer(lines):
        gn.manual_seed(0)
        model = _mlp()
        return gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), loss_fn, progress=False,
                          log=lines.append, checkpoint_dir=tmp_path, checkpoint_every_steps=3)

    with pytest.raises(TrainingInterrupted) as info:
        trainer([]).fit(_digits_subset(96), epochs=1, batch_size=8, shuffle=False)
    assert info.value.step == 3
    seen.clear()
    interrupt_at[0] = None
    lines = []
    resumed = trainer(lines)
    resumed.fit(_digits_subset(96), epochs=1, batch_size=16, shuffle=False)
    assert seen == [16] * 5 and resumed.global_step == 3 + 5 and resumed.epoch == 1
    assert any("batch 3 of 12" in line and "continues at batch 1" in line for line in lines), lines


def test_max_time_stops_mid_epoch_with_a_checkpoint(tmp_path):
    x, y = _streams(n=4, length=40_000)           # 20,000 windows: far more than 0.3 s on any machine
    gn.manual_seed(0)
    model = _TinyLM()
    lines = []
    trainer = gn.Trainer(model, gn.optim.Adam(model.parameters()), _lm_loss, tbptt=2, checkpoint_dir=tmp_path,
                         progress=False, log=lines.append)
    started = time.perf_counter()
    trainer.fit((x, y), epochs=None, batch_size=4, max_time=0.3)
    assert time.perf_counter() - started < 3.0 and trainer.stopped_by_time
    assert 0 < trainer.global_step < 20_000 and trainer.epoch == 0
    state = gn.load(tmp_path / "last.safetensors")
    assert int(state["global_step"]) == trainer.global_step and int(state["position"]["window"]) > 0
    assert any("time budget reached" in line for line in lines)


def test_evaluate_within_a_time_limit_says_how_much_it_read():
    x, y = _streams(n=4, length=40)
    model = _TinyLM()
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), _lm_loss, tbptt=10, metrics=(),
                         progress=False, verbose=False)
    cut = trainer.evaluate((x, y), batch_size=4, max_time=0.0)
    assert cut["complete"] is False and cut["targets"] == 4 * 10          # one window, then the time was up
    whole = trainer.evaluate((x, y), batch_size=4, max_time=60.0)
    assert whole["complete"] is True and whole["targets"] == 4 * 40
    assert "complete" not in trainer.evaluate((x, y), batch_size=4)


def test_checkpoint_every_seconds_writes_within_an_epoch(tmp_path):
    """A kill loses at most the interval: with checkpoint_every_seconds, steps inside the
    first epoch are already on disk when the run stops."""
    from glassnet.training import TrainingInterrupted
    calls = []

    def slow_loss(out, y):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        time.sleep(0.05)
        return gn.nn.functional.cross_entropy(out, y)

    model = _mlp()
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), slow_loss, progress=False, verbose=False,
                         checkpoint_dir=tmp_path, checkpoint_every_seconds=0.01)
    with pytest.raises(TrainingInterrupted):
        trainer.fit(_digits_subset(320), epochs=1, batch_size=32)
    state = gn.load(tmp_path / "last.safetensors")
    assert int(state["epoch"]) == 0 and int(state["global_step"]) == 3 and int(state["position"]["batch"]) == 3


def test_summary_line_without_an_epoch_count():
    trainer = _quiet_trainer()
    trainer.epoch = 3
    assert trainer._summary_line({"loss": 0.5, "lr": 0.1, "time": 1.0}, None).startswith("epoch 3  loss 0.5000")
    assert trainer._summary_line({"loss": 0.5, "lr": 0.1, "time": 1.0}, 7).startswith("epoch 3/7  loss")
