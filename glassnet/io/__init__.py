"""Saving and loading (``gn.save``, ``gn.load``): safetensors, atomic, never pickled."""
from .serialization import CheckpointError, load, save
from .torch_format import TensorInfo, TorchFileError, inspect_torch, load_torch, optimizer_state_from_torch
from .inspect import FileSummary, inspect_file

__all__ = ["save", "load", "CheckpointError", "load_torch", "TorchFileError", "optimizer_state_from_torch",
           "inspect_torch", "TensorInfo", "inspect_file", "FileSummary"]
