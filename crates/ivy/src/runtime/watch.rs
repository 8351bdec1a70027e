//! Persistent registrations of a source's descriptors in the loop's epoll set. A key
//! holds the source's id (high half) and the descriptor (low half); id 0 is the
//! loop's own wake-up fd.

use super::sys::Epoll;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

/// The key of the loop's wake-up fd.
pub const WAKER_KEY: u64 = 0;

/// The epoll key of descriptor `fd` of source `source`.
pub fn key(source: u32, fd: RawFd) -> u64 {
    u64::from(source) << 32 | u64::from(fd as u32)
}

/// (source id, descriptor) of a key.
pub fn split(key: u64) -> (u32, RawFd) {
    ((key >> 32) as u32, key as u32 as RawFd)
}

/// What one source uses to (de)register its descriptors. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Watcher {
    epoll: Arc<Epoll>,
    source: u32,
}

impl Watcher {
    pub(super) fn new(epoll: Arc<Epoll>, source: u32) -> Watcher {
        Watcher { epoll, source }
    }

    /// The source id this watcher registers under.
    pub fn source(&self) -> u32 {
        self.source
    }

    /// Watches `fd` for the poll bits `events` (errors and hang-ups always).
    pub fn add(&self, fd: RawFd, events: i16) -> io::Result<()> {
        self.epoll.add(fd, events, key(self.source, fd))
    }

    pub fn modify(&self, fd: RawFd, events: i16) -> io::Result<()> {
        self.epoll.modify(fd, events, key(self.source, fd))
    }

    /// Stops watching `fd`; call it before closing the descriptor.
    pub fn delete(&self, fd: RawFd) {
        // ENOENT (never added) and EBADF (already closed) leave nothing to undo.
        let _ = self.epoll.delete(fd);
    }
}

/// A socket registered with the loop. Dropping it deletes the registration, then
/// closes the socket, so that no registration outlives its descriptor number.
#[derive(Debug)]
pub struct Watched<S: AsRawFd> {
    sock: S,
    events: i16,
    watcher: Watcher,
}

impl<S: AsRawFd> Watched<S> {
    pub fn new(sock: S, watcher: &Watcher, events: i16) -> io::Result<Watched<S>> {
        watcher.add(sock.as_raw_fd(), events)?;
        Ok(Watched { sock, events, watcher: watcher.clone() })
    }

    pub fn get(&self) -> &S {
        &self.sock
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Changes the watched poll bits (no system call when unchanged).
    pub fn set_events(&mut self, events: i16) -> io::Result<()> {
        if events != self.events {
            self.watcher.modify(self.sock.as_raw_fd(), events)?;
            self.events = events;
        }
        Ok(())
    }
}

impl<S: AsRawFd> Drop for Watched<S> {
    fn drop(&mut self) {
        self.watcher.delete(self.sock.as_raw_fd());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::sys::{Events, POLLIN, POLLOUT};
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    fn ready(ep: &Epoll) -> Vec<(u64, i16)> {
        let mut events = Events::with_capacity(8);
        ep.wait(&mut events, Some(Duration::ZERO)).unwrap();
        events.iter().collect()
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
        let w = Watcher::new(ep.clone(), 5);
        let (a, mut b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let mut watched = Watched::new(a, &w, POLLIN).unwrap();
        assert_eq!(ready(&ep), vec![]);
        b.write_all(b"x").unwrap();
        assert_eq!(ready(&ep), vec![(key(5, fd), POLLIN)]);
        watched.set_events(POLLIN | POLLOUT).unwrap();
        assert_eq!(ready(&ep), vec![(key(5, fd), POLLIN | POLLOUT)]);
    }

    #[test]
    fn drop_deregisters_even_when_the_file_outlives_the_descriptor() {
        // A duplicate keeps the open file alive after the watched descriptor closes:
        // without the delete before close, its registration would keep firing under
        // a key whose number may belong to another socket by then.
        let ep = Arc::new(Epoll::new().unwrap());
        let w = Watcher::new(ep.clone(), 1);
        let (a, mut b) = UnixStream::pair().unwrap();
        let dup = a.try_clone().unwrap();
        let watched = Watched::new(a, &w, POLLIN).unwrap();
        drop(watched);
        b.write_all(b"x").unwrap();
        assert_eq!(ready(&ep), vec![]);
        drop(dup);
    }

    #[test]
    fn a_reused_number_registers_afresh() {
        let ep = Arc::new(Epoll::new().unwrap());
        let w = Watcher::new(ep.clone(), 1);
        let (a, _b) = UnixStream::pair().unwrap();
        drop(Watched::new(a, &w, POLLIN).unwrap());
        let (c, mut d) = UnixStream::pair().unwrap();
        let fd = c.as_raw_fd();
        let _watched = Watched::new(c, &w, POLLIN).unwrap();
        d.write_all(b"y").unwrap();
        // Linux hands out the lowest free number, usually the one just closed: the
        // old registration is gone and does not shadow the new one.
        assert_eq!(ready(&ep), vec![(key(1, fd), POLLIN)]);
    }
}
