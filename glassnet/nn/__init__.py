"""Neural-network layers, their functional forms, initialisers and utilities (``gn.nn``)."""
from . import functional, init, utils
from .module import Module
from . import modules
from .modules import *  # noqa: F403
from .parameter import Parameter
from . import parallel  # noqa: E402  (DistributedDataParallel; MPI is imported only when used)

__all__ = ["functional", "init", "utils", "parallel", "Module", "Parameter", *modules.__all__]
