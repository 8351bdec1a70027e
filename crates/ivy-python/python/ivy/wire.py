"""The text of the Ivy protocol (ivy-protocol.md §2, §3): message types, separators,
and ivy-python 4.0's helpers to encode and decode one line and a bus string."""

from __future__ import annotations

import os

from . import _log
from .errors import IvyMalformedMessage

TYPE_CHECKING = False  # typing is not imported at run time (memory)
if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple, Union

#: Protocol version carried by the hello datagram.
PROTOCOL_VERSION = 3

BYE = 0
ADD_REGEXP = 1
MSG = 2
ERROR = 3
DEL_REGEXP = 4
END_REGEXP = 5
START_REGEXP = 6
DIRECT_MSG = 7
DIE = 8
PING = 9
PONG = 10
#: ivy-python's other names of END_REGEXP and START_REGEXP.
END_INIT = END_REGEXP
START_INIT = START_REGEXP

#: Starts the parameters of a line (STX).
ARG_START = "\x02"
#: Ends each argument of a message (ETX).
ARG_END = "\x03"

#: ivy-python's default bus.
DEFAULT_IVYBUS = "127:2010"
#: Time to live of multicast hellos.
DEFAULT_TTL = 64


def decode_ivybus(ivybus: Optional[str] = None) -> Tuple[str, int]:
    """``(address, port)`` of a bus string ``NET:PORT``, ivy-python's way.

    ``None`` or ``""`` reads ``IVYBUS``, then takes ``127:2010``. Missing octets of
    the address are 255 (``127`` is ``127.255.255.255``); an empty address is
    ``127``. Unlike ivy-c, a port is required (``ValueError`` without one) and no
    list of networks is allowed.
    """
    if not ivybus:
        ivybus = os.environ.get("IVYBUS") or DEFAULT_IVYBUS
    if ":" not in ivybus:
        raise ValueError("bus %r has no port (expected NET:PORT)" % ivybus)
    net, port = ivybus.split(":", 1)
    octets = [o for o in net.split(".") if o] or ["127"]
    octets += ["255"] * (4 - len(octets))
    return ".".join(octets), int(port)


def is_multicast(ip: str) -> bool:
    """Whether an IPv4 address is a multicast (class D) address."""
    try:
        first = int(ip.split(".", 1)[0])
    except ValueError:
        return False
    return 224 <= first <= 239


def encode_message(msg_type: int, numerical_id: int, params: Union[str, Sequence[str]] = "") -> bytes:
    """One protocol line: ``TYPE ID STX PARAMS LF``; a sequence of parameters is
    written with an ETX after each one (a message's arguments)."""
    if isinstance(params, str):
        body = params
    else:
        body = "".join(str(p) + ARG_END for p in params)
    return ("%d %d%s%s\n" % (msg_type, numerical_id, ARG_START, body)).encode("utf-8", "surrogateescape")


def decode_MSG_params(params: str) -> List[str]:  # noqa: N802 (ivy-python's name)
    """The arguments of a message: split on ETX, the one after the last argument
    dropped (a missing last ETX is tolerated, with a warning)."""
    if not params:
        return []
    fields = params.split(ARG_END)
    if fields[-1] == "":
        fields.pop()
    else:
        _log.logger().warning("Message parameters do not end with ETX: %r", params)
    return fields


def decode_msg(message: str) -> Tuple[int, int, Union[str, List[str]]]:
    """``(type, id, params)`` of one line (without its LF); a message's params are
    its list of arguments. Raises :class:`IvyMalformedMessage`."""
    header, sep, params = message.partition(ARG_START)
    words = header.split()
    if not sep or len(words) != 2:
        raise IvyMalformedMessage("not a protocol line: %r" % message)
    try:
        msg_type, num_id = int(words[0]), int(words[1])
    except ValueError:
        raise IvyMalformedMessage("not a protocol line: %r" % message) from None
    if msg_type == MSG:
        return msg_type, num_id, decode_MSG_params(params)
    return msg_type, num_id, params
