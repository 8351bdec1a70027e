"""Other agents driven by the tests: a subprocess whose output lines are read on a
thread of their own, with bounded waits, killed and reaped at the end; and a raw
TCP peer that shows the exact lines an agent sends."""

import os
import queue
import socket
import subprocess
import threading
import time
from typing import Callable, List, Optional, Tuple

import pytest

#: The peer driver shared with the Rust interop tests (it uses ivy.std_api only).
PEER_PY = os.path.join(os.path.dirname(__file__), "..", "..", "ivyprobe", "tests", "python", "peer.py")


def required_path(var: str, what: str) -> str:
    """The path in `var`; the test is skipped without it, or fails when
    ``IVY_INTEROP_REQUIRED=1`` (as in CI)."""
    path = os.environ.get(var)
    if path and os.path.exists(path):
        return path
    why = "%s not set or missing: %s unavailable" % (var, what)
    if os.environ.get("IVY_INTEROP_REQUIRED") == "1":
        pytest.fail(why)
    pytest.skip(why)


class Agent:
    """A child process speaking on stdin/stdout."""

    def __init__(self, argv: List[str], env: Optional[dict] = None) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            encoding="utf-8", errors="surrogateescape",
        )
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.seen: List[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, match: Callable[[str], bool], timeout: float = 10.0) -> str:
        """The first line (seen before or arriving within `timeout`) that matches."""
        for line in self.seen:
            if match(line):
                self.seen.remove(line)
                return line
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching line within %ss; seen: %r" % (timeout, self.seen[-20:]))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if match(line):
                return line
            self.seen.append(line)

    def ask(self, line: str, answer: str) -> None:
        """Sends `line`, then expects the line `answer` exactly."""
        self.send(line)
        self.expect(lambda got: got == answer)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


class RawPeer:
    """A peer speaking the Ivy protocol by hand over TCP, to see the exact lines an
    agent sends: it connects to `port` (the agent's TCP port), announces `name` and
    its (id, regexp) subscriptions, and collects every line it receives."""

    def __init__(self, port: int, name: str, regexps: List[Tuple[int, str]] = ()) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        hello = [b"6 0\x02" + name.encode() + b"\n"]
        hello += [b"1 %d\x02%s\n" % (num_id, regexp.encode()) for num_id, regexp in regexps]
        self.sock.sendall(b"".join(hello) + b"5 0\x02\n")
        self.lines: "queue.Queue[bytes]" = queue.Queue()
        self.seen: List[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                buf += data
                *whole, buf = buf.split(b"\n")
                for line in whole:
                    self.lines.put(line + b"\n")
        except OSError:
            return

    def next_line(self, timeout: float = 10.0) -> bytes:
        """The next line received (bounded wait)."""
        line = self.lines.get(timeout=timeout)
        self.seen.append(line)
        return line

    def quiet(self, secs: float = 0.2) -> List[bytes]:
        """The lines received within `secs` (none expected, usually)."""
        got = []
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            try:
                got.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return got

    def send(self, line: bytes) -> None:
        self.sock.sendall(line)

    def close(self) -> None:
        self.sock.close()
