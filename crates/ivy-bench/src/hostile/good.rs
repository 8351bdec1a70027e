//! The well-behaved peer GOOD, raw over TCP: it announces itself on the bus, the
//! victim connects to it, and from then on it sends a Ping and a `good N` message
//! every [`TICK`] and reads the Pongs and the victim's `echo N` answers. Its
//! report: how many of each came back, the worst round trip of each (a ping
//! still unanswered counts as waiting until the end), whether it was dropped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time between two pings (and two messages).
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// One kind of request GOOD sends (pings, or messages the victim echoes): how
/// many went, how many were answered, the longest wait for an answer.
#[derive(Debug, Default, Clone)]
pub(crate) struct RoundTrips {
    pub(crate) sent: u32,
    pub(crate) answered: u32,
    pub(crate) worst: Duration,
}

/// What GOOD saw during an attack.
#[derive(Debug, Default, Clone)]
pub(crate) struct GoodReport {
    /// Pings, answered by Pongs.
    pub(crate) pings: RoundTrips,
    /// `good N` messages, answered by `echo N`.
    pub(crate) echoes: RoundTrips,
    /// The victim closed the connection.
    pub(crate) dropped: bool,
}

/// Requests of one kind not yet answered (their send times, by number), and
/// their round trips so far.
#[derive(Default)]
struct Pending {
    sent_at: HashMap<u32, Instant>,
    trips: RoundTrips,
}

impl Pending {
    fn sent(&mut self, n: u32, now: Instant) {
        self.sent_at.insert(n, now);
        self.trips.sent += 1;
    }

    fn answered(&mut self, n: u32) {
        if let Some(t) = self.sent_at.remove(&n) {
            self.trips.answered += 1;
            self.trips.worst = self.trips.worst.max(t.elapsed());
        }
    }

    /// The round trips, a request still unanswered counting as waiting until `now`.
    fn at(&self, now: Instant) -> RoundTrips {
        let oldest = self.sent_at.values().map(|t| now - *t).max().unwrap_or_default();
        RoundTrips { worst: self.trips.worst.max(oldest), ..self.trips.clone() }
    }
}

/// What GOOD waits for, and whether the victim dropped it.
#[derive(Default)]
struct Waiting {
    pings: Pending,
    msgs: Pending,
    dropped: bool,
}

/// GOOD, connected to the victim.
pub(crate) struct Good {
    stream: TcpStream,
    /// The victim's subscription id for `^good (.*)$`.
    binding: String,
    /// The victim's TCP port.
    pub(crate) victim_port: u16,
    waiting: Arc<Mutex<Waiting>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Good {
    /// Announces GOOD on the bus at `bus_port` until the victim connects (within
    /// `timeout`), and completes the handshake.
    pub(crate) fn join(bus_port: u16, timeout: Duration) -> Result<Good, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let udp = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let deadline = Instant::now() + timeout;
        let stream = loop {
            let _ = udp.send_to(format!("3 {port} good:1 GOOD\n").as_bytes(), ("127.0.0.1", bus_port));
            std::thread::sleep(Duration::from_millis(50));
            if let Ok((stream, _)) = listener.accept() {
                break stream;
            }
            if Instant::now() > deadline {
                return Err("the victim never connected to GOOD".into());
            }
        };
        stream.set_nonblocking(false).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let (mut victim_port, mut binding) = (0, None);
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line).map_err(|e| format!("handshake: {e}"))? == 0 {
                return Err("the victim closed during the handshake".into());
            }
            let text = String::from_utf8_lossy(&line);
            if let Some(rest) = text.strip_prefix("6 ") {
                victim_port = rest.split('\x02').next().and_then(|p| p.parse().ok()).unwrap_or(0);
            } else if let Some(rest) = text.strip_prefix("1 ")
                && rest.contains("^good")
            {
                binding = rest.split('\x02').next().map(str::to_string);
            } else if text.starts_with("5 ") {
                break;
            }
        }
        let binding = binding.ok_or("the victim did not subscribe to ^good")?;
        let mut good =
            Good { stream, binding, victim_port, waiting: Arc::default(), stop: Arc::default(), threads: Vec::new() };
        good.write(format!("6 {port}\x02GOOD\n1 0\x02^echo ([0-9]+)\n5 0\x02\n").as_bytes())?;
        good.threads.push(read_answers(reader, good.waiting.clone()));
        Ok(good)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream.write_all(bytes).map_err(|e| format!("GOOD's write: {e}"))
    }

    /// Starts the ticks: a ping and a message (with `filler` bytes after its
    /// number) every [`TICK`], on a thread, until [`Good::finish`].
    pub(crate) fn start(&mut self, filler: usize) -> Result<(), String> {
        let mut stream = self.stream.try_clone().map_err(|e| e.to_string())?;
        stream.set_write_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        let (waiting, stop, binding) = (self.waiting.clone(), self.stop.clone(), self.binding.clone());
        let pad = "f".repeat(filler);
        self.threads.push(std::thread::spawn(move || {
            let mut n = 0u32;
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let line = format!("9 {n}\x02\n2 {binding}\x02{n} {pad}\x03\n");
                {
                    let mut w = waiting.lock().unwrap_or_else(|e| e.into_inner());
                    let now = Instant::now();
                    w.pings.sent(n, now);
                    w.msgs.sent(n, now);
                }
                if stream.write_all(line.as_bytes()).is_err() {
                    return;
                }
                next += TICK;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        }));
        Ok(())
    }

    /// Stops the ticks, waits `grace` for the last answers, and reports; what is
    /// still unanswered counts as waiting until now.
    pub(crate) fn finish(mut self, grace: Duration) -> GoodReport {
        self.stop.store(true, Ordering::Relaxed);
        std::thread::sleep(grace);
        let w = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let report = GoodReport { pings: w.pings.at(now), echoes: w.msgs.at(now), dropped: w.dropped };
        drop(w);
        let _ = self.stream.shutdown(Shutdown::Both);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        report
    }
}

/// Reads the victim's Pongs (`10 N`) and echoes (`2 0\x02N\x03`) on a thread.
fn read_answers(mut reader: BufReader<TcpStream>, waiting: Arc<Mutex<Waiting>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let _ = reader.get_ref().set_read_timeout(None);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            let number = |s: &str| s.trim_end_matches(['\x02', '\x03', '\n']).parse::<u32>().ok();
            let mut w = waiting.lock().unwrap_or_else(|e| e.into_inner());
            let pong = text.strip_prefix("10 ").and_then(|r| number(r.split('\x02').next().unwrap_or("")));
            let echo = text.strip_prefix("2 0\x02").and_then(number);
            if let Some(n) = pong {
                w.pings.answered(n);
            } else if let Some(n) = echo {
                w.msgs.answered(n);
            }
        }
        waiting.lock().unwrap_or_else(|e| e.into_inner()).dropped = true;
    })
}
