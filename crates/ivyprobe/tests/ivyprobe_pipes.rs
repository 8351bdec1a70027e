//! Two `ivyprobe` processes on a private loopback bus, driven through pipes:
//! connection events, a capture, direct messages, ping / pong, die, and end of input.

use ivy_testkit::{Process, TIMEOUT, send_lines};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

/// A bus string private to this test process (`offset` separates the tests in it).
fn private_bus(offset: u32) -> String {
    let port = 20000 + (std::process::id() * 7 + offset) % 20000;
    format!("127.255.255.255:{port}")
}

/// One running ivyprobe: its stdin and the lines it prints. Killed and reaped on drop.
struct Probe {
    name: String,
    process: Process,
    lines: Receiver<Vec<u8>>,
    seen: Vec<String>,
}

impl Probe {
    /// Starts `ivyprobe -b BUS -n NAME EXTRA...` (EXTRA: more options, then regexps).
    fn spawn(name: &str, bus: &str, extra: &[&str]) -> Probe {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ivyprobe"));
        let mut process = Process::spawn(command.args(["-b", bus, "-n", name]).args(extra), Stdio::inherit());
        let (tx, lines) = channel();
        send_lines(process.child.stdout.take().expect("stdout"), tx);
        Probe { name: name.to_string(), process, lines, seen: Vec::new() }
    }

    fn send(&mut self, line: &str) {
        self.process.write_line(line.as_bytes()).expect("write to ivyprobe");
    }

    /// Waits for a printed line satisfying `pred`; returns it.
    fn expect(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let line = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line)).into_owned();
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("{}: no line {what} within {TIMEOUT:?}; printed so far: {:#?}", self.name, self.seen),
            }
        }
    }

    fn expect_line(&mut self, exact: &str) -> String {
        self.expect(&format!("{exact:?}"), |l| l == exact)
    }

    fn expect_prefix(&mut self, prefix: &str) -> String {
        self.expect(&format!("starting with {prefix:?}"), |l| l.starts_with(prefix))
    }

    /// Waits (bounded) for the process to exit by itself.
    fn wait_exit(&mut self) -> ExitStatus {
        let name = &self.name;
        self.process.exit_within(TIMEOUT).unwrap_or_else(|| panic!("{name} did not exit within {TIMEOUT:?}"))
    }
}

#[test]
fn two_probes_exchange_through_pipes() {
    let bus = private_bus(0);
    let (a_name, b_name) = ("PROBE_A", "PROBE_B");
    let mut a = Probe::spawn(a_name, &bus, &["-s", "^hello (.*)"]);
    a.expect_line("-> bound [0] '^hello (.*)'");
    // Its hello is out before B listens: B does not dial A as A dials B.
    a.expect_prefix("Broadcasting on network");
    let mut b = Probe::spawn(b_name, &bus, &[]);

    a.expect_prefix(&format!("{b_name} connected from "));
    b.expect_prefix(&format!("{a_name} connected from "));

    // A capture, counted by the sender.
    b.send("hello world");
    b.expect_line("-> Sent to 1 peer(s)");
    a.expect_line(&format!("{b_name} sent [0] 'world'"));

    // A line nobody subscribes to.
    b.send("nobody listens");
    b.expect_line("-> Sent to 0 peer(s)");

    // Queries.
    a.send(".who");
    a.expect_line(&format!("-> 1 peer(s): '{b_name}'"));
    a.send(".where PROBE_B");
    a.expect_prefix(&format!("-> {b_name} on "));
    a.send(".showbind");
    a.expect_line("-> 1 binding(s)");
    a.expect_line("-> [0] '^hello (.*)'");

    // A binding added from stdin, then a bad one.
    b.send(".bind ^num=([0-9]+) (.*)$");
    b.expect_line("-> bound [0] '^num=([0-9]+) (.*)$'");
    b.send(".bind (unclosed");
    b.expect_prefix("-> bad regexp '(unclosed' at offset ");
    a.expect_line(&format!("{b_name} bind [0] '^num=([0-9]+) (.*)$'")); // -s shows it
    a.send("num=42 the answer");
    a.expect_line("-> Sent to 1 peer(s)");
    b.expect_line(&format!("{a_name} sent [0] '42' 'the answer'"));

    // Direct message and ping.
    a.send(".direct PROBE_B 7 some direct text");
    a.expect_line(&format!("-> direct sent to {b_name}"));
    b.expect_line(&format!("{a_name} direct [7] 'some direct text'"));
    a.send(".ping PROBE_B");
    let pong = a.expect_prefix(&format!("{b_name} pong "));
    assert!(pong.ends_with(" us"), "{pong}");

    // Die: B reports it, leaves, exits 0; A sees it go.
    a.send(".die PROBE_B");
    b.expect_line(&format!("{a_name} die received"));
    let status = b.wait_exit();
    assert!(status.success(), "PROBE_B exited with {status}");
    a.expect_line(&format!("{b_name} disconnected"));

    // End of input quits.
    a.process.stdin.take();
    let status = a.wait_exit();
    assert!(status.success(), "PROBE_A exited with {status}");
}

#[test]
fn commands_without_peers_and_quit() {
    let bus = private_bus(1);
    let mut p = Probe::spawn("PROBE_ALONE", &bus, &[]);
    p.send("hello");
    p.expect_line("-> Sent to 0 peer(s)");
    p.send(".bind ^x(.*)");
    p.expect_line("-> bound [0] '^x(.*)'");
    p.send(".unbind 0");
    p.expect_line("-> unbound [0]");
    p.send(".unbind 0");
    p.expect_line("-> no binding [0]");
    p.send(".ping NOBODY");
    p.expect_line("-> no application NOBODY");
    p.send(".frobnicate");
    p.expect_line("-> unknown command: .frobnicate");
    p.send(".showbind");
    p.expect_line("-> 0 binding(s)");
    p.send(".quit");
    let status = p.wait_exit();
    assert!(status.success(), "exited with {status}");
}
