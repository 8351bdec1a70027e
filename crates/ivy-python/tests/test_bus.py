"""The Pythonic ivy.Bus and ivy-python's object API (ivy.ivy), over loopback."""

import socket
import subprocess
import sys
import time

import pytest

import ivy
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


def test_unanchored_matching_and_optional_groups_like_ivy_c(bus, buses):
    a, b = pair(bus, buses)
    got = []
    b.bind("world", lambda p, *g: got.append(("world",) + g))
    b.bind(r"^a(b)?(c)?(d)?$", lambda p, *g: got.append(("abcd",) + g))
    assert wait_until(lambda: len(a.peer("B").regexps) == 2)
    assert a.send("hello world") == 1
    assert a.send("ab") == 1
    assert wait_until(lambda: len(got) == 2)
    assert got == [("world",), ("abcd", "b")]


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
