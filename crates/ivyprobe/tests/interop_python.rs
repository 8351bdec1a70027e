//! Interoperability with real ivy-python 4.0 agents (issue 4; ivy-protocol.md §10,
//! §11 cases 44–45). `docs/INTEROP.md` lists what these tests show.
//!
//! ivy-python comes from PyPI, installed once per test process by
//! `scripts/python-env` into `target/pyenv`. If that fails, every test here
//! fails: none passes without running (filter them out by name to leave them).
//!
//! Each python agent is `tests/python/peer.py`, driven through its stdin and
//! read through its stdout, one event per line (see its doc string). Our side is
//! an in-process [`Bus`] whose loop runs on a thread, the `ivyprobe` binary, a
//! raw TCP peer that checks bytes, and for the three-agent bus the C ivyprobe
//! (`c-examples/ivyprobe.c`, built here against `libivy.a`). Every test uses its
//! own bus port on loopback broadcast (never 2010), every wait is bounded by
//! [`TIMEOUT`], and every child process is killed and reaped on drop.

use ivy::{AppEvent, BindEvent, BindingId, Bus, DiePolicy, Matching, PeerId, SendError};
use ivy_testkit::{Process, logs};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU16, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Upper bound of every wait.
const TIMEOUT: Duration = Duration::from_secs(10);

/// How long "nothing happens" is watched for.
const QUIET: Duration = Duration::from_millis(300);

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---------------------------------------------------------------------------
// The python environment

/// The venv's python, made once per process by `scripts/python-env`; the test
/// fails when it is unavailable.
fn python() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = PYTHON.get_or_init(|| {
        let out = Command::new("bash")
            .arg(root().join("scripts/python-env"))
            .current_dir(root())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run scripts/python-env: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        match stdout.lines().last() {
            Some(path) if out.status.success() => Ok(PathBuf::from(path.trim())),
            _ => Err(format!(
                "scripts/python-env failed ({}):\n{}{}",
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    });
    match found {
        Ok(path) => path,
        Err(why) => panic!("ivy-python 4.0 is unavailable: {why}"),
    }
}

// ---------------------------------------------------------------------------
// Ports, encoding

/// A private bus port: a range of 50 per process from the pid (40000..59999,
/// never 2010), skipping ports someone holds.
fn bus_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 40000 + (std::process::id() % 400) as u16 * 50;
    for _ in 0..100 {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 50;
        // Bound without SO_REUSEADDR: fails while any socket holds the port.
        if UdpSocket::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free bus port in {base}..{}", base + 50);
}

/// The bus string both sides use (ivy-python needs `ADDR:PORT`).
fn bus_addr(port: u16) -> String {
    format!("127.255.255.255:{port}")
}

/// The text-field encoding of `tests/python/peer.py`: `=` then the bytes, with
/// every byte outside 0x21..0x7e, and `%`, as `%XX`.
fn enc(bytes: impl AsRef<[u8]>) -> String {
    let mut s = String::from("=");
    for &b in bytes.as_ref() {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// `msg BINDING NAME =ARG...`, as both sides report a received message.
fn msg_line(binding: i32, from: &str, args: &[&str]) -> String {
    let mut line = format!("msg {binding} {}", enc(from));
    for a in args {
        line.push(' ');
        line.push_str(&enc(a));
    }
    line
}

/// Bytes shown with escapes, for assertion messages.
fn show(bytes: &[u8]) -> String {
    let text: String = bytes.iter().flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect();
    if text.len() > 300 { format!("{}...({} bytes)", &text[..300], bytes.len()) } else { text }
}

// ---------------------------------------------------------------------------
// An event log that tests wait on

/// The lines an agent reported, each taken at most once by a wait.
struct Log {
    who: String,
    state: Mutex<LogState>,
    changed: Condvar,
}

#[derive(Default)]
struct LogState {
    lines: Vec<(String, bool)>,
    closed: bool,
}

impl Log {
    fn new(who: &str) -> Arc<Log> {
        Arc::new(Log { who: who.to_string(), state: Mutex::default(), changed: Condvar::new() })
    }

    fn push(&self, line: String) {
        self.state.lock().unwrap().lines.push((line, false));
        self.changed.notify_all();
    }

    fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.changed.notify_all();
    }

    fn dump(&self) -> String {
        let state = self.state.lock().unwrap();
        let mut s = format!("--- {} ({} lines) ---\n", self.who, state.lines.len());
        for (line, taken) in &state.lines {
            let shown =
                if line.len() > 400 { format!("{}...", &line[..line.floor_char_boundary(400)]) } else { line.clone() };
            s.push_str(if *taken { "  [x] " } else { "  [ ] " });
            s.push_str(&shown);
            s.push('\n');
        }
        s
    }

    /// Takes the first line not yet taken that satisfies `pred`, waiting up to `within`.
    fn take_within(&self, within: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + within;
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(entry) = state.lines.iter_mut().find(|(l, taken)| !taken && pred(l)) {
                entry.1 = true;
                return Some(entry.0.clone());
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return None;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    #[track_caller]
    fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        match self.take_within(TIMEOUT, pred) {
            Some(line) => line,
            None => panic!("{}: no line {what} within {TIMEOUT:?}\n{}", self.who, self.dump()),
        }
    }

    #[track_caller]
    fn expect(&self, want: &str) {
        self.wait(&format!("'{want}'"), |l| l == want);
    }

    #[track_caller]
    fn expect_prefix(&self, prefix: &str) -> String {
        self.wait(&format!("starting '{prefix}'"), |l| l.starts_with(prefix))
    }

    /// Asserts that no line satisfying `pred` shows up during `within`.
    #[track_caller]
    fn refute(&self, what: &str, within: Duration, pred: impl Fn(&str) -> bool) {
        if let Some(line) = self.take_within(within, pred) {
            panic!("{}: unexpected {what}: '{line}'\n{}", self.who, self.dump());
        }
    }

    /// The next `msg` line, which must be `want` (nothing else was received before).
    #[track_caller]
    fn expect_next_msg(&self, want: &str) {
        let got = self.expect_prefix("msg ");
        assert_eq!(got, want, "{}: first message received\n{}", self.who, self.dump());
    }
}

/// Reads `input` line by line into `log` (with `prefix`), on a thread.
fn pump(input: impl Read + Send + 'static, log: Arc<Log>, prefix: &'static str, close: bool) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(input);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    log.push(format!("{prefix}{}", String::from_utf8_lossy(&buf)));
                }
            }
        }
        if close {
            log.close();
        }
    });
}

/// Spawns `command`; what it prints goes to a new [`Log`] named `who` (its
/// standard error with the prefix `stderr: `).
fn logged(command: &mut Command, who: &str) -> (Process, Arc<Log>) {
    let mut process = Process::spawn(command, Stdio::piped());
    let log = Log::new(who);
    pump(process.child.stdout.take().expect("stdout"), log.clone(), "", true);
    pump(process.child.stderr.take().expect("stderr"), log.clone(), "stderr: ", false);
    (process, log)
}

/// Waits for a child to exit, at most [`TIMEOUT`].
fn wait_exit(process: &mut Process, log: &Log) -> ExitStatus {
    process
        .exit_within(TIMEOUT)
        .unwrap_or_else(|| panic!("{}: process still running after {TIMEOUT:?}\n{}", log.who, log.dump()))
}

// ---------------------------------------------------------------------------
// The python peer

/// An ivy-python 4.0 agent (`tests/python/peer.py`), killed and reaped on drop.
struct PyPeer {
    process: Process,
    log: Arc<Log>,
}

impl PyPeer {
    /// Starts the agent with [`python`]; returns once its UDP listener holds the
    /// bus port.
    fn start(bus: &str, name: &str, args: &[&str]) -> PyPeer {
        let mut command = Command::new(python());
        command.arg("-u").arg(root().join("crates/ivyprobe/tests/python/peer.py")).arg(bus).arg(name).args(args);
        command.env("PYTHONIOENCODING", "utf-8").env("PYTHONDONTWRITEBYTECODE", "1");
        let (process, log) = logged(&mut command, &format!("python {name}"));
        let peer = PyPeer { process, log };
        peer.log.expect("started");
        peer
    }

    fn cmd(&mut self, line: &str) {
        if let Err(e) = self.process.write_line(line.as_bytes()) {
            panic!("{}: cannot write '{line}': {e}\n{}", self.log.who, self.log.dump());
        }
    }

    /// IvySendMsg; returns its count.
    fn send(&mut self, text: &str) -> usize {
        self.cmd(&format!("send {}", enc(text)));
        let line = self.log.expect_prefix("sent ");
        line["sent ".len()..].parse().expect("count")
    }

    /// IvyStop, then the process exits by itself.
    fn stop(&mut self) {
        self.cmd("stop");
        self.log.expect("stopped");
        let status = wait_exit(&mut self.process, &self.log);
        assert!(status.success(), "python exit status {status}\n{}", self.log.dump());
    }

    /// The handler of its connection to us dies decoding what we sent.
    #[track_caller]
    fn expect_decode_death(&self) {
        self.log.wait("handler death", |l| l.starts_with("handler-error ") && l.contains(" UnicodeDecodeError "));
    }

    fn is_running(&mut self) -> bool {
        self.process.child.try_wait().expect("try_wait").is_none()
    }
}

// ---------------------------------------------------------------------------
// Our agent, in process

/// A [`Bus`] whose loop runs on a thread; its callbacks report lines in the
/// format of the python peer. Stopped and joined on drop.
struct RustAgent {
    bus: Bus,
    log: Arc<Log>,
    ended: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn peer_name(bus: &Bus, peer: PeerId) -> String {
    enc(bus.peer_name(peer).unwrap_or_else(|| b"?".to_vec()))
}

impl RustAgent {
    fn new(name: &str, ready: Option<&str>) -> RustAgent {
        let bus = Bus::new(name.as_bytes(), ready.map(str::as_bytes));
        let log = Log::new(&format!("rust {name}"));
        let l = log.clone();
        bus.on_application(move |bus, peer, event| {
            let what = match event {
                AppEvent::Connected => "connected",
                AppEvent::Disconnected => "disconnected",
                AppEvent::Congestion => "congestion",
                AppEvent::Decongestion => "decongestion",
                AppEvent::FifoFull => "fifo-full",
            };
            l.push(format!("{what} {}", peer_name(bus, peer)));
        });
        let l = log.clone();
        bus.on_bind_change(move |bus, peer, id, regexp, event| {
            let what = match event {
                BindEvent::Added => "added",
                BindEvent::Removed => "removed",
                BindEvent::Filtered => "filtered",
                BindEvent::Changed => "changed",
            };
            l.push(format!("regexp {what} {} {id} {}", peer_name(bus, peer), enc(regexp)));
        });
        let l = log.clone();
        bus.on_direct(move |bus, peer, id, text| l.push(format!("direct {} {id} {}", peer_name(bus, peer), enc(text))));
        let l = log.clone();
        bus.on_pong(move |bus, peer, micros| l.push(format!("pong {} {micros}", peer_name(bus, peer))));
        let l = log.clone();
        bus.on_die(move |bus, peer, id| l.push(format!("die {} {id}", peer_name(bus, peer))));
        RustAgent { bus, log, ended: Arc::new(AtomicBool::new(false)), thread: None }
    }

    /// Binds `regexp`; received messages are logged as `msg ID NAME =ARG...`.
    fn bind(&self, regexp: &str) -> i32 {
        let slot = Arc::new(AtomicI32::new(-1));
        let (l, seen) = (self.log.clone(), slot.clone());
        let id = self.bus.bind(regexp.as_bytes(), move |bus, peer, args| {
            let mut line = format!("msg {} {}", seen.load(Ordering::SeqCst), peer_name(bus, peer));
            for a in args {
                line.push(' ');
                line.push_str(&enc(a));
            }
            l.push(line);
        });
        slot.store(id.id(), Ordering::SeqCst);
        id.id()
    }

    /// Joins the bus and runs the loop on a thread (`loop-ended` is logged when it returns).
    fn start(&mut self, bus: &str) {
        self.bus.start(Some(bus)).unwrap_or_else(|e| panic!("cannot join {bus}: {e}"));
        let (b, l, ended) = (self.bus.clone(), self.log.clone(), self.ended.clone());
        self.thread = Some(std::thread::spawn(move || {
            b.run();
            ended.store(true, Ordering::SeqCst);
            l.push("loop-ended".to_string());
        }));
    }

    fn started(name: &str, ready: Option<&str>, regexps: &[&str], bus: &str) -> (RustAgent, Vec<i32>) {
        let mut agent = RustAgent::new(name, ready);
        let ids = regexps.iter().map(|r| agent.bind(r)).collect();
        agent.start(bus);
        (agent, ids)
    }

    /// The peer called `name`, waiting for it.
    #[track_caller]
    fn peer(&self, name: &str) -> PeerId {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(p) = self.bus.peer_by_name(name.as_bytes()) {
                return p;
            }
            assert!(Instant::now() < deadline, "no peer {name}\n{}", self.log.dump());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn send(&self, text: &str) -> Result<usize, SendError> {
        self.bus.send(text.as_bytes())
    }

    /// Leaves the bus and waits for the loop to end.
    fn stop(&mut self) {
        self.bus.stop();
        self.join();
    }

    fn join(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.ended.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "loop still running\n{}", self.log.dump());
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RustAgent {
    fn drop(&mut self) {
        self.bus.stop();
        let deadline = Instant::now() + TIMEOUT;
        while self.thread.is_some() && !self.ended.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.ended.load(Ordering::SeqCst)
            && let Some(t) = self.thread.take()
        {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------
// A probe process (Rust ivyprobe or C ivyprobe: same options and output)

struct Probe {
    process: Process,
    log: Arc<Log>,
}

impl Probe {
    fn start(exe: &Path, bus: &str, name: &str, regexps: &[&str]) -> Probe {
        let (process, log) =
            logged(Command::new(exe).args(["-b", bus, "-n", name]).args(regexps), &format!("probe {name}"));
        for r in regexps {
            log.wait("'-> bound'", |l| l.starts_with("-> bound [") && l.ends_with(&format!("] '{r}'")));
        }
        Probe { process, log }
    }

    fn line(&mut self, line: &str) {
        self.process.write_line(line.as_bytes()).expect("write to probe");
    }
}

fn rust_probe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ivyprobe"))
}

// ---------------------------------------------------------------------------
// A raw peer: speaks the wire protocol by hand and shows the bytes it gets

struct RawPeer {
    listener: TcpListener,
    stream: Option<TcpStream>,
    pending: Vec<u8>,
}

impl RawPeer {
    fn new() -> RawPeer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind raw listener");
        listener.set_nonblocking(true).expect("nonblocking");
        RawPeer { listener, stream: None, pending: Vec::new() }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// Announces itself on the bus (UDP hello), repeating until someone connects;
    /// then sends its handshake (name RAW, `regexps` as ids 0, 1, ...).
    fn join(&mut self, bus_port: u16, regexps: &[&str]) {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
        udp.set_broadcast(true).expect("broadcast");
        let hello = format!("3 {} RAW-{}-{} RAW\n", self.port(), std::process::id(), self.port());
        let deadline = Instant::now() + TIMEOUT;
        let mut next_hello = Instant::now();
        let stream = loop {
            if Instant::now() >= next_hello {
                udp.send_to(hello.as_bytes(), ("127.255.255.255", bus_port)).expect("send hello");
                next_hello = Instant::now() + Duration::from_millis(200);
            }
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("accept: {e}"),
            }
            assert!(Instant::now() < deadline, "nobody connected to the raw peer");
            std::thread::sleep(Duration::from_millis(2));
        };
        stream.set_nonblocking(false).expect("blocking");
        stream.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
        let mut hs = format!("6 {}\x02RAW\n", self.port()).into_bytes();
        for (i, r) in regexps.iter().enumerate() {
            hs.extend_from_slice(format!("1 {i}\x02{r}\n").as_bytes());
        }
        hs.extend_from_slice(b"5 0\x02\n");
        (&stream).write_all(&hs).expect("raw handshake");
        self.stream = Some(stream);
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.as_ref().expect("connected").write_all(bytes).expect("raw send");
    }

    /// The next line (without LF), `None` at EOF; at most [`TIMEOUT`].
    fn line(&mut self) -> Option<Vec<u8>> {
        let deadline = Instant::now() + TIMEOUT;
        let mut stream = self.stream.as_ref().expect("connected");
        loop {
            if let Some(pos) = self.pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=pos).collect();
                line.pop();
                return Some(line);
            }
            let mut buf = [0u8; 65536];
            match stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("raw read: {e}"),
            }
            assert!(Instant::now() < deadline, "raw peer: no line; pending '{}'", show(&self.pending));
        }
    }

    /// Skips lines until one starts with `prefix`; returns it.
    fn line_starting(&mut self, prefix: &[u8]) -> Vec<u8> {
        loop {
            match self.line() {
                Some(l) if l.starts_with(prefix) => return l,
                Some(_) => {}
                None => panic!("raw peer: EOF before a line starting '{}'", show(prefix)),
            }
        }
    }
}

// ===========================================================================
// Discovery, connection, ready message

/// Both orders: the second agent's hello makes the first one connect to it.
/// Connected on both sides, the ready messages (each side's rule), one
/// connection only, messages both ways, then the side started first stays
/// and sees the other leave.
fn connect_and_leave(rust_first: bool) {
    let bus = bus_addr(bus_port());
    let regexps = ["^(.*) Ready$", "^echo (.*)$"];
    let (mut rust, ids, mut py);
    if rust_first {
        (rust, ids) = RustAgent::started("RUST", Some("RUST Ready"), &regexps, &bus);
        py = PyPeer::start(&bus, "PY", &regexps);
    } else {
        py = PyPeer::start(&bus, "PY", &regexps);
        (rust, ids) = RustAgent::started("RUST", Some("RUST Ready"), &regexps, &bus);
    }
    rust.log.expect("connected =PY");
    py.log.expect("connected =RUST");
    // Each side's ready message, matched by the sender against the peer's regexps.
    rust.log.expect(&msg_line(ids[0], "PY", &["PY"]));
    py.log.expect(&msg_line(0, "RUST", &["RUST"]));
    // One connection each way: nobody connected twice.
    std::thread::sleep(QUIET);
    assert_eq!(rust.bus.peers().len(), 1, "{}", rust.log.dump());
    py.cmd("apps");
    py.log.expect("apps =RUST");

    assert_eq!(rust.send("echo from rust"), Ok(1));
    py.log.expect(&msg_line(1, "RUST", &["from rust"]));
    assert_eq!(py.send("echo from python"), 1);
    rust.log.expect(&msg_line(ids[1], "PY", &["from python"]));

    if rust_first {
        py.stop();
        rust.log.expect("disconnected =PY");
        assert_eq!(rust.send("echo anyone?"), Ok(0));
    } else {
        rust.stop();
        py.log.expect("disconnected =RUST");
        assert_eq!(py.send("echo anyone?"), 0);
    }
}

#[test]
fn connect_rust_first_python_leaves() {
    connect_and_leave(true);
}

#[test]
fn connect_python_first_rust_leaves() {
    connect_and_leave(false);
}

/// Ready "" : ours sends it as an empty message (ivy-c's rule), ivy-python
/// skips its own empty ready.
#[test]
fn ready_empty_sent_by_us_skipped_by_python() {
    let bus = bus_addr(bus_port());
    let (rust, ids) = RustAgent::started("RUST", Some(""), &["(.*)"], &bus);
    let mut py = PyPeer::start(&bus, "PY", &["--ready", "", "(.*)"]);
    rust.log.expect("connected =PY");
    py.log.expect("connected =RUST");
    py.log.expect_next_msg(&msg_line(0, "RUST", &[""]));
    // ivy-python sends its ready right after its Connected callback: give it time.
    std::thread::sleep(QUIET);
    assert_eq!(py.send("after"), 1);
    rust.log.expect_next_msg(&msg_line(ids[0], "PY", &["after"]));
}

/// No ready (None) on our side: nothing is sent. ivy-python matches its own
/// ready with its anchored `re.match`, so our unanchored `Ready` misses it.
#[test]
fn ready_none_and_python_ready_anchored() {
    let bus = bus_addr(bus_port());
    let py = PyPeer::start(&bus, "PY", &["(.*)"]);
    let (rust, ids) = RustAgent::started("RUST", None, &["Ready", "^PY (.*)"], &bus);
    rust.log.expect("connected =PY");
    py.log.expect("connected =RUST");
    rust.log.expect_next_msg(&msg_line(ids[1], "PY", &["Ready"]));
    rust.log.refute("match of 'Ready'", QUIET, |l| l.starts_with(&format!("msg {} ", ids[0])));
    assert_eq!(rust.send("after"), Ok(1));
    py.log.expect_next_msg(&msg_line(0, "RUST", &["after"]));
}

/// Our two hellos (bus `127,127.255.255.255:P`) reach ivy-python twice: it
/// connects once (it drops a second hello from the same ip and port).
#[test]
fn duplicate_hellos_one_connection() {
    let port = bus_port();
    let mut py = PyPeer::start(&bus_addr(port), "PY", &["--no-ready", "(.*)"]);
    let (rust, ids) = RustAgent::started("RUST", None, &["(.*)"], &format!("127,127.255.255.255:{port}"));
    rust.log.expect("connected =PY");
    py.log.expect("connected =RUST");
    std::thread::sleep(QUIET);
    assert_eq!(rust.bus.peers().len(), 1, "{}", rust.log.dump());
    py.cmd("apps");
    py.log.expect("apps =RUST");
    assert_eq!(rust.send("once"), Ok(1));
    assert_eq!(py.send("once"), 1);
    rust.log.expect(&msg_line(ids[0], "PY", &["once"]));
    py.log.expect(&msg_line(0, "RUST", &["once"]));
    rust.log.refute("second copy", QUIET, |l| l.starts_with("msg "));
    py.log.refute("second copy", Duration::ZERO, |l| l.starts_with("msg "));
}

// ===========================================================================
// Messages

/// A pair already connected: python PY (no ready) and our RUST (no ready).
fn pair(py_regexps: &[&str], rust_regexps: &[&str]) -> (PyPeer, RustAgent, Vec<i32>) {
    let bus = bus_addr(bus_port());
    let (rust, ids) = RustAgent::started("RUST", None, rust_regexps, &bus);
    let mut args = vec!["--no-ready"];
    args.extend_from_slice(py_regexps);
    let py = PyPeer::start(&bus, "PY", &args);
    rust.log.expect("connected =PY");
    py.log.expect("connected =RUST");
    (py, rust, ids)
}

#[test]
fn captures_both_ways() {
    let re = r"^temp=(\d+) unit=(\w+)$";
    let (mut py, rust, ids) = pair(&[re], &[re]);
    assert_eq!(rust.send("temp=21 unit=C"), Ok(1));
    py.log.expect(&msg_line(0, "RUST", &["21", "C"]));
    assert_eq!(py.send("temp=19 unit=K"), 1);
    rust.log.expect(&msg_line(ids[0], "PY", &["19", "K"]));
    assert_eq!(rust.send("temp=x unit=C"), Ok(0));
    assert_eq!(py.send("temp=x unit=C"), 0);
}

const SEVERAL: [&str; 4] = ["^hello (.*)", "hello", "(.*)", "^bye"];

/// One message, several matching subscriptions of one peer: one Msg each.
#[test]
fn several_bindings_rust_sending() {
    let (mut py, rust, _) = pair(&SEVERAL, &[]);
    assert_eq!(rust.send("hello world"), Ok(3));
    py.log.expect(&msg_line(0, "RUST", &["world"]));
    py.log.expect(&msg_line(1, "RUST", &[]));
    py.log.expect(&msg_line(2, "RUST", &["hello world"]));
    assert_eq!(rust.send("bye"), Ok(2));
    py.log.expect(&msg_line(2, "RUST", &["bye"]));
    py.log.expect(&msg_line(3, "RUST", &[]));
    py.cmd("sync 1");
    py.log.expect("sync 1");
    py.log.refute("another message", QUIET, |l| l.starts_with("msg "));
}

#[test]
fn several_bindings_python_sending() {
    let (mut py, rust, ids) = pair(&[], &SEVERAL);
    assert_eq!(py.send("hello world"), 3);
    rust.log.expect(&msg_line(ids[0], "PY", &["world"]));
    rust.log.expect(&msg_line(ids[1], "PY", &[]));
    rust.log.expect(&msg_line(ids[2], "PY", &["hello world"]));
    assert_eq!(py.send("bye"), 2);
    rust.log.expect(&msg_line(ids[2], "PY", &["bye"]));
    rust.log.expect(&msg_line(ids[3], "PY", &[]));
    rust.log.refute("another message", QUIET, |l| l.starts_with("msg "));
}

/// We bind and unbind while connected: ivy-python hears of both and routes accordingly.
#[test]
fn binding_added_and_removed_by_us_while_connected() {
    let (mut py, rust, _) = pair(&[], &[]);
    let re = "^late (.*)";
    let id = rust.bind(re);
    py.log.expect(&format!("regexp added =RUST {id} {}", enc(re)));
    assert_eq!(py.send("late one"), 1);
    rust.log.expect(&msg_line(id, "PY", &["one"]));
    assert!(rust.bus.unbind(BindingId::from_id(id)).is_ok());
    py.log.expect(&format!("regexp removed =RUST {id} {}", enc(re)));
    assert_eq!(py.send("late two"), 0);
}

/// ivy-python binds and unbinds while connected: we hear of both and route accordingly.
#[test]
fn binding_added_and_removed_by_python_while_connected() {
    let (mut py, rust, _) = pair(&[], &[]);
    let re = "^late (.*)";
    py.cmd(&format!("bind {}", enc(re)));
    py.log.expect(&format!("bound 0 {}", enc(re)));
    rust.log.expect(&format!("regexp added =PY 0 {}", enc(re)));
    assert_eq!(rust.send("late one"), Ok(1));
    py.log.expect(&msg_line(0, "RUST", &["one"]));
    py.cmd("unbind 0");
    py.log.expect(&format!("unbound 0 {}", enc(re)));
    // ivy-c reports the DelRegexp text (empty), not the removed regexp (§3).
    rust.log.expect("regexp removed =PY 0 =");
    assert_eq!(rust.send("late two"), Ok(0));
}

/// Our IvyChangeMsg equivalent sends AddRegexp with the same id and the new
/// text: ivy-python (like ivy-c) adds it and keeps the old one, both under that id.
#[test]
fn change_of_our_binding_python_keeps_both() {
    let (mut py, rust, ids) = pair(&[], &["^old (.*)"]);
    assert!(rust.bus.change(BindingId::from_id(ids[0]), b"^new (.*)").is_ok());
    py.log.expect(&format!("regexp added =RUST {} {}", ids[0], enc("^new (.*)")));
    assert_eq!(py.send("new x"), 1);
    rust.log.expect(&msg_line(ids[0], "PY", &["x"]));
    assert_eq!(py.send("old y"), 1, "ivy-python dropped the old regexp");
    rust.log.expect(&msg_line(ids[0], "PY", &["y"]));
}

#[test]
fn utf8_text_both_ways() {
    let re = r"^température=(\S+) (.*)$";
    let (mut py, rust, ids) = pair(&[re], &[re]);
    let text = "température=21,5 °C ✓ 日本語 😀";
    assert_eq!(rust.send(text), Ok(1));
    py.log.expect(&msg_line(0, "RUST", &["21,5", "°C ✓ 日本語 😀"]));
    assert_eq!(py.send(text), 1);
    rust.log.expect(&msg_line(ids[0], "PY", &["21,5", "°C ✓ 日本語 😀"]));
}

/// The sender matches: ours searches anywhere (ivy-c), ivy-python anchors at
/// the start (`re.match`).
#[test]
fn anchoring_rust_sender_unanchored() {
    let (py, rust, _) = pair(&["world"], &[]);
    assert_eq!(rust.send("hello world"), Ok(1));
    py.log.expect_next_msg(&msg_line(0, "RUST", &[]));
}

#[test]
fn anchoring_python_sender_anchored() {
    let (mut py, rust, ids) = pair(&[], &["world"]);
    assert_eq!(py.send("hello world"), 0);
    assert_eq!(py.send("world peace"), 1);
    rust.log.expect_next_msg(&msg_line(ids[0], "PY", &[]));
}

/// Non-participating groups: ours drops the trailing ones (ivy-c, PCRE's count),
/// ivy-python emits every group, "" for those that did not take part.
#[test]
fn optional_groups_rust_sender() {
    let re = "^a(b)?(c)?(d)?";
    let (py, rust, _) = pair(&[re], &[]);
    for (text, args) in
        [("a", &[][..]), ("ac", &["", "c"][..]), ("ad", &["", "", "d"][..]), ("abcd", &["b", "c", "d"][..])]
    {
        assert_eq!(rust.send(text), Ok(1));
        py.log.expect_next_msg(&msg_line(0, "RUST", args));
    }
}

#[test]
fn optional_groups_python_sender() {
    let re = "^a(b)?(c)?(d)?";
    let (mut py, rust, ids) = pair(&[], &[re]);
    for (text, args) in [("a", ["", "", ""]), ("ac", ["", "c", ""]), ("ad", ["", "", "d"]), ("abcd", ["b", "c", "d"])] {
        assert_eq!(py.send(text), 1);
        rust.log.expect_next_msg(&msg_line(ids[0], "PY", &args));
    }
}

// ===========================================================================
// Direct, error, ping, die, stop

#[test]
fn direct_messages_both_ways() {
    let (mut py, rust, _) = pair(&[], &[]);
    let to_py = rust.peer("PY");
    assert!(rust.bus.send_direct(to_py, 33, "hi there é".as_bytes()).is_ok());
    py.log.expect(&format!("direct =RUST 33 {}", enc("hi there é")));
    // ivy-python delivers the text before the first ETX only (ivy-c: all of it).
    assert!(rust.bus.send_direct(to_py, 34, b"hi\x03there").is_ok());
    py.log.expect("direct =RUST 34 =hi");
    py.cmd(&format!("direct =RUST 12 {}", enc("hello é")));
    py.log.expect("direct-sent");
    rust.log.expect(&format!("direct =PY 12 {}", enc("hello é")));
}

/// Error messages are only logged, both ways; the connection stays.
#[test]
fn error_messages_both_ways() {
    let diag = logs();
    let (mut py, rust, ids) = pair(&["(.*)"], &["(.*)"]);
    let token = format!("oops-{}", rust.bus.tcp_port().unwrap());
    assert!(rust.bus.send_error(rust.peer("PY"), 44, token.as_bytes()).is_ok());
    py.log
        .wait("logging our error", |l| l.starts_with("stderr:") && l.contains("protocol error") && l.contains(&token));
    py.cmd(&format!("error =RUST 5 {}", enc(&token)));
    py.log.expect("error-sent");
    diag.wait("Received error 5", |l| l == format!("Received error 5 {token}"));
    assert_eq!(rust.send("still there"), Ok(1));
    py.log.expect(&msg_line(0, "RUST", &["still there"]));
    assert_eq!(py.send("still there"), 1);
    rust.log.expect(&msg_line(ids[0], "PY", &["still there"]));
    rust.log.refute("disconnection", Duration::ZERO, |l| l.starts_with("disconnected"));
    py.log.refute("disconnection", Duration::ZERO, |l| l.starts_with("disconnected"));
}

/// Round trips: ours in µs from a monotonic clock, ivy-python's in seconds
/// (it always pings with id 0 and pairs pongs first-in first-out).
#[test]
fn ping_pong_both_ways() {
    let (mut py, rust, _) = pair(&[], &[]);
    for _ in 0..2 {
        assert!(rust.bus.ping(rust.peer("PY")).is_ok());
        let line = rust.log.expect_prefix("pong =PY ");
        let micros: i64 = line["pong =PY ".len()..].parse().unwrap();
        assert!(micros > 0 && micros < 2_000_000, "round trip {micros} µs");
    }
    py.cmd("ping =RUST");
    py.cmd("ping =RUST");
    for _ in 0..2 {
        let line = py.log.expect_prefix("pong =RUST ");
        let secs: f64 = line["pong =RUST ".len()..].parse().unwrap();
        assert!(secs > 0.0 && secs < 2.0, "round trip {secs} s");
    }
}

/// Our Die: ivy-python runs its die callback, leaves the bus (Bye), and the
/// process does not exit.
#[test]
fn our_die_stops_python_agent() {
    let (mut py, rust, _) = pair(&[], &[]);
    assert!(rust.bus.send_die(rust.peer("PY"), 0, b"").is_ok());
    py.log.expect("die =RUST 0");
    py.log.expect("terminated");
    rust.log.expect("disconnected =PY");
    assert!(py.is_running(), "ivy-python exited on Die\n{}", py.log.dump());
}

/// ivy-python's die callback may veto.
#[test]
fn our_die_vetoed_by_python() {
    let (py, rust, _) = pair(&["--veto-die", "(.*)"], &[]);
    assert!(rust.bus.send_die(rust.peer("PY"), 0, b"").is_ok());
    py.log.expect("die =RUST 0");
    assert_eq!(rust.send("still here"), Ok(1));
    py.log.expect(&msg_line(0, "RUST", &["still here"]));
    rust.log.refute("disconnection", QUIET, |l| l.starts_with("disconnected"));
}

/// ivy-python's Die: our die callback runs, we say Bye and our loop returns
/// (no exit inside the library).
#[test]
fn python_die_ends_our_loop() {
    let (mut py, rust, _) = pair(&[], &[]);
    py.cmd("die =RUST");
    py.log.expect("die-sent");
    rust.log.expect("die =PY 0");
    rust.log.expect("loop-ended");
    py.log.expect("disconnected =RUST");
}

/// With DiePolicy::Ignore, the die callback runs and nothing else happens.
#[test]
fn python_die_ignored_by_policy() {
    let (mut py, rust, ids) = pair(&[], &["(.*)"]);
    rust.bus.set_die_policy(DiePolicy::Ignore);
    py.cmd("die =RUST");
    rust.log.expect("die =PY 0");
    rust.log.refute("end of loop", QUIET, |l| l == "loop-ended");
    assert_eq!(py.send("alive?"), 1);
    rust.log.expect(&msg_line(ids[0], "PY", &["alive?"]));
}

/// ivy-python's Die on the Rust ivyprobe: it reports it and exits with status 0.
#[test]
fn python_die_exits_ivyprobe() {
    let bus = bus_addr(bus_port());
    let mut probe = Probe::start(rust_probe(), &bus, "RPROBE", &[]);
    let mut py = PyPeer::start(&bus, "PY", &["--no-ready"]);
    probe.log.expect_prefix("PY connected from ");
    py.log.expect("connected =RPROBE");
    py.cmd("die =RPROBE");
    probe.log.expect("PY die received");
    let status = wait_exit(&mut probe.process, &probe.log);
    assert!(status.success(), "ivyprobe exit status {status}\n{}", probe.log.dump());
    py.log.expect("disconnected =RPROBE");
}

/// ivy-python's IvyStop sends Bye, then closes; it pings with id 0.
#[test]
fn python_stop_sends_bye_and_pings_with_id_0() {
    let port = bus_port();
    let mut py = PyPeer::start(&bus_addr(port), "PY", &["--no-ready", "^py (.*)"]);
    let mut raw = RawPeer::new();
    raw.join(port, &["(.*)"]);
    let start = raw.line_starting(b"6 ");
    assert!(start.ends_with(b"\x02PY"), "StartRegexp '{}'", show(&start));
    assert_eq!(raw.line().unwrap(), b"1 0\x02^py (.*)");
    assert_eq!(raw.line().unwrap(), b"5 0\x02");
    py.log.expect("connected =RAW");
    py.cmd("ping =RAW");
    assert_eq!(raw.line().unwrap(), b"9 0\x02");
    raw.send(b"10 0\x02\n");
    py.log.expect_prefix("pong =RAW ");
    py.cmd("stop");
    py.log.expect("stopped");
    assert_eq!(raw.line().unwrap(), b"0 0\x02");
    assert_eq!(raw.line(), None, "EOF after Bye");
}

/// Our stop sends Bye, then closes.
#[test]
fn our_stop_sends_bye() {
    let port = bus_port();
    let (mut rust, _) = RustAgent::started("RUST", None, &["^rust (.*)"], &bus_addr(port));
    let mut raw = RawPeer::new();
    raw.join(port, &["(.*)"]);
    raw.line_starting(b"5 0\x02");
    rust.log.expect("connected =RAW");
    rust.stop();
    assert_eq!(raw.line().unwrap(), b"0 0\x02");
    assert_eq!(raw.line(), None, "EOF after Bye");
}

// ===========================================================================
// UTF-8: what must not break an ivy-python peer

/// `py`'s handler of its connection with `rust` dies decoding what `rust` sent;
/// `rust` sees PY leave.
#[track_caller]
fn handler_dies(py: &PyPeer, rust: &RustAgent) {
    py.expect_decode_death();
    rust.log.expect("disconnected =PY");
}

/// "é€😀" (2 + 3 + 4 bytes) repeated.
fn multibyte(times: usize) -> String {
    "é€😀".repeat(times)
}

/// Our Msg carries exactly the UTF-8 bytes of the text, in one line.
#[test]
fn long_utf8_message_bytes_are_exact() {
    let port = bus_port();
    let (rust, _) = RustAgent::started("RUST", None, &[], &bus_addr(port));
    let mut raw = RawPeer::new();
    raw.join(port, &["(.*)"]);
    rust.log.expect("connected =RAW");
    for times in [1, 113, 114, 500, 2000] {
        let text = multibyte(times);
        assert_eq!(rust.send(&text), Ok(1));
        let line = raw.line_starting(b"2 ");
        let mut want = b"2 0\x02".to_vec();
        want.extend_from_slice(text.as_bytes());
        want.push(3);
        assert!(line == want, "got '{}'\nwant '{}'", show(&line), show(&want));
    }
}

/// ivy-python sends long UTF-8 text in one piece; we deliver it intact.
#[test]
fn long_utf8_message_python_to_rust() {
    let (mut py, rust, ids) = pair(&[], &["(.*)"]);
    for times in [113, 114, 500] {
        let text = multibyte(times);
        assert_eq!(py.send(&text), 1);
        rust.log.expect_next_msg(&msg_line(ids[0], "PY", &[&text]));
    }
}

/// ivy-python decodes each 1024-byte read on its own: a line longer than 1024
/// bytes arrives intact only while every 1024-byte boundary of the stream falls
/// between characters. Our bytes are exact (test above); the limit is ivy-python's:
/// with "é€😀"×N after the 4 bytes `2 0\x02`, N = 113 (a 1023-byte line) arrives,
/// N = 114 (1032 bytes: byte 1024 is inside a '€') kills that connection's
/// handler (UnicodeDecodeError), which we see as a disconnection.
#[test]
fn long_utf8_message_rust_to_python_chunk_limit() {
    let (py, rust, _) = pair(&["(.*)"], &[]);
    let fits = multibyte(113);
    assert_eq!(4 + fits.len() + 2, 1023);
    assert_eq!(rust.send(&fits), Ok(1));
    py.log.expect_next_msg(&msg_line(0, "RUST", &[&fits]));
    // 3 KB whose 1024-byte boundaries fall between characters: intact.
    let aligned = format!("{}{}", "a".repeat(1020), "é".repeat(1024));
    assert_eq!(rust.send(&aligned), Ok(1));
    py.log.expect_next_msg(&msg_line(0, "RUST", &[&aligned]));
    // One more "é€😀": byte 1024 of the line is the second byte of a '€'.
    let split = multibyte(114);
    assert_eq!(rust.send(&split), Ok(1));
    handler_dies(&py, &rust);
    py.log.refute("the message", Duration::ZERO, |l| l.starts_with("msg "));
}

/// Short messages have the same limit when they pile up: while ivy-python's
/// handler is busy, our (valid, exact) lines queue in its socket, and its next
/// 1024-byte read ends inside a character of one of them. Any sender does this
/// (ivy-c and ivy-python send the same bytes); here the handler is kept busy
/// on purpose, so the outcome does not depend on timing.
#[test]
fn burst_of_short_utf8_messages_python_chunk_limit() {
    let (py, rust, _) = pair(&["(.*)"], &[]);
    assert_eq!(rust.send("block:0.5"), Ok(1));
    py.log.expect_next_msg(&msg_line(0, "RUST", &["block:0.5"]));
    // 100 lines of 13 bytes, `2 0\x02€😀\x03\n`: byte 1024 = 78 × 13 + 10, the
    // fourth byte of a '😀'.
    for _ in 0..100 {
        assert_eq!(rust.send("€😀"), Ok(1));
    }
    handler_dies(&py, &rust);
    py.log.refute("a message", Duration::ZERO, |l| l.starts_with("msg "));
}

/// Ours sends what the application gives, byte for byte (as ivy-c): a
/// non-UTF-8 payload (Latin-1 "café") kills ivy-python's handler (§11 case 45).
#[test]
fn latin1_payload_kills_python_handler() {
    let (py, rust, _) = pair(&["(.*)"], &[]);
    assert_eq!(rust.bus.send(b"caf\xe9"), Ok(1));
    handler_dies(&py, &rust);
}

/// ivy-python decodes every hello as UTF-8 in its UDP thread: a hello whose
/// name is not UTF-8 ends that thread, and the python agent discovers nobody
/// after it.
#[test]
fn non_utf8_agent_name_ends_python_discovery() {
    let bus = bus_addr(bus_port());
    let py = PyPeer::start(&bus, "PY", &["--no-ready"]);
    let mut latin1 = RustAgent::new("caf\u{e9}", None);
    latin1.bus.set_identity(b"caf\xe9", None);
    latin1.start(&bus);
    py.log.wait("the UDP thread's death", |l| l.starts_with("stderr:") && l.contains("UnicodeDecodeError"));
    let (late, _) = RustAgent::started("LATE", None, &[], &bus);
    late.log.expect(&format!("connected {}", enc(b"caf\xe9")));
    late.log.refute("a connection to PY", QUIET, |l| l == "connected =PY");
    py.log.refute("a connection", Duration::ZERO, |l| l.starts_with("connected"));
}

/// Our regexps read bytes, as ivy-c's PCRE without UTF-8 mode (a message goes
/// to the same subscribers whichever of the two sends it): `.` takes one byte, so
/// a capture may end inside a character, and such a Msg kills ivy-python's
/// handler as ivy-c's does.
#[test]
fn byte_matching_splits_a_character_as_ivy_c() {
    let (py, rust, _) = pair(&["^(.)(.*)$"], &[]);
    assert_eq!(rust.send("é€ x"), Ok(1));
    py.expect_decode_death();
}

/// With ivy-python's matching (`Matching::IvyPython`), `.` takes a whole
/// character on a UTF-8 message: no capture ends inside one.
#[test]
fn text_matching_never_splits_a_character() {
    let (py, rust, _) = pair(&["^(.)(.*)$"], &[]);
    rust.bus.set_matching(Matching::IvyPython);
    assert_eq!(rust.send("é€ x"), Ok(1));
    py.log.refute("handler death", QUIET, |l| l.starts_with("handler-error "));
    py.log.expect(&msg_line(0, "RUST", &["é", "€ x"]));
    rust.log.refute("disconnection", Duration::ZERO, |l| l.starts_with("disconnected"));
}

// ===========================================================================
// Three agents

/// Our C library as a static library (`libivy_c.a`), built by cargo for this
/// test (a `cargo test` does not link staticlibs): `cargo build -p libivy` into the
/// target directory of this test binary, with its profile.
fn static_lib() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/PROFILE");
    let target_dir = profile_dir.parent().expect("target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--quiet", "-p", "libivy", "--manifest-path"]).arg(root().join("Cargo.toml"));
    build.arg("--target-dir").arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build -p libivy");
    assert!(status.success(), "cargo build -p libivy failed: {status}");
    profile_dir.join("libivy_c.a")
}

/// The C ivyprobe (`c-examples/ivyprobe.c`, on our C API), built once per
/// process against our `libivy_c.a`; a failed build fails the test.
fn c_probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let source = root().join("c-examples/ivyprobe.c");
            let lib = static_lib();
            let out_dir = rust_probe().parent().expect("target dir").join("interop-c");
            std::fs::create_dir_all(&out_dir).expect("create target/*/interop-c");
            let exe = out_dir.join("ivyprobe");
            let tmp = out_dir.join(format!("ivyprobe.tmp{}", std::process::id()));
            let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
            let out = Command::new(&cc)
                .args(["-std=c11", "-D_DEFAULT_SOURCE", "-I"])
                .arg(root().join("crates/libivy/include"))
                .arg(&source)
                .arg(&lib)
                .args(["-lpthread", "-ldl", "-lm", "-o"])
                .arg(&tmp)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
            assert!(out.status.success(), "building the C ivyprobe failed:\n{}", String::from_utf8_lossy(&out.stderr));
            std::fs::rename(&tmp, &exe).expect("rename the C ivyprobe");
            exe
        })
        .as_path()
}

/// Rust ivyprobe, our in-process Bus, the C-API ivyprobe and ivy-python on one
/// bus: every pair exchanges a message, each way.
#[test]
fn four_agents_every_pair_exchanges() {
    let bus = bus_addr(bus_port());
    let (rust, ids) = RustAgent::started("RUST", None, &["^to-RUST (.*)"], &bus);
    let mut probe = Probe::start(rust_probe(), &bus, "RPROBE", &["^to-RPROBE (.*)"]);
    let mut cprobe = Probe::start(c_probe(), &bus, "CPROBE", &["^to-CPROBE (.*)"]);
    let mut py = PyPeer::start(&bus, "PY", &["--no-ready", "^to-PY (.*)"]);

    let names = ["RUST", "RPROBE", "PY", "CPROBE"];
    for other in names.iter().filter(|n| **n != "RUST") {
        rust.log.expect(&format!("connected {}", enc(other)));
    }
    for other in names.iter().filter(|n| **n != "PY") {
        py.log.expect(&format!("connected {}", enc(other)));
    }
    for (p, me) in [(&mut probe, "RPROBE"), (&mut cprobe, "CPROBE")] {
        for other in names.iter().filter(|n| **n != me) {
            p.log.expect_prefix(&format!("{other} connected from "));
        }
    }
    for from in &names {
        for to in names.iter().filter(|t| *t != from) {
            let text = format!("to-{to} from-{from}");
            match *from {
                "RUST" => assert_eq!(rust.send(&text), Ok(1), "{text}"),
                "PY" => assert_eq!(py.send(&text), 1, "{text}"),
                "RPROBE" => {
                    probe.line(&text);
                    probe.log.expect("-> Sent to 1 peer(s)");
                }
                _ => {
                    cprobe.line(&text);
                    cprobe.log.expect("-> Sent to 1 peer(s)");
                }
            }
            let arg = format!("from-{from}");
            match *to {
                "RUST" => rust.log.expect(&msg_line(ids[0], from, &[&arg])),
                "PY" => py.log.expect(&msg_line(0, from, &[&arg])),
                "RPROBE" => probe.log.expect(&format!("{from} sent [0] '{arg}'")),
                _ => cprobe.log.expect(&format!("{from} sent [0] '{arg}'")),
            }
        }
    }
}
