"""The Ivy software bus, on the ivy-rs engine.

- :mod:`ivy.std_api`: ivy-python 4.0's standard API (``from ivy.std_api import *``),
  a drop-in replacement;
- :mod:`ivy.ivy`: ivy-python's object API (``IvyServer``, ``IvyClient``, ...);
- :class:`ivy.Bus`: the Pythonic API (context manager, decorators, type hints).

See docs/PYTHON.md in the ivy-rs repository.
"""

from __future__ import annotations

from . import ivy, std_api
from ._ivy import __version__
from .errors import (
    IvyError,
    IvyIllegalStateError,
    IvyMalformedMessage,
    IvyNotInitializedError,
    IvyProtocolError,
    UnknownBindingError,
    UnknownTimerError,
)
from .peer import Peer


def __getattr__(name: str) -> object:
    """The Pythonic API (``Bus`` and its types), imported on first use: a program
    that only uses ``ivy.std_api`` does not load it."""
    if name in ("Bus", "Matching", "Subscription", "SubscriptionEvent", "Timer"):
        from . import bus

        return getattr(bus, name)
    raise AttributeError("module 'ivy' has no attribute %r" % name)

__all__ = [
    "Bus", "Matching", "Peer", "Subscription", "SubscriptionEvent", "Timer", "IvyError", "IvyIllegalStateError",
    "IvyMalformedMessage", "IvyNotInitializedError", "IvyProtocolError", "UnknownBindingError",
    "UnknownTimerError", "ivy", "std_api", "__version__",
]
