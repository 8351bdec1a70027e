//! Where a bus's sockets are watched: the loop back-end its driver talks to. Two
//! implement it: the [`super::EventLoop`]'s epoll set ([`EpollSockets`]), and a
//! loop the program owns (the C library's: the application's `ivychannel.h`).
//! Readiness comes back through [`SocketEvents`].
//!
//! The driver calls [`SocketLoop::watch`] and [`SocketLoop::unwatch`] from the
//! thread that starts or stops the bus and from its loop's thread, and
//! [`SocketLoop::set_writable`] from its loop's thread only: a loop that is not
//! thread-safe (Qt, GLib's watches of a context another thread runs) is only
//! touched where it runs, or before it runs.

use super::driver::Driver;
use super::sys::{Epoll, POLLERR, POLLHUP, POLLIN, POLLOUT};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Weak};

/// A loop that watches a bus's sockets and reports their readiness to
/// [`SocketEvents::ready`].
pub trait SocketLoop: Send + Sync {
    /// Watches `fd` for reading (and hang-ups), and for writing while
    /// [`SocketLoop::set_writable`] says so (off at first).
    fn watch(&self, fd: RawFd) -> io::Result<()>;
    /// Watches `fd` for writing too, or no longer.
    fn set_writable(&self, fd: RawFd, on: bool) -> io::Result<()>;
    /// Stops watching `fd`; called before the descriptor is closed.
    fn unwatch(&self, fd: RawFd);
}

/// What a socket loop calls when a watched descriptor is ready. Cheap to clone;
/// calls after the bus is gone do nothing.
#[derive(Clone)]
pub struct SocketEvents {
    driver: Weak<Driver>,
}

/// How a descriptor is ready.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Bytes (or a connection) wait, or the peer closed.
    pub readable: bool,
    /// The socket takes bytes (or a connect finished).
    pub writable: bool,
    /// An error or a hang-up.
    pub failed: bool,
}

impl Readiness {
    /// From poll(2) bits.
    pub fn from_poll(revents: i16) -> Readiness {
        Readiness {
            readable: revents & POLLIN != 0,
            writable: revents & POLLOUT != 0,
            failed: revents & (POLLERR | POLLHUP) != 0,
        }
    }
}

impl SocketEvents {
    pub(crate) fn new(driver: Weak<Driver>) -> SocketEvents {
        SocketEvents { driver }
    }

    /// Descriptor `fd` is ready: the bus reads, accepts or writes, then delivers
    /// what came of it to its callbacks. Call it on the thread that runs the loop.
    pub fn ready(&self, fd: RawFd, readiness: Readiness) {
        if let Some(driver) = self.driver.upgrade() {
            driver.ready(fd, readiness);
        }
    }
}

/// Makes the socket loop of a new bus from the bus's [`SocketEvents`].
pub type MakeSocketLoop = Box<dyn FnOnce(SocketEvents) -> Arc<dyn SocketLoop>>;

/// The loop's epoll set, where a bus's sockets stay registered under keys made
/// of the bus's source id (high half) and the descriptor (low half); id 0 is the
/// loop's own wake-up fd.
#[derive(Debug)]
pub(super) struct EpollSockets {
    epoll: Arc<Epoll>,
    source: u32,
}

/// The key of the loop's wake-up fd.
pub(super) const WAKER_KEY: u64 = 0;

/// The epoll key of descriptor `fd` of source `source`.
pub(super) fn key(source: u32, fd: RawFd) -> u64 {
    u64::from(source) << 32 | u64::from(fd as u32)
}

/// (source id, descriptor) of a key.
pub(super) fn split(key: u64) -> (u32, RawFd) {
    ((key >> 32) as u32, key as u32 as RawFd)
}

impl EpollSockets {
    pub(super) fn new(epoll: Arc<Epoll>, source: u32) -> EpollSockets {
        EpollSockets { epoll, source }
    }
}

impl SocketLoop for EpollSockets {
    fn watch(&self, fd: RawFd) -> io::Result<()> {
        self.epoll.add(fd, POLLIN, key(self.source, fd))
    }

    fn set_writable(&self, fd: RawFd, on: bool) -> io::Result<()> {
        let events = if on { POLLIN | POLLOUT } else { POLLIN };
        self.epoll.modify(fd, events, key(self.source, fd))
    }

    fn unwatch(&self, fd: RawFd) {
        // ENOENT (never added) and EBADF (already closed) leave nothing to undo.
        let _ = self.epoll.delete(fd);
    }
}

/// A socket watched by a [`SocketLoop`]. Dropping it stops the watch, then closes
/// the socket (unless a writer still holds it: see [`Watched::shared`]), so that no
/// watch outlives its descriptor number.
pub(super) struct Watched<S: AsRawFd> {
    sock: Arc<S>,
    writable: bool,
    sockets: Arc<dyn SocketLoop>,
}

impl<S: AsRawFd> Watched<S> {
    pub(super) fn new(sock: S, sockets: &Arc<dyn SocketLoop>) -> io::Result<Watched<S>> {
        sockets.watch(sock.as_raw_fd())?;
        Ok(Watched { sock: Arc::new(sock), writable: false, sockets: sockets.clone() })
    }

    pub(super) fn get(&self) -> &S {
        &self.sock
    }

    /// The socket, for a write made without the driver's lock: the descriptor stays
    /// open while the clone lives, even if the connection is dropped meanwhile.
    pub(super) fn shared(&self) -> Arc<S> {
        self.sock.clone()
    }

    pub(super) fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Watches for writability too, or no longer (no call when unchanged).
    pub(super) fn set_writable(&mut self, on: bool) -> io::Result<()> {
        if on != self.writable {
            self.sockets.set_writable(self.fd(), on)?;
            self.writable = on;
        }
        Ok(())
    }
}

impl<S: AsRawFd> Drop for Watched<S> {
    fn drop(&mut self) {
        self.sockets.unwatch(self.sock.as_raw_fd());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::sys::Events;
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    fn ready(ep: &Epoll) -> Vec<(u64, i16)> {
        let mut events = Events::with_capacity(8);
        ep.wait(&mut events, Some(Duration::ZERO)).unwrap();
        events.iter().collect()
    }

    fn sockets(ep: &Arc<Epoll>, source: u32) -> Arc<dyn SocketLoop> {
        Arc::new(EpollSockets::new(ep.clone(), source))
    }

    #[test]
    fn keys_carry_source_and_descriptor() {
        assert_eq!(split(key(3, 17)), (3, 17));
        assert_eq!(split(key(u32::MAX, i32::MAX)), (u32::MAX, i32::MAX));
        assert_eq!(key(1, 0), 1 << 32);
        assert_ne!(key(1, 0), WAKER_KEY);
    }

    #[test]
    fn watched_socket_reports_under_its_key_and_changes_interest() {
        let ep = Arc::new(Epoll::new().unwrap());
        let (a, mut b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let mut watched = Watched::new(a, &sockets(&ep, 5)).unwrap();
        assert_eq!(ready(&ep), vec![]);
        b.write_all(b"x").unwrap();
        assert_eq!(ready(&ep), vec![(key(5, fd), POLLIN)]);
        watched.set_writable(true).unwrap();
        assert_eq!(ready(&ep), vec![(key(5, fd), POLLIN | POLLOUT)]);
    }

    #[test]
    fn drop_deregisters_even_when_the_file_outlives_the_descriptor() {
        // A duplicate keeps the open file alive after the watched descriptor closes:
        // without the delete before close, its registration would keep firing under
        // a key whose number may belong to another socket by then.
        let ep = Arc::new(Epoll::new().unwrap());
        let (a, mut b) = UnixStream::pair().unwrap();
        let dup = a.try_clone().unwrap();
        let watched = Watched::new(a, &sockets(&ep, 1)).unwrap();
        drop(watched);
        b.write_all(b"x").unwrap();
        assert_eq!(ready(&ep), vec![]);
        drop(dup);
    }

    #[test]
    fn a_writer_keeps_the_descriptor_open_after_the_drop() {
        let ep = Arc::new(Epoll::new().unwrap());
        let (a, mut b) = UnixStream::pair().unwrap();
        let watched = Watched::new(a, &sockets(&ep, 1)).unwrap();
        let writer = watched.shared();
        drop(watched);
        // Unwatched at once, closed only when the writer is done.
        b.write_all(b"x").unwrap();
        assert_eq!(ready(&ep), vec![]);
        let mut x = [0];
        std::io::Read::read_exact(&mut &*writer, &mut x).unwrap();
        (&*writer).write_all(b"y").unwrap();
        drop(writer);
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut b, &mut rest).unwrap();
        assert_eq!(rest, b"y");
    }

    #[test]
    fn a_reused_number_registers_afresh() {
        let ep = Arc::new(Epoll::new().unwrap());
        let socks = sockets(&ep, 1);
        let (a, _b) = UnixStream::pair().unwrap();
        drop(Watched::new(a, &socks).unwrap());
        let (c, mut d) = UnixStream::pair().unwrap();
        let fd = c.as_raw_fd();
        let _watched = Watched::new(c, &socks).unwrap();
        d.write_all(b"y").unwrap();
        // Linux hands out the lowest free number, usually the one just closed: the
        // old registration is gone and does not shadow the new one.
        assert_eq!(ready(&ep), vec![(key(1, fd), POLLIN)]);
    }
}
