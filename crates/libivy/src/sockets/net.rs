//! The sockets of the socket layer, as ivy-c's sets them up (ivy-protocol.md
//! §1.3): a TCP listener and a UDP socket with address and port reuse bound to
//! the wildcard address, and outgoing TCP connections; non-blocking, with
//! TCP_NODELAY on connections. Also the conversions between `SocketAddr` and
//! C's `struct sockaddr_storage`.

use std::ffi::c_int;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use libc::{sockaddr_in, sockaddr_in6, sockaddr_storage, socklen_t};

/// How long a connect may take before it is given up (ivy-c waits as long as
/// the system does: minutes for a silent host).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `listen` backlog (ivy-c's).
const BACKLOG: c_int = 128;

/// A TCP listener on the wildcard address of the family, at `port` (0: any).
pub(crate) fn listener(ipv6: bool, port: u16) -> io::Result<TcpListener> {
    let fd = bound(ipv6, port, libc::SOCK_STREAM, &[libc::SO_REUSEADDR, libc::SO_REUSEPORT])?;
    // SAFETY: `fd` is a bound stream socket owned by this function.
    if unsafe { libc::listen(fd.as_raw_fd(), BACKLOG) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpListener::from(fd))
}

/// A UDP socket on the wildcard address of the family, at `port`, allowed to
/// broadcast.
pub(crate) fn datagram(ipv6: bool, port: u16) -> io::Result<UdpSocket> {
    let options = [libc::SO_REUSEADDR, libc::SO_REUSEPORT, libc::SO_BROADCAST];
    bound(ipv6, port, libc::SOCK_DGRAM, &options).map(UdpSocket::from)
}

/// A connection to the first of `addrs` that answers within [`CONNECT_TIMEOUT`].
pub(crate) fn connect(addrs: impl IntoIterator<Item = SocketAddr>) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => return prepared(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// An accepted or connected stream made ready for the loop.
pub(crate) fn prepared(stream: TcpStream) -> io::Result<TcpStream> {
    stream.set_nonblocking(true)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A non-blocking socket of `kind` with the `SOL_SOCKET` flags `options` set,
/// bound to the family's wildcard address at `port`.
fn bound(ipv6: bool, port: u16, kind: c_int, options: &[c_int]) -> io::Result<OwnedFd> {
    let family = if ipv6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: a plain system call; its result is checked below.
    let raw = unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: c_int = 1;
    for &option in options {
        // SAFETY: `one` is a readable c_int of the size passed.
        let rc = unsafe {
            libc::setsockopt(raw, libc::SOL_SOCKET, option, (&raw const one).cast(), size_of::<c_int>() as socklen_t)
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let ip = if ipv6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
    let (addr, len) = to_storage(SocketAddr::new(ip, port));
    // SAFETY: `addr` holds a socket address of `len` bytes of the socket's family.
    if unsafe { libc::bind(raw, (&raw const addr).cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// `addr` as C's `struct sockaddr_storage`, and the length of its address.
pub(crate) fn to_storage(addr: SocketAddr) -> (sockaddr_storage, socklen_t) {
    // SAFETY: all-zero bytes are a valid sockaddr_storage (plain integers).
    let mut storage: sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from(*a.ip()).to_be() },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is large and aligned enough for any
            // socket address, sockaddr_in included.
            unsafe { (&raw mut storage).cast::<sockaddr_in>().write(sin) };
            size_of::<sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { (&raw mut storage).cast::<sockaddr_in6>().write(sin6) };
            size_of::<sockaddr_in6>()
        }
    };
    (storage, len as socklen_t)
}

/// The address (port included) held by a C `struct sockaddr_storage`; `None`
/// when its family is neither IPv4 nor IPv6.
pub(crate) fn from_storage(storage: &sockaddr_storage) -> Option<SocketAddr> {
    match c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is aligned for it.
            let sin = unsafe { &*(storage as *const sockaddr_storage).cast::<sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*(storage as *const sockaddr_storage).cast::<sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Some(SocketAddr::V6(SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_go_to_c_and_back() {
        for text in ["127.0.0.1:2345", "[::1]:40000", "[fe80::1%3]:7"] {
            let addr: SocketAddr = text.parse().unwrap();
            let (storage, len) = to_storage(addr);
            assert_eq!(from_storage(&storage), Some(addr));
            let expected = if addr.is_ipv4() { size_of::<sockaddr_in>() } else { size_of::<sockaddr_in6>() };
            assert_eq!(len as usize, expected);
        }
        let (mut storage, _) = to_storage("127.0.0.1:1".parse().unwrap());
        storage.ss_family = libc::AF_UNIX as libc::sa_family_t;
        assert_eq!(from_storage(&storage), None);
    }

    #[test]
    fn the_c_layout_is_network_order() {
        let (storage, _) = to_storage("1.2.3.4:258".parse().unwrap());
        // SAFETY: to_storage wrote a sockaddr_in.
        let sin = unsafe { &*(&raw const storage).cast::<sockaddr_in>() };
        assert_eq!(sin.sin_port.to_ne_bytes(), [1, 2]);
        assert_eq!(sin.sin_addr.s_addr.to_ne_bytes(), [1, 2, 3, 4]);
    }

    #[test]
    fn a_listener_on_any_port_of_loopback_accepts() {
        let l = listener(false, 0).unwrap();
        let port = l.local_addr().unwrap().port();
        assert_ne!(port, 0);
        let c = connect([SocketAddr::from(([127, 0, 0, 1], port))]).unwrap();
        assert!(l.accept().is_ok());
        assert!(c.nodelay().unwrap());
    }

    #[test]
    fn two_datagram_sockets_share_a_port() {
        let a = datagram(false, 0).unwrap();
        let port = a.local_addr().unwrap().port();
        let b = datagram(false, port).unwrap();
        assert!(b.broadcast().unwrap());
        b.send_to(b"x\n", SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
    }
}
