"""ivy.std_api against ivy.Bus peers, over loopback: every function, with the exact
arguments its callbacks get."""

import socket
import threading
import time

import pytest

import ivy
import routing
from agents import RawPeer
from ivy import std_api as api
from ivy.ivy import IVY_SHOULD_NOT_DIE, IvyClient

from conftest import wait_until

PRE_INIT = [
    lambda: api.IvyStart("127:1"),
    lambda: api.IvyStop(),
    lambda: api.IvyMainLoop(),
    lambda: api.IvySendMsg("x"),
    lambda: api.IvyBindMsg(lambda *a: None, "x"),
    lambda: api.IvyUnbindMsg(0),
    lambda: api.IvyGetApplicationList(),
    lambda: api.IvyGetMessages(),
    lambda: api.IvyTimerRepeatAfter(1, 10, lambda: None),
]


@pytest.mark.parametrize("call", PRE_INIT)
def test_functions_before_init_raise_assertion_error(std, call):
    with pytest.raises(AssertionError):
        call()
    with pytest.raises(ivy.IvyNotInitializedError):
        call()


def test_init_twice_raises(std):
    api.IvyInit("A")
    with pytest.raises(AssertionError):
        api.IvyInit("B")


def joined(std, bus, buses, *, on_cnx=None, on_die=None, ready=None, peer_ready=None, peer_regexps=()):
    """std_api agent "A" and a Bus peer "P" on `bus`, connected."""
    cnx = []
    api.IvyInit("A", ready, 0, on_cnx or (lambda c, e: cnx.append((c, e))), on_die or (lambda c, i: None))
    peer = buses("P", peer_ready)
    got = []
    for regexp in peer_regexps:
        peer.bind(regexp, lambda p, *g, _re=regexp: got.append((_re, p.name) + g))
    api.IvyStart(bus)
    peer.start(bus)
    assert wait_until(lambda: api.IvyGetApplicationList() == ["P"] and [p.name for p in peer.peers] == ["A"])
    return peer, cnx, got


def test_connect_and_disconnect_events(std, bus, buses):
    peer, cnx, _ = joined(std, bus, buses)
    assert wait_until(lambda: len(cnx) == 1)
    client, event = cnx[0]
    assert isinstance(client, IvyClient)
    assert (client.agent_name, client.ip, event) == ("P", "127.0.0.1", api.IvyApplicationConnected)
    assert api.IvyApplicationConnected == 1 and api.IvyApplicationDisconnected == 2
    assert api.IvyGetApplication("P") is client
    assert api.IvyGetApplication("nobody") is None
    assert api.IvyGetApplicationName(client) == "P"
    assert api.IvyGetApplicationHost(client) == socket.getfqdn("127.0.0.1")
    peer.stop()
    assert wait_until(lambda: len(cnx) == 2)
    assert cnx[1] == (client, api.IvyApplicationDisconnected)
    assert cnx[1][0] is client
    assert api.IvyGetApplicationList() == []


def test_bind_ids_unbind_and_messages(std, bus, buses):
    api.IvyInit("A")
    assert api.IvyBindMsg(lambda *a: None, "^zero") == 0
    assert api.IvyBindMsg(lambda *a: None, "^one (.*)") == 1
    assert api.IvyGetMessages() == [(0, "^zero"), (1, "^one (.*)")]
    assert api.IvyUnbindMsg(0) == "^zero"
    assert api.IvyUnBindMsg(1) == "^one (.*)"
    with pytest.raises(KeyError):
        api.IvyUnbindMsg(1)
    assert api.IvyBindMsg(lambda *a: None, "two") == 2
    assert api.IvyGetMessages() == [(2, "two")]


def test_send_and_receive_exact_arguments(std, bus, buses):
    received = []
    peer, _, got = joined(std, bus, buses, peer_regexps=["^hello (.*)", "^a(b)?(c)?(d)?$"])
    api.IvyBindMsg(lambda c, *g: received.append((c.agent_name,) + g), "^from peer (\\w+) (\\w+)")
    assert wait_until(lambda: len(api.IvyGetApplicationMessages(api.IvyGetApplication("P"))) == 2)
    # In the order the peer sent them (ivy-rs and ivy-c send the newest first).
    assert api.IvyGetApplicationMessages(api.IvyGetApplication("P")) == [(1, "^a(b)?(c)?(d)?$"), (0, "^hello (.*)")]
    assert api.IvySendMsg("hello world") == 1
    assert api.IvySendMsg("ac") == 1
    assert api.IvySendMsg("nothing matches") == 0
    assert wait_until(lambda: len(got) == 2)
    # As ivy-python sends: every group, "" for one that took no part.
    assert got == [("^hello (.*)", "A", "world"), ("^a(b)?(c)?(d)?$", "A", "", "c", "")]
    assert wait_until(lambda: [r for _, r in peer.peer("A").regexps] == ["^from peer (\\w+) (\\w+)"])
    assert peer.send("from peer x y") == 1
    assert wait_until(lambda: len(received) == 1)
    assert received == [("P", "x", "y")]


def test_messages_routed_as_ivy_python_sends_them(std, bus, buses):
    """Anchored at the message's start (re.match), every group sent, "." a whole
    character: a subscriber gets from us what it gets from ivy-python."""
    peer = buses("P")
    got = routing.subscribe(peer.bind)
    api.IvyInit("A")
    api.IvyStart(bus)
    peer.start(bus)
    assert wait_until(lambda: api.IvyGetApplication("P") is not None
                      and len(api.IvyGetApplicationMessages(api.IvyGetApplication("P"))) == len(routing.REGEXPS))
    assert [api.IvySendMsg(m) for m in routing.MESSAGES] == routing.counts("ivy-python")
    assert routing.delivered(got, "A", "ivy-python") == routing.deliveries("ivy-python")


def test_start_without_a_bus_joins_ivybus(std, bus, buses, monkeypatch):
    """IvyStart() (or IvyStart(None)) joins the bus IVYBUS names, as ivy-python's."""
    monkeypatch.setenv("IVYBUS", bus)
    api.IvyInit("A")
    api.IvyStart()
    peer = buses("P").start(bus)
    assert wait_until(lambda: api.IvyGetApplicationList() == ["P"] and [p.name for p in peer.peers] == ["A"])


def test_ready_message_sent_and_empty_ready_skipped(std, bus, buses):
    peer, _, got = joined(std, bus, buses, ready="A is ready", peer_regexps=["(.*)"])
    assert wait_until(lambda: got == [("(.*)", "A", "A is ready")])
    std_api_reset(std)
    peer2 = buses("Q")
    got2 = []
    peer2.bind("(.*)", lambda p, *g: got2.append(g))
    api.IvyInit("B", "")
    api.IvyStart(bus)
    peer2.start(bus)
    assert wait_until(lambda: "Q" in api.IvyGetApplicationList())
    time.sleep(0.2)
    assert got2 == []


def std_api_reset(std):
    api.IvyStop()
    api._IvyServer = None


def test_direct_messages_both_ways(std, bus, buses):
    peer, _, _ = joined(std, bus, buses)
    directs = []
    api.IvyBindDirectMsg(lambda c, i, t: directs.append((c.agent_name, i, t)))
    peer_directs = []
    peer.on_direct(lambda p, i, t: peer_directs.append((p.name, i, t)))
    client = api.IvyGetApplication("P")
    api.IvySendDirectMsg(client, 33, "hi there")
    api.IvySendDirectMsg(client, 34, ["a", "b"])
    assert wait_until(lambda: len(peer_directs) == 2)
    assert peer_directs == [("A", 33, "hi there"), ("A", 34, "a\x03b\x03")]
    peer.peer("A").send_direct(12, "first\x03second")
    assert wait_until(lambda: len(directs) == 1)
    assert directs == [("P", 12, "first")]  # ivy-python delivers the text before the first ETX


def test_ping_pong(std, bus, buses):
    joined(std, bus, buses)
    pongs = []
    api.IvyBindPong(lambda c, delta: pongs.append((c.agent_name, delta)))
    api.IvySendPing(api.IvyGetApplication("P"))
    assert wait_until(lambda: len(pongs) == 1)
    name, delta = pongs[0]
    assert name == "P" and isinstance(delta, float) and 0 < delta < 1
    assert api.IvySetPongCallback is api.IvyBindPong


def test_die_received_leaves_the_bus(std, bus, buses):
    dies = []
    peer, cnx, _ = joined(std, bus, buses, on_die=lambda c, i: dies.append((c.agent_name, i)))
    gone = []
    peer.on_disconnect(lambda p: gone.append(p.name))
    peer.peer("A").send_die()
    assert wait_until(lambda: gone == ["A"])
    assert dies == [("P", 0)]
    assert api._IvyServer.server_termination.wait(5)  # set once the bus thread has ended
    api.IvyMainLoop()  # returns at once: the agent has left the bus
    assert not api._IvyServer.isAlive()
    assert [e for _, e in cnx] == [api.IvyApplicationConnected]  # leaving on a Die reports no Disconnected


def test_die_vetoed_stays(std, bus, buses):
    dies = []
    peer, _, _ = joined(std, bus, buses, on_die=lambda c, i: dies.append(i) or IVY_SHOULD_NOT_DIE)
    peer.peer("A").send_die()
    assert wait_until(lambda: dies == [0])
    time.sleep(0.2)
    assert api._IvyServer.isAlive() and [p.name for p in peer.peers] == ["A"]


def test_send_die_and_error_to_peer(std, bus, buses):
    peer, cnx, _ = joined(std, bus, buses)
    dies = []
    peer.on_die(lambda p, i: dies.append((p.name, i)))
    api.IvySendError(api.IvyGetApplication("P"), 44, "oops")
    api.IvySendDieMsg(api.IvyGetApplication("P"))
    assert wait_until(lambda: dies == [("A", 0)])
    assert peer.wait(5)
    assert wait_until(lambda: [e for _, e in cnx] == [1, 2])


def test_die_error_and_direct_lines_on_the_wire(std, bus):
    """The exact lines: IvySendDieMsg sends id 0 and no text; send_die_message
    sends its id and text; IvySendError and IvySendDirectMsg theirs."""
    api.IvyInit("A")
    api.IvyStart(bus)
    raw = RawPeer(api._IvyServer.port, "RAW")
    try:
        assert raw.next_line() == b"6 %d\x02A\n" % api._IvyServer.port
        assert raw.next_line() == b"5 0\x02\n"
        assert wait_until(lambda: api.IvyGetApplication("RAW") is not None)
        client = api.IvyGetApplication("RAW")
        api.IvySendDieMsg(client)
        client.send_die_message(7, "go away")
        client.send_die_message(num_id=8)
        api.IvySendError(client, 44, "oops")
        api.IvySendDirectMsg(client, 5, "hi")
        assert [raw.next_line() for _ in range(5)] == [
            b"8 0\x02\n", b"8 7\x02go away\n", b"8 8\x02\n", b"3 44\x02oops\n", b"7 5\x02hi\n"
        ]
        assert raw.quiet() == []
        assert api._IvyServer.isAlive()
    finally:
        raw.close()


def test_regexp_change_events(std, bus, buses):
    peer, _, _ = joined(std, bus, buses)
    changes = []
    api.IvyBindRegexpChange(lambda c, e, i, r: changes.append((c.agent_name, e, i, r)))
    sub = peer.bind("^new (.*)", lambda *a: None)
    assert wait_until(lambda: len(changes) == 1)
    sub.cancel()
    assert wait_until(lambda: len(changes) == 2)
    assert changes == [("P", api.IvyRegexpAdded, 0, "^new (.*)"), ("P", api.IvyRegexpRemoved, 0, "^new (.*)")]
    assert (api.IvyRegexpAdded, api.IvyRegexpRemoved) == (3, 4)


def test_timers_count_first_call_at_once_modify_remove(std, bus):
    api.IvyInit("T")
    api.IvyStart(bus)
    ticks, started = [], time.monotonic()
    three = api.IvyTimerRepeatAfter(3, 100, lambda: ticks.append(time.monotonic() - started))
    assert wait_until(lambda: len(ticks) >= 1, 1)
    assert ticks[0] < 0.09  # the first call does not wait for the delay
    time.sleep(0.5)
    assert len(ticks) == 3
    with pytest.raises(KeyError):
        api.IvyTimerRemove(three)  # a finished timer is gone
    endless = []
    t = api.IvyTimerRepeatAfter(0, 20, lambda: endless.append(1))
    assert wait_until(lambda: len(endless) >= 5)
    api.IvyTimerModify(t, 10000)
    n = len(endless)
    time.sleep(0.2)
    assert len(endless) == n
    api.IvyTimerRemove(t)
    with pytest.raises(KeyError):
        api.IvyTimerModify(t, 10)
    with pytest.raises(KeyError):
        api.IvyTimerRemove(12345)


def test_timer_removed_from_its_callback(std, bus):
    api.IvyInit("T")
    api.IvyStart(bus)
    ticks, holder = [], []

    def tick():
        ticks.append(1)
        if len(ticks) == 2:
            api.IvyTimerRemove(holder[0])

    holder.append(api.IvyTimerRepeatAfter(0, 10, tick))
    time.sleep(0.3)
    assert len(ticks) == 2


def test_stop_and_stop_twice(std, bus, buses):
    peer, cnx, _ = joined(std, bus, buses)
    gone = []
    peer.on_disconnect(lambda p: gone.append(p.name))
    assert wait_until(lambda: len(cnx) == 1)
    api.IvyStop()  # returns once the bus thread has ended: every callback has run
    assert [e for _, e in cnx] == [api.IvyApplicationConnected]  # our own stop reports no Disconnected
    assert wait_until(lambda: gone == ["A"])
    with pytest.raises(ivy.IvyIllegalStateError):
        api.IvyStop()


def test_main_loop_returns_on_stop_from_another_thread(std, bus):
    api.IvyInit("M")
    api.IvyStart(bus)
    threading.Timer(0.2, api.IvyStop).start()
    started = time.monotonic()
    api.IvyMainLoop()
    assert time.monotonic() - started < 3


def test_callbacks_run_on_one_background_thread(std, bus, buses):
    peer, _, _ = joined(std, bus, buses)
    threads = set()
    api.IvyBindMsg(lambda c, *g: threads.add(threading.get_ident()), "^t")
    api.IvyTimerRepeatAfter(2, 10, lambda: threads.add(threading.get_ident()))
    assert wait_until(lambda: [r for _, r in peer.peer("A").regexps] == ["^t"])
    for _ in range(20):
        peer.send("t")
    time.sleep(0.3)
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_send_from_another_thread_while_receiving(std, bus, buses):
    peer, _, got = joined(std, bus, buses, peer_regexps=["^n (\\d+)"])
    back = []
    api.IvyBindMsg(lambda c, n: back.append(int(n)), "^back (\\d+)")
    assert wait_until(lambda: len(peer.peer("A").regexps) == 1)
    counts = []

    def sender():
        counts.append(sum(api.IvySendMsg("n %d" % i) for i in range(2000)))

    t = threading.Thread(target=sender)
    t.start()
    for i in range(500):
        peer.send("back %d" % i)
    t.join(10)
    assert counts == [2000]
    assert wait_until(lambda: len(got) == 2000 and len(back) == 500)
    assert [int(g[2]) for g in got] == list(range(2000))
    assert back == list(range(500))


def test_hostile_regexp_does_not_stall_the_sender(std, bus, buses):
    joined(std, bus, buses, peer_regexps=["^(a+)+$", "(x+x+)+y"])
    assert wait_until(lambda: len(api.IvyGetApplicationMessages(api.IvyGetApplication("P"))) == 2)
    started = time.monotonic()
    assert api.IvySendMsg("a" * 5000 + "!") == 0
    assert api.IvySendMsg("x" * 5000) == 0
    assert time.monotonic() - started < 1.0  # Python's re would backtrack for ages


def test_callback_exception_is_logged_and_the_bus_goes_on(std, bus, buses, caplog):
    peer, _, _ = joined(std, bus, buses)
    got = []

    def bad(client, *groups):
        got.append(groups)
        raise ValueError("boom")

    api.IvyBindMsg(bad, "^(x)")
    assert wait_until(lambda: len(peer.peer("A").regexps) == 1)
    peer.send("x1")
    peer.send("x2")
    assert wait_until(lambda: len(got) == 2)
    assert wait_until(lambda: sum("boom" in r.getMessage() for r in caplog.records) == 2)
