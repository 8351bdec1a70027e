"""Fixtures of the package's tests: every test gets a private bus port on loopback
(never 2010), every wait is bounded, and every agent a test starts is stopped."""

import itertools
import os
import socket
import time
from typing import Callable, Iterator, List

import pytest

import ivy
from ivy import std_api

_ports = itertools.count()


def _free_udp_port(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("", port))
        except OSError:
            return False
    return True


@pytest.fixture
def port() -> int:
    """A UDP bus port of this test's own, in 40000..59999, from the pid."""
    while True:
        candidate = 40000 + (os.getpid() * 97 + next(_ports)) % 20000
        if _free_udp_port(candidate):
            return candidate


@pytest.fixture
def bus(port: int) -> str:
    """The test's bus: loopback broadcast on its own port."""
    return "127.255.255.255:%d" % port


def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    """Polls `predicate` until true or `timeout` seconds; returns the last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())


@pytest.fixture
def buses() -> Iterator[Callable[..., ivy.Bus]]:
    """Makes ivy.Bus agents; stops them all at the end of the test."""
    made: List[ivy.Bus] = []

    def make(name: str, ready=None) -> ivy.Bus:
        b = ivy.Bus(name, ready)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def std() -> Iterator[object]:
    """ivy.std_api, reset to "not initialised" after the test (its agent stopped)."""
    yield std_api
    server = std_api._IvyServer
    if server is not None and server.isAlive():
        server.stop()
    std_api._IvyServer = None
    std_api._agent = None
