"""The Pythonic API: :class:`Bus`, an agent on an Ivy bus.

Example::

    import ivy

    with ivy.Bus("Weather", "Weather Ready", bus="127.255.255.255:2010") as bus:

        @bus.subscribe(r"^temperature (\\S+) (-?\\d+)")
        def on_temperature(peer: ivy.Peer, city: str, degrees: str) -> None:
            print(peer.name, "says", city, degrees)

        @bus.on_connect
        def hello(peer: ivy.Peer) -> None:
            bus.send("welcome %s" % peer.name)

        bus.run()  # until bus.stop(), a Die, or Ctrl-C

Our messages are routed by ivy-c's rules by default (a regexp may match anywhere
in the message; trailing groups that took no part are not sent), as ivy-c's and
ivy-rs's agents route them; ``Bus(..., matching=Matching.IVY_PYTHON)``
routes them as ivy-python does (as :mod:`ivy.std_api` always does). Callbacks
run on the bus's own thread, one at a time; every method may be called from any
thread and from inside callbacks.
"""

import enum
import threading
from typing import Callable, List, Optional, TypeVar, Union

from . import _exit, _ivy
from ._log import report_callback_error
from ._timer import LoopTimer
from .errors import IvyIllegalStateError, UnknownBindingError, UnknownTimerError
from .peer import Peer

F = TypeVar("F", bound=Callable)
Text = Union[str, bytes]


class Matching(str, enum.Enum):
    """How the peers' regexps are matched against the messages we send (the sender
    matches, so this decides which subscriptions a message reaches and what they
    get). A plain string ``"ivy-c"`` or ``"ivy-python"`` is accepted too."""

    #: ivy-c's rules (the default): a match anywhere in the message (``world``
    #: matches "hello world"); trailing groups that took no part are not sent,
    #: earlier ones are sent as ""; ``.`` takes one byte.
    IVY_C = "ivy-c"
    #: ivy-python's rules (``re.match``): a match must start at the message's start;
    #: every group is sent, "" for one that took no part; on a UTF-8 message ``.``
    #: and ``[^...]`` take a whole character.
    IVY_PYTHON = "ivy-python"


class SubscriptionEvent(enum.IntEnum):
    """What happened to a peer's subscription (ivy-c's ``IvyBindEvent`` numbers)."""

    ADDED = 0
    REMOVED = 1
    #: Refused by our filter words (:meth:`Bus.add_filter`).
    FILTERED = 2
    #: The peer gave an existing id a new regexp (it replaces the old one).
    CHANGED = 3


class Subscription:
    """One of our bindings: its wire id and regexp. :meth:`cancel` removes it."""

    def __init__(self, bus: "Bus", num_id: int, regexp: Text) -> None:
        self.bus = bus
        self.id = num_id
        self.regexp = regexp

    def cancel(self) -> None:
        """Removes the binding (``UnknownBindingError`` if already removed)."""
        self.bus.unbind(self.id)

    def __repr__(self) -> str:
        return "Subscription(%d, %r)" % (self.id, self.regexp)


class Timer(LoopTimer):
    """A timer of the bus's loop (see :meth:`Bus.every`)."""

    def __init__(self, bus: "Bus", num_id: int, delay_ms: int) -> None:
        super().__init__(bus._agent, num_id, delay_ms)
        self.bus = bus

    def _gone(self) -> None:
        raise UnknownTimerError(self.id)

    def cancel(self) -> None:
        """Ends the timer (``UnknownTimerError`` if it has ended already)."""
        if not self._agent.remove_timer(self.id):
            raise UnknownTimerError(self.id)


class Bus:
    """An agent on an Ivy bus, named `name`, that sends `ready` to each new peer.

    :meth:`start` (or ``with``) joins the bus and runs it on a background thread;
    :meth:`stop` (or leaving the ``with`` block) leaves it. `bus` is the default bus
    of :meth:`start`, in ivy-c's syntax (``NET[,NET...]:PORT``; ``None``: ``IVYBUS``,
    then ``127.255.255.255:2010``). `matching` says whose rules route our
    messages (:class:`Matching`: ivy-c's by default).
    """

    def __init__(
        self,
        name: str,
        ready: Optional[str] = None,
        *,
        bus: Optional[str] = None,
        matching: Union[Matching, str] = Matching.IVY_C,
    ) -> None:
        self.name = name
        self.bus = bus
        self._agent = _ivy.Agent(name, ready, self._make_peer, report_callback_error)
        self._matching = Matching.IVY_C
        self.matching = matching
        self._stopped = threading.Event()
        self._stopped.set()
        self._handlers: "dict[str, List[Callable]]" = {}
        self._agent.on("terminated", self._stopped.set)
        self._agent.on("link", self._on_link)
        _exit.track(self._agent)

    def _make_peer(self, peer_id: int, name: str, ip: str, port: int, app_id: str) -> Peer:
        return Peer(self._agent, peer_id, name, ip, port, app_id)

    @property
    def matching(self) -> Matching:
        """Whose rules route our messages (:class:`Matching`); may be changed at any
        time (``ValueError`` for an unknown value)."""
        return self._matching

    @matching.setter
    def matching(self, value: Union[Matching, str]) -> None:
        matching = Matching(value)
        self._agent.set_matching(matching.value)
        self._matching = matching

    # Life cycle

    def start(self, bus: Optional[str] = None) -> "Bus":
        """Joins the bus; raises :class:`IvyIllegalStateError` if already on it and
        ``OSError`` if the sockets cannot be opened. Returns the bus."""
        if self._agent.is_running():
            raise IvyIllegalStateError("%s is already started" % self.name)
        self._stopped.clear()
        try:
            self._agent.start(bus or self.bus)
        except BaseException:
            self._stopped.set()
            raise
        return self

    def stop(self) -> None:
        """Leaves the bus (Bye to every peer). Does nothing if not on it."""
        self._agent.stop()

    @property
    def running(self) -> bool:
        """Whether the bus runs (from :meth:`start` until it stops)."""
        return self._agent.is_running()

    @property
    def port(self) -> Optional[int]:
        """Our TCP port, once started."""
        return self._agent.port()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits until the bus stops; False if `timeout` (seconds) passed first."""
        return self._stopped.wait(timeout)

    def run(self) -> None:
        """Waits until the bus stops (:meth:`stop`, or a peer's Die); Ctrl-C stops it."""
        try:
            self._stopped.wait()
        except KeyboardInterrupt:
            self.stop()

    def __enter__(self) -> "Bus":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Subscriptions and messages

    def bind(self, regexp: Text, callback: Callable[..., None]) -> Subscription:
        """Calls ``callback(peer, *groups)`` for each message matching `regexp`."""
        return Subscription(self, self._agent.bind(regexp, callback), regexp)

    def subscribe(self, regexp: Text) -> Callable[[F], F]:
        """Decorator form of :meth:`bind`; the function is returned unchanged, with
        its :class:`Subscription` in its ``subscription`` attribute."""

        def decorate(callback: F) -> F:
            callback.subscription = self.bind(regexp, callback)  # type: ignore[attr-defined]
            return callback

        return decorate

    def unbind(self, subscription: Union[Subscription, int]) -> str:
        """Removes a binding; returns its regexp (``UnknownBindingError`` if none)."""
        num_id = subscription.id if isinstance(subscription, Subscription) else subscription
        regexp = self._agent.unbind(num_id)
        if regexp is None:
            raise UnknownBindingError(num_id)
        return regexp

    def change(self, subscription: Union[Subscription, int], regexp: Text) -> None:
        """Gives a binding a new regexp, keeping its id and callback."""
        num_id = subscription.id if isinstance(subscription, Subscription) else subscription
        if not self._agent.change(num_id, regexp):
            raise UnknownBindingError(num_id)
        if isinstance(subscription, Subscription):
            subscription.regexp = regexp

    @property
    def subscriptions(self) -> "list[tuple[int, str]]":
        """Our bindings, ``[(id, regexp)]``."""
        return self._agent.bindings()

    def send(self, message: Text) -> int:
        """Sends `message` (str, or bytes sent as they are); returns the number of
        matching subscriptions. (:meth:`Peer.send` sends to one peer.)"""
        return self._agent.send(message)

    def add_filter(self, word: Text) -> None:
        """Accepts from peers only the regexps ``^WORD...`` whose first word starts
        one of the filter words (ivy-c's IvyAddFilter); set before :meth:`start`."""
        self._agent.add_filter(word)

    def remove_filter(self, word: Text) -> None:
        """Removes a filter word."""
        self._agent.remove_filter(word)

    # Peers

    @property
    def peers(self) -> List[Peer]:
        """The connected peers, first connected first."""
        found = (self._agent.client(p) for p in self._agent.peers())
        return [p for p in found if p is not None]

    def peer(self, name: str) -> Optional[Peer]:
        """The first connected peer named `name`, or None."""
        return next((p for p in self.peers if p.name == name), None)

    # Events

    def _on_link(self, peer: Peer, event: int) -> None:
        kind = {0: "connect", 1: "disconnect"}.get(event)
        for callback in self._handlers.get(kind or "", ()):
            callback(peer)

    def on_connect(self, callback: F) -> F:
        """Decorator: ``callback(peer)`` when a peer has joined (after its handshake)."""
        self._handlers.setdefault("connect", []).append(callback)
        return callback

    def on_disconnect(self, callback: F) -> F:
        """Decorator: ``callback(peer)`` when a peer has left."""
        self._handlers.setdefault("disconnect", []).append(callback)
        return callback

    def on_direct(self, callback: F) -> F:
        """Decorator: ``callback(peer, id, text)`` for direct messages (whole text)."""
        self._agent.on("direct", callback)
        return callback

    def on_die(self, callback: F) -> F:
        """Decorator: ``callback(peer, id)`` when a peer asks us to leave; we leave
        unless it returns False."""
        self._agent.on("die", callback)
        return callback

    def on_pong(self, callback: F) -> F:
        """Decorator: ``callback(peer, seconds)`` with the round trip of a ping
        (negative: the answer to an older ping)."""
        self._agent.on("pong", lambda peer, micros: callback(peer, micros / 1e6))
        return callback

    def on_subscription(self, callback: F) -> F:
        """Decorator: ``callback(peer, event, id, regexp)`` when a peer's
        subscriptions change; `event` is a :class:`SubscriptionEvent`."""
        self._agent.on("peer_bind", lambda peer, ev, num_id, re: callback(peer, SubscriptionEvent(ev), num_id, re))
        return callback

    # Timers

    def every(self, delay_ms: int, count: int = 0) -> Callable[[Callable[[], None]], Timer]:
        """Decorator: calls the function at once, then every `delay_ms`, `count`
        times in all (0: forever), on the bus's thread while the bus runs. The
        decorated name becomes the :class:`Timer`."""

        def decorate(callback: Callable[[], None]) -> Timer:
            return self.add_timer(delay_ms, callback, count)

        return decorate

    def add_timer(self, delay_ms: int, callback: Callable[[], None], count: int = 0) -> Timer:
        """Non-decorator form of :meth:`every`."""
        return Timer(self, self._agent.add_timer(max(count, 0), delay_ms, callback), delay_ms)
