//! Socket set-up (§1.3): the bus's UDP socket, the TCP listener, non-blocking connects.

use super::sys;
use ivy_proto::wire::BusSpec;
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, TcpKeepalive, Type};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Multicast TTL, as ivy-c.
const MULTICAST_TTL: u32 = 64;
/// Listen backlog, as ivy-c.
const BACKLOG: i32 = 128;

fn any(ipv6: bool, port: u16) -> SocketAddr {
    let ip = if ipv6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
    SocketAddr::new(ip, port)
}

fn domain(ipv6: bool) -> Domain {
    if ipv6 { Domain::IPV6 } else { Domain::IPV4 }
}

/// The UDP socket bound to the bus port, shared with other agents on this host
/// (SO_REUSEADDR, SO_REUSEPORT), allowed to broadcast, member of the bus's groups.
pub(super) fn bus_socket(spec: &BusSpec) -> io::Result<UdpSocket> {
    let s = Socket::new(domain(spec.ipv6), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_broadcast(true)?;
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    s.bind(&SockAddr::from(any(spec.ipv6, spec.port)))?;
    for group in spec.multicast_groups() {
        match group {
            IpAddr::V4(g) => {
                s.join_multicast_v4(&g, &Ipv4Addr::UNSPECIFIED)?;
                s.set_multicast_ttl_v4(MULTICAST_TTL)?;
            }
            IpAddr::V6(g) => s.join_multicast_v6(&g, 0)?,
        }
    }
    Ok(s.into())
}

/// The TCP listener on an ephemeral port.
pub(super) fn listener(ipv6: bool) -> io::Result<TcpListener> {
    let s = Socket::new(domain(ipv6), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    s.bind(&SockAddr::from(any(ipv6, 0)))?;
    s.listen(BACKLOG)?;
    Ok(s.into())
}

/// How long a connect may go unanswered (SYNs dropped, not refused) before it
/// fails: TCP_USER_TIMEOUT, which Linux also applies to the SYN retries (about
/// 127 s otherwise). A connect under way holds a place under `max_peers`, and
/// anyone can make us dial; a peer on the bus answers in milliseconds.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts a non-blocking connect; completion shows as writability, failure within
/// [`DIAL_TIMEOUT`] when nothing answers.
pub(super) fn dial(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    s.set_tcp_user_timeout(Some(DIAL_TIMEOUT))?;
    match s.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(s.into())
}

/// How soon a peer whose host vanished without closing is declared gone. An
/// idle connection: TCP keepalive probes start after `idle` of silence and
/// repeat every `interval`; after `retries` unanswered ones the connection
/// fails. A connection where data waits for the peer: it is checked every
/// `interval`, and dropped once its host answered nothing for
/// [`Liveness::silence_limit`] while our retransmissions or window probes went
/// unanswered ([`host_vanished`]). A peer whose kernel answers but whose
/// window stays shut (a suspended or busy program) is alive: its congestion
/// queue governs it, as ivy-c's does. Either way the peer is Disconnected
/// within [`Liveness::detection_time`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liveness {
    /// Silence before the first probe.
    pub idle: Duration,
    /// Time between probes.
    pub interval: Duration,
    /// Probes unanswered before the connection fails.
    pub retries: u32,
}

impl Default for Liveness {
    /// Detection within 10 s + 3 × 5 s = 25 s.
    fn default() -> Self {
        Liveness { idle: Duration::from_secs(10), interval: Duration::from_secs(5), retries: 3 }
    }
}

impl Liveness {
    /// The longest a vanished peer goes unnoticed.
    pub fn detection_time(&self) -> Duration {
        self.idle + self.interval * self.retries
    }

    /// How long the host of a peer we wait for may stay silent: checked every
    /// `interval`, it is found within [`Liveness::detection_time`].
    pub fn silence_limit(&self) -> Duration {
        self.detection_time().saturating_sub(self.interval)
    }
}

/// Retransmissions or window probes in a row that must go unanswered before a
/// silent host counts as vanished: a live peer answers each window probe
/// before the next one is sent, however long its window stays shut.
const UNANSWERED: u8 = 2;

/// Whether data waits for the peer of `stream`: sent and not acknowledged, or
/// not sent for want of window.
pub(super) fn data_waits(stream: &TcpStream) -> io::Result<bool> {
    Ok(sys::unsent_bytes(stream.as_raw_fd())? > 0)
}

/// Whether the host of `stream`'s peer vanished: data waits for it, the last
/// [`UNANSWERED`] retransmissions or window probes went unanswered, and nothing
/// came from it for `limit`. Not TCP_USER_TIMEOUT: Linux applies it to a shut
/// window too, and would end a peer that is only slow.
pub(super) fn host_vanished(stream: &TcpStream, limit: Duration) -> io::Result<bool> {
    if !data_waits(stream)? {
        return Ok(false);
    }
    let info = sys::tcp_info(stream.as_raw_fd())?;
    let unanswered = info.tcpi_retransmits.max(info.tcpi_probes);
    let silent = Duration::from_millis(u64::from(info.tcpi_last_ack_recv));
    Ok(unanswered >= UNANSWERED && silent >= limit)
}

/// Every connection is non-blocking with TCP_NODELAY, and keepalive per `liveness`.
pub(super) fn configure(stream: &TcpStream, liveness: Option<Liveness>) -> io::Result<()> {
    stream.set_nonblocking(true)?;
    stream.set_nodelay(true)?;
    let sock = SockRef::from(stream);
    // A dialled socket's DIAL_TIMEOUT goes: a shut window must not end the peer.
    sock.set_tcp_user_timeout(None)?;
    let Some(l) = liveness else { return Ok(()) };
    let keepalive = TcpKeepalive::new().with_time(l.idle).with_interval(l.interval).with_retries(l.retries);
    sock.set_tcp_keepalive(&keepalive)
}

/// A fresh application id `R:T:P`: OS-seeded random, wall-clock ms, TCP port (§1.5).
pub(super) fn app_id(port: u16) -> String {
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish() as u32;
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    format!("{random}:{ms}:{port}")
}

/// The host name of `ip` by reverse lookup, short form (NI_NOFQDN); the address
/// itself when it has no name. May block on DNS: never called by the loop itself.
pub fn host_name(ip: IpAddr) -> String {
    let addr = SockAddr::from(SocketAddr::new(ip, 0));
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `addr` points to a valid sockaddr of `addr.len()` bytes; `host` is a
    // writable buffer of the length passed; no service buffer is requested.
    let rc = unsafe {
        libc::getnameinfo(
            addr.as_ptr().cast(),
            addr.len(),
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NOFQDN,
        )
    };
    if rc != 0 {
        return ip.to_string();
    }
    // SAFETY: getnameinfo succeeded, so `host` holds a NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) }.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_is_applied_to_connections() {
        let l = listener(false).unwrap();
        let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), l.local_addr().unwrap().port());
        let s = TcpStream::connect(addr).unwrap();
        let live = Liveness { idle: Duration::from_secs(7), interval: Duration::from_secs(2), retries: 4 };
        configure(&s, Some(live)).unwrap();
        let sock = SockRef::from(&s);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(7));
        assert_eq!(sock.tcp_keepalive_interval().unwrap(), Duration::from_secs(2));
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), 4);
        assert_eq!(sock.tcp_user_timeout().unwrap(), None, "a shut window must not end the connection");
        assert!(sock.tcp_nodelay().unwrap());
        assert_eq!(live.silence_limit(), Duration::from_secs(13));
        // Nothing waits for the peer: not vanished, however long it is silent.
        assert!(!data_waits(&s).unwrap());
        assert!(!host_vanished(&s, Duration::ZERO).unwrap());
    }

    #[test]
    fn a_dial_has_its_timeout_until_configured() {
        let l = listener(false).unwrap();
        let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), l.local_addr().unwrap().port());
        let s = dial(addr).unwrap();
        assert_eq!(SockRef::from(&s).tcp_user_timeout().unwrap(), Some(DIAL_TIMEOUT));
        configure(&s, None).unwrap();
        assert_eq!(SockRef::from(&s).tcp_user_timeout().unwrap(), None, "the system's default once connected");
    }
}
