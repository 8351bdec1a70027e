"""Interop over loopback: our package against real ivy-python 4.0 agents (run by
the interpreter of IVY_REFERENCE_PYTHON, a separate venv, since both packages are
the import package ``ivy``), against the Rust ivyprobe (IVYPROBE_RS) and the C
ivyprobe on our C library (IVYPROBE_C). The ivy-python agents run
crates/ivyprobe/tests/python/peer.py, a program written for ivy-python 4.0; it
also runs unchanged on our package."""

import os
import sys

import pytest

import ivy
import routing
from ivy import std_api as api

from agents import PEER_PY, Agent, required_path
from conftest import wait_until


@pytest.fixture
def agents():
    made = []

    def start(argv):
        a = Agent(argv)
        made.append(a)
        return a

    yield start
    for a in made:
        a.close()


def peer_py(agents, python, bus, name, *regexps):
    a = agents([python, PEER_PY, bus, name, *regexps])
    a.expect(lambda line: line == "started")
    return a


def test_std_api_with_ivy_python_agent(std, bus, agents):
    ref = peer_py(agents, required_path("IVY_REFERENCE_PYTHON", "ivy-python 4.0"), bus, "PY", "^to py (.*)")
    got, directs, pongs, cnx = [], [], [], []
    api.IvyInit("US", "US Ready", 0, lambda c, e: cnx.append((c.agent_name, e)))
    api.IvyBindMsg(lambda c, *g: got.append((c.agent_name,) + g), "^to us (.*)")
    api.IvyBindDirectMsg(lambda c, i, t: directs.append((c.agent_name, i, t)))
    api.IvyBindPong(lambda c, s: pongs.append(c.agent_name))
    api.IvyStart(bus)
    ref.expect(lambda line: line == "connected =US")
    assert wait_until(lambda: cnx == [("PY", 1)])
    assert wait_until(lambda: api.IvyGetApplicationMessages(api.IvyGetApplication("PY")) == [(0, "^to py (.*)")])
    assert api.IvySendMsg("to py hello") == 1
    ref.expect(lambda line: line == "msg 0 =US =hello")
    ref.ask("send =to%20us%20there", "sent 1")
    assert wait_until(lambda: got == [("PY", "there")])
    client = api.IvyGetApplication("PY")
    api.IvySendDirectMsg(client, 7, "yo")
    ref.expect(lambda line: line == "direct =US 7 =yo")
    ref.send("direct =US 5 =hi")
    assert wait_until(lambda: directs == [("PY", 5, "hi")])
    api.IvySendPing(client)
    assert wait_until(lambda: pongs == ["PY"])
    ref.send("veto on")
    api.IvySendDieMsg(client)
    ref.expect(lambda line: line == "die =US 0")
    ref.send("die =US")
    assert api._IvyServer.server_termination.wait(10)
    ref.expect(lambda line: line == "disconnected =US")


def _enc(text):
    """peer.py's encoding of a text field."""
    return "=" + "".join(chr(b) if 0x21 <= b <= 0x7E and b != 0x25 else "%%%02X" % b for b in text.encode())


def _knows_every_regexp(sender):
    """Whether the handshake with RECV has ended for `sender` (a peer.py agent) and
    it holds all of RECV's regexps."""
    sender.send("apps")
    if "=RECV" not in sender.expect(lambda line: line.startswith("apps")).split():
        return False
    sender.send("regexps =RECV")
    line = sender.expect(lambda line: line.startswith(("regexps =RECV", "no-app =RECV")))
    return len(line.split()) == 2 + 2 * len(routing.REGEXPS)


def test_messages_routed_the_same_from_ivy_python_and_from_ours(bus, buses, agents):
    """The same program (peer.py, ivy.std_api only) sends the same messages under
    ivy-python 4.0 and under our package: every send returns the same count and the
    subscriber gets the same arguments (anchored at the start, every group sent,
    "." a whole character). An ivy.Bus with matching=IVY_PYTHON routes them the
    same; a default ivy.Bus by ivy-c's rules."""
    recv = buses("RECV")
    got = routing.subscribe(recv.bind)
    recv.start(bus)
    senders = {
        "REF": peer_py(agents, required_path("IVY_REFERENCE_PYTHON", "ivy-python 4.0"), bus, "REF", "--no-ready"),
        "OURS": peer_py(agents, sys.executable, bus, "OURS", "--no-ready"),
    }
    assert wait_until(lambda: sorted(p.name for p in recv.peers) == ["OURS", "REF"])
    for name, sender in senders.items():
        assert wait_until(lambda: _knows_every_regexp(sender), 10), name
        counts = []
        for message in routing.MESSAGES:
            sender.send("send " + _enc(message))
            counts.append(int(sender.expect(lambda line: line.startswith("sent ")).split()[1]))
        assert counts == routing.counts("ivy-python"), name
        assert routing.delivered(got, name, "ivy-python") == routing.deliveries("ivy-python"), name
    for matching, rules in ((ivy.Matching.IVY_PYTHON, "ivy-python"), (ivy.Matching.IVY_C, "ivy-c")):
        name = "BUS-" + rules
        sender = ivy.Bus(name, matching=matching)
        try:
            sender.start(bus)
            assert wait_until(lambda: sender.peer("RECV") is not None
                              and len(sender.peer("RECV").regexps) == len(routing.REGEXPS))
            assert [sender.send(m) for m in routing.MESSAGES] == routing.counts(rules)
            assert routing.delivered(got, name, rules) == routing.deliveries(rules)
        finally:
            sender.stop()


def test_program_for_ivy_python_runs_unchanged_on_ours(bus, agents):
    ref = peer_py(agents, required_path("IVY_REFERENCE_PYTHON", "ivy-python 4.0"), bus, "REF", "^a (.*)")
    ours = peer_py(agents, sys.executable, bus, "OURS", "^b (.*)")
    ref.expect(lambda line: line == "connected =OURS")
    ours.expect(lambda line: line == "connected =REF")
    ours.ask("send =a%20one", "sent 1")
    ref.expect(lambda line: line == "msg 0 =OURS =one")
    ref.send("send =b%20two")
    ours.expect(lambda line: line == "msg 0 =REF =two")
    ours.ask("regexps =REF", "regexps =REF 0 =^a%20(.*)")
    ours.ask("stop", "stopped")
    ref.expect(lambda line: line == "disconnected =OURS")


@pytest.mark.parametrize("var,what", [("IVYPROBE_RS", "the Rust ivyprobe"), ("IVYPROBE_C", "the C ivyprobe")])
def test_bus_with_ivyprobe(var, what, bus, buses, agents):
    probe = agents([required_path(var, what), "-b", bus, "-n", "PROBE", "^to probe (.*)"])
    us = buses("US", "US Ready")
    got = []
    us.bind("^to us (.*)", lambda p, *g: got.append((p.name,) + g))
    us.start(bus)
    probe.expect(lambda line: line.startswith("US connected from"))
    assert wait_until(lambda: us.peer("PROBE") is not None and us.peer("PROBE").regexps == [(0, "^to probe (.*)")])
    assert us.send("to probe hi there") == 1
    probe.expect(lambda line: line == "US sent [0] 'hi there'")
    probe.send("to us back")
    assert wait_until(lambda: got == [("PROBE", "back")])
    us.peer("PROBE").send_direct(3, "direct text")
    probe.expect(lambda line: line == "US direct [3] 'direct text'")


def test_ivy_python_own_ivyprobe_runs_on_ours(bus, buses, agents):
    """ivy-python 4.0's own example, its installed ivyprobe.py, run unchanged by our package."""
    theirs = os.path.join(os.path.dirname(required_path("IVY_REFERENCE_PYTHON", "ivy-python 4.0")), "ivyprobe.py")
    probe = agents([sys.executable, theirs, "-b", bus, "-n", "THEIRS", "(.*)"])
    # It binds its regexps after IvyStart: a peer that met it sooner would see none.
    probe.expect(lambda line: line.startswith("Go ahead!"))
    us = buses("US", "US Ready")
    got, directs = [], []
    us.bind("(.*)", lambda p, *g: got.append((p.name,) + g))
    us.on_direct(lambda p, i, t: directs.append((p.name, i, t)))
    us.start(bus)
    probe.expect(lambda line: line.endswith("(US) has connected"))
    probe.expect(lambda line: line.endswith("(US): ('US Ready',)"))
    assert wait_until(lambda: got == [("THEIRS", "THEIRS Ready")])
    probe.ask("hello from theirs", "Sent to 1 peers")
    assert wait_until(lambda: got[-1] == ("THEIRS", "hello from theirs"))
    probe.send(".direct US 4 hey")
    assert wait_until(lambda: directs == [("THEIRS", 4, "hey")])
    probe.send(".ping US")
    # Its "Sent PING" (no end of line) and the callback's line may share a line.
    probe.expect(lambda line: "US@" in line and "answered to ping" in line)
    probe.send(".quit")
    assert probe.proc.wait(10) == 0
