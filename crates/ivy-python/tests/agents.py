"""Other agents driven by the tests: a subprocess whose output lines are read on a
thread of their own, with bounded waits; killed and reaped at the end."""

import os
import queue
import subprocess
import threading
import time
from typing import Callable, List, Optional

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

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
