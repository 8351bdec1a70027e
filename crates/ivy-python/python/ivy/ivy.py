"""ivy-python 4.0's object API on the ivy-rs engine: :class:`IvyServer`, the
:class:`IvyClient` objects callbacks receive, :class:`IvyTimer`, the protocol
constants and helpers, the exceptions and the ``ivylogger`` logger.

The server's loop runs on a thread of its own from :meth:`IvyServer.start` to
:meth:`IvyServer.stop`; every callback runs on that thread, one at a time, with the
GIL. Matching and routing are done by the engine, in Rust, by ivy-python's rules
(``re.match``: anchored at the message's start; every group sent).
"""

from __future__ import annotations

import threading

from . import _exit, _ivy, _log
from ._log import report_callback_error
from ._timer import LoopTimer
from .errors import (
    IvyIllegalStateError,
    IvyMalformedMessage,
    IvyProtocolError,
    UnknownBindingError,
)
from .peer import Peer
from .wire import (
    ADD_REGEXP,
    ARG_END,
    ARG_START,
    BYE,
    DEFAULT_IVYBUS,
    DEFAULT_TTL,
    DEL_REGEXP,
    DIE,
    DIRECT_MSG,
    END_INIT,
    END_REGEXP,
    ERROR,
    MSG,
    PING,
    PONG,
    PROTOCOL_VERSION,
    START_INIT,
    START_REGEXP,
    decode_ivybus,
    decode_msg,
    decode_MSG_params,
    encode_message,
    is_multicast,
)

__all__ = [
    "ADD_REGEXP", "ARG_END", "ARG_START", "BYE", "DEFAULT_IVYBUS", "DEFAULT_TTL", "DEL_REGEXP", "DIE",
    "DIRECT_MSG", "END_INIT", "END_REGEXP", "ERROR", "MSG", "PING", "PONG", "PROTOCOL_VERSION", "START_INIT",
    "START_REGEXP", "NOT_INITIALIZED", "INITIALIZATION_IN_PROGRESS", "INITIALIZED", "IvyApplicationConnected",
    "IvyApplicationDisconnected", "IvyRegexpAdded", "IvyRegexpRemoved", "IVY_SHOULD_NOT_DIE", "IvyClient",
    "IvyServer", "IvyTimer", "IvyIllegalStateError", "IvyMalformedMessage", "IvyProtocolError",
    "decode_ivybus", "decode_msg", "decode_MSG_params", "encode_message", "is_multicast", "ivylogger",
    "ivy_loghdlr", "ivy_logformatter", "void_function", "debug", "info", "warn", "error", "log", "trace",
]

#: Peer status values (ivy-python's); callbacks only ever see INITIALIZED peers.
NOT_INITIALIZED = 0
INITIALIZATION_IN_PROGRESS = 1
INITIALIZED = 2

#: Events of the application callback ``app_callback(client, event)``.
IvyApplicationConnected = 1
IvyApplicationDisconnected = 2
#: Events of the regexp-change callback ``cb(client, event, id, regexp)``.
IvyRegexpAdded = 3
IvyRegexpRemoved = 4

#: A die callback that returns this stays on the bus.
IVY_SHOULD_NOT_DIE = "Ivy Application Should Not Die"

TYPE_CHECKING = False  # typing is not imported at run time (memory)
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Sequence, Tuple, Union


def __getattr__(name: str) -> Any:
    """``ivylogger``, ``ivy_loghdlr``, ``ivy_logformatter`` and the logging
    functions ``debug``, ``info``, ``warn``, ``error``, ``log`` (logging is
    imported on first use)."""
    return _log.attribute(name)


def trace(*args: Any, **kw: Any) -> None:
    """Logs at debug level (ivy-python's tracing helper)."""
    _log.logger().debug(*args, **kw)


def void_function(*arg: Any, **kw: Any) -> Any:
    """The default callback: does nothing."""
    return None


# The engine's numbers of link and subscription events, as ivy-python numbers them.
_LINK_EVENTS = {0: IvyApplicationConnected, 1: IvyApplicationDisconnected}
_BIND_EVENTS = {0: IvyRegexpAdded, 1: IvyRegexpRemoved, 3: IvyRegexpAdded}


class IvyClient(Peer):
    """Another agent on the bus (ivy-python's name and methods; see :class:`ivy.Peer`).

    ``str(client)`` is ``name@FQDN``, ``repr(client)`` is ``ip:port (name)``;
    clients are equal, and hash, by address.
    """

    def __init__(
        self, agent: _ivy.Agent, peer_id: int, agent_name: str, ip: str, port: int, app_id: str = ""
    ) -> None:
        super().__init__(agent, peer_id, agent_name, ip, port, app_id)
        #: The application id its hello announced; None when it connected to us
        #: (it sent us no hello), as in ivy-python.
        self.agent_id: Optional[str] = app_id or None
        #: Callbacks only see peers whose handshake has ended.
        self.status = INITIALIZED

    def get_regexps(self) -> List[Tuple[int, str]]:
        """The peer's subscriptions, ``[(id, regexp)]``."""
        return self.regexps

    def send_direct_message(self, num_id: int, msg: Union[str, Sequence[str]]) -> None:
        """Sends a direct message; a list or tuple is sent as ETX-terminated fields."""
        if isinstance(msg, (list, tuple)):
            msg = "".join(str(m) + ARG_END for m in msg)
        self.send_direct(num_id, msg)

    def send_die_message(self, num_id: int = 0, msg: str = "") -> None:
        """Asks the peer to die, with that id and text."""
        self.send_die(num_id, msg)

    def send_ping(self) -> None:
        """Pings the peer; the answer goes to the server's pong callback."""
        self.ping()

    def send_msg(self, message: str) -> int:
        """Sends `message` to this peer alone, once for each of its subscriptions
        that matches; returns that number (``IvyServer.send_msg(message, to=client)``)."""
        return self.send(message)


class IvyServer:
    """One agent on an Ivy bus (ivy-python's ``IvyServer``).

    ``app_callback(client, event)`` gets :data:`IvyApplicationConnected` and
    :data:`IvyApplicationDisconnected`; ``die_callback(client, id)`` may return
    :data:`IVY_SHOULD_NOT_DIE` to stay on the bus. The other callbacks are set with
    the ``bind_*`` methods, or as attributes (``direct_callback``,
    ``regexp_change_callback``, ``pong_callback``). An empty ``ready_msg`` sends no
    ready message.
    """

    def __init__(
        self,
        agent_name: str,
        ready_msg: Optional[str] = "",
        app_callback: Callable = void_function,
        die_callback: Callable = void_function,
        usesDaemons: bool = False,  # noqa: N803 (ivy-python's name)
    ) -> None:
        self.agent_name = agent_name
        self.ready_message = ready_msg
        self.app_callback = app_callback
        self.die_callback = die_callback
        self.direct_callback: Callable[..., Any] = void_function
        self.regexp_change_callback: Callable[..., Any] = void_function
        self.pong_callback: Callable[..., Any] = void_function
        #: Kept for compatibility: the loop thread never keeps the process alive.
        self.usesDaemons = usesDaemons
        self.ivybus: Optional[str] = None
        self.port: Optional[int] = None
        self.agent_id: Optional[str] = None
        #: Set when the server leaves the bus (stop, or a Die obeyed).
        self.server_termination = threading.Event()
        self._lock = threading.RLock()
        self._agent = _ivy.Agent(agent_name, ready_msg or None, self._make_client, report_callback_error)
        # Routed as ivy-python's sender does: re.match (anchored at the start),
        # every group sent ("" for one that took no part).
        self._agent.set_matching("ivy-python")
        self._agent.on("link", self._on_link)
        self._agent.on("peer_bind", self._on_peer_bind)
        self._agent.on("die", self._on_die)
        self._agent.on("direct", self._on_direct)
        self._agent.on("pong", self._on_pong)
        self._agent.on("terminated", self.server_termination.set)
        _exit.track(self._agent)

    def _make_client(self, peer_id: int, name: str, ip: str, port: int, app_id: str) -> IvyClient:
        return IvyClient(self._agent, peer_id, name, ip, port, app_id)

    def _on_link(self, client: IvyClient, event: int) -> None:
        if event in _LINK_EVENTS:
            self.app_callback(client, _LINK_EVENTS[event])

    def _on_peer_bind(self, client: IvyClient, event: int, num_id: int, regexp: str) -> None:
        if event in _BIND_EVENTS:
            self.regexp_change_callback(client, _BIND_EVENTS[event], num_id, regexp)

    def _on_die(self, client: IvyClient, num_id: int) -> bool:
        return self.die_callback(client, num_id) != IVY_SHOULD_NOT_DIE

    def _on_direct(self, client: IvyClient, num_id: int, text: str) -> None:
        # ivy-python delivers the text up to the first ETX.
        self.direct_callback(client, num_id, text.split(ARG_END, 1)[0])

    def _on_pong(self, client: IvyClient, micros: int) -> None:
        self.pong_callback(client, micros / 1e6)

    def start(self, ivybus: Optional[str] = None) -> None:
        """Joins the bus (``None``: ``IVYBUS``, then ``127:2010``) and starts the
        loop thread. Raises :class:`IvyIllegalStateError` if already started,
        ``OSError`` if the sockets cannot be opened."""
        with self._lock:
            if self._agent.is_running():
                _log.logger().error("Cannot start: IvyServer already started")
                raise IvyIllegalStateError("already started")
            self.ivybus = ivybus
            self.server_termination.clear()
            self._agent.start(ivybus or None)
            self.port = self._agent.port()
            self.agent_id = self._agent.app_id()

    def stop(self) -> None:
        """Leaves the bus (Bye to every peer) and ends the loop thread. Raises
        :class:`IvyIllegalStateError` if not running."""
        with self._lock:
            if not self._agent.is_running():
                _log.logger().error("Cannot stop: not running")
                raise IvyIllegalStateError("not running")
            self._agent.stop()

    def isAlive(self) -> bool:  # noqa: N802 (ivy-python's name)
        """Whether the server is on the bus."""
        return self._agent.is_running()

    def bind_msg(self, on_msg_fct: Callable, regexp: str) -> int:
        """Subscribes ``on_msg_fct(client, *groups)`` to `regexp`; returns its id."""
        return self._agent.bind(regexp, on_msg_fct)

    def unbind_msg(self, num_id: int) -> str:
        """Removes a binding; returns its regexp. ``KeyError`` if unknown."""
        regexp = self._agent.unbind(num_id)
        if regexp is None:
            raise UnknownBindingError(num_id)
        return regexp

    def bind_direct_msg(self, on_direct_msg_fct: Callable) -> None:
        """Sets ``cb(client, id, text)`` for direct messages."""
        self.direct_callback = on_direct_msg_fct

    def bind_pong(self, on_pong_callback: Callable) -> None:
        """Sets ``cb(client, seconds)``, called with the round trip of a ping."""
        self.pong_callback = on_pong_callback

    def bind_regexp_change(self, on_regexp_change_callback: Callable) -> None:
        """Sets ``cb(client, event, id, regexp)`` for the peers' subscriptions."""
        self.regexp_change_callback = on_regexp_change_callback

    def send_msg(self, message: str, *, to: Optional[IvyClient] = None) -> int:
        """Sends `message` to every matching subscription, or only to those of the
        client `to`; returns how many matched (a message goes to a client once for
        each of its subscriptions that matches)."""
        if to is not None:
            # A client of another server is none of ours: nothing matches.
            return to.send_msg(message) if to._agent is self._agent else 0
        return self._agent.send(message)

    def send_direct_message(self, agent_name: str, num_id: int, msg: str, stop_on_first: bool = True) -> bool:
        """Sends a direct message to the peer(s) named `agent_name` (the first one
        unless `stop_on_first` is false); False if there is none."""
        found = False
        for client in self.get_client_with_name(agent_name):
            client.send_direct_message(num_id, msg)
            found = True
            if stop_on_first:
                break
        return found

    def send_ready_message(self, client: IvyClient) -> None:
        """Sends the ready message (if not empty) to `client` alone. (Each new peer
        gets it once its handshake ends, without a call.)"""
        if self.ready_message:
            self.send_msg(self.ready_message, to=client)

    def _clients(self) -> List[IvyClient]:
        found = (self._agent.client(p) for p in self._agent.peers())
        return [c for c in found if c is not None]

    def get_clients(self) -> List[str]:
        """Names of the connected peers, first connected first."""
        return [c.agent_name for c in self._clients()]

    def get_client_with_name(self, name: str) -> List[IvyClient]:
        """The connected peers named `name`, first connected first."""
        return [c for c in self._clients() if c.agent_name == name]

    def get_client(self, ip: str, port: int) -> Optional[IvyClient]:
        """The connected peer at that address, or None."""
        return next((c for c in self._clients() if (c.ip, c.port) == (ip, port)), None)

    def get_client_bindings(self, client: IvyClient) -> List[Tuple[int, str]]:
        """A peer's subscriptions, ``[(id, regexp)]``."""
        return client.get_regexps()

    def get_subscriptions(self) -> List[Tuple[int, str]]:
        """Our own subscriptions, ``[(id, regexp)]``."""
        return self._agent.bindings()


class IvyTimer(LoopTimer):
    """A timer of a server's loop: ``callback(timer)`` runs at once, then every
    ``delay_ms``, `nbticks` times in all (0: forever), once :meth:`start` is called.
    Setting ``delay`` changes the period; setting ``abort`` (or :meth:`stop`) ends it.
    """

    def __init__(self, server: IvyServer, nbticks: int, delay_ms: int, callback: Callable) -> None:
        super().__init__(server._agent, None, delay_ms)
        self.server = server
        self.nbticks = nbticks
        self.callback = callback
        self._abort = False

    def start(self) -> None:
        """Starts the timer (it fires while the server's loop runs)."""
        self.id = self._agent.add_timer(max(self.nbticks, 0), self._delay, lambda: self.callback(self))

    def stop(self) -> None:
        """Ends the timer."""
        self.abort = True

    @property
    def abort(self) -> bool:
        """True once the timer is ended."""
        return self._abort

    @abort.setter
    def abort(self, value: bool) -> None:
        self._abort = bool(value)
        if value and self.id is not None:
            self._agent.remove_timer(self.id)
