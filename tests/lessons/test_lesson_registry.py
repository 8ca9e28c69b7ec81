"""The registry, the rendering, the board's rule that a disagreement must say why, and the CLI."""
from __future__ import annotations

import html
import time

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.lessons.board import Board, LessonError, notes_agree

NAMES = [les.name for les in gn.lessons.list()]


def test_at_least_25_lessons_each_citing_a_note_file_and_section():
    assert len(NAMES) >= 25 and len(set(NAMES)) == len(NAMES)
    for les in gn.lessons.list():
        assert les.sources, les.name
        for file, section in les.sources:
            assert file.endswith(".txt") and section


@pytest.mark.parametrize("name", NAMES)
def test_each_lesson_renders_in_every_format_quickly(name):
    start = time.perf_counter()
    r = gn.lessons.run(name)
    assert time.perf_counter() - start < 10
    text, md, page = r.render("text"), r.render("markdown"), r.render("html")
    for source_file, _ in r.sources:
        assert source_file in text and source_file in md
    assert page.startswith("<!DOCTYPE html>") and html.escape(r.title.split(":")[0]) in page
    for check in r.checks:                        # the notes' number is printed wherever they give one
        assert check.notes in text
    for check in r.disagreements:                 # and every difference says why
        assert check.why and check.why[:40] in text.replace("\n    ", " ")


def test_a_disagreement_without_a_reason_is_refused():
    board = Board()
    board.compare("agrees at the notes' precision", 0.5498, "0.55")
    with pytest.raises(LessonError, match="does not say why"):
        board.compare("differs", 0.7783, "0.337")
    board.compare("differs, explained", 0.7783, "0.337", why="log base")
    assert [c.agrees for c in board.checks] == [True, False]


def test_notes_precision_rule():
    assert notes_agree(0.5498, "0.55") and not notes_agree(0.5551, "0.55")
    assert notes_agree([[-1, 2], [0, 1]], "-1 2; 0 1") and not notes_agree([1, 2], "1 2 3")
    assert notes_agree(62378344, "62,378,344")


def test_unknown_lesson_and_format():
    with pytest.raises(KeyError, match="no lesson named 'nope'"):
        gn.lessons.run("nope")
    with pytest.raises(ValueError, match="format must be one of"):
        gn.lessons.run("conv-intro").render("pdf")


def test_cli_list_and_one_lesson(capsys, tmp_path):
    assert main(["lesson", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{len(NAMES)} lessons" in out and "cnn-toy" in out
    assert main(["lesson", "cnn-toy"]) == 0
    out = capsys.readouterr().out
    for number in ("-1 1 1; 2 0 -2; -2 1 1", "2 2 0; 5 1 -3; 1 0 -1", "mz1", "mz2", "0.332", "1.336", "-1.336"):
        assert number in out
    assert main(["lesson", "sigmoid-chain", "--format", "html", "--out", str(tmp_path / "l.html")]) == 0
    assert (tmp_path / "l.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["lesson", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no lesson named 'nope'" in err and "Traceback" not in err and err.count("\n") <= 2


def test_readme_lists_every_lesson():
    import pathlib
    from glassnet.lessons.registry import table_markdown
    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert table_markdown() in readme, "README's lesson table is stale: paste glassnet.lessons.registry.table_markdown()"


def test_a_lesson_leaves_the_callers_random_stream_alone():
    gn.manual_seed(5)
    expected = gn.rand(3).numpy()
    gn.manual_seed(5)
    gn.lessons.run("dropout")                 # seeds and draws masks inside
    np.testing.assert_array_equal(gn.rand(3).numpy(), expected)
