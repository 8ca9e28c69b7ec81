"""Textbook forms of glassnet's primitives, written for reading, not speed.

Every kernel path (compiled and NumPy) is tested against these in float64: convolution as a
sum over windows, its input gradient as a full cross-correlation of dy with the flipped
kernel, pooling window by window, batch norm by its formula, and the recurrent layers step
by step with backpropagation through time as a loop over t. Plain NumPy only: nothing here
imports glassnet.
"""
from __future__ import annotations

import numpy as np  # noqa: F401
