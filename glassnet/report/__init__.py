"""Self-contained HTML pages: training reports and lessons share one writer (``html.Page``)."""
from .html import Page

__all__ = ["Page"]
