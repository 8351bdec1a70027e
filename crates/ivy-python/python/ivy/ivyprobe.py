"""``ivyprobe.py``: joins an Ivy bus, prints what happens on it, sends what it reads.

Options and commands are ivy-python 4.0's (``ivyprobe.py -h``, then ``.help``).
Every line that is not a command (an empty one included) is sent as a message.
End of input leaves the bus.
"""

import getopt
import logging
import os
import sys
import threading
from typing import Callable, Dict, List, Optional

from . import __version__
from . import std_api as api
from . import _log

USAGE = """Usage: ivyprobe.py [options] regexps
Options:
  -b, --ivybus=BUS     the bus to join (default: $IVYBUS, then 127:2010)
  -h, --help           this help
  -n, --name=NAME      our application name (default: pyivyprobe)
  -r, --ready=MSG      the ready message (default: 'NAME Ready'; '' sends none)
  -s, --show-bindings  show the peers' subscription changes
  -V, --version        print the version and exit
  -v, --verbose        more log output (twice: debug)
Type .help once running for the commands."""

COMMANDS = """Commands:
  .bind REGEXP              subscribe to REGEXP (prints its id)
  .remove ID                remove our subscription ID
  .regexps                  list our subscriptions
  .regexps NAME             list the subscriptions of the agent NAME
  .direct NAME ID TEXT      send a direct message to NAME
  .error NAME ID TEXT       send an error message to NAME
  .ping NAME                ping NAME
  .die NAME                 ask NAME to leave the bus
  .die-all-yes-i-am-sure    ask every agent to leave the bus
  .where NAME               print the host of NAME
  .who                      list the agents on the bus
  .showbind                 show or hide the peers' subscription changes
  .help                     this help
  .quit                     leave the bus and exit
Any other line is sent as a message."""

_out_lock = threading.Lock()


def say(text: str) -> None:
    """Prints one line, whole, flushed (callbacks print from the bus thread)."""
    with _out_lock:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


class Probe:
    """The probe's state and its commands."""

    def __init__(self, show_bindings: bool) -> None:
        self.show_bindings = show_bindings

    def on_connection(self, client: api.IvyClient, event: int) -> None:
        verb = "connected" if event == api.IvyApplicationConnected else "disconnected"
        say("%r %s" % (client, verb))
        names = api.IvyGetApplicationList()
        say("Agents on the bus (%d): %s" % (len(names), ", ".join(names)))

    def on_die(self, client: api.IvyClient, num_id: int) -> None:
        say("%r asks us to die (id %d)" % (client, num_id))

    def on_msg(self, client: api.IvyClient, *args: str) -> None:
        say("Received from %r: %r" % (client, args))

    def on_direct(self, client: api.IvyClient, num_id: int, text: str) -> None:
        say("%r sent a direct message, id %d: %r" % (client, num_id, text))

    def on_pong(self, client: api.IvyClient, delta: float) -> None:
        say("%s answered the ping in %.6fs" % (client, delta))

    def on_regexp_change(self, client: api.IvyClient, event: int, num_id: int, regexp: str) -> None:
        if self.show_bindings:
            verb = "added" if event == api.IvyRegexpAdded else "removed"
            say("%r %s regexp %d: %r" % (client, verb, num_id, regexp))

    def bind(self, regexp: str) -> int:
        return api.IvyBindMsg(self.on_msg, regexp)

    def peer(self, name: str) -> Optional[api.IvyClient]:
        client = api.IvyGetApplication(name)
        if client is None:
            say("No agent named %r" % name)
        return client

    def command(self, line: str) -> bool:
        """Runs one input line; False to quit."""
        word, _, rest = line.partition(" ")
        handlers: Dict[str, Callable[[str], Optional[bool]]] = {
            ".bind": self.cmd_bind, ".remove": self.cmd_remove, ".regexps": self.cmd_regexps,
            ".direct": self.cmd_direct, ".error": self.cmd_error, ".ping": self.cmd_ping, ".die": self.cmd_die,
            ".die-all-yes-i-am-sure": self.cmd_die_all, ".where": self.cmd_where, ".who": self.cmd_who,
            ".showbind": self.cmd_showbind, ".help": self.cmd_help, ".quit": self.cmd_quit,
        }
        handler = handlers.get(word)
        if handler is None:
            say("Sent to %d peers" % api.IvySendMsg(line))
            return True
        try:
            return handler(rest.strip()) is not False
        except (ValueError, IndexError):
            say("Bad arguments for %s (see .help)" % word)
            return True

    def cmd_bind(self, regexp: str) -> None:
        say("Bound regexp, id: %d" % self.bind(regexp))

    def cmd_remove(self, arg: str) -> None:
        try:
            say("Removed %s: %r" % (arg, api.IvyUnbindMsg(int(arg))))
        except KeyError:
            say("No subscription with id %s" % arg)

    def cmd_regexps(self, name: str) -> None:
        if not name:
            say("Our subscriptions: %s" % ", ".join("%d:%r" % r for r in api.IvyGetMessages()))
            return
        client = self.peer(name)
        if client is not None:
            found = api.IvyGetApplicationMessages(client)
            say("Subscriptions of %r: %s" % (name, ", ".join("%d:%r" % r for r in found)))

    def to_peer(self, name: str, send: Callable[[api.IvyClient], object], done: str) -> None:
        """`send` to the agent `name`, if there is one; then says `done` (a format
        of that name)."""
        client = self.peer(name)
        if client is not None:
            send(client)
            say(done % name)

    def cmd_direct(self, arg: str) -> None:
        name, num_id, text = arg.split(" ", 2)
        self.to_peer(name, lambda client: api.IvySendDirectMsg(client, int(num_id), text), "Direct message sent to %s")

    def cmd_error(self, arg: str) -> None:
        name, num_id, text = arg.split(" ", 2)
        self.to_peer(name, lambda client: api.IvySendError(client, int(num_id), text), "Error sent to %s")

    def cmd_ping(self, name: str) -> None:
        self.to_peer(name, api.IvySendPing, "Ping sent to %s")

    def cmd_die(self, name: str) -> None:
        self.to_peer(name, api.IvySendDieMsg, "Die sent to %s")

    def cmd_die_all(self, _: str) -> None:
        for name in api.IvyGetApplicationList():
            client = api.IvyGetApplication(name)
            if client is not None:
                api.IvySendDieMsg(client)
        say("Die sent to every agent")

    def cmd_where(self, name: str) -> None:
        client = self.peer(name)
        if client is not None:
            say("%s is on %s (%s)" % (name, api.IvyGetApplicationHost(client), client.ip))

    def cmd_who(self, _: str) -> None:
        say(repr(api.IvyGetApplicationList()))

    def cmd_showbind(self, _: str) -> None:
        self.show_bindings = not self.show_bindings
        say("Subscription changes are %s" % ("shown" if self.show_bindings else "hidden"))

    def cmd_help(self, _: str) -> None:
        say(COMMANDS)

    def cmd_quit(self, _: str) -> bool:
        return False


def main(argv: Optional[List[str]] = None) -> int:
    """The console script."""
    args = sys.argv[1:] if argv is None else argv
    try:
        opts, regexps = getopt.gnu_getopt(
            args, "b:hn:r:sVv", ["ivybus=", "help", "name=", "ready=", "show-bindings", "version", "verbose"]
        )
    except getopt.GetoptError as e:
        sys.stderr.write("%s\n%s\n" % (e, USAGE))
        return 2
    bus, name, ready, show, verbose = None, "pyivyprobe", None, False, 0
    for opt, value in opts:
        if opt in ("-h", "--help"):
            say(USAGE)
            return 0
        if opt in ("-V", "--version"):
            say("ivy-rs %s" % __version__)
            return 0
        if opt in ("-b", "--ivybus"):
            bus = value
        elif opt in ("-n", "--name"):
            name = value
        elif opt in ("-r", "--ready"):
            ready = value
        elif opt in ("-s", "--show-bindings"):
            show = True
        elif opt in ("-v", "--verbose"):
            verbose += 1
    _log.logger().setLevel([logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)])
    if ready is None:
        ready = "%s Ready" % name
    probe = Probe(show)
    api.IvyInit(name, ready or None, 0, probe.on_connection, probe.on_die)
    api.IvyBindDirectMsg(probe.on_direct)
    api.IvyBindPong(probe.on_pong)
    api.IvyBindRegexpChange(probe.on_regexp_change)
    for regexp in regexps:
        probe.bind(regexp)
    say("Joining %s" % (bus or os.environ.get("IVYBUS") or "127:2010"))
    api.IvyStart(bus)
    server = api._server()
    # A Die obeyed ends the probe, whatever the input is doing.
    threading.Thread(target=lambda: (server.server_termination.wait(), os._exit(0)), daemon=True).start()
    say("Ready (type .help for the commands)")
    for raw in sys.stdin:
        if not probe.command(raw.rstrip("\n")):
            break
    if server.isAlive():
        api.IvyStop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
