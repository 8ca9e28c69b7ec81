"""Self-contained HTML pages: training reports and lessons share one writer (``html.Page``).

``TrainingReport`` (training.py) is what ``Trainer(report=...)`` and ``glassnet train --report``
write; ``build_page`` renders one from a history (``glassnet report RUN_DIR``).
"""
from .html import Page
from .training import TrainingReport, build_page

__all__ = ["Page", "TrainingReport", "build_page"]
