//! Helpers shared by the loopback integration tests: private bus ports, agents
//! running on background threads (stopped and joined on drop), a raw TCP/UDP peer
//! that speaks the wire protocol by hand, and bounded waits.

use ivy::{AppEvent, Bus, PeerId};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::ops::Deref;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Upper bound of every wait in the tests.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Ports per test process.
const PORTS_PER_PROCESS: u16 = 50;
static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// A private bus port from this process's range (20000..32500), never 2010. A port
/// somebody already holds (another test still running, another process) is skipped.
pub fn bus_port() -> u16 {
    let slot = (std::process::id() % 250) as u16;
    let base = 20000 + slot * PORTS_PER_PROCESS;
    for _ in 0..PORTS_PER_PROCESS * 2 {
        let port = base + NEXT_PORT.fetch_add(1, Ordering::Relaxed) % PORTS_PER_PROCESS;
        // Bound without SO_REUSEADDR: fails while any other socket holds the port.
        if UdpSocket::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free bus port in {base}..{}", base + PORTS_PER_PROCESS);
}

/// The bus string for a private port (loopback broadcast).
pub fn bus_addr(port: u16) -> String {
    format!("127.255.255.255:{port}")
}

/// ivy-c's answer to a malformed line, before it closes the connection: the
/// bad-format Error, then Bye (§2).
pub const BAD_FORMAT: &[u8] = b"3 3\x02bad format request expected 'type id ...'\n0 0\x02\n";

/// Malformed lines (no STX, no type, empty, stray bytes) that any agent answers
/// with [`BAD_FORMAT`].
pub const MALFORMED_LINES: &[&[u8]] = &[b"hello garbage\n", b"\n", b"\r\n", b"\x02\n", b"2\x02x\n", b"\0\n"];

/// Bytes shown with escapes, for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    bytes.iter().flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect()
}

/// Asserts two byte strings are equal, printing both escaped.
#[track_caller]
pub fn assert_bytes(got: &[u8], want: &[u8]) {
    assert!(got == want, "bytes differ\n  got:  \"{}\"\n  want: \"{}\"", show(got), show(want));
}

/// Polls `cond` until it holds, at most [`TIMEOUT`].
#[track_caller]
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Receives one item, at most [`TIMEOUT`].
#[track_caller]
pub fn recv<T>(rx: &Receiver<T>, what: &str) -> T {
    match rx.recv_timeout(TIMEOUT) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("timed out waiting for {what}"),
        Err(RecvTimeoutError::Disconnected) => panic!("channel closed while waiting for {what}"),
    }
}

/// Asserts nothing arrives for `ms` milliseconds.
#[track_caller]
pub fn assert_no_recv<T: std::fmt::Debug>(rx: &Receiver<T>, ms: u64, what: &str) {
    if let Ok(v) = rx.recv_timeout(Duration::from_millis(ms)) {
        panic!("unexpected {what}: {v:?}");
    }
}

/// An agent named `name` (ready message `ready`), not started.
pub fn agent(name: &str, ready: Option<&str>) -> Bus {
    Bus::new(name.as_bytes(), ready.map(str::as_bytes))
}

/// Binds `regexp` on `bus`; the captures of each message it gets go to the
/// returned channel.
pub fn forward(bus: &Bus, regexp: impl AsRef<[u8]>) -> Receiver<Vec<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    bus.bind(regexp.as_ref(), move |_, _, args| {
        let _ = tx.send(owned(args));
    });
    rx
}

/// Two agents running on one private bus port, connected.
pub struct Connected {
    /// The agent started first.
    pub x: Running,
    /// The agent started second.
    pub y: Running,
    /// The name `y` saw connect.
    pub seen: Vec<u8>,
    /// `y`'s application events after that Connected.
    pub y_apps: Receiver<AppRecord>,
    /// The bus port.
    pub port: u16,
}

/// Starts `x`, then `y`, on a private bus port; returns once `y` reported its
/// first peer Connected (the handshake done both ways).
#[track_caller]
pub fn start_connected(x: Bus, y: Bus) -> Connected {
    let y_apps = app_events(&y);
    let port = bus_port();
    let x = Running::start(x, port);
    let y = Running::start(y, port);
    let (_, seen) = next_app_event(&y_apps, AppEvent::Connected);
    Connected { x, y, seen, y_apps, port }
}

/// One application event as seen by a test: the peer, its name at that time, the event.
pub type AppRecord = (PeerId, Vec<u8>, AppEvent);

/// Routes the bus's application events to a channel (the peer name is looked up
/// inside the callback, where the peer is still listed, even on Disconnected).
pub fn app_events(bus: &Bus) -> Receiver<AppRecord> {
    let (tx, rx) = mpsc::channel();
    bus.on_application(move |bus, peer, event| {
        let name = bus.peer_name(peer).unwrap_or_default();
        let _ = tx.send((peer, name, event));
    });
    rx
}

/// Waits for the next event of kind `event`, skipping others (Congestion ...).
#[track_caller]
pub fn next_app_event(rx: &Receiver<AppRecord>, event: AppEvent) -> (PeerId, Vec<u8>) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((peer, name, e)) if e == event => return (peer, name),
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {event:?}"),
        }
    }
}

/// A bus whose loop runs on a background thread; dropping it stops the bus and
/// joins the thread (bounded), so a failing test leaves no thread behind.
pub struct Running {
    /// The agent.
    pub bus: Bus,
    handle: Option<JoinHandle<()>>,
}

impl Running {
    /// Runs `bus`'s loop on a new thread.
    pub fn spawn(bus: Bus) -> Running {
        let b = bus.clone();
        let handle =
            std::thread::Builder::new().name("ivy-loop".into()).spawn(move || b.run()).expect("spawn loop thread");
        Running { bus, handle: Some(handle) }
    }

    /// Starts `bus` on the private `port` and runs its loop.
    pub fn start(bus: Bus, port: u16) -> Running {
        bus.start(Some(&bus_addr(port))).expect("start bus");
        Running::spawn(bus)
    }

    /// Whether `run()` has returned.
    pub fn finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits (bounded) for `run()` to return, without stopping the bus.
    #[track_caller]
    pub fn wait_finished(&mut self) {
        wait_until("the loop thread to return", || self.finished());
        if let Some(h) = self.handle.take() {
            h.join().expect("loop thread panicked");
        }
    }

    /// Stops the bus and joins its loop thread.
    #[track_caller]
    pub fn stop_and_join(&mut self) {
        self.bus.stop();
        self.wait_finished();
    }

    /// The bus's TCP port.
    pub fn port(&self) -> u16 {
        self.bus.tcp_port().expect("bus started")
    }
}

impl Deref for Running {
    type Target = Bus;
    fn deref(&self) -> &Bus {
        &self.bus
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.bus.stop();
        let Some(handle) = self.handle.take() else { return };
        let deadline = Instant::now() + TIMEOUT;
        while !handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if handle.is_finished() {
            let _ = handle.join();
        } else if !std::thread::panicking() {
            panic!("loop thread did not return after stop()");
        }
    }
}

/// Waits until `bus` lists exactly `n` peers.
#[track_caller]
pub fn wait_peers(bus: &Bus, n: usize) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let have = bus.peers().len();
        if have == n {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {n} peers (have {have})");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Sorted names of the bus's peers.
pub fn peer_names(bus: &Bus) -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = bus.peers().into_iter().filter_map(|p| bus.peer_name(p)).collect();
    names.sort();
    names
}

/// A TCP connection driven by hand: exact-byte expectations, bounded reads.
pub struct Raw {
    /// The connection.
    pub stream: TcpStream,
    pending: Vec<u8>,
}

impl Raw {
    /// A peer on `stream`, with bounded reads.
    pub fn new(stream: TcpStream) -> Raw {
        stream.set_nodelay(true).expect("nodelay");
        stream.set_nonblocking(false).expect("blocking");
        Raw { stream, pending: Vec::new() }
    }

    /// Connects to an agent's TCP port on loopback.
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), TIMEOUT).expect("connect to agent");
        Raw::new(stream)
    }

    /// Our local port (what the agent sees as the remote port).
    pub fn local_port(&self) -> u16 {
        self.stream.local_addr().expect("local addr").port()
    }

    /// Writes all of `bytes`.
    #[track_caller]
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("raw send");
    }

    /// Reads until at least `n` bytes are pending or the peer closes; bounded.
    fn fill(&mut self, n: usize) -> io::Result<()> {
        let deadline = Instant::now() + TIMEOUT;
        let mut buf = [0u8; 65536];
        while self.pending.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof")),
                Ok(k) => self.pending.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads exactly `want.len()` bytes and checks they are `want`.
    #[track_caller]
    pub fn expect(&mut self, want: &[u8]) {
        if let Err(e) = self.fill(want.len()) {
            panic!("reading \"{}\": {e}; got only \"{}\"", show(want), show(&self.pending));
        }
        let got: Vec<u8> = self.pending.drain(..want.len()).collect();
        assert_bytes(&got, want);
    }

    /// Reads one line, LF included.
    #[track_caller]
    pub fn read_line(&mut self) -> Vec<u8> {
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                return self.pending.drain(..=i).collect();
            }
            let n = self.pending.len() + 1;
            if let Err(e) = self.fill(n) {
                panic!("reading a line: {e}; got only \"{}\"", show(&self.pending));
            }
        }
    }

    /// Reads lines up to and including the EndRegexp of a handshake.
    #[track_caller]
    pub fn read_handshake(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        loop {
            let line = self.read_line();
            all.extend_from_slice(&line);
            if line == b"5 0\x02\n" {
                return all;
            }
        }
    }

    /// Checks that nothing arrives for `ms` milliseconds (and the peer stays open).
    #[track_caller]
    pub fn expect_quiet(&mut self, ms: u64) {
        assert!(self.pending.is_empty(), "unexpected bytes \"{}\"", show(&self.pending));
        self.stream.set_read_timeout(Some(Duration::from_millis(ms))).expect("timeout");
        let mut buf = [0u8; 4096];
        match self.stream.read(&mut buf) {
            Ok(0) => panic!("connection closed, expected it open and quiet"),
            Ok(k) => panic!("unexpected bytes \"{}\"", show(&buf[..k])),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) => panic!("read error {e}, expected a quiet open connection"),
        }
    }

    /// Checks the next thing on the connection is an orderly close (FIN), no bytes.
    #[track_caller]
    pub fn expect_eof(&mut self) {
        assert!(self.pending.is_empty(), "bytes before EOF: \"{}\"", show(&self.pending));
        match self.fill(1) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
            Err(e) => panic!("expected EOF, got error {e}"),
            Ok(()) => panic!("expected EOF, got \"{}\"", show(&self.pending)),
        }
    }

    /// Checks the connection closes (EOF, or a reset when the agent closed with our
    /// bytes still unread), with no further bytes.
    #[track_caller]
    pub fn expect_closed(&mut self) {
        assert!(self.pending.is_empty(), "bytes before close: \"{}\"", show(&self.pending));
        match self.fill(1) {
            Err(e) if matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset) => {}
            Err(e) => panic!("expected close, got error {e}"),
            Ok(()) => panic!("expected close, got \"{}\"", show(&self.pending)),
        }
    }

    /// Sends a Ping with `id` and checks the Pong comes back (the connection is alive
    /// and every earlier line was processed).
    #[track_caller]
    pub fn ping_pong(&mut self, id: i32) {
        self.send(format!("9 {id}\x02\n").as_bytes());
        self.expect(format!("10 {id}\x02\n").as_bytes());
    }
}

/// A raw peer's listening socket, announced to agents through hello datagrams.
pub struct RawListener {
    /// The listening socket.
    pub listener: TcpListener,
    /// Its port.
    pub port: u16,
}

impl RawListener {
    /// A listener on an ephemeral loopback port.
    pub fn new() -> RawListener {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind raw listener");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        RawListener { listener, port }
    }

    /// Accepts one connection within `timeout`, or None.
    pub fn accept_within(&self, timeout: Duration) -> Option<Raw> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => return Some(Raw::new(stream)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("accept: {e}"),
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Accepts one connection, at most [`TIMEOUT`].
    #[track_caller]
    pub fn accept(&self) -> Raw {
        self.accept_within(TIMEOUT).expect("timed out waiting for the agent to connect")
    }

    /// Announces this listener on the bus at `bus_port` as `id`/`name`.
    pub fn hello(&self, bus_port: u16, id: &str, name: &str) {
        send_datagram(bus_port, format!("3 {} {id} {name}\n", self.port).as_bytes());
    }
}

impl Default for RawListener {
    fn default() -> Self {
        Self::new()
    }
}

/// A child process with its standard input and output piped. Dropping it closes
/// its standard input, kills it and reaps it: a failing test leaves no process
/// behind.
pub struct Process {
    /// The process (its standard output, and error when piped, are there to take).
    pub child: Child,
    /// Its standard input; taking it closes it.
    pub stdin: Option<ChildStdin>,
}

impl Process {
    /// Spawns `command` with its standard input and output piped, its standard
    /// error as `stderr` says.
    #[track_caller]
    pub fn spawn(command: &mut Command, stderr: Stdio) -> Process {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()));
        Process { stdin: child.stdin.take(), child }
    }

    /// Writes `line` and a LF to its standard input, then flushes it.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "standard input closed"));
        };
        stdin.write_all(line)?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// Its exit status, once it exits by itself within `timeout`; `None` if it
    /// still runs then.
    pub fn exit_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each line `stream` gives to `tx` (LF included; a last line without LF as
/// it is), on a thread of its own, until EOF or `tx`'s receiver is gone.
pub fn send_lines(stream: impl Read + Send + 'static, tx: Sender<Vec<u8>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    })
}

/// Sends one datagram to the bus port on 127.0.0.1 (only the agent bound to that
/// private port gets it).
pub fn send_datagram(bus_port: u16, bytes: &[u8]) {
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
    udp.send_to(bytes, ("127.0.0.1", bus_port)).expect("udp send");
}

/// Sends one datagram to the loopback broadcast address on the bus port (every
/// agent on that private bus gets it).
pub fn send_broadcast(bus_port: u16, bytes: &[u8]) {
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
    udp.set_broadcast(true).expect("SO_BROADCAST");
    udp.send_to(bytes, ("127.255.255.255", bus_port)).expect("udp send");
}

/// The handshake an agent named `name` listening on `port` sends, with its
/// bindings given oldest first (they go out newest first, §4.1).
pub fn handshake(port: u16, name: &str, bindings: &[(i32, &str)]) -> Vec<u8> {
    handshake_subscribing(port, name, bindings.iter().rev().copied())
}

/// The handshake of a peer named `name` listening on `port` that subscribes
/// `subscriptions` (id, regexp) in this order.
pub fn handshake_subscribing<R: AsRef<str>>(
    port: u16,
    name: &str,
    subscriptions: impl IntoIterator<Item = (i32, R)>,
) -> Vec<u8> {
    let mut out = format!("6 {port}\x02{name}\n").into_bytes();
    for (id, re) in subscriptions {
        out.extend_from_slice(format!("1 {id}\x02{}\n", re.as_ref()).as_bytes());
    }
    out.extend_from_slice(b"5 0\x02\n");
    out
}

/// `n` subscriptions `^rI (.*)$`, each with its id I, from 0: what a peer
/// subscribes to reach a limit.
pub fn numbered_regexps(n: usize) -> impl Iterator<Item = (i32, String)> {
    (0..).zip((0..n).map(|i| format!("^r{i} (.*)$")))
}

/// Captured arguments as owned vectors.
pub fn owned(args: &[&[u8]]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.to_vec()).collect()
}

/// Owned argument vectors from string literals.
pub fn strs(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// What the library logged in this test process (see [`logs`]).
pub struct Logs {
    lines: std::sync::Mutex<Vec<String>>,
    changed: std::sync::Condvar,
}

impl Logs {
    /// Whether a logged line satisfies `pred`.
    pub fn any(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|l| pred(l))
    }

    /// Waits (at most [`TIMEOUT`]) for a logged line that satisfies `pred`; panics
    /// naming `what` if none comes.
    pub fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        while !lines.iter().any(|l| pred(l)) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no log line for {what} within {TIMEOUT:?}; logged: {lines:#?}");
            lines = self.changed.wait_timeout(lines, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

impl log::Log for Logs {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).push(record.args().to_string());
        self.changed.notify_all();
    }

    fn flush(&self) {}
}

/// Everything the library logs in this test process, at every level, from the first
/// call on (the process's logger, installed then).
pub fn logs() -> &'static Logs {
    static LOGS: std::sync::OnceLock<&'static Logs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static Logs =
            Box::leak(Box::new(Logs { lines: std::sync::Mutex::default(), changed: std::sync::Condvar::new() }));
        log::set_logger(logs).expect("the only logger of the test process");
        log::set_max_level(log::LevelFilter::Trace);
        logs
    })
}
