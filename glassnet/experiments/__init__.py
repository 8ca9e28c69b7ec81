"""The notes experiments, runnable: ``glassnet experiment NAME``."""
