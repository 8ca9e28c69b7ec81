"""Neural-network layers, their functional forms, initialisers and utilities (``gn.nn``)."""
from . import functional, init, utils
from .module import Module
from .modules import *  # noqa: F401,F403
from .parameter import Parameter
