#!/usr/bin/env python3
"""Python benchmark: our package (ivy-rs) side by side with ivy-python 4.0, in one run.

    python_bench.py --ours PYTHON --ref PYTHON [--runs K] [--messages N] [--mesh M] [--port-base P]

PYTHON is the interpreter of a venv holding each package (both are the import
package `ivy`, so they live in separate venvs). Every agent is a process of its
own, running this file as a role with `ivy.std_api` only, so the two packages
run exactly the same Python code. Scenarios, each run K times (median reported):

- 1to1: a Python sender sends N messages of 20 B (`topic0000 ` + 10 digits) as
  fast as it can; a Python subscriber bound to `^topic0000 (.*)` checks each
  sequence number. msgs/s = N / (last reception - first send);
- idle: an agent connected to one peer, in IvyMainLoop: its context switches
  (all threads) over 3 s, and its RSS;
- mesh: M agents started together; the time until each has M-1 distinct peers,
  and, 10.5 s after the start, the links missing and the duplicate links (a
  peer listed twice).

Everything stays on loopback, on private bus ports (never 2010). Prints a
Markdown table; `--json FILE` also writes every run.
"""

import os
import sys
import time

# The roles import nothing else (argparse, json, statistics, subprocess are the
# orchestrator's), so that an idle agent's memory is the package's.

TOPIC = "topic0000 "


def now() -> float:
    return time.monotonic()


def report(**fields) -> None:
    """One line: RESULT key=value ... (numbers and booleans)."""
    sys.stdout.write("RESULT " + " ".join("%s=%r" % kv for kv in fields.items()) + "\n")
    sys.stdout.flush()


def parse_report(line: str) -> dict:
    import ast

    return {k: ast.literal_eval(v) for k, v in (f.split("=", 1) for f in line.split()[1:])}


# Roles (run with the interpreter of the package under test)


def role_sub(bus: str, count: int) -> None:
    import threading

    from ivy import std_api as api

    state = {"n": 0, "errors": 0, "t_last": 0.0}
    done = threading.Event()

    def on_msg(client, body):
        n = state["n"]
        if int(body) != n:
            state["errors"] += 1
        state["n"] = n + 1
        if n + 1 == count:
            state["t_last"] = now()
            done.set()

    api.IvyInit("bench-sub")
    api.IvyBindMsg(on_msg, "^topic0000 (.*)")
    api.IvyStart(bus)
    ok = done.wait(120)
    report(role="sub", count=state["n"], errors=state["errors"], t_last=state["t_last"], ok=ok)
    os._exit(0)


def role_send(bus: str, count: int) -> None:
    from ivy import std_api as api

    api.IvyInit("bench-send")
    api.IvyStart(bus)
    deadline = now() + 30
    while now() < deadline:
        sub = api.IvyGetApplication("bench-sub")
        if sub is not None and api.IvyGetApplicationMessages(sub):
            break
        time.sleep(0.01)
    bodies = ["%s%010d" % (TOPIC, i) for i in range(count)]
    matched = 0
    t_first = now()
    for body in bodies:
        matched += api.IvySendMsg(body)
    t_sent = now()
    report(role="send", matched=matched, t_first=t_first, t_sent=t_sent)
    time.sleep(120)  # the orchestrator kills us once the subscriber is done


def role_idle(bus: str, name: str) -> None:
    from ivy import std_api as api

    api.IvyInit(name)
    api.IvyStart(bus)
    report(role="idle", pid=os.getpid())
    api.IvyMainLoop()


def role_mesh(bus: str, index: int, agents: int) -> None:
    from ivy import std_api as api

    sys.stdin.readline()  # "go"
    t_go = now()
    api.IvyInit("mesh-%02d" % index)
    api.IvyStart(bus)
    t_full = 0.0
    deadline = t_go + 10
    while now() < deadline:
        if len(set(api.IvyGetApplicationList())) == agents - 1:
            t_full = now()
            break
        time.sleep(0.002)
    # Every agent reports at the same time, when all are still there.
    time.sleep(max(0.0, t_go + 10.5 - now()))
    names = api.IvyGetApplicationList()
    report(role="mesh", t_go=t_go, t_full=t_full, distinct=len(set(names)), listed=len(names))
    time.sleep(120)  # the orchestrator kills us


# Orchestrator


def spawn(python: str, *args: str, stdin=None):
    import subprocess

    return subprocess.Popen([python, os.path.abspath(__file__), "--role", *args], stdout=subprocess.PIPE,
                            stdin=stdin, stderr=subprocess.DEVNULL, text=True)


def result(proc, timeout: float = 150) -> dict:
    deadline = now() + timeout
    assert proc.stdout is not None
    while now() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("RESULT "):
            return parse_report(line)
    raise RuntimeError("no result from %s" % proc.args)


def kill(*procs) -> None:
    for p in procs:
        p.kill()
        p.wait(10)


def run_1to1(python: str, bus: str, count: int) -> dict:
    sub = spawn(python, "sub", bus, str(count))
    time.sleep(0.3)
    send = spawn(python, "send", bus, str(count))
    try:
        s, r = result(send), result(sub)
    finally:
        kill(sub, send)
    ok = r["ok"] and r["count"] == count and r["errors"] == 0 and s["matched"] == count
    return {"ok": ok, "msgs_per_s": count / (r["t_last"] - s["t_first"]) if ok else 0.0}


def proc_stats(pid: int) -> tuple:
    switches = 0
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, task)) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    return switches, rss


def run_idle(python: str, bus: str, secs: float) -> dict:
    a = spawn(python, "idle", bus, "idle-a")
    pid = result(a)["pid"]
    b = spawn(python, "idle", bus, "idle-b")
    try:
        result(b)
        time.sleep(1.0)
        s0, _ = proc_stats(pid)
        time.sleep(secs)
        s1, rss = proc_stats(pid)
    finally:
        kill(a, b)
    return {"ok": True, "wakeups_per_s": (s1 - s0) / secs, "rss_kib": rss}


def run_mesh(python: str, bus: str, agents: int) -> dict:
    import subprocess

    procs = [spawn(python, "mesh", bus, str(i), str(agents), stdin=subprocess.PIPE) for i in range(agents)]
    try:
        time.sleep(1.5)  # interpreters loaded, waiting for "go"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        rs = [result(p, 30) for p in procs]
    finally:
        kill(*procs)
    t_go = min(r["t_go"] for r in rs)
    full = all(r["t_full"] for r in rs)
    missing = sum(agents - 1 - r["distinct"] for r in rs)
    duplicates = sum(r["listed"] - r["distinct"] for r in rs)
    return {"ok": full and duplicates == 0, "full_mesh_s": (max(r["t_full"] for r in rs) - t_go) if full else None,
            "missing": missing, "duplicates": duplicates}


def median(runs: list, key: str):
    import statistics

    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--role":
        role, args = sys.argv[2], sys.argv[3:]
        if role == "sub":
            role_sub(args[0], int(args[1]))
        elif role == "send":
            role_send(args[0], int(args[1]))
        elif role == "idle":
            role_idle(args[0], args[1])
        elif role == "mesh":
            role_mesh(args[0], int(args[1]), int(args[2]))
        return
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--ref", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--mesh", type=int, default=20)
    ap.add_argument("--idle-secs", type=float, default=3.0)
    ap.add_argument("--port-base", type=int, default=40000 + os.getpid() % 15000)
    ap.add_argument("--json")
    a = ap.parse_args()
    ports = iter(range(a.port_base, a.port_base + 1000))
    runs = {(s, k): [] for s in ("1to1", "idle", "mesh") for k in ("ours", "ref")}
    for i in range(a.runs):  # rounds: each scenario once per round, ours and ref back to back
        for kind, python in (("ours", a.ours), ("ref", a.ref)):
            bus = lambda: "127.255.255.255:%d" % next(ports)  # noqa: E731
            runs[("1to1", kind)].append(run_1to1(python, bus(), a.messages))
            runs[("idle", kind)].append(run_idle(python, bus(), a.idle_secs))
            runs[("mesh", kind)].append(run_mesh(python, bus(), a.mesh))
            sys.stderr.write("round %d %s: %s\n" % (i + 1, kind, {s: runs[(s, kind)][-1] for s in ("1to1", "idle", "mesh")}))
    rows = [
        ("1 → 1, 20 B, Python sender and subscriber (msgs/s)", "1to1", "msgs_per_s", "%.0f"),
        ("idle: wake-ups per second", "idle", "wakeups_per_s", "%.1f"),
        ("idle: RSS (KiB)", "idle", "rss_kib", "%.0f"),
        ("%d agents: time to the full mesh (s)" % a.mesh, "mesh", "full_mesh_s", "%.3f"),
        ("%d agents: links missing after 10 s" % a.mesh, "mesh", "missing", "%.0f"),
        ("%d agents: duplicate links" % a.mesh, "mesh", "duplicates", "%.0f"),
    ]
    print("| scenario (median of %d runs) | ivy-rs | ivy-python 4.0 | ratio |" % a.runs)
    print("|---|---|---|---|")
    for label, scen, key, fmt in rows:
        ours, ref = median(runs[(scen, "ours")], key), median(runs[(scen, "ref")], key)
        show = lambda v: "–" if v is None else fmt % v  # noqa: E731
        ratio = "×%.1f" % (ours / ref) if ours and ref else ""
        print("| %s | %s | %s | %s |" % (label, show(ours), show(ref), ratio))
    failed = [k for k, v in runs.items() if k[1] == "ours" and not all(r["ok"] for r in v)]
    if a.json:
        import json

        with open(a.json, "w") as f:
            json.dump({"%s/%s" % k: v for k, v in runs.items()}, f, indent=1)
    if failed:
        print("\nruns of ours that failed their checks: %s" % failed)
        sys.exit(1)


if __name__ == "__main__":
    main()
