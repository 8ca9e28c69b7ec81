"""Functional forms of every layer, with torch's ``F.*`` names (``import glassnet.nn.functional as F``).

These take Tensors, check their arguments, and call the primitives in
:mod:`glassnet.functions`. One module per family, re-exported here.
"""
from .activation import *  # noqa: F401,F403
from .activation import __all__ as _activation
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
from .recurrent import *  # noqa: F401,F403
from .recurrent import __all__ as _recurrent
from .shape import *  # noqa: F401,F403
from .shape import __all__ as _shape

__all__ = (_activation + _conv + _dropout + _embedding + _linear + _loss + _normalization
           + _pooling + _recurrent + _shape)
