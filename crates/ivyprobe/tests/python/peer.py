"""An ivy-python 4.0 agent driven line by line, for tests/interop_python.rs.

    python peer.py BUS NAME [--ready TEXT | --no-ready] [--veto-die] [REGEXP...]

Joins BUS (ivy-python syntax: ``127.255.255.255:PORT``) as NAME, binds every
REGEXP (in order: ids 0, 1, ...), then reads commands on stdin and prints one
event per line on stdout, flushed. The ready message defaults to "NAME Ready".

Encoding: a text field (message, regexp, name, argument) is written "=" followed
by its UTF-8 bytes, where every byte outside 0x21..0x7e, and "%", is written
%XX. So "=" alone is the empty string and fields never contain spaces.

Events (stdout):
    started                        (the UDP listener holds the bus port)
    connected NAME                 disconnected NAME
    msg BINDING_ID NAME =ARG...    one field per argument the callback got
                                   (a first argument "block:SECONDS" then makes
                                   the callback sleep that long)
    direct NAME ID =TEXT
    pong NAME SECONDS
    die NAME ID                    (then the agent stops unless --veto-die / veto on)
    terminated                     the agent has left the bus (die or stop)
    regexp added|removed NAME ID =REGEXP
    handler-error NAME EXCEPTION =TEXT
                                   a connection handler of ivy-python died
Answers to commands:
    sent N    bound ID =RE    unbound ID =RE    direct-sent    error-sent
    die-sent    ping-sent    apps =NAME...    regexps NAME ID =RE ...
    veto on|off    sync TOKEN    stopped    no-app NAME    bad-command =LINE

Commands (stdin):
    send =TEXT           IvySendMsg
    bind =RE             IvyBindMsg           unbind ID   IvyUnbindMsg
    direct NAME ID =TEXT IvySendDirectMsg     error NAME ID =TEXT   IvySendError
    die NAME             IvySendDieMsg        ping NAME   IvySendPing
    apps                 IvyGetApplicationList
    regexps NAME         IvyGetApplicationMessages
    veto on|off          whether the die callback vetoes
    sync TOKEN           echoes TOKEN (commands run in order)
    stop                 IvyStop, then exit
    exit                 exit at once, without IvyStop (no Bye)
End of input stops the agent (IvyStop) and exits.
"""

import os
import socket
import sys
import threading
import time

from ivy import ivy as ivy_core
from ivy import std_api as ivy

_print_lock = threading.Lock()


def enc(text):
    if text is None:
        return "=%NONE"
    out = ["="]
    for b in str(text).encode("utf-8"):
        if 0x21 <= b <= 0x7E and b != 0x25:
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def dec(field):
    if not field.startswith("="):
        raise ValueError("text field must start with '=': %r" % field)
    raw = bytearray()
    s = field[1:]
    i = 0
    while i < len(s):
        if s[i] == "%":
            raw.append(int(s[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(s[i].encode("utf-8"))
            i += 1
    return raw.decode("utf-8")


def event(*fields):
    line = " ".join(str(f) for f in fields)
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def name_of(client):
    return enc(client.agent_name if client is not None else None)


veto_die = False


def on_connection(client, ev):
    if ev == ivy.IvyApplicationConnected:
        event("connected", name_of(client))
    elif ev == ivy.IvyApplicationDisconnected:
        event("disconnected", name_of(client))


def on_die(client, die_id):
    event("die", name_of(client), die_id)
    if veto_die:
        return ivy_core.IVY_SHOULD_NOT_DIE
    return None


def on_direct(client, num_id, text):
    event("direct", name_of(client), num_id, enc(text))


def on_pong(client, delta):
    event("pong", name_of(client), "%.6f" % delta)


def on_regexp_change(client, ev, num_id, regexp):
    what = "added" if ev == ivy.IvyRegexpAdded else "removed"
    event("regexp", what, name_of(client), num_id, enc(regexp))


def bind(regexp):
    holder = []

    def on_msg(client, *args):
        bid = holder[0] if holder else -1
        event("msg", bid, name_of(client), *[enc(a) for a in args])
        if args and args[0].startswith("block:"):
            # Keeps this connection's handler busy: what arrives meanwhile
            # piles up in the socket, to be read 1024 bytes at a time.
            time.sleep(float(args[0][len("block:") :]))

    bid = ivy.IvyBindMsg(on_msg, regexp)
    holder.append(bid)
    return bid


def app(field):
    name = dec(field)
    client = ivy.IvyGetApplication(name)
    if client is None:
        event("no-app", field)
    return client


def command(line):
    global veto_die
    words = line.split(" ")
    cmd, args = words[0], words[1:]
    if cmd == "send":
        event("sent", ivy.IvySendMsg(dec(args[0])))
    elif cmd == "bind":
        bid = bind(dec(args[0]))
        event("bound", bid, args[0])
    elif cmd == "unbind":
        regexp = ivy.IvyUnbindMsg(int(args[0]))
        event("unbound", args[0], enc(regexp))
    elif cmd == "direct":
        client = app(args[0])
        if client is not None:
            ivy.IvySendDirectMsg(client, int(args[1]), dec(args[2]))
            event("direct-sent")
    elif cmd == "error":
        client = app(args[0])
        if client is not None:
            ivy.IvySendError(client, int(args[1]), dec(args[2]))
            event("error-sent")
    elif cmd == "die":
        client = app(args[0])
        if client is not None:
            ivy.IvySendDieMsg(client)
            event("die-sent")
    elif cmd == "ping":
        client = app(args[0])
        if client is not None:
            ivy.IvySendPing(client)
            event("ping-sent")
    elif cmd == "apps":
        event("apps", *[enc(n) for n in ivy.IvyGetApplicationList()])
    elif cmd == "regexps":
        client = app(args[0])
        if client is not None:
            fields = []
            for num_id, regexp in ivy.IvyGetApplicationMessages(client):
                fields += [str(num_id), enc(regexp)]
            event("regexps", args[0], *fields)
    elif cmd == "veto":
        veto_die = args[0] == "on"
        event("veto", args[0])
    elif cmd == "sync":
        event("sync", *args)
    elif cmd == "stop":
        stop()
        event("stopped")
        return False
    elif cmd == "exit":
        sys.stdout.flush()
        os._exit(0)
    else:
        event("bad-command", enc(line))
    return True


def stop():
    server = ivy._IvyServer
    if server is not None and server.isAlive():
        ivy.IvyStop()


def watch_termination():
    ivy._IvyServer.server_termination.wait()
    event("terminated")


def udp_sockets_on(port):
    """How many UDP sockets are bound to `port` on this host (Linux /proc)."""
    count = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)
                for row in f:
                    local = row.split()[1]
                    if int(local.rsplit(":", 1)[1], 16) == port:
                        count += 1
        except OSError:
            return None
    return count


def wait_udp_listener(port, before, timeout=5.0):
    """Returns once one more UDP socket holds the bus port than `before` (ivy-python's
    listener, bound in a thread of its own after IvyStart): a hello sent from now
    on reaches it."""
    if before is None:
        time.sleep(0.3)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = udp_sockets_on(port)
        if now is None or now > before:
            return
        time.sleep(0.005)
    event("udp-listener-not-seen")


def main(argv):
    global veto_die
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    bus, name = argv[0], argv[1]
    ready = "%s Ready" % name
    regexps = []
    rest = argv[2:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--ready":
            ready = rest[i + 1]
            i += 1
        elif arg == "--no-ready":
            ready = None
        elif arg == "--veto-die":
            veto_die = True
        elif arg == "--":
            regexps += rest[i + 1 :]
            break
        else:
            regexps.append(arg)
        i += 1

    ivy.IvyInit(name, ready, 0, on_connection, on_die)
    ivy.IvyBindDirectMsg(on_direct)
    ivy.IvyBindPong(on_pong)
    ivy.IvyBindRegexpChange(on_regexp_change)
    for regexp in regexps:
        event("bound", bind(regexp), enc(regexp))

    # A connection handler that raises (e.g. UnicodeDecodeError on a read) ends
    # in socketserver's handle_error: report it on stdout too.
    server = ivy._IvyServer

    def handle_error(request, client_address):
        exc = sys.exc_info()[1]
        client = None
        try:
            client = server.get_client(*client_address[:2])
        except Exception:
            pass
        event("handler-error", name_of(client), type(exc).__name__, enc(exc))

    server.handle_error = handle_error
    port = int(bus.split(":", 1)[1])
    before = udp_sockets_on(port)
    ivy.IvyStart(bus)
    wait_udp_listener(port, before)
    threading.Thread(target=watch_termination, daemon=True).start()
    event("started")

    for raw in sys.stdin:
        line = raw.rstrip("\n")
        if not line:
            continue
        try:
            if not command(line):
                return 0
        except Exception as exc:  # report and go on: the test decides
            event("command-error", enc(line), type(exc).__name__, enc(exc))
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
