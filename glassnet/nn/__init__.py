"""Neural-network layers, their functional forms, initialisers and utilities (``gn.nn``)."""
from . import functional, init, utils
from .module import Module
from . import modules
from .modules import *  # noqa: F403
from .parameter import Parameter

__all__ = ["functional", "init", "utils", "Module", "Parameter", *modules.__all__]
