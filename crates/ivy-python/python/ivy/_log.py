"""The package's logger, ``Ivy`` (``ivy.ivy.ivylogger``): warnings and errors on
stderr by default, one line each, with the time, the level and the thread."""

import logging

ivylogger = logging.getLogger("Ivy")
ivy_loghdlr = logging.StreamHandler()
ivy_logformatter = logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s")
ivy_loghdlr.setFormatter(ivy_logformatter)
ivylogger.addHandler(ivy_loghdlr)
ivylogger.setLevel(logging.WARNING)


def report_callback_error(what: str, exc: BaseException) -> None:
    """Logs an exception raised by an application callback; the bus goes on."""
    ivylogger.error("%s raised %s: %s", what, type(exc).__name__, exc, exc_info=(type(exc), exc, exc.__traceback__))
