#!/usr/bin/env python3
"""The victim of `ivy-bench --hostile` written with ivy-python 4.0 (ivy.std_api):
named VICTIM, bound to `^good (.*)$`, it answers each such message with
`echo <captured>`, until its standard input closes (or it is killed).

    hostile_victim.py --bus 127.255.255.255:PORT
"""

import logging
import sys
import threading

from ivy.std_api import IvyBindMsg, IvyInit, IvyMainLoop, IvySendMsg, IvyStart, IvyStop


def main() -> None:
    logging.getLogger("Ivy").setLevel(logging.CRITICAL)
    bus = sys.argv[sys.argv.index("--bus") + 1]
    IvyInit("VICTIM", "", 0, lambda *a: None, lambda *a: None)
    IvyBindMsg(lambda agent, what: IvySendMsg("echo %s" % what), "^good (.*)$")
    IvyStart(bus)

    def watch_stdin() -> None:
        sys.stdin.read()
        IvyStop()

    threading.Thread(target=watch_stdin, daemon=True).start()
    IvyMainLoop()


if __name__ == "__main__":
    main()
