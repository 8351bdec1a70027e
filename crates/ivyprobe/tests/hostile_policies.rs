//! The policies against unwanted peers, through the Rust API and through the
//! environment (on `ivyprobe` child processes, so that the variables do not leak
//! into other tests):
//! - `Bus::set_allow_list` / `IVY_ALLOW`: hosts outside the list are refused at
//!   accept (closed before any byte) and their hellos ignored (no connection);
//! - `Bus::set_die_policy(DiePolicy::Ignore)` / `IVY_IGNORE_DIE=1`: a remote Die
//!   runs the die callback and nothing else.
//!
//! Every connection here comes from 127.0.0.1, so "outside the list" is a list that
//! does not hold loopback.

use ivy_testkit as common;

use common::*;
use ivy::{AllowList, DiePolicy};
use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// Nobody on this host: loopback is not in it.
const ELSEWHERE: &str = "10.0.0.0/8, fe80::/10";

/// Checks that the agent at `port` refuses a connection from us: closed at once,
/// no handshake.
#[track_caller]
fn refused(port: u16) {
    let mut raw = Raw::connect(port);
    raw.expect_closed();
}

/// Checks that a hello to `bus_port` pointing at a fresh listener gets no connection.
#[track_caller]
fn hello_ignored(bus_port: u16) {
    let l = RawListener::new();
    l.hello(bus_port, "9:9:9", "KNOCK");
    assert!(l.accept_within(Duration::from_millis(300)).is_none(), "the agent answered a refused hello");
}

#[test]
fn allow_list_through_the_api() {
    let x = agent("X", None);
    x.set_allow_list(AllowList::parse(ELSEWHERE).expect("list"));
    let port = bus_port();
    let x = Running::start(x, port);
    refused(x.port());
    hello_ignored(port);
    assert!(x.peers().is_empty());
    // Loopback allowed: both ways work again.
    x.set_allow_list(AllowList::parse("127.0.0.0/8").expect("list"));
    let mut raw = Raw::connect(x.port());
    raw.read_handshake();
    raw.ping_pong(1);
    let l = RawListener::new();
    l.hello(port, "9:9:9", "KNOCK");
    l.accept().read_handshake();
    // The empty list admits everyone (ivy-c).
    x.set_allow_list(AllowList::parse("").expect("list"));
    Raw::connect(x.port()).read_handshake();
    assert!(AllowList::parse("10.0.0.0/33").is_err());
}

#[test]
fn die_policy_through_the_api() {
    let x = agent("X", None);
    x.set_die_policy(DiePolicy::Ignore);
    let (tx, dies) = mpsc::channel();
    x.on_die(move |_, _, id| {
        let _ = tx.send(id);
    });
    let x = Running::start(x, bus_port());
    let mut raw = Raw::connect(x.port());
    raw.read_handshake();
    raw.send(b"6 1\x02KILLER\n5 0\x02\n8 7\x02\n");
    assert_eq!(recv(&dies, "the die callback"), 7);
    // Still there: the connection is open and answered, the loop runs.
    raw.ping_pong(1);
    raw.expect_quiet(50);
    assert!(!x.finished());
    assert_eq!(x.peers().len(), 1);
    // Obey (the default): Bye, close, and the loop returns.
    x.set_die_policy(DiePolicy::Obey);
    raw.send(b"8 0\x02\n");
    assert_eq!(recv(&dies, "the die callback"), 0);
    raw.expect(b"0 0\x02\n");
    raw.expect_eof();
    wait_until("the loop to return", || x.finished());
}

/// An `ivyprobe` with `env`, on a private bus; killed and reaped on drop.
struct Probe {
    process: Process,
    lines: Receiver<Vec<u8>>,
    bus_port: u16,
}

impl Probe {
    fn spawn(env: &[(&str, &str)]) -> Probe {
        let bus_port = bus_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ivyprobe"));
        cmd.args(["-b", &bus_addr(bus_port), "-n", "GUARD"]).env_remove("IVY_ALLOW").env_remove("IVY_IGNORE_DIE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut process = Process::spawn(&mut cmd, Stdio::piped());
        let (tx, lines) = mpsc::channel();
        if let Some(out) = process.child.stdout.take() {
            send_lines(out, tx.clone());
        }
        if let Some(err) = process.child.stderr.take() {
            send_lines(err, tx);
        }
        Probe { process, lines, bus_port }
    }

    /// Waits for a line (stdout or stderr) starting with `prefix`.
    #[track_caller]
    fn expect_prefix(&self, prefix: &[u8]) -> Vec<u8> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| panic!("no line {}", show(prefix)));
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// The probe's TCP listening port, found through /proc (it may refuse us all),
    /// once its bus socket is bound too (so that hellos reach it).
    fn tcp_port(&self) -> u16 {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let sockets = sockets_of(self.process.child.id());
            let udp = find_socket(&sockets, &["/proc/net/udp", "/proc/net/udp6"], None);
            if let (Some(port), Some(bus)) =
                (find_socket(&sockets, &["/proc/net/tcp", "/proc/net/tcp6"], Some("0A")), udp)
                && bus == self.bus_port
            {
                return port;
            }
            assert!(Instant::now() < deadline, "the probe never listened");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The socket inodes of a process.
fn sockets_of(pid: u32) -> HashSet<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return HashSet::new() };
    dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string))
        .collect()
}

/// The local port of the first socket among `inodes` listed in `tables`
/// (`/proc/net/tcp`...), in TCP state `state` (`0A`: listening) if given.
fn find_socket(inodes: &HashSet<String>, tables: &[&str], state: Option<&str>) -> Option<u16> {
    for file in tables {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(st), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else { continue };
            if inodes.contains(*inode) && state.is_none_or(|s| s == *st) {
                return local.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            }
        }
    }
    None
}

#[test]
fn ivy_allow_environment_variable() {
    let p = Probe::spawn(&[("IVY_ALLOW", ELSEWHERE)]);
    let port = p.tcp_port();
    refused(port);
    hello_ignored(p.bus_port);
    // Loopback in the list: served, both ways.
    let p = Probe::spawn(&[("IVY_ALLOW", "192.168.0.0/16,127.0.0.1")]);
    let mut raw = Raw::connect(p.tcp_port());
    raw.read_handshake();
    raw.ping_pong(1);
    let l = RawListener::new();
    l.hello(p.bus_port, "9:9:9", "KNOCK");
    l.accept().read_handshake();
    // A list that does not parse is reported and ignored: everyone is admitted.
    let p = Probe::spawn(&[("IVY_ALLOW", "300.1.1.1")]);
    p.expect_prefix(b"IVY_ALLOW ignored: bad address");
    let mut raw = Raw::connect(p.tcp_port());
    raw.read_handshake();
    raw.ping_pong(1);
}

#[test]
fn ivy_ignore_die_environment_variable() {
    let mut p = Probe::spawn(&[("IVY_IGNORE_DIE", "1")]);
    let mut raw = Raw::connect(p.tcp_port());
    raw.read_handshake();
    raw.send(b"6 1\x02KILLER\n5 0\x02\n8 0\x02\n");
    p.expect_prefix(b"KILLER die received");
    raw.ping_pong(1);
    raw.expect_quiet(50);
    assert!(p.process.child.try_wait().expect("try_wait").is_none(), "the probe exited on an ignored Die");
    // IVY_IGNORE_DIE=0 is the default: the probe leaves the bus and exits 0.
    let mut p = Probe::spawn(&[("IVY_IGNORE_DIE", "0")]);
    let mut raw = Raw::connect(p.tcp_port());
    raw.read_handshake();
    raw.send(b"6 1\x02KILLER\n5 0\x02\n8 0\x02\n");
    p.expect_prefix(b"KILLER die received");
    raw.expect(b"0 0\x02\n");
    raw.expect_eof();
    let status = p.process.exit_within(TIMEOUT).expect("the probe did not exit on Die");
    assert!(status.success(), "{status}");
}
