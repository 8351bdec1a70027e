"""Agents still on the bus when the interpreter exits are stopped first: their loop
threads are not Python threads, and must end before the interpreter does. Peers
see them leave (Bye), as after an explicit stop."""

from __future__ import annotations

import atexit
import weakref

TYPE_CHECKING = False  # typing is not imported at run time (memory)
if TYPE_CHECKING:
    from typing import Any

_agents: "weakref.WeakSet[Any]" = weakref.WeakSet()


def track(agent: Any) -> None:
    """Stops `agent` (an ``ivy._ivy.Agent``) at exit if it is still running."""
    _agents.add(agent)


@atexit.register
def _stop_all() -> None:
    for agent in list(_agents):
        if agent.is_running():
            agent.stop()
