"""Another agent on the bus, as callbacks receive it."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (memory)
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

    from . import _ivy


class Peer:
    """Another agent on the bus.

    Callbacks get the same object for a peer for as long as it is connected.
    Two peers are equal when their addresses (``ip``, ``port``) are; ``port`` is
    the peer's server port when this agent connected to it, the port of its end of
    the connection when it connected to us (as in ivy-python).
    """

    def __init__(
        self, agent: _ivy.Agent, peer_id: int, agent_name: str, ip: str, port: int, app_id: str = ""
    ) -> None:
        self._agent = agent
        self._peer_id = peer_id
        self._fqdn: Optional[str] = None
        #: The application id its hello announced ("" when it connected to us: it
        #: sent us no hello).
        self.app_id = app_id
        #: The peer's application name.
        self.agent_name = agent_name
        #: The peer's IP address, as a string.
        self.ip = ip
        #: The peer's port (see the class documentation).
        self.port = port

    @property
    def name(self) -> str:
        """The peer's application name."""
        return self.agent_name

    @property
    def fqdn(self) -> str:
        """The fully qualified name of the peer's host (looked up once)."""
        if self._fqdn is None:
            import socket

            self._fqdn = socket.getfqdn(self.ip)
        return self._fqdn

    @property
    def regexps(self) -> List[Tuple[int, str]]:
        """The peer's subscriptions, ``[(id, regexp)]`` in the order it sent them."""
        return self._agent.peer_regexps(self._peer_id) or []

    def send(self, message: str) -> int:
        """Sends `message` to this peer alone: once for each of its subscriptions
        that matches (by the bus's matching rules); returns that number (0 if the
        peer has left)."""
        return self._agent.send_to(self._peer_id, message)

    def send_direct(self, num_id: int, text: str) -> bool:
        """Sends a direct message; False if the peer has left."""
        return self._agent.send_direct(self._peer_id, num_id, text)

    def send_error(self, num_id: int, text: str) -> bool:
        """Sends an Error message; False if the peer has left."""
        return self._agent.send_error(self._peer_id, num_id, text)

    def send_die(self, num_id: int = 0, text: str = "") -> bool:
        """Asks the peer to leave the bus, with an id and a text (ivy-c's agents
        send 0 and none); False if it has left."""
        return self._agent.send_die(self._peer_id, num_id, text)

    def ping(self) -> bool:
        """Pings the peer; the answer goes to the pong callback. False if it has left."""
        return self._agent.ping(self._peer_id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Peer):
            return NotImplemented
        return (self.ip, self.port) == (other.ip, other.port)

    def __hash__(self) -> int:
        return hash((self.ip, self.port))

    def __str__(self) -> str:
        return "%s@%s" % (self.agent_name, self.fqdn)

    def __repr__(self) -> str:
        return "%s:%s (%s)" % (self.ip, self.port, self.agent_name)
