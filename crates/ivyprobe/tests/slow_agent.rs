//! Slow is not dead (issue 14): an agent suspended (SIGSTOP, as Ctrl-Z does) for
//! a minute while X sends to it. Its receive window shuts, its kernel still
//! answers X's window probes: X keeps it, whatever its liveness setting (here a
//! detection time of 3 s), queues what it cannot send (under its queue cap), and
//! once the agent resumes it gets every message, in order.

use ivy_testkit as common;

use common::{Process, TIMEOUT, agent, app_events, bus_port, next_app_event, send_lines};
use ivy::{AppEvent, Limits, Liveness};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the agent stays suspended.
const STOPPED: Duration = Duration::from_secs(60);
/// X's liveness: a vanished host would be detected after 3 s.
const LIVENESS: Liveness = Liveness { idle: Duration::from_secs(1), interval: Duration::from_secs(1), retries: 2 };
/// Messages sent at once when the agent stops (more than the kernel's buffers
/// take, up to 32 MiB of receive buffer here: the window shuts), then one every
/// [`PERIOD`]; this long each. All of them fit in X's queue cap ([`QUEUE_CAP`]),
/// which is X's agent-wide output budget too (`max_output_memory`).
const BURST: usize = 10_000;
const QUEUE_CAP: usize = 128 << 20;
const PERIOD: Duration = Duration::from_millis(20);
const MSG_LEN: usize = 4000;

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([sig, &child.id().to_string()]).status().expect("kill").success();
    assert!(ok, "kill {sig}");
}

#[test]
fn a_stopped_agent_is_kept_and_served_after_it_resumes() {
    let x = agent("X", None);
    x.set_liveness(Some(LIVENESS));
    x.set_limits(Limits { queue_cap: QUEUE_CAP, max_output_memory: QUEUE_CAP, ..Limits::default() });
    let apps = app_events(&x);
    let port = bus_port();
    let x = common::Running::start(x, port);
    let mut command = Command::new(env!("CARGO_BIN_EXE_ivyprobe"));
    command.args(["-b", &format!("127.255.255.255:{port}"), "-n", "SLEEPER", "^tick (\\d+) (.*)"]);
    // Killed and reaped however the test ends.
    let mut child = Process::spawn(&mut command, Stdio::null());
    let (tx, lines) = mpsc::channel();
    send_lines(child.child.stdout.take().expect("stdout"), tx);
    let (sleeper, name) = next_app_event(&apps, AppEvent::Connected);
    assert_eq!(name, b"SLEEPER");

    signal(&child.child, "-STOP");
    let start = Instant::now();
    let mut sent = 0;
    let mut congested = None;
    while start.elapsed() < STOPPED {
        let pause = if sent < BURST { Duration::ZERO } else { PERIOD };
        let mut m = format!("tick {sent} ").into_bytes();
        m.resize(MSG_LEN, b'z');
        assert_eq!(x.send(&m), Ok(1), "message {sent}: SLEEPER's subscription is gone");
        sent += 1;
        while let Ok((peer, _, event)) = apps.recv_timeout(pause) {
            assert_eq!(peer, sleeper);
            match event {
                AppEvent::Congestion => congested = congested.or(Some(start.elapsed())),
                other => panic!("{other:?} for the stopped agent after {:?}", start.elapsed()),
            }
        }
    }
    eprintln!("{sent} messages sent in {STOPPED:?}; X saw the window shut after {congested:?}");

    signal(&child.child, "-CONT");
    let mut k = 0;
    while k < sent {
        let line = lines.recv_timeout(TIMEOUT).unwrap_or_else(|_| panic!("message {k} of {sent} never printed"));
        if line.starts_with(b"X sent") {
            let filler = "z".repeat(MSG_LEN - format!("tick {k} ").len());
            assert_eq!(String::from_utf8_lossy(&line), format!("X sent [0] '{k}' '{filler}'\n"));
            k += 1;
        }
    }
    assert!(congested.is_some(), "the window shut: X's socket refused bytes");
    let (peer, _) = next_app_event(&apps, AppEvent::Decongestion);
    assert_eq!(peer, sleeper);
    assert!(x.peers().contains(&sleeper));
    assert_eq!(x.send(b"tick 999999 after"), Ok(1));
}
