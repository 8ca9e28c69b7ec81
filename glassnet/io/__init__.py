"""Saving and loading (``gn.save``, ``gn.load``): safetensors, atomic, never pickled."""
from .serialization import CheckpointError, load, save
from .torch_format import TorchFileError, load_torch, optimizer_state_from_torch

__all__ = ["save", "load", "CheckpointError", "load_torch", "TorchFileError", "optimizer_state_from_torch"]
