//! Running agents as separate processes: spawning a role (of this binary, of the C
//! benchmark, or of the Python script), reading its stdout lines with a deadline,
//! and killing whatever is left when a run ends or fails.

use crate::util::{Fields, parse_line};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// Which implementation runs a role.
#[derive(Clone, Debug)]
pub(crate) enum Impl {
    /// This binary (the Rust API).
    Rust,
    /// The C benchmark binary (the C API, against whatever libivy.so.3 it loads).
    C(PathBuf),
    /// ivy-python 4.0: (python interpreter, bench/ivy_py_role.py).
    Python(PathBuf, PathBuf),
}

impl Impl {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Impl::Rust => "rust",
            Impl::C(_) => "c",
            Impl::Python(..) => "python",
        }
    }

    fn command(&self) -> Result<Command, String> {
        Ok(match self {
            Impl::Rust => Command::new(std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?),
            Impl::C(path) => Command::new(path),
            Impl::Python(py, script) => {
                let mut c = Command::new(py);
                c.arg("-u").arg(script);
                c
            }
        })
    }
}

/// A running role.
pub(crate) struct Agent {
    pub label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    exited: bool,
}

/// Starts `role` of `imp` with `--key value` arguments.
pub(crate) fn spawn(
    imp: &Impl,
    role: &str,
    args: &[(&str, String)],
    label: &str,
    verbose: bool,
) -> Result<Agent, String> {
    let mut cmd = imp.command()?;
    cmd.arg("--role").arg(role);
    for (k, v) in args {
        cmd.arg(format!("--{k}")).arg(v);
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(|e| format!("spawn {label} ({}): {e}", imp.label()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stdin = child.stdin.take();
    let (tx, rx) = channel();
    let tag = label.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("IVYBENCH") {
                if tx.send(line).is_err() {
                    break;
                }
            } else if verbose {
                eprintln!("[{tag}] {line}");
            }
        }
    });
    Ok(Agent { label: label.to_string(), child, stdin, lines: rx, exited: false })
}

impl Agent {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line starting with `prefix`, before `deadline`.
    pub(crate) fn wait_line(&mut self, prefix: &str, deadline: Instant) -> Result<String, String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(line) if line.starts_with("IVYBENCH ") && line.contains(" error=") => {
                    return Err(format!("{}: {line}", self.label));
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => return Err(format!("{}: timeout waiting for {prefix}", self.label)),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
                    self.exited = true;
                    return Err(format!("{}: exited ({status}) before {prefix}", self.label));
                }
            }
        }
    }

    /// The final result line, then the process's exit (both before `deadline`).
    pub(crate) fn result(&mut self, deadline: Instant) -> Result<Fields, String> {
        let line = self.wait_line("IVYBENCH ", deadline)?;
        let fields = parse_line(&line).ok_or_else(|| format!("{}: bad line {line}", self.label))?;
        if let Some(e) = fields.get("error") {
            return Err(format!("{}: {e}", self.label));
        }
        self.wait_exit(deadline)?;
        Ok(fields)
    }

    /// Waits for a successful exit before `deadline`.
    pub(crate) fn wait_exit(&mut self, deadline: Instant) -> Result<(), String> {
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = true;
                if !status.success() {
                    return Err(format!("{}: exit {status}", self.label));
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Err(format!("{}: did not exit", self.label))
    }

    pub(crate) fn write_stdin(&mut self, text: &str) -> Result<(), String> {
        let w = self.stdin.as_mut().ok_or("stdin closed")?;
        w.write_all(text.as_bytes()).and_then(|_| w.flush()).map_err(|e| format!("{}: stdin: {e}", self.label))
    }

    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if !self.exited && self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Collects the results of several agents, all before `deadline`.
pub(crate) fn results(agents: &mut [Agent], deadline: Instant) -> Result<Vec<Fields>, String> {
    agents.iter_mut().map(|a| a.result(deadline)).collect()
}
