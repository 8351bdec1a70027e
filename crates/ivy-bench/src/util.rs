//! Small shared pieces: the monotonic clock shared by every process, resource usage,
//! the content checksum, the result-line format, statistics and JSON output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

/// CLOCK_MONOTONIC in ns: the same clock in every process of the machine, so that
/// timestamps taken by different roles can be subtracted.
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// getrusage(RUSAGE_SELF): (user µs, system µs, max RSS KiB, voluntary, involuntary switches).
pub(crate) fn rusage() -> (u64, u64, u64, u64, u64) {
    // SAFETY: an all-zero rusage is a valid value; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000 + tv.tv_usec as u64;
    (us(ru.ru_utime), us(ru.ru_stime), ru.ru_maxrss as u64, ru.ru_nvcsw as u64, ru.ru_nivcsw as u64)
}

/// Checksum of one message body; bodies are summed (wrapping) over a run. Written
/// identically in the C and Python roles: 8-byte little-endian words (the last one
/// zero-padded), each xored in, multiplied, folded.
pub(crate) fn hash64(data: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = 0xCBF2_9CE4_8422_2325u64 ^ data.len() as u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
        h ^= h >> 32;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
        h ^= h >> 32;
    }
    h
}

/// Writes `n` as exactly `width` decimal digits (zero-padded, high digits dropped).
pub(crate) fn put_digits(out: &mut [u8], mut n: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Parses leading ASCII digits.
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// Builds message bodies: for sequence number `seq`, 10 digits, then, for larger
/// sizes, a space and filler letters `'a' + (seq + i) % 26` (copied from a
/// precomputed pattern, so that the benchmark's own cost stays small).
pub(crate) struct Bodies {
    pattern: Vec<u8>,
}

impl Bodies {
    pub(crate) fn new(len: usize) -> Bodies {
        Bodies { pattern: (0..len + 26).map(|j| b'a' + (j % 26) as u8).collect() }
    }

    pub(crate) fn fill(&self, body: &mut [u8], seq: u64) {
        let (digits, rest) = body.split_at_mut(body.len().min(10));
        put_digits(digits, seq);
        if let Some((space, filler)) = rest.split_first_mut() {
            *space = b' ';
            let base = (seq % 26) as usize;
            filler.copy_from_slice(&self.pattern[base..base + filler.len()]);
        }
    }
}

/// One machine-readable result line: `IVYBENCH key=value ...` (values hold no space).
#[derive(Default)]
pub(crate) struct Line {
    text: String,
}

impl Line {
    pub(crate) fn new(role: &str) -> Line {
        let mut l = Line { text: "IVYBENCH".into() };
        l.kv("role", role);
        l
    }

    pub(crate) fn kv(&mut self, key: &str, value: impl std::fmt::Display) -> &mut Line {
        let _ = write!(self.text, " {key}={value}");
        self
    }

    /// Appends this process's resource usage, then prints the line ([`Line::emit`]):
    /// the end of every role.
    pub(crate) fn emit_with_rusage(&mut self) {
        let (user, sys, rss, vcsw, ivcsw) = rusage();
        self.kv("cpu_user_us", user).kv("cpu_sys_us", sys).kv("maxrss_kb", rss).kv("vcsw", vcsw).kv("ivcsw", ivcsw);
        self.emit();
    }

    /// Prints the line on stdout and flushes (stdout is a pipe to the orchestrator).
    pub(crate) fn emit(&self) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", self.text);
        let _ = out.flush();
    }
}

/// Prints an intermediate line (`IVYBENCH-<KIND> ...`) and flushes.
pub(crate) fn emit_event(kind: &str, text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "IVYBENCH-{kind} {text}");
    let _ = out.flush();
}

/// A parsed result line.
pub(crate) type Fields = BTreeMap<String, String>;

pub(crate) fn parse_line(line: &str) -> Option<Fields> {
    let rest = line.strip_prefix("IVYBENCH ")?;
    Some(
        rest.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

pub(crate) trait FieldsExt {
    fn num(&self, key: &str) -> Result<f64, String>;
    fn u(&self, key: &str) -> Result<u64, String>;
    fn s(&self, key: &str) -> &str;
    fn cpu_s(&self) -> f64;
}

impl FieldsExt for Fields {
    fn num(&self, key: &str) -> Result<f64, String> {
        let v = self.get(key).ok_or_else(|| format!("result of {} lacks {key}", self.s("role")))?;
        v.parse().map_err(|_| format!("bad {key}={v}"))
    }
    fn u(&self, key: &str) -> Result<u64, String> {
        let v = self.get(key).ok_or_else(|| format!("result of {} lacks {key}", self.s("role")))?;
        v.parse().map_err(|_| format!("bad {key}={v}"))
    }
    fn s(&self, key: &str) -> &str {
        self.get(key).map_or("", String::as_str)
    }
    fn cpu_s(&self) -> f64 {
        (self.num("cpu_user_us").unwrap_or(0.0) + self.num("cpu_sys_us").unwrap_or(0.0)) / 1e6
    }
}

/// Percentile (nearest rank) of sorted samples.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

/// A JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number (NaN and infinities as null).
pub(crate) fn json_num(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { "null".into() }
}

/// Reads `/proc/<pid>/status` fields in KiB or counts:
/// (VmRSS, VmHWM, Threads, RssAnon, RssFile).
pub(crate) fn proc_status(pid: u32) -> Option<(u64, u64, u64, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Some((field("VmRSS:"), field("VmHWM:"), field("Threads:"), field("RssAnon:"), field("RssFile:")))
}

/// Context switches (voluntary + involuntary) summed over every thread of `pid`,
/// and the process's CPU ticks (utime + stime from /proc/<pid>/stat).
pub(crate) fn proc_wakeups(pid: u32) -> Option<(u64, u64)> {
    let mut switches = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("status");
        let text = std::fs::read_to_string(path).ok()?;
        for l in text.lines() {
            if let Some(v) =
                l.strip_prefix("voluntary_ctxt_switches:").or(l.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                switches += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((switches, ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_body() {
        let bodies = Bodies::new(20);
        let mut b = [0u8; 20];
        bodies.fill(&mut b, 42);
        assert_eq!(&b, b"0000000042 qrstuvwxy");
        assert_eq!(parse_u64(&b[..10]), Some(42));
        let mut small = [0u8; 10];
        bodies.fill(&mut small, 7);
        assert_eq!(&small, b"0000000007");
    }

    #[test]
    fn hash_is_stable() {
        // The C and Python roles check against the same value.
        assert_eq!(hash64(b"0000000042"), hash64(b"0000000042"));
        assert_ne!(hash64(b"0000000042"), hash64(b"0000000043"));
        assert_ne!(hash64(b""), hash64(b"\0"));
    }

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    }
}
