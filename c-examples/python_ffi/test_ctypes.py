#!/usr/bin/env python3
"""FFI from another language: Python ctypes loads libivy.so.3, binds a
callback, joins a loopback bus and exchanges messages with the Rust ivyprobe.

Environment:
  IVY_LIBIVY  path of libivy.so.3 (default: build/libivy.so.3)
  IVY_PROBE   path of the Rust ivyprobe (default: target/release/ivyprobe)
  IVY_TEST_PORT  bus port (default: derived from the pid; never 2010)

Exit status 0 when every check passed; prints "N passed, N failed".
"""
import ctypes
import os
import select
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.environ.get("IVY_LIBIVY") or os.path.join(ROOT, "build", "libivy.so.3")
PROBE = os.environ.get("IVY_PROBE") or os.path.join(ROOT, "target", "release", "ivyprobe")
PORT = int(os.environ.get("IVY_TEST_PORT") or 20000 + os.getpid() % 20000)
BUS = "127.255.255.255:%d" % PORT
TIMEOUT = 15.0

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok:", what, flush=True)
    else:
        failed += 1
        print("FAIL:", what, flush=True)


ivy = ctypes.CDLL(LIB)

# Callback types of Ivy/ivy.h (IvyClientPtr is an opaque pointer).
AppCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
MsgCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                               ctypes.POINTER(ctypes.c_char_p))
DieCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)

ivy.IvyInit.argtypes = [ctypes.c_char_p, ctypes.c_char_p, AppCallback, ctypes.c_void_p,
                        DieCallback, ctypes.c_void_p]
ivy.IvyInit.restype = None
ivy.IvyStart.argtypes = [ctypes.c_char_p]
ivy.IvyStart.restype = None
ivy.IvyStop.restype = None
ivy.IvyMainLoop.restype = None
ivy.IvyGetApplicationName.argtypes = [ctypes.c_void_p]
ivy.IvyGetApplicationName.restype = ctypes.c_char_p
ivy.IvyGetApplicationList.argtypes = [ctypes.c_char_p]
ivy.IvyGetApplicationList.restype = ctypes.c_char_p
# Variadic: no argtypes, explicit ctypes values at each call.
ivy.IvyBindMsg.restype = ctypes.c_void_p
ivy.IvySendMsg.restype = ctypes.c_int

connected = threading.Event()
disconnected = threading.Event()
got_message = threading.Event()
received = []


@AppCallback
def on_app(app, _data, event):
    name = ivy.IvyGetApplicationName(app)
    if name == b"RProbe":
        if event == 0:
            connected.set()
        elif event == 1:
            disconnected.set()


@MsgCallback
def on_msg(_app, _data, argc, argv):
    received.append([argv[i] for i in range(argc)])
    got_message.set()


@DieCallback
def on_die(_app, _data, _id):
    pass


_pending = b""


def read_line_with(proc, needle, timeout):
    """Reads the probe's stdout (unbuffered) until a line containing needle."""
    global _pending
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while True:
        while b"\n" in _pending:
            line, _pending = _pending.split(b"\n", 1)
            print("[probe]", line.decode(errors="replace"), flush=True)
            if needle in line:
                return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return False
        chunk = os.read(fd, 65536)
        if not chunk:
            return False
        _pending += chunk


def main():
    ivy.IvyInit(b"PyCtypes", b"PyCtypes Ready", on_app, None, on_die, None)
    binding = ivy.IvyBindMsg(on_msg, None, ctypes.c_char_p(b"^from-probe (.*)$"))
    check(binding is not None, "IvyBindMsg returns a handle")
    ivy.IvyStart(BUS.encode())
    loop = threading.Thread(target=ivy.IvyMainLoop, daemon=True)
    loop.start()

    probe = subprocess.Popen([PROBE, "-b", BUS, "-n", "RProbe", "^from-py (.*)$"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    try:
        check(connected.wait(TIMEOUT), "the Rust ivyprobe connects")
        check(ivy.IvyGetApplicationList(b",") == b"RProbe,", "IvyGetApplicationList")
        # IvySendMsg from this (non-loop) thread.
        count = ivy.IvySendMsg(ctypes.c_char_p(b"%s"), ctypes.c_char_p(b"from-py hello there"))
        check(count == 1, "IvySendMsg reaches the probe's subscription")
        check(read_line_with(probe, b"PyCtypes sent [0] 'hello there'", TIMEOUT),
              "the probe prints the captured argument")
        probe.stdin.write(b"from-probe general kenobi\n")
        probe.stdin.flush()
        check(got_message.wait(TIMEOUT), "the Python callback is called")
        check(received[:1] == [[b"general kenobi"]], "with the captured argument")
        probe.stdin.close()  # end of input: the probe quits
        check(disconnected.wait(TIMEOUT), "the probe's departure is seen")
        check(probe.wait(TIMEOUT) == 0, "the probe exits cleanly")
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
        ivy.IvyStop()
        loop.join(TIMEOUT)
    check(not loop.is_alive(), "IvyStop ends IvyMainLoop")
    print("python_ctypes: %d passed, %d failed" % (passed, failed))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
