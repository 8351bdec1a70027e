"""ivy-python 4.0's standard API (``from ivy.std_api import *``), on the ivy-rs
engine: the same functions, arguments, return values, callback arguments, event
numbers and exceptions, so that a program written for ivy-python runs unchanged.

- ``IvyInit(name, ready, 0, on_cnx, on_die)``: ``on_cnx(client, event)`` gets
  :data:`IvyApplicationConnected` (1) and :data:`IvyApplicationDisconnected` (2);
  ``on_die(client, id)`` may return ``IVY_SHOULD_NOT_DIE`` to stay on the bus.
- ``IvyStart(bus)`` starts the bus on a background thread; every callback runs on
  that thread, one at a time. ``IvyMainLoop()`` waits until the agent leaves the
  bus; Ctrl-C (SIGINT) in it calls ``IvyStop()``.
- ``IvySendMsg`` routes a message as ivy-python's sender does: each peer regexp
  must match at the message's start (``re.match``), every group is sent ("" for
  one that took no part), ``.`` takes a whole character of a UTF-8 message.
- Before ``IvyInit`` (or on a second ``IvyInit``) the functions raise
  ``AssertionError`` (:class:`ivy.errors.IvyNotInitializedError`), as ivy-python's.

Where this differs from ivy-python is listed in docs/PYTHON.md.
"""

from __future__ import annotations

import threading

from .errors import IvyNotInitializedError, UnknownTimerError
from .ivy import (
    IVY_SHOULD_NOT_DIE,
    IvyApplicationConnected,
    IvyApplicationDisconnected,
    IvyClient,
    IvyRegexpAdded,
    IvyRegexpRemoved,
    IvyServer,
    void_function,
)

TYPE_CHECKING = False  # typing is not imported at run time (memory)
if TYPE_CHECKING:
    from typing import Callable, List, Optional, Sequence, Tuple, Union

_IvyServer: Optional[IvyServer] = None
# The native agent of _IvyServer, for the functions called per message.
_agent = None


def _server() -> IvyServer:
    if _IvyServer is None:
        raise IvyNotInitializedError("IvyInit() must be called first")
    return _IvyServer


def IvyInit(  # noqa: N802 (the names are ivy-python's)
    agent_name: str,
    ready_msg: Optional[str] = None,
    main_loop_type_ignored: int = 0,
    on_cnx_fct: Callable = void_function,
    on_die_fct: Callable = void_function,
) -> None:
    """Creates the agent (once per process); the third argument is ignored."""
    global _IvyServer, _agent
    if _IvyServer is not None:
        raise IvyNotInitializedError("IvyInit() was already called")
    _IvyServer = IvyServer(agent_name, ready_msg, on_cnx_fct, on_die_fct)
    _agent = _IvyServer._agent


def IvyStart(ivybus: Optional[str] = None) -> None:  # noqa: N802
    """Joins the bus (``None``: ``IVYBUS``, then ``127:2010``) on a background thread."""
    _server().start(ivybus)


def IvyMainLoop() -> None:  # noqa: N802
    """Waits until the agent leaves the bus (IvyStop, or a Die). In the main
    thread, Ctrl-C (SIGINT) meanwhile calls IvyStop."""
    import signal

    server = _server()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda signum, frame: _interrupted(server)) if in_main else None
    try:
        server.server_termination.wait()
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)


def _interrupted(server: IvyServer) -> None:
    """Ctrl-C in IvyMainLoop: leave the bus (if on it) and end the wait."""
    if server.isAlive():
        server.stop()
    server.server_termination.set()


def IvyStop() -> None:  # noqa: N802
    """Leaves the bus: Bye to every peer, then the background thread ends."""
    _server().stop()


def IvyBindMsg(on_msg_fct: Callable, regexp: str) -> int:  # noqa: N802
    """Subscribes ``on_msg_fct(client, *groups)`` to `regexp`; returns its id (from 0)."""
    return _server().bind_msg(on_msg_fct, regexp)


def IvyUnbindMsg(binding_id: int) -> str:  # noqa: N802
    """Removes a binding; returns its regexp. ``KeyError`` if there is none."""
    return _server().unbind_msg(binding_id)


IvyUnBindMsg = IvyUnbindMsg


def IvyBindDirectMsg(on_msg_fct: Callable) -> None:  # noqa: N802
    """Sets ``on_msg_fct(client, id, text)`` for direct messages."""
    _server().bind_direct_msg(on_msg_fct)


def IvyBindPong(on_pong_fct: Callable) -> None:  # noqa: N802
    """Sets ``on_pong_fct(client, seconds)`` for the answers to IvySendPing."""
    _server().bind_pong(on_pong_fct)


IvySetPongCallback = IvyBindPong


def IvyBindRegexpChange(regexp_change_callback: Callable) -> None:  # noqa: N802
    """Sets ``cb(client, event, id, regexp)``: event IvyRegexpAdded or IvyRegexpRemoved."""
    _server().bind_regexp_change(regexp_change_callback)


def IvySendMsg(msg: str) -> int:  # noqa: N802
    """Sends `msg`; returns the number of matching subscriptions on the bus."""
    if _agent is None or _IvyServer is None:
        _server()
    return _agent.send(msg)


def IvySendDirectMsg(client: IvyClient, num_id: int, msg: Union[str, Sequence[str]]) -> None:  # noqa: N802
    """Sends a direct message to `client` (a list: ETX-terminated fields)."""
    _server()
    client.send_direct_message(num_id, msg)


def IvySendError(client: IvyClient, num_id: int, error_msg: str) -> None:  # noqa: N802
    """Sends an Error message to `client`."""
    _server()
    client.send_error(num_id, error_msg)


def IvySendDieMsg(client: IvyClient) -> None:  # noqa: N802
    """Asks `client` to leave the bus."""
    _server()
    client.send_die_message()


def IvySendPing(client: IvyClient) -> None:  # noqa: N802
    """Pings `client`; the answer goes to the pong callback."""
    _server()
    client.send_ping()


def IvyGetApplicationList() -> List[str]:  # noqa: N802
    """Names of the connected peers."""
    return _server().get_clients()


def IvyGetApplication(name: str) -> Optional[IvyClient]:  # noqa: N802
    """The first connected peer named `name`, or None."""
    found = _server().get_client_with_name(name)
    return found[0] if found else None


def IvyGetApplicationName(client: IvyClient) -> Optional[str]:  # noqa: N802
    """The application name of `client`."""
    _server()
    return client.agent_name


def IvyGetApplicationHost(client: IvyClient) -> str:  # noqa: N802
    """The fully qualified name of `client`'s host."""
    _server()
    return client.fqdn


def IvyGetApplicationMessages(client: IvyClient) -> List[Tuple[int, str]]:  # noqa: N802
    """The subscriptions of `client`, ``[(id, regexp)]``."""
    return _server().get_client_bindings(client)


def IvyGetMessages() -> List[Tuple[int, str]]:  # noqa: N802
    """Our own subscriptions, ``[(id, regexp)]``."""
    return _server().get_subscriptions()


def IvyTimerRepeatAfter(count: int, delay_ms: int, callback: Callable) -> int:  # noqa: N802
    """Calls ``callback()`` at once, then every `delay_ms`, `count` times in all
    (0: forever), on the bus thread while the bus runs; returns the timer's id."""
    return _server()._agent.add_timer(max(count, 0), delay_ms, callback)


def IvyTimerModify(timer_id: int, delay_ms: int) -> None:  # noqa: N802
    """New period of a timer, from its next firing on. ``KeyError`` if unknown."""
    if not _server()._agent.modify_timer(timer_id, delay_ms):
        raise UnknownTimerError(timer_id)


def IvyTimerRemove(timer_id: int) -> None:  # noqa: N802
    """Ends a timer. ``KeyError`` if unknown."""
    if not _server()._agent.remove_timer(timer_id):
        raise UnknownTimerError(timer_id)


__all__ = [
    "IvyApplicationConnected", "IvyApplicationDisconnected", "IvyRegexpAdded", "IvyRegexpRemoved",
    "IVY_SHOULD_NOT_DIE", "IvyClient", "void_function", "IvyInit", "IvyStart", "IvyMainLoop", "IvyStop",
    "IvyBindMsg", "IvyUnbindMsg", "IvyUnBindMsg", "IvyBindDirectMsg", "IvyBindPong", "IvySetPongCallback",
    "IvyBindRegexpChange", "IvySendMsg", "IvySendDirectMsg", "IvySendError", "IvySendDieMsg", "IvySendPing",
    "IvyGetApplicationList", "IvyGetApplication", "IvyGetApplicationName", "IvyGetApplicationHost",
    "IvyGetApplicationMessages", "IvyGetMessages", "IvyTimerRepeatAfter", "IvyTimerModify", "IvyTimerRemove",
]
