//! The bus on the program's own loop: when the program defines ivychannel.h's
//! functions (`channels.rs`), the global bus is made with
//! [`Bus::with_socket_loop`](::ivy::Bus::with_socket_loop) over
//! [`ProgramSockets`], and the loop's pollable descriptor is registered once,
//! at the first need ([`drive`]), so that wake-ups and timers (the C timers,
//! the driver's deadlines) reach the program's loop too (§8.2).
//!
//! Each socket is registered through the program's `IvyChannelAdd(fd, data,
//! delete, read, write)` with handlers of this file and, as `data`, a key of
//! the table of watches (never a pointer: a handler called late, after the
//! socket was unwatched, finds no key and does nothing). Its read handler
//! reports readability, its write handler writability; its delete handler,
//! when the loop calls it on its own (GLib and Qt do on an error or a
//! hang-up), a failure. A socket is forgotten before the program's
//! `IvyChannelRemove` is called, so a delete handler called from inside it
//! (GLib and Qt do) is ignored and never re-enters the bus.

use std::collections::HashMap;
use std::ffi::c_void;
use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Once, OnceLock};

use ::ivy::{MakeSocketLoop, Readiness, SocketEvents, SocketLoop};
use once_cell::sync::Lazy;
use parking_lot::Mutex;

use crate::boundary::boundary;
use crate::ivychannel::{Channel, ChannelWatch};
use crate::{IVY_HANDLE, SendPtr, channels, global, handle_addr, handle_ptr};

/// The global bus's sockets, registered with the program's loop.
#[derive(Default)]
struct Watches {
    /// The last key handed out (keys are never reused).
    last: u64,
    /// Descriptor and channel (once `IvyChannelAdd` returned) of each key.
    keys: HashMap<u64, (RawFd, Option<SendPtr>)>,
    /// The key of each watched descriptor.
    fds: HashMap<RawFd, u64>,
}

static WATCHES: Lazy<Mutex<Watches>> = Lazy::new(Mutex::default);

/// Where readiness goes: the global bus's driver.
static EVENTS: OnceLock<SocketEvents> = OnceLock::new();

/// The socket loop of the global bus, for [`Bus::with_socket_loop`](::ivy::Bus::with_socket_loop).
pub(crate) fn socket_loop() -> MakeSocketLoop {
    Box::new(|events| {
        // One global bus: made once.
        let _ = EVENTS.set(events);
        Arc::new(ProgramSockets)
    })
}

/// The program's ivychannel.h as the bus's [`SocketLoop`].
struct ProgramSockets;

impl SocketLoop for ProgramSockets {
    fn watch(&self, fd: RawFd) -> io::Result<()> {
        let key = {
            let mut w = WATCHES.lock();
            w.last += 1;
            let key = w.last;
            w.keys.insert(key, (fd, None));
            if let Some(old) = w.fds.insert(fd, key) {
                w.keys.remove(&old);
            }
            key
        };
        // Unlocked: the program's loop may call a handler from inside.
        let channel = channels::add(ChannelWatch {
            fd,
            data: handle_ptr(key),
            handle_delete: Some(on_delete),
            handle_read: Some(on_read),
            handle_write: Some(on_write),
        });
        if let Some((_, slot)) = WATCHES.lock().keys.get_mut(&key) {
            *slot = Some(SendPtr::new(channel.cast()));
        }
        Ok(())
    }

    fn set_writable(&self, fd: RawFd, on: bool) -> io::Result<()> {
        let channel = {
            let w = WATCHES.lock();
            w.fds.get(&fd).and_then(|key| w.keys.get(key)).and_then(|&(_, channel)| channel)
        };
        let Some(channel) = channel else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "descriptor not watched"));
        };
        channels::set_writable(channel.get().cast(), on);
        Ok(())
    }

    fn unwatch(&self, fd: RawFd) {
        let channel = {
            let mut w = WATCHES.lock();
            let key = w.fds.remove(&fd);
            key.and_then(|key| w.keys.remove(&key)).and_then(|(_, channel)| channel)
        };
        // Forgotten first: a delete handler called from inside finds nothing.
        if let Some(channel) = channel {
            channels::remove(channel.get().cast());
        }
    }
}

/// Reports `readiness` for the socket whose key is `data`; nothing for a key
/// no longer watched. Called with no lock held: the bus may unwatch from it.
fn report(data: *mut c_void, readiness: Readiness) {
    let fd = WATCHES.lock().keys.get(&handle_addr(data)).map(|&(fd, _)| fd);
    if let (Some(fd), Some(events)) = (fd, EVENTS.get()) {
        events.ready(fd, readiness);
    }
}

unsafe extern "C" fn on_read(_channel: Channel, _fd: IVY_HANDLE, data: *mut c_void) {
    boundary!(report(data, Readiness { readable: true, ..Readiness::default() }))
}

unsafe extern "C" fn on_write(_channel: Channel, _fd: IVY_HANDLE, data: *mut c_void) {
    boundary!(report(data, Readiness { writable: true, ..Readiness::default() }))
}

unsafe extern "C" fn on_delete(data: *mut c_void) {
    boundary!(report(data, Readiness { failed: true, ..Readiness::default() }))
}

/// Has the program's loop drive the global loop's wake-ups and timers: its
/// pollable descriptor registered through `IvyChannelAdd` (once, the first
/// time something needs it: `IvyStart`, a timer), with a read handler that
/// does what is due. Nothing when the library runs its own loop.
pub(crate) fn drive() {
    static ONCE: Once = Once::new();
    if !channels::program_loop() {
        return;
    }
    ONCE.call_once(|| match global().lp.pollable_fd() {
        Ok(fd) => {
            channels::add(ChannelWatch {
                fd,
                data: std::ptr::null_mut(),
                handle_delete: None,
                handle_read: Some(on_due),
                handle_write: None,
            });
        }
        Err(e) => crate::c_stderr(&format!("libivy: no descriptor for the program's loop: {e}\n")),
    });
}

unsafe extern "C" fn on_due(_channel: Channel, _fd: IVY_HANDLE, _data: *mut c_void) {
    boundary!(global().lp.dispatch())
}
