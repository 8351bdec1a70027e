//! The physical limit: raw TCP over loopback, in the same run as the Ivy scenarios.
//!
//! - `raw-sink --count N --size S` / `raw-source --port P --count N --size S`: N lines
//!   of S bytes (LF included) over one connection, written in 64 KiB batches. The sink
//!   checks the line count, that every LF sits where a line of S bytes ends, and the
//!   byte sum.
//! - `raw-pong` / `raw-ping --port P --count N --warmup W [--poll 1]`: a line of 24
//!   bytes sent and echoed back, blocking sockets with TCP_NODELAY, one round trip at
//!   a time; with `--poll 1` both sides wait in poll(2) before each read, as an event
//!   loop does (send + poll + recv per message instead of send + recv).

use crate::args::Args;
use crate::roles::{push_latency, watchdog};
use crate::util::{Line, emit_event, now_ns};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};

const BATCH: usize = 64 << 10;

fn listen() -> Result<(TcpListener, u16), String> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("bind: {e}"))?;
    let port = l.local_addr().map_err(|e| e.to_string())?.port();
    Ok((l, port))
}

/// One batch of whole lines of `size` bytes: `r NNNNNNNNNN xxx...\n`.
fn batch(size: usize) -> Vec<u8> {
    let lines = (BATCH / size).max(1);
    let mut out = Vec::with_capacity(lines * size);
    for i in 0..lines {
        let mut line = format!("r {i:010} ").into_bytes();
        line.resize(size - 1, b'x');
        line.truncate(size - 1);
        line.push(b'\n');
        out.extend_from_slice(&line);
    }
    out
}

fn byte_sum(data: &[u8]) -> u64 {
    data.iter().map(|&b| u64::from(b)).sum()
}

pub(crate) fn source(a: &Args) -> Result<(), String> {
    let port = a.u64("port")? as u16;
    let count = a.u64("count")? as usize;
    let size = (a.u64_or("size", 24)? as usize).max(2);
    watchdog("raw-source", a.u64_or("timeout", 60)?);
    let block = batch(size);
    let per_block = block.len() / size;
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).map_err(|e| format!("connect: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let block_sum = byte_sum(&block);
    let (mut left, mut sum) = (count, 0u64);
    let t_start = now_ns();
    while left > 0 {
        let lines = left.min(per_block);
        let part = &block[..lines * size];
        s.write_all(part).map_err(|e| format!("write: {e}"))?;
        sum = sum.wrapping_add(if lines == per_block { block_sum } else { byte_sum(part) });
        left -= lines;
    }
    let t_sent = now_ns();
    s.shutdown(std::net::Shutdown::Write).map_err(|e| e.to_string())?;
    // Wait for the sink to close: its counts are then final.
    let mut rest = [0u8; 16];
    let _ = s.read(&mut rest);
    let mut line = Line::new("raw-source");
    line.kv("sent", count).kv("sum", sum).kv("t_start", t_start).kv("t_sent", t_sent);
    line.emit_with_rusage();
    Ok(())
}

pub(crate) fn sink(a: &Args) -> Result<(), String> {
    let size = (a.u64_or("size", 24)? as usize).max(2) as u64;
    watchdog("raw-sink", a.u64_or("timeout", 60)?);
    let (l, port) = listen()?;
    emit_event("PORT", &port.to_string());
    let (mut s, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
    let mut buf = vec![0u8; 256 << 10];
    let (mut total, mut lines, mut misplaced, mut sum, mut t_first) = (0u64, 0u64, 0u64, 0u64, 0u64);
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read: {e}")),
        };
        if t_first == 0 {
            t_first = now_ns();
        }
        let data = &buf[..n];
        let lf = data.iter().filter(|&&b| b == b'\n').count() as u64;
        // Stream offsets of line ends in this chunk: k*size - 1.
        let mut pos = (total / size + 1) * size - 1;
        let mut expected = 0;
        while pos < total + n as u64 {
            expected += 1;
            if data[(pos - total) as usize] != b'\n' {
                misplaced += 1;
            }
            pos += size;
        }
        if expected != lf {
            misplaced += expected.abs_diff(lf);
        }
        lines += lf;
        sum = sum.wrapping_add(byte_sum(data));
        total += n as u64;
    }
    let t_last = now_ns();
    drop(s);
    let mut line = Line::new("raw-sink");
    line.kv("count", lines)
        .kv("bytes", total)
        .kv("sum", sum)
        .kv("errors", misplaced)
        .kv("t_first", t_first)
        .kv("t_last", t_last);
    line.emit_with_rusage();
    Ok(())
}

/// Waits until `s` is readable (the poll of an event loop).
fn wait_readable(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, -1) };
}

const PING: &[u8; 24] = b"2 0\x02ping 0000000000\x03\x03\x03\x03\n";

pub(crate) fn pong(a: &Args) -> Result<(), String> {
    watchdog("raw-pong", a.u64_or("timeout", 60)?);
    let poll = a.u64_or("poll", 0)? != 0;
    let (l, port) = listen()?;
    emit_event("PORT", &port.to_string());
    let (mut s, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 24];
    let mut n = 0u64;
    loop {
        if poll {
            wait_readable(&s);
        }
        if s.read_exact(&mut buf).is_err() {
            break;
        }
        s.write_all(&buf).map_err(|e| format!("write: {e}"))?;
        n += 1;
    }
    let mut line = Line::new("raw-pong");
    line.kv("count", n);
    line.emit_with_rusage();
    Ok(())
}

pub(crate) fn ping(a: &Args) -> Result<(), String> {
    let port = a.u64("port")? as u16;
    let count = a.u64("count")?;
    let warmup = a.u64_or("warmup", 1000)?;
    watchdog("raw-ping", a.u64_or("timeout", 60)?);
    let poll = a.u64_or("poll", 0)? != 0;
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).map_err(|e| format!("connect: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut samples = Vec::with_capacity(count as usize);
    let mut msg = *PING;
    let mut back = [0u8; 24];
    let mut errors = 0;
    for i in 0..warmup + count {
        crate::util::put_digits(&mut msg[9..19], i);
        let t0 = now_ns();
        s.write_all(&msg).map_err(|e| format!("write: {e}"))?;
        if poll {
            wait_readable(&s);
        }
        s.read_exact(&mut back).map_err(|e| format!("read: {e}"))?;
        let rtt = now_ns() - t0;
        if back != msg {
            errors += 1;
        }
        if i >= warmup {
            samples.push(rtt);
        }
    }
    drop(s);
    samples.sort_unstable();
    let mut line = Line::new("raw-ping");
    push_latency(&mut line, &samples);
    line.kv("errors", errors);
    line.emit_with_rusage();
    Ok(())
}
