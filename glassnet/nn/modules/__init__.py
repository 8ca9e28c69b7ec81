"""Layers, one module per family."""
from .activation import *  # noqa: F401,F403
from .activation import __all__ as _activation
from .container import *  # noqa: F401,F403
from .container import __all__ as _container
from .conv import *  # noqa: F401,F403
from .conv import __all__ as _conv
from .dropout import *  # noqa: F401,F403
from .dropout import __all__ as _dropout
from .embedding import *  # noqa: F401,F403
from .embedding import __all__ as _embedding
from .linear import *  # noqa: F401,F403
from .linear import __all__ as _linear
from .loss import *  # noqa: F401,F403
from .loss import __all__ as _loss
from .normalization import *  # noqa: F401,F403
from .normalization import __all__ as _normalization
from .pooling import *  # noqa: F401,F403
from .pooling import __all__ as _pooling
from .rnn import *  # noqa: F401,F403
from .rnn import __all__ as _rnn
from .sync_batchnorm import *  # noqa: F401,F403
from .sync_batchnorm import __all__ as _sync_batchnorm

__all__ = (_activation + _container + _conv + _dropout + _embedding + _linear + _loss
           + _normalization + _pooling + _rnn + _sync_batchnorm)
