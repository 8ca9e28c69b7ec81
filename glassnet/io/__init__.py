"""Saving and loading (``gn.save``, ``gn.load``): safetensors, atomic, never pickled."""
from .serialization import CheckpointError, load, save

__all__ = ["save", "load", "CheckpointError"]
