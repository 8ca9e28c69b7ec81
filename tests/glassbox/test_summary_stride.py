"""gn.summary marks a layer whose (W - F + 2P)/S + 1 is not an integer; the layer itself still floors."""
from __future__ import annotations

import glassnet as gn
import glassnet.nn as nn


def test_summary_marks_the_rows_and_columns_the_stride_drops():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3, padding=1))
    table = gn.summary(model, (1, 1, 6, 7), verbose=0)
    # conv1: rows (6 - 3)/2 + 1 = 2.5 -> 2 windows read rows 0..4, row 5 unread; cols (7 - 3)/2 + 1 = 3 exact
    # pool1 on 2 x 3: rows (2 - 2)/2 + 1 = 1 exact; cols (3 - 2)/2 + 1 = 1.5 -> column 2 unread
    assert [r.dropped for r in table.rows] == [(1, 0), (0, 1), None]
    assert table.rows[0].output_shape == (1, 2, 2, 3)         # torch's flooring, unchanged
    text = str(table)
    assert "conv1 *" in text and "pool1 *" in text and "conv2 *" not in text
    assert "never reads the last 1 row(s) of its input" in text
    assert "never reads the last 1 column(s) of its input" in text


def test_exact_strides_and_ceil_mode_are_not_marked():
    lenet_like = nn.Sequential(nn.Conv2d(1, 6, 5), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.MaxPool2d(2))
    assert all(r.dropped is None for r in gn.summary(lenet_like, (1, 1, 28, 28), verbose=0).rows)  # 24, 12, 8, 4
    table = gn.summary(nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), (1, 1, 5, 5), verbose=0)
    assert table.rows[0].dropped is None and "*" not in str(table).splitlines()[4]
