"""The HTML training report: sections, self-containment, updates during training, rebuilds."""
import importlib.util
import re
import struct
import zlib

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn as nn
from glassnet.cli import main
from glassnet.report import training as report_module
from glassnet.report.png import gray_png
from glassnet.report.training import SECTIONS, TrainingReport, sample_order


def _small_run(folder, epochs=2, **report_kwargs):
    gn.manual_seed(0)
    X, y = gn.data.load_digits()
    train, test = gn.data.random_split(gn.data.TensorDataset(X, y), [0.8, 0.2], generator=0)
    model = gn.models.mlp()
    report = TrainingReport(folder / "run.html", data=test, config={"model": "mlp", "data": "digits"},
                            **report_kwargs)
    trainer = gn.Trainer(model, gn.optim.Adam(model.parameters()), nn.CrossEntropyLoss(), progress=False,
                         verbose=False, checkpoint_dir=folder / "runs" / "mlp-digits", report=report)
    trainer.fit(train, epochs=epochs, batch_size=64)
    return trainer, test


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One 3-epoch run writing its report at every epoch end; every page written is kept."""
    folder = tmp_path_factory.mktemp("run")
    written = []
    real_write = report_module.Page.write

    def spy(self, path):
        written.append(self.render())
        return real_write(self, path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report_module.Page, "write", spy)
        trainer, test = _small_run(folder, epochs=3, min_interval=0.0)
    return folder, trainer, test, written


def test_report_has_every_section_and_is_self_contained(run):
    folder = run[0]
    page = (folder / "run.html").read_text()
    for section in SECTIONS:
        assert f">{section}</h2>" in page, section
    assert "<script" not in page.lower()                              # readable without JavaScript
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)   # nothing fetched from a network
    pictures = 4 if importlib.util.find_spec("matplotlib") else 0     # curves, confusion, filters, gradients
    assert page.count('src="data:image/png;base64,') == pictures + 32    # + the sample grid (no matplotlib needed)
    assert ("pip install glassnet[plot]" in page) == (not pictures)
    assert f"glassnet {gn.__version__}" in page
    assert "3 epochs, finished" in page


def test_report_numbers_match_the_model(run):
    folder, trainer, test, _ = run
    X, y = test.dataset.tensors[0][np.asarray(test.indices)], test.dataset.tensors[1][np.asarray(test.indices)]
    predicted = trainer.predict(X).numpy().argmax(1)
    wrong = int((predicted != y.numpy()).sum())
    page = (folder / "run.html").read_text()
    assert f"{wrong} of {len(y)} test samples misclassified" in page
    assert f"{100 * (1 - wrong / len(y)):.2f}% correct" in page
    captions = re.findall(r'<figure class="(right|wrong)">.*?<figcaption>(.*?)</figcaption>', page)
    assert [kind for kind, _ in captions[:min(wrong, 32)]] == ["wrong"] * min(wrong, 32)   # misclassified first
    assert all("(true " in text for kind, text in captions if kind == "wrong")


def test_sample_order_puts_mistakes_first():
    np.testing.assert_array_equal(sample_order(np.array([1, 2, 3, 4]), np.array([1, 0, 3, 0])), [1, 3, 0, 2])


def test_report_is_rewritten_during_training(run):
    folder, _, _, written = run
    assert [re.search(r"(\d+) epochs?, (finished|in progress)", w).group(0) for w in written] == [
        "1 epoch, in progress", "2 epochs, in progress", "3 epochs, in progress", "3 epochs, finished"]
    assert not list(folder.glob(".run.html.*"))                       # no temporary file left behind


def test_report_writes_are_spaced_out_on_a_fast_run(tmp_path, monkeypatch):
    writes = []
    monkeypatch.setattr(report_module.Page, "write", lambda self, path: writes.append(path))
    _small_run(tmp_path, epochs=4, min_interval=3600)
    assert len(writes) == 2                                           # the first epoch and the end


def test_glassnet_report_rebuilds_from_a_checkpoint_directory(run, tmp_path, capsys):
    run_dir = run[0] / "runs" / "mlp-digits"
    assert main(["report", str(run_dir)]) == 0
    page = (run_dir / "report.html").read_text()
    for section in SECTIONS:
        assert f">{section}</h2>" in page
    assert "test samples misclassified" in page and "3 epochs, finished" in page
    assert main(["report", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no checkpoint" in err[0]


@pytest.mark.slow   # the CLI's training job end to end
def test_glassnet_train_report_flag(tmp_path, capsys):
    main(["train", "--epochs", "1", "--quiet", "--out", str(tmp_path), "--report", str(tmp_path / "r.html")])
    page = (tmp_path / "r.html").read_text()
    assert "glassnet train --model mlp --data digits" in page and "359 test samples" in page
    with pytest.raises(SystemExit):
        main(["train", "--model", "char-lstm", "--report", str(tmp_path / "x.html")])
    assert "--report is written for the classifiers" in capsys.readouterr().err


def test_gray_png_decodes_to_the_pixels():
    image = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    data = gray_png(image)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (3, 2, 8, 0)
    idat = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat - 4:idat])[0]
    raw = zlib.decompress(data[idat + 4:idat + 4 + length])
    rows = np.frombuffer(raw, np.uint8).reshape(2, 4)
    np.testing.assert_array_equal(rows[:, 0], 0)                      # filter type 0
    np.testing.assert_array_equal(rows[:, 1:], [[255, 128, 0], [0, 128, 255]])   # ink dark: 2 -> 0
    assert zlib.crc32(data[idat:idat + 4 + length]) == struct.unpack(">I", data[idat + 4 + length:idat + 8 + length])[0]


def test_glassnet_report_on_any_trainer_run_draws_what_the_history_holds(tmp_path):
    gn.manual_seed(0)
    X, y = gn.randn(60, 5), gn.randint(0, 3, (60,))
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                         progress=False, verbose=False, checkpoint_dir=tmp_path / "demo")
    trainer.fit((X, y), epochs=2, batch_size=20)
    assert main(["report", str(tmp_path / "demo"), "--out", str(tmp_path / "demo.html")]) == 0
    page = (tmp_path / "demo.html").read_text()
    assert "Training report: demo" in page and "2 epochs, finished" in page
    assert "Needs the model and data labelled" in page                 # no recipe to rebuild the model from
    assert "<td>0.weight</td>" in page and "<td>2.weight</td>" in page  # gradient flow from the history


def test_report_of_a_sequence_tagger_does_not_stop_training(tmp_path):
    """Token ids in, one tag per token out: no per-sample confusion matrix, but a page all the same."""
    gn.manual_seed(0)
    tokens = gn.randint(0, 20, (24, 6))
    tags = gn.tensor(tokens.numpy() % 3)
    model = gn.models.SequenceTagger(20, 3, embedding_dim=8, hidden_size=8)
    trainer = gn.Trainer(model, gn.optim.Adam(model.parameters(), lr=1e-2), nn.CrossEntropyLoss(),
                         output_transform=lambda out: out.permute(0, 2, 1), progress=False, verbose=False,
                         report=TrainingReport(tmp_path / "tagger.html", data=(tokens, tags)))
    trainer.fit((tokens, tags), epochs=2, batch_size=8)
    page = (tmp_path / "tagger.html").read_text()
    assert "one class per sample" in page and ">Embedding<" in page          # layer table from real token ids
    assert "2 epochs, finished" in page


@pytest.mark.parametrize("model, alts", [
    (lambda: gn.models.mlp(), ["first-layer filters"]),
    (lambda: gn.models.digits_cnn(), ["first-layer filters", "feature maps of one sample"]),
    (lambda: gn.models.RowSequenceClassifier(8, 16, 10), ["gates and states over time for one sample"]),
])
def test_inside_the_model_draws_what_fits_the_model(model, alts):
    pytest.importorskip("matplotlib")
    from glassnet.report.training import build_page
    gn.manual_seed(0)
    model = model()
    X, y = gn.data.load_digits(images=not isinstance(model, nn.Sequential))
    page = build_page({"loss": [1.0]}, model=model, data=(X[:20], y[:20])).render()
    inside = page[page.index('id="inside-the-model"'):page.index('id="gradient-flow"')]
    assert re.findall(r'alt="([^"]*)"', inside) == alts
