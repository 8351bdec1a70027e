"""The exceptions of the package.

Every exception raised by the package derives from :class:`IvyError`; those of
ivy-python 4.0 keep their names (and also derive from the built-in exception
ivy-python raised in the same case, so that existing ``except`` clauses still
catch them).
"""


class IvyError(Exception):
    """Base class of every exception of the package."""


class IvyIllegalStateError(IvyError, RuntimeError):
    """The agent is not in a state that allows the call (e.g. ``stop`` while stopped)."""


class IvyNotInitializedError(IvyIllegalStateError, AssertionError):
    """A ``std_api`` function called before ``IvyInit``, or ``IvyInit`` called twice.

    ivy-python raises a bare ``AssertionError`` there; this is one too.
    """


class IvyMalformedMessage(IvyError):
    """A line of the Ivy protocol that cannot be decoded."""


class IvyProtocolError(IvyError):
    """A peer broke the Ivy protocol."""


class UnknownBindingError(IvyError, KeyError):
    """No binding has this id (ivy-python raises ``KeyError`` there; this is one too)."""


class UnknownTimerError(IvyError, KeyError):
    """No timer has this id (ivy-python raises ``KeyError`` there; this is one too)."""
