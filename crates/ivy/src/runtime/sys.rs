//! The loop's syscalls: epoll(7) for the descriptors the loop owns, poll(2) for user
//! channels, and an eventfd used to wake the loop from other threads.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

pub(super) use libc::{POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, pollfd};

/// A wait timeout in ms for poll and epoll_wait: -1 forever, rounded up so that a
/// timer is never waited for too early and spun on.
fn timeout_ms(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(t) => i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX),
    }
}

/// The result of a wait call: EINTR counts as zero ready.
fn ready_count(n: i32) -> io::Result<usize> {
    if n < 0 {
        let err = io::Error::last_os_error();
        return if err.kind() == io::ErrorKind::Interrupted { Ok(0) } else { Err(err) };
    }
    Ok(n as usize)
}

/// Waits for readiness on `fds`; `None` waits forever. EINTR counts as zero ready.
pub(super) fn poll(fds: &mut [pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    // SAFETY: `fds` is a valid, exclusively borrowed slice of pollfd for the call's duration.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms(timeout)) };
    ready_count(n)
}

/// Whether `fd` reports a hang-up or an error right now (a zero-timeout poll).
pub(super) fn hung_up(fd: RawFd) -> bool {
    let mut now = [entry(fd, 0)];
    poll(&mut now, Some(Duration::ZERO)).is_ok() && now.iter().any(|p| p.revents & (POLLERR | POLLHUP) != 0)
}

/// Receives from a connected socket into `buf` (recv(2), no flags), as a raw system
/// call: glibc's `recv` is a cancellation point, which costs a multi-threaded
/// process two more calls on every read. The loop's blocking point, epoll_wait,
/// stays one.
pub(super) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    let (null, no_flags) = (std::ptr::null_mut::<libc::c_void>(), libc::c_long::from(0));
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call's
    // duration; recvfrom(2) accepts null source-address arguments.
    let n = unsafe {
        libc::syscall(libc::SYS_recvfrom, libc::c_long::from(fd), buf.as_mut_ptr(), buf.len(), no_flags, null, null)
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Sends `buf` on a connected socket without raising SIGPIPE (send(2) with
/// MSG_NOSIGNAL, as std's `TcpStream::write`), as a raw system call (see [`recv`]).
pub(super) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    let (null, no_len) = (std::ptr::null::<libc::c_void>(), libc::c_long::from(0));
    let flags = libc::c_long::from(libc::MSG_NOSIGNAL);
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call's
    // duration; sendto(2) accepts a null destination on a connected socket.
    let n = unsafe {
        libc::syscall(libc::SYS_sendto, libc::c_long::from(fd), buf.as_ptr(), buf.len(), flags, null, no_len)
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// The kernel's TCP state of a connected socket (getsockopt TCP_INFO).
pub(super) fn tcp_info(fd: RawFd) -> io::Result<libc::tcp_info> {
    // SAFETY: tcp_info is plain old data, for which all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes, and `len` is a valid socklen_t
    // the kernel updates with the length it wrote (at most `len`).
    let rc = unsafe { libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, (&raw mut info).cast(), &raw mut len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info)
}

/// Bytes in a TCP socket's send queue: sent and not acknowledged, or not sent
/// yet (ioctl SIOCOUTQ).
pub(super) fn unsent_bytes(fd: RawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ writes one int to the pointer given, which is valid.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &raw mut n) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// A pollfd entry.
pub(super) fn entry(fd: RawFd, events: i16) -> pollfd {
    pollfd { fd, events, revents: 0 }
}

/// Poll bits (POLLIN, POLLOUT) as epoll bits.
fn to_epoll(events: i16) -> u32 {
    let mut out = 0;
    if events & POLLIN != 0 {
        out |= libc::EPOLLIN as u32;
    }
    if events & POLLOUT != 0 {
        out |= libc::EPOLLOUT as u32;
    }
    out
}

/// Epoll bits as poll bits (POLLIN, POLLOUT, POLLERR, POLLHUP).
fn to_poll(events: u32) -> i16 {
    [(libc::EPOLLIN, POLLIN), (libc::EPOLLOUT, POLLOUT), (libc::EPOLLERR, POLLERR), (libc::EPOLLHUP, POLLHUP)]
        .iter()
        .filter(|(e, _)| events & *e as u32 != 0)
        .fold(0, |acc, (_, p)| acc | p)
}

/// An epoll set: a descriptor stays registered, under a 64-bit key, until deleted.
/// Level-triggered, like poll. Delete a descriptor before closing it: a registration
/// outlives the number while another descriptor shares the open file.
#[derive(Debug)]
pub(super) struct Epoll {
    fd: OwnedFd,
}

/// Ready events filled in by [`Epoll::wait`].
pub(super) struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl Events {
    /// Room for `capacity` events per wait (more stay pending for the next one).
    pub(super) fn with_capacity(capacity: usize) -> Events {
        Events { buf: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)], len: 0 }
    }

    /// Forgets the events of the last wait.
    pub(super) fn clear(&mut self) {
        self.len = 0;
    }

    /// (key, poll bits) of each ready descriptor.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, i16)> + '_ {
        self.buf.iter().take(self.len).map(|e| (e.u64, to_poll(e.events)))
    }
}

impl Epoll {
    pub(super) fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 has no pointer arguments; the result is checked before use.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(Epoll { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    fn ctl(&self, op: i32, fd: RawFd, events: i16, key: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events: to_epoll(events), u64: key };
        // SAFETY: `event` is a live epoll_event for the call's duration; the kernel
        // copies it and keeps no pointer to it.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) };
        if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Watches `fd` for the poll bits `events` (POLLIN, POLLOUT; errors always).
    pub(super) fn add(&self, fd: RawFd, events: i16, key: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, key)
    }

    pub(super) fn modify(&self, fd: RawFd, events: i16, key: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, key)
    }

    pub(super) fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Waits for ready descriptors; `None` waits forever. EINTR counts as zero ready.
    pub(super) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        let max = i32::try_from(events.buf.len()).unwrap_or(i32::MAX);
        // SAFETY: the kernel writes at most `max` entries into `events.buf`, which
        // holds that many initialised epoll_event and is borrowed exclusively.
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.buf.as_mut_ptr(), max, timeout_ms(timeout)) };
        events.len = ready_count(n)?;
        Ok(events.len)
    }

    pub(super) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// An eventfd: any thread may `wake` the loop sleeping in poll.
#[derive(Debug)]
pub(super) struct Waker {
    fd: OwnedFd,
}

impl Waker {
    pub(super) fn new() -> io::Result<Waker> {
        // SAFETY: eventfd has no pointer arguments; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(Waker { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    pub(super) fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd; a full counter
        // (EAGAIN) already means the loop will wake, so the result is not needed.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Clears pending wake-ups.
    pub(super) fn drain(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64 from our own non-blocking eventfd.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
    }

    pub(super) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Returns the free memory at the top of the heap, and free pages inside it, to
/// the system (glibc keeps them otherwise): after a peer that held thousands of
/// regexps leaves, the agent's RSS comes back down. Pages that hold a chunk
/// cached by a live thread stay (see `reclaim.rs`).
pub(super) fn give_back_memory() {
    // SAFETY: malloc_trim has no pointer arguments and only walks the allocator's
    // own structures, under its own locks.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Spawns a thread named `name` that runs `f` with every signal blocked, so
/// that no handler of the host program (libivy runs inside C programs) ever
/// runs on it. A new thread starts with its creator's mask: blocking every
/// signal here around the spawn, rather than in the thread, leaves it no moment
/// unmasked; signals that come meanwhile wait for the mask restored just after.
/// When the spawn fails, `f` is dropped here.
pub(super) fn spawn_without_signals<F>(name: &str, f: F) -> io::Result<std::thread::JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    // SAFETY: sigset_t is plain old data, filled by sigfillset before use.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `before` is written by pthread_sigmask before it is read.
    let mut before: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both sets are live and writable; pthread_sigmask only changes the
    // calling thread's mask, which is restored below whatever the spawn did.
    unsafe {
        libc::sigfillset(&raw mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const all, &raw mut before);
    }
    let spawned = std::thread::Builder::new().name(name.to_owned()).spawn(f);
    // SAFETY: `before` is the mask pthread_sigmask reported above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &raw const before, std::ptr::null_mut()) };
    spawned
}

/// A timerfd on the monotonic clock: readable once its deadline passed, until
/// drained or set again.
#[derive(Debug)]
pub(super) struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    pub(super) fn new() -> io::Result<TimerFd> {
        // SAFETY: timerfd_create has no pointer arguments; the result is checked before use.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(TimerFd { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Fires `after` from now (at once for zero), or never (`None`).
    pub(super) fn set(&self, after: Option<Duration>) -> io::Result<()> {
        // A zero it_value disarms: the earliest expiry is 1 ns.
        let after = after.map(|d| d.max(Duration::from_nanos(1)));
        let value = after.map_or(libc::timespec { tv_sec: 0, tv_nsec: 0 }, |d| libc::timespec {
            tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: d.subsec_nanos() as libc::c_long,
        });
        let spec = libc::itimerspec { it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 }, it_value: value };
        // SAFETY: `spec` is a live itimerspec for the call; no old value is asked for.
        let rc = unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Clears the expiry, so that the descriptor is no longer readable.
    pub(super) fn drain(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64 from our own non-blocking timerfd.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
    }

    pub(super) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hung_up_asks_the_descriptor_itself() {
        let (a, b) = UnixStream::pair().expect("pair");
        assert!(!hung_up(a.as_raw_fd()), "an open, idle socket");
        drop(b);
        assert!(hung_up(a.as_raw_fd()), "its peer is gone");
    }
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    /// Which of a few signals the calling thread blocks.
    fn blocked() -> Vec<bool> {
        // SAFETY: sigset_t is plain old data; pthread_sigmask only writes `set`.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: a null new mask only reads the calling thread's mask into `set`.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &raw mut set) };
        let signals = [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1, libc::SIGALRM, libc::SIGCHLD, libc::SIGRTMIN()];
        // SAFETY: `set` is a valid, initialised signal set.
        signals.iter().map(|&sig| unsafe { libc::sigismember(&raw const set, sig) } == 1).collect()
    }

    #[test]
    fn a_thread_spawned_without_signals_blocks_them_all_and_its_creator_none_more() {
        let before = blocked();
        assert!(before.iter().all(|b| !b), "the test thread blocks none of them");
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = spawn_without_signals("ivy-test", move || {
            let _ = tx.send((blocked(), std::thread::current().name().map(str::to_owned)));
        })
        .expect("spawn");
        thread.join().expect("join");
        let (inside, name) = rx.recv().expect("its mask");
        assert!(inside.iter().all(|&b| b), "{inside:?}");
        assert_eq!(name.as_deref(), Some("ivy-test"));
        assert_eq!(blocked(), before, "the creator's mask restored");
    }

    fn ready(ep: &Epoll, events: &mut Events) -> Vec<(u64, i16)> {
        ep.wait(events, Some(Duration::ZERO)).unwrap();
        events.iter().collect()
    }

    #[test]
    fn registrations_persist_until_deleted() {
        let ep = Epoll::new().unwrap();
        let mut events = Events::with_capacity(8);
        let (a, mut b) = UnixStream::pair().unwrap();
        ep.add(a.as_raw_fd(), POLLIN, 7).unwrap();
        assert_eq!(ready(&ep, &mut events), vec![]);
        b.write_all(b"x").unwrap();
        // Level-triggered: reported on every wait until read.
        assert_eq!(ready(&ep, &mut events), vec![(7, POLLIN)]);
        assert_eq!(ready(&ep, &mut events), vec![(7, POLLIN)]);
        ep.modify(a.as_raw_fd(), POLLIN | POLLOUT, 8).unwrap();
        assert_eq!(ready(&ep, &mut events), vec![(8, POLLIN | POLLOUT)]);
        assert_eq!(ep.add(a.as_raw_fd(), POLLIN, 9).unwrap_err().raw_os_error(), Some(libc::EEXIST));
        ep.delete(a.as_raw_fd()).unwrap();
        assert_eq!(ready(&ep, &mut events), vec![]);
        assert_eq!(ep.delete(a.as_raw_fd()).unwrap_err().raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn hang_up_and_capacity() {
        let ep = Epoll::new().unwrap();
        let mut events = Events::with_capacity(1);
        let (a, b) = UnixStream::pair().unwrap();
        let (c, d) = UnixStream::pair().unwrap();
        ep.add(a.as_raw_fd(), POLLIN, 1).unwrap();
        ep.add(c.as_raw_fd(), 0, 2).unwrap();
        drop(b);
        drop(d);
        // One event per wait with room for one; errors and hang-ups need no interest.
        let first = ready(&ep, &mut events);
        let second = ready(&ep, &mut events);
        let mut both = [first, second].concat();
        both.sort();
        assert_eq!(both, vec![(1, POLLIN | POLLHUP), (2, POLLHUP)]);
    }

    #[test]
    fn a_closed_descriptor_leaves_the_set_and_its_number_can_be_registered_again() {
        let ep = Epoll::new().unwrap();
        let mut events = Events::with_capacity(8);
        let (a, mut b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        ep.add(fd, POLLIN, 1).unwrap();
        ep.delete(fd).unwrap();
        drop(a);
        // The next socket usually gets the same number; it registers afresh.
        let (c, _d) = UnixStream::pair().unwrap();
        ep.add(c.as_raw_fd(), POLLIN, 2).unwrap();
        b.write_all(b"x").unwrap_or_default();
        assert_eq!(ready(&ep, &mut events), vec![]);
    }

    #[test]
    fn a_timerfd_is_readable_once_due() {
        let t = TimerFd::new().unwrap();
        let readable = |t: &TimerFd| {
            let mut p = [entry(t.fd(), POLLIN)];
            poll(&mut p, Some(Duration::ZERO)).unwrap() == 1
        };
        assert!(!readable(&t));
        t.set(Some(Duration::ZERO)).unwrap();
        let mut p = [entry(t.fd(), POLLIN)];
        assert_eq!(poll(&mut p, Some(Duration::from_secs(5))).unwrap(), 1, "zero fires at once");
        t.drain();
        assert!(!readable(&t));
        t.set(Some(Duration::from_secs(3600))).unwrap();
        assert!(!readable(&t));
        t.set(None).unwrap();
        assert!(!readable(&t));
    }

    #[test]
    fn timeouts_round_up() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_micros(1))), 1);
        assert_eq!(timeout_ms(Some(Duration::from_millis(5))), 5);
        assert_eq!(timeout_ms(Some(Duration::from_secs(1 << 40))), i32::MAX);
    }
}
