"""Whether operations record the graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``."""
from __future__ import annotations

import functools

_enabled = True


def is_grad_enabled() -> bool:
    return _enabled


class set_grad_enabled:
    """Context manager (and function) that switches graph recording on or off."""

    def __init__(self, mode: bool):
        global _enabled
        self.prev = _enabled
        _enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev
        return False


class no_grad:
    """Context manager / decorator: operations inside record no graph (inference, updates)."""

    def __enter__(self):
        global _enabled
        self.prev = _enabled
        _enabled = False
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class enable_grad(no_grad):
    """Context manager / decorator: record the graph even inside ``no_grad``."""

    def __enter__(self):
        global _enabled
        self.prev = _enabled
        _enabled = True
        return self
