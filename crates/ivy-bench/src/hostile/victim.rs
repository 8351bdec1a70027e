//! The agent under attack, a process of its own: ours (`ivy-bench --role victim`,
//! a `Bus` with default limits), or ivy-python 4.0's (`bench/hostile_victim.py`).
//! Either is named VICTIM, binds `^good (.*)$` and answers each such message with
//! `echo <what it captured>`. Its memory is read from `/proc`.

use crate::args::Args;
use crate::roles::{join_and_run, stop_on_stdin_eof};
use ivy::Bus;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Which implementation plays the victim.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// Our library, through this binary's `victim` role.
    Rust,
    /// ivy-python: this interpreter runs `bench/hostile_victim.py`.
    Python(PathBuf),
}

impl Kind {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Kind::Rust => "ivy-rs",
            Kind::Python(_) => "ivy-python",
        }
    }
}

/// The `victim` role: the agent attacked, until its standard input closes.
pub(crate) fn role(a: &Args) -> Result<(), String> {
    let bus_spec = a.str("bus")?.to_string();
    let bus = Bus::new(b"VICTIM", None);
    bus.bind(b"^good (.*)$", |bus, _, args| {
        let what = args.first().copied().unwrap_or_default();
        let _ = bus.send(&[b"echo ".as_slice(), what].concat());
    });
    stop_on_stdin_eof(&bus, |_| {});
    join_and_run(&bus, &bus_spec)
}

/// A running victim; killed when dropped.
pub(crate) struct Victim {
    child: Child,
}

impl Victim {
    /// Starts the victim `kind` on the bus at `bus_port` (loopback broadcast).
    pub(crate) fn spawn(kind: &Kind, bus_port: u16) -> Result<Victim, String> {
        let bus = format!("127.255.255.255:{bus_port}");
        let mut command = match kind {
            Kind::Rust => {
                let exe = std::env::current_exe().map_err(|e| e.to_string())?;
                let mut c = Command::new(exe);
                c.args(["--role", "victim", "--bus", &bus]);
                c
            }
            Kind::Python(py) => {
                let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/hostile_victim.py");
                let mut c = Command::new(py);
                c.arg(script).args(["--bus", &bus]);
                c
            }
        };
        let child = command
            .env_remove("IVY_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn the victim: {e}"))?;
        Ok(Victim { child })
    }

    /// Whether the process still runs.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Resident memory now, in KiB.
    pub(crate) fn rss_kb(&self) -> u64 {
        self.status("VmRSS:")
    }

    /// Peak resident memory since the last [`Victim::reset_peak`], in KiB.
    pub(crate) fn peak_kb(&self) -> u64 {
        self.status("VmHWM:")
    }

    /// Starts the peak over from the current resident memory.
    pub(crate) fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    fn status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default();
        line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        // Its standard input closes first: our victim stops by itself.
        self.child.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
