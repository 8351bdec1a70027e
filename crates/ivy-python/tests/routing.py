"""How a message is routed by each sender's rules: the regexps a subscriber holds,
the messages sent, and for each rule set (ivy-c's, ivy-python's) what every send
returns and what the subscriber gets. The sender matches, so the rules are the
sender's: ivy.std_api's (and ivy-python 4.0's) are ivy-python's, ivy.Bus's ivy-c's
unless it is given ``matching``."""

import time
from typing import Callable, Dict, List, Tuple

from conftest import wait_until

#: The subscriber's regexps, bound in this order.
REGEXPS = ["world", "^a(b)?(c)?(d)?$", "^dot (.)$", "(x)|(y)"]

#: Each message, and per rule set: what the send returns, then the deliveries
#: (index in REGEXPS, groups) in order.
CASES: List[Tuple[str, Dict[str, Tuple[int, List[Tuple[int, Tuple[str, ...]]]]]]] = [
    # ivy-c searches anywhere in the message; re.match is anchored at its start.
    ("hello world", {"ivy-c": (1, [(0, ())]), "ivy-python": (0, [])}),
    ("world peace", {"ivy-c": (1, [(0, ())]), "ivy-python": (1, [(0, ())])}),
    ("zy", {"ivy-c": (1, [(3, ("", "y"))]), "ivy-python": (0, [])}),
    # ivy-c omits the trailing groups that took no part; ivy-python sends "".
    ("ab", {"ivy-c": (1, [(1, ("b",))]), "ivy-python": (1, [(1, ("b", "", ""))])}),
    ("ac", {"ivy-c": (1, [(1, ("", "c"))]), "ivy-python": (1, [(1, ("", "c", ""))])}),
    ("x", {"ivy-c": (1, [(3, ("x",))]), "ivy-python": (1, [(3, ("x", ""))])}),
    # ivy-c's "." takes a byte (é is two in UTF-8), ivy-python's a character.
    ("dot é", {"ivy-c": (0, []), "ivy-python": (1, [(2, ("é",))])}),
]

MESSAGES = [message for message, _ in CASES]


def counts(rules: str) -> List[int]:
    """What each send returns under `rules`."""
    return [by_rules[rules][0] for _, by_rules in CASES]


def deliveries(rules: str) -> List[Tuple[int, Tuple[str, ...]]]:
    """What the subscriber gets under `rules`, in order."""
    return [d for _, by_rules in CASES for d in by_rules[rules][1]]


def subscribe(bind: Callable[[str, Callable], object]) -> Dict[str, list]:
    """Binds REGEXPS with `bind(regexp, callback)`; returns the deliveries, by
    sender name: (index in REGEXPS, groups)."""
    got: Dict[str, list] = {}
    for index, regexp in enumerate(REGEXPS):
        bind(regexp, lambda client, *groups, _i=index: got.setdefault(client.agent_name, []).append((_i, groups)))
    return got


def delivered(got: Dict[str, list], sender: str, rules: str) -> list:
    """The deliveries from `sender`, once as many as `rules` give have arrived
    (and a moment more, for any extra one to show)."""
    want = len(deliveries(rules))
    wait_until(lambda: len(got.get(sender, [])) >= want)
    time.sleep(0.1)
    return got.get(sender, [])
