"""Tools that let the library show its work: ``summary``, ``explain``, the notes' worked examples."""
from .explain import Explanation, explain
from .summary import Summary, summary

__all__ = ["summary", "Summary", "explain", "Explanation"]
