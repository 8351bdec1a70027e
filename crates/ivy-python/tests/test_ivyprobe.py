"""The ivyprobe.py console script (python -m ivy.ivyprobe), against an ivy.Bus."""

import sys

from agents import Agent
from conftest import wait_until


def test_ivyprobe_options_and_commands(bus, buses):
    probe = Agent([sys.executable, "-m", "ivy.ivyprobe", "-b", bus, "-n", "PROBE", "-r", "probe here", "-s", "^to probe (.*)"])
    try:
        us = buses("US")
        got, directs, dies = [], [], []
        us.bind("(.*)", lambda p, *g: got.append(g))
        us.on_direct(lambda p, i, t: directs.append((i, t)))
        us.on_die(lambda p, i: dies.append(i) or False)
        us.start(bus)
        probe.expect(lambda line: line == "127.0.0.1:%d (US) connected" % 0 or line.endswith("(US) connected"))
        assert wait_until(lambda: got == [("probe here",)])
        assert us.send("to probe hello") == 2 - 1
        probe.expect(lambda line: line.startswith("Received from") and line.endswith("(US): ('hello',)"))
        probe.ask("a line", "Sent to 1 peers")
        assert wait_until(lambda: got[-1] == ("a line",))
        for command, answer in (
            (".who", "['US']"),
            (".regexps US", "Subscriptions of 'US': 0:'(.*)'"),
            (".bind ^x", "Bound regexp, id: 1"),
            (".regexps", "Our subscriptions: 0:'^to probe (.*)', 1:'^x'"),
            (".remove 1", "Removed 1: '^x'"),
            (".direct US 4 some text", "Direct message sent to US"),
        ):
            probe.ask(command, answer)
        assert wait_until(lambda: directs == [(4, "some text")])
        probe.send(".ping US")
        probe.expect(lambda line: line.startswith("US@") and "answered the ping" in line)
        probe.send(".die US")
        assert wait_until(lambda: dies == [0])
        probe.send(".quit")
        assert probe.proc.wait(10) == 0
    finally:
        probe.close()


def test_ivyprobe_help_and_version():
    probe = Agent([sys.executable, "-m", "ivy.ivyprobe", "-V"])
    try:
        assert probe.expect(lambda line: line.startswith("ivy-rs "))
        assert probe.proc.wait(10) == 0
    finally:
        probe.close()
