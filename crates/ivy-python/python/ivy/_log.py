"""The package's logger, ``Ivy`` (``ivy.ivy.ivylogger``): warnings and errors on
stderr, one line each, with the time, the level and the thread. ``logging`` is
imported on first use only (an agent that logs nothing does not pay for it)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_made: "dict[str, Any]" = {}


def logger() -> Any:
    """The ``Ivy`` logger, set up on first use."""
    if not _made:
        import logging

        log = logging.getLogger("Ivy")
        handler = logging.StreamHandler()
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s")
        handler.setFormatter(formatter)
        log.addHandler(handler)
        log.setLevel(logging.WARNING)
        _made.update(ivylogger=log, ivy_loghdlr=handler, ivy_logformatter=formatter)
    return _made["ivylogger"]


def attribute(name: str) -> Any:
    """``ivylogger``, ``ivy_loghdlr``, ``ivy_logformatter``, or a logging method
    (``debug``, ``info``, ``warn``, ``error``, ``log``) of the logger."""
    if name not in _NAMES:
        raise AttributeError(name)
    log = logger()
    if name in _made:
        return _made[name]
    return getattr(log, "warning" if name == "warn" else name)


_NAMES = ("ivylogger", "ivy_loghdlr", "ivy_logformatter", "debug", "info", "warn", "error", "log")


def report_callback_error(what: str, exc: BaseException) -> None:
    """Logs an exception raised by an application callback; the bus goes on."""
    logger().error("%s raised %s: %s", what, type(exc).__name__, exc, exc_info=(type(exc), exc, exc.__traceback__))
