"""The Pythonic ivy.Bus and ivy-python's object API (ivy.ivy), over loopback."""

import socket
import subprocess
import sys
import time

import pytest

import ivy
import routing
from agents import RawPeer
from ivy import ivy as core

from conftest import wait_until


def pair(bus, buses):
    a, b = buses("A", "A Ready"), buses("B")
    a.start(bus)
    b.start(bus)
    assert wait_until(lambda: [p.name for p in a.peers] == ["B"] and [p.name for p in b.peers] == ["A"])
    return a, b


def test_context_manager_decorators_and_exact_arguments(bus, buses):
    got, events = [], []
    with ivy.Bus("A", "A Ready", bus=bus) as a:
        other = buses("B")

        @other.subscribe(r"^temp (\w+) (-?\d+)")
        def on_temp(peer, city, degrees):
            got.append((peer.name, city, degrees))

        @other.on_connect
        def connected(peer):
            events.append(("connect", peer.name))

        @other.on_disconnect
        def disconnected(peer):
            events.append(("disconnect", peer.name))

        other.start(bus)
        assert isinstance(on_temp.subscription, ivy.Subscription) and on_temp.subscription.id == 0
        assert wait_until(lambda: a.peer("B") is not None and len(a.peer("B").regexps) == 1)
        assert a.running and isinstance(a.port, int)
        assert a.send("temp Paris -3") == 1
        assert a.send(b"temp Rome 20") == 1
        assert a.send("nothing") == 0
        assert wait_until(lambda: len(got) == 2)
    assert not a.running
    assert wait_until(lambda: events == [("connect", "A"), ("disconnect", "A")])
    assert got == [("A", "Paris", "-3"), ("A", "Rome", "20")]


@pytest.mark.parametrize("matching", [None, "ivy-c", ivy.Matching.IVY_C, "ivy-python", ivy.Matching.IVY_PYTHON])
def test_routing_by_ivy_c_rules_by_default_or_ivy_python_rules(bus, buses, matching):
    """By default a Bus routes as ivy-c (and ivy-rs) agents do: a match anywhere,
    trailing groups that took no part omitted, "." a byte; with
    matching=IVY_PYTHON, as ivy-python (and ivy.std_api) do."""
    a = ivy.Bus("A", bus=bus) if matching is None else ivy.Bus("A", bus=bus, matching=matching)
    buses_made = [a]
    try:
        rules = "ivy-c" if matching is None else ivy.Matching(matching).value
        assert a.matching is ivy.Matching(rules) and a.matching == rules
        b = buses("B")
        got = routing.subscribe(b.bind)
        a.start()
        b.start(bus)
        assert wait_until(lambda: a.peer("B") is not None and len(a.peer("B").regexps) == len(routing.REGEXPS))
        assert [a.send(m) for m in routing.MESSAGES] == routing.counts(rules)
        assert routing.delivered(got, "A", rules) == routing.deliveries(rules)
    finally:
        for made in buses_made:
            made.stop()


def test_matching_changes_at_any_time_and_unknown_rules_are_refused(bus, buses):
    a, b = pair(bus, buses)
    got = []
    b.bind("world", lambda p, *g: got.append(g))
    assert wait_until(lambda: len(a.peer("B").regexps) == 1)
    assert a.send("hello world") == 1
    a.matching = "ivy-python"
    assert a.matching is ivy.Matching.IVY_PYTHON
    assert a.send("hello world") == 0
    a.matching = ivy.Matching.IVY_C
    assert a.send("hello world") == 1
    with pytest.raises(ValueError):
        a.matching = "pcre"
    with pytest.raises(ValueError):
        ivy.Bus("C", matching="anchored")
    assert a.matching is ivy.Matching.IVY_C
    assert wait_until(lambda: got == [(), ()])


def test_send_to_one_peer(bus, buses):
    a, b = pair(bus, buses)
    c = buses("C").start(bus)
    got = {"B": [], "C": []}
    for other in (b, c):
        other.bind("^m (.*)", lambda p, *g, _o=other.name: got[_o].append(g))
        other.bind("^m", lambda p, *g, _o=other.name: got[_o].append(("bare",) + g))
    assert wait_until(lambda: a.peer("C") is not None and all(len(p.regexps) == 2 for p in a.peers))
    assert a.peer("B").send("m one") == 2  # once for each of its subscriptions that matches
    assert a.peer("C").send("x m") == 0
    assert a.send("m all") == 4
    assert wait_until(lambda: len(got["B"]) == 4 and len(got["C"]) == 2)
    time.sleep(0.1)
    assert sorted(got["B"][:2]) == [("bare",), ("one",)]
    assert sorted(got["B"][2:]) == sorted(got["C"]) == [("all",), ("bare",)]
    gone = a.peer("C")
    c.stop()
    assert wait_until(lambda: a.peer("C") is None)
    assert gone.send("m late") == 0


def test_unbind_change_and_typed_errors(bus, buses):
    a, b = pair(bus, buses)
    got = []
    sub = b.bind("^x(.*)", lambda p, *g: got.append(g))
    assert b.subscriptions == [(0, "^x(.*)")]
    b.change(sub, "^y(.*)")
    assert sub.regexp == "^y(.*)" and b.subscriptions == [(0, "^y(.*)")]
    assert wait_until(lambda: a.peer("B").regexps == [(0, "^y(.*)")])
    assert a.send("y1") == 1 and a.send("x1") == 0
    assert wait_until(lambda: got == [("1",)])
    assert b.unbind(sub) == "^y(.*)"
    with pytest.raises(ivy.UnknownBindingError):
        sub.cancel()
    with pytest.raises(KeyError):
        b.unbind(0)
    with pytest.raises(ivy.IvyIllegalStateError):
        a.start(bus)
    with pytest.raises(TypeError):
        a.send(3)


def test_subscription_events_and_filters(bus, buses):
    a = buses("A")
    a.add_filter("hello")
    events = []
    a.on_subscription(lambda p, ev, i, r: events.append((p.name, ev, i, r)))
    b = buses("B")
    b.bind("^hello (.*)", lambda *g: None)
    b.bind("^bar", lambda *g: None)
    a.start(bus)
    b.start(bus)
    assert wait_until(lambda: len(events) == 2)
    assert sorted(events, key=lambda e: e[2]) == [
        ("B", ivy.SubscriptionEvent.ADDED, 0, "^hello (.*)"),
        ("B", ivy.SubscriptionEvent.FILTERED, 1, "^bar"),
    ]
    assert a.send("bar") == 0 and a.send("hello you") == 1


def test_direct_die_pong_on_the_bus(bus, buses):
    a, b = pair(bus, buses)
    directs, dies, pongs = [], [], []
    b.on_direct(lambda p, i, t: directs.append((p.name, i, t)))
    b.on_die(lambda p, i: dies.append((p.name, i)) or False)  # False: stay
    a.on_pong(lambda p, s: pongs.append((p.name, s)))
    peer = a.peer("B")
    assert peer.send_direct(7, "hi\x03there")
    assert peer.ping()
    assert peer.send_die()
    assert wait_until(lambda: directs and dies and pongs)
    assert directs == [("A", 7, "hi\x03there")]  # whole text, as ivy-c
    assert dies == [("A", 0)] and b.running
    assert pongs[0][0] == "B" and 0 < pongs[0][1] < 1


def test_every_timer(bus, buses):
    a = buses("A").start(bus)
    ticks = []

    @a.every(10, count=4)
    def tick():
        ticks.append(1)

    assert isinstance(tick, ivy.Timer)
    time.sleep(0.3)
    assert len(ticks) == 4
    with pytest.raises(ivy.UnknownTimerError):
        tick.cancel()


def test_server_and_client_objects(bus, buses):
    events = []
    server = core.IvyServer("S", "", app_callback=lambda c, e: events.append((c, e)))
    with pytest.raises(core.IvyIllegalStateError):
        server.stop()
    server.start(bus)
    with pytest.raises(core.IvyIllegalStateError):
        server.start(bus)
    b = buses("B")
    b.bind("(.*)", lambda *g: None)
    b.start(bus)
    try:
        assert wait_until(lambda: server.get_clients() == ["B"])
        (client,) = server.get_client_with_name("B")
        assert isinstance(client, core.IvyClient) and events == [(client, core.IvyApplicationConnected)]
        assert str(client) == "B@%s" % socket.getfqdn("127.0.0.1")
        assert repr(client) == "127.0.0.1:%d (B)" % client.port
        assert server.get_client(client.ip, client.port) is client
        assert client == core.IvyClient(None, 0, "other", client.ip, client.port)
        assert hash(client) == hash((client.ip, client.port))
        assert server.get_client_bindings(client) == [(0, "(.*)")] == client.get_regexps()
        assert server.send_msg("x") == 1
        assert server.send_msg("x", to=client) == 1 == client.send_msg("x")
        assert server.send_direct_message("B", 1, "d") is True
        assert server.send_direct_message("nobody", 1, "d") is False
        assert server.get_subscriptions() == []
        ticks = []
        timer = core.IvyTimer(server, 2, 10, lambda t: ticks.append(t))
        timer.start()
        assert wait_until(lambda: len(ticks) == 2)
        assert ticks == [timer, timer]
        assert server.isAlive()
    finally:
        server.stop()
    assert server.server_termination.is_set() and not server.isAlive()
    server.start(bus)  # a server starts again after a stop
    assert wait_until(lambda: server.get_clients() == ["B"])
    server.stop()


def test_server_sends_to_one_client_and_its_ready_message_again(bus, buses):
    """send_msg(to=client), IvyClient.send_msg and send_ready_message, as
    ivy-python's: matched against that client's subscriptions only (by ivy-python's
    rules), once for each that matches."""
    server = core.IvyServer("S", "S is ready")
    other = core.IvyServer("T", "")
    got = {"B": [], "C": []}
    b, c = buses("B"), buses("C")
    for peer in (b, c):
        peer.bind("S (.*)", lambda p, *g, _n=peer.name: got[_n].append(("all",) + g))
        peer.bind("S (one)$", lambda p, *g, _n=peer.name: got[_n].append(("one",) + g))
    server.start(bus)
    other.start(bus)
    b.start(bus)
    c.start(bus)
    try:
        assert wait_until(lambda: sorted(server.get_clients()) == ["B", "C", "T"] and other.get_clients() != [])
        assert wait_until(lambda: all(len(cl.get_regexps()) == 2 for n in "BC" for cl in server.get_client_with_name(n)))
        assert wait_until(lambda: got == {"B": [("all", "is ready")], "C": [("all", "is ready")]})
        (to_b,) = server.get_client_with_name("B")
        (to_c,) = server.get_client_with_name("C")
        assert server.send_msg("S one", to=to_b) == 2  # both of B's subscriptions
        assert to_c.send_msg("S two") == 1
        assert server.send_msg("no S one", to=to_b) == 0  # anchored at the start (ivy-c's rules: 2)
        server.send_ready_message(to_c)
        assert server.send_msg("S three") == 2
        assert wait_until(lambda: "B" in other.get_clients())
        (t_to_b,) = other.get_client_with_name("B")
        assert server.send_msg("S four", to=t_to_b) == 0  # a client of another server
        assert wait_until(lambda: len(got["B"]) == 4 and len(got["C"]) == 4)
        time.sleep(0.1)
        assert got["B"][0] == ("all", "is ready")
        assert sorted(got["B"][1:3]) == [("all", "one"), ("one", "one")]
        assert got["B"][3:] == [("all", "three")]
        assert got["C"] == [("all", "is ready"), ("all", "two"), ("all", "is ready"), ("all", "three")]
    finally:
        server.stop()
        other.stop()


def test_client_agent_id_is_the_id_its_hello_announced(bus):
    """agent_id of a client we connected to (after its hello) is the application id
    it announced; of one that connected to us, None (it sent us no hello)."""
    first, second = core.IvyServer("First", ""), core.IvyServer("Second", "")
    first.start(bus)
    try:
        second.start(bus)  # its hello makes First connect to it
        assert wait_until(lambda: first.get_clients() == ["Second"] and second.get_clients() == ["First"])
        (seen_by_first,) = first.get_client_with_name("Second")
        (seen_by_second,) = second.get_client_with_name("First")
        assert isinstance(second.agent_id, str) and second.agent_id
        assert seen_by_first.agent_id == second.agent_id == seen_by_first.app_id
        assert seen_by_second.agent_id is None and seen_by_second.app_id == ""
    finally:
        first.stop()
        if second.isAlive():
            second.stop()


def test_wire_helpers_and_constants(monkeypatch):
    assert core.encode_message(core.MSG, 5, ["one", "two"]) == b"2 5\x02one\x03two\x03\n"
    assert core.encode_message(core.DIRECT_MSG, 8, "abc def") == b"7 8\x02abc def\n"
    assert core.encode_message(core.BYE, 0) == b"0 0\x02\n"
    assert core.decode_msg("2 5\x02a\x03\x03b\x03") == (2, 5, ["a", "", "b"])
    assert core.decode_msg("7 3\x02raw\x03text") == (7, 3, "raw\x03text")
    with pytest.raises(core.IvyMalformedMessage):
        core.decode_msg("2 x\x02")
    assert core.decode_MSG_params("") == [] and core.decode_MSG_params("\x03") == [""]
    assert core.decode_MSG_params("a\x03b") == ["a", "b"]
    assert core.decode_ivybus("127:3456") == ("127.255.255.255", 3456)
    assert core.decode_ivybus("127.0.0.1:3") == ("127.0.0.1", 3)
    monkeypatch.setenv("IVYBUS", "224.1:5")
    assert core.decode_ivybus(None) == ("224.1.255.255", 5)
    with pytest.raises(ValueError):
        core.decode_ivybus("127")
    assert core.is_multicast("224.0.0.1") and not core.is_multicast("127.0.0.1")
    assert (core.BYE, core.ADD_REGEXP, core.MSG, core.ERROR, core.DEL_REGEXP, core.END_REGEXP) == (0, 1, 2, 3, 4, 5)
    assert (core.START_REGEXP, core.DIRECT_MSG, core.DIE, core.PING, core.PONG) == (6, 7, 8, 9, 10)
    assert (core.ARG_START, core.ARG_END, core.PROTOCOL_VERSION) == ("\x02", "\x03", 3)
    assert core.ivylogger.name == "Ivy"


MAIN_LOOP_SCRIPT = """
import sys, threading
from ivy.std_api import *
lock = threading.Lock()
def say(line):
    with lock:
        sys.stdout.write(line + "\\n")
        sys.stdout.flush()
IvyInit("Looper", None, 0, lambda c, e: say("event %s %d" % (c.agent_name, e)))
say("started")
IvyStart(sys.argv[1])
IvyMainLoop()
say("main loop returned")
"""


def test_ctrl_c_in_main_loop_stops_cleanly(bus, buses):
    b = buses("B")
    gone = []
    b.on_disconnect(lambda p: gone.append(p.name))
    b.start(bus)
    proc = subprocess.Popen([sys.executable, "-c", MAIN_LOOP_SCRIPT, bus], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "started\n"
        assert proc.stdout.readline() == "event B 1\n"
        time.sleep(0.5)  # into IvyMainLoop, which installs the SIGINT handler
        proc.send_signal(2)
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert out == "main loop returned\n" and proc.returncode == 0
    assert wait_until(lambda: gone == ["Looper"])
