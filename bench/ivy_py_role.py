#!/usr/bin/env python3
"""ivy-bench roles written with ivy-python 4.0 (ivy.std_api), for the comparison
run of `ivy-bench --scenario python`.

    ivy_py_role.py --role sub  --bus B --index I --count N [--regexps R] [--ack A]
    ivy_py_role.py --role send --bus B --subs K --count N [--size S] [--regexps R] [--window W]

Same protocol as the Rust and C roles (see src/bin/ivy-bench/roles.rs): subscriber I
sends `ack I COUNT` every A messages and on every connection; the sender keeps at
most W messages beyond the slowest acknowledgement. Message: `topicNNNN ` then a body
of 10 digits (the sequence number) and, for larger sizes, a space and filler. Each
role prints one `IVYBENCH role=... key=value ...` line at the end.
"""

import logging
import os
import resource
import sys
import threading
import time

K = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1


def hash64(data: bytes) -> int:
    """The checksum of one body (same as util::hash64 in ivy-bench)."""
    h = 0xCBF29CE484222325 ^ len(data)
    for i in range(0, len(data), 8):
        w = int.from_bytes(data[i:i + 8].ljust(8, b"\0"), "little")
        h = ((h ^ w) * K) & MASK
        h ^= h >> 32
    return h


def fill_body(size: int, seq: int) -> str:
    digits = "%010d" % (seq % 10**10)
    if size <= 10:
        return digits[:size]
    base = seq % 26
    filler = "".join(chr(97 + (base + i % 26) % 26) for i in range(size - 11))
    return digits + " " + filler


def now_ns() -> int:
    return time.monotonic_ns()  # CLOCK_MONOTONIC on Linux, as the other roles


def emit(role: str, **fields) -> None:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    fields.update(
        cpu_user_us=int(ru.ru_utime * 1e6),
        cpu_sys_us=int(ru.ru_stime * 1e6),
        maxrss_kb=ru.ru_maxrss,
        vcsw=ru.ru_nvcsw,
        ivcsw=ru.ru_nivcsw,
    )
    text = " ".join("%s=%s" % (k, v) for k, v in fields.items())
    sys.stdout.write("IVYBENCH role=%s %s\n" % (role, text))
    sys.stdout.flush()


def fail(role: str, why: str) -> None:
    sys.stdout.write("IVYBENCH role=%s error=%s\n" % (role, why.replace(" ", "_")))
    sys.stdout.flush()
    os._exit(3)


def leave(api) -> None:
    """IvyStop, bounded: the process exits even if a server thread lingers."""
    t = threading.Thread(target=api.IvyStop, daemon=True)
    t.start()
    t.join(2.0)
    os._exit(0)


def sub(a, api) -> None:
    index, count = int(a["index"]), int(a["count"])
    regexps, ack = max(1, int(a.get("regexps", 1))), max(1, int(a.get("ack", 1024)))
    st = {"count": 0, "checksum": 0, "t_first": 0, "t_last": 0, "errors": 0}
    lock = threading.Lock()
    done = threading.Event()

    def on_msg(client, *groups):
        with lock:
            now = now_ns() if st["count"] in (0, count - 1) else 0
            if done.is_set():
                return
            body = groups[0].encode() if groups else b""
            if body[:10] != b"%010d" % st["count"]:
                st["errors"] += 1
            if st["count"] == 0:
                st["t_first"] = now
            st["count"] += 1
            if now:
                st["t_last"] = now
            st["checksum"] = (st["checksum"] + hash64(body)) & MASK
            c = st["count"]
        if c % ack == 0 or c == count:
            api.IvySendMsg("ack %d %d" % (index, c))
        if c == count:
            done.set()

    def on_decoy(client, *groups):
        with lock:
            st["errors"] += 1

    def on_cnx(client, event):
        if event == api.IvyApplicationConnected:
            with lock:
                c = st["count"]
            api.IvySendMsg("ack %d %d" % (index, c))

    api.IvyInit("bench-sub-%d" % index, None, 0, on_cnx, lambda *x: None)
    for r in range(regexps):
        api.IvyBindMsg(on_msg if r == regexps - 1 else on_decoy, "^topic%04d (.*)" % r)
    api.IvyStart(a["bus"])
    if not done.wait(int(a.get("timeout", 60))):
        fail("sub", "timeout")
    with lock:
        emit("sub", index=index, count=st["count"], checksum="%016x" % st["checksum"], errors=st["errors"],
             t_first=st["t_first"], t_last=st["t_last"])
    leave(api)


def send(a, api) -> None:
    subs, count = int(a["subs"]), int(a["count"])
    size, regexps = int(a.get("size", 20)), max(1, int(a.get("regexps", 1)))
    window = int(a.get("window", 65536))
    deadline = time.monotonic() + int(a.get("timeout", 60))
    topic = "topic%04d" % (regexps - 1)
    acks = [-1] * subs
    cv = threading.Condition()
    events = {"disconnected": 0}

    def on_ack(client, i, c):
        with cv:
            i, c = int(i), int(c)
            if 0 <= i < subs:
                acks[i] = max(acks[i], c)
            cv.notify_all()

    def on_cnx(client, event):
        if event == api.IvyApplicationDisconnected:
            events["disconnected"] += 1

    def wait_min(want):
        with cv:
            while min(acks) < want:
                if time.monotonic() > deadline:
                    fail("send", "acks_stuck_%s" % acks)
                cv.wait(0.05)

    api.IvyInit("bench-sender", None, 0, on_cnx, lambda *x: None)
    api.IvyBindMsg(on_ack, "^ack ([0-9]+) ([0-9]+)")
    api.IvyStart(a["bus"])
    wait_min(0)
    matched = checksum = stalls = 0
    body_size = max(10, size - len(topic) - 1)
    t_start = now_ns()
    for seq in range(count):
        if seq - min(acks) >= window:
            stalls += 1
            wait_min(seq - window + 1)
        body = fill_body(body_size, seq)
        checksum = (checksum + hash64(body.encode())) & MASK
        matched += api.IvySendMsg(topic + " " + body)
    t_sent = now_ns()
    wait_min(count)
    t_acked = now_ns()
    emit("send", mode="thread", sent=count, matched=matched, checksum="%016x" % checksum, t_start=t_start,
         t_sent=t_sent, t_acked=t_acked, stalls=stalls, fifo_full=0, congestion=0,
         disconnected=events["disconnected"])
    leave(api)


def main() -> None:
    argv = sys.argv[1:]
    if len(argv) < 2 or argv[0] != "--role":
        sys.exit(__doc__)
    role, rest = argv[1], argv[2:]
    a = {rest[i][2:]: rest[i + 1] for i in range(0, len(rest) - 1, 2)}
    logging.getLogger("Ivy").setLevel(logging.ERROR)
    logging.disable(logging.WARNING)
    from ivy import std_api as api

    threading.Timer(int(a.get("timeout", 60)) + 2, lambda: fail(role, "timeout")).start()
    if role == "sub":
        sub(a, api)
    elif role == "send":
        send(a, api)
    else:
        fail(role, "unknown_role")


if __name__ == "__main__":
    main()
