//! The C border: ivy-c 3.15's `libivy` API as `extern "C"` functions.
//!
//! One file per installed header (`ivy.rs` → `Ivy/ivy.h`, ...): `build.rs` runs
//! cbindgen on each of them, with the settings of `cbindgen.toml`, and writes
//! its declarations into the generated region of the header committed under
//! `include/Ivy/`, whose other lines are C written by hand. Three headers
//! have no Rust side and are written by hand from end to end: `list.h` (the
//! `IVY_LIST_*` macros), `ivydebug.h` (`TRACE`, `TRACE_IF`) and `ivyglibloop.h`
//! (empty, as in ivy-c: with libglibivy, `csrc/ivy_glib_channel.c` implements
//! ivychannel.h on GLib's main loop). `shim.rs` gives the private header of the C
//! shim (`csrc/ivy_shim.c`, the variadic functions; its template is
//! `csrc/ivy_shim.h.in`). Every call on the Rust API's bus is in `bus.rs`;
//! `cargs.rs` holds the strings handed to C callbacks; `sockets/` is the socket
//! layer behind `ivysocket.rs`; `boundary.rs` the panic boundary. This file
//! holds what they share and is not itself turned into a header.
//!
//! Rules kept by every exported function (DESIGN §3 and §6):
//! - the body runs inside [`boundary::boundary!`], so no panic ever unwinds into
//!   C; on a panic the function says so on stderr and returns the neutral value
//!   of its return type (0, NULL, nothing);
//! - handles (`IvyClientPtr`, `MsgRcvPtr`, `Channel`, `TimerId`) are integers
//!   carried in pointers and never dereferenced: NULL or stale handles resolve to
//!   nothing and the call does nothing;
//! - there is one process-global [`EventLoop`] and one global [`Bus`], created on
//!   first use, so that timers, channels and bindings work before `IvyInit`, as
//!   in ivy-c; the bus's sockets are in that loop, or in the program's when it
//!   implements ivychannel.h itself (`channels.rs` finds out, `foreign.rs`
//!   registers them there);
//! - strings handed back to C live in per-thread storage owned by the library.
//!
//! # Safety contract (for every `unsafe extern "C" fn` here)
//! Pointer arguments are either NULL or valid for the access that ivy-c's
//! documentation implies (NUL-terminated strings, `argc` entries of `argv`, a
//! writable `IvyBuffer`...). Callbacks are called on the thread that runs the
//! loop, with the user data pointer given at registration, as in ivy-c.
#![allow(non_snake_case, non_camel_case_types, clippy::missing_safety_doc)]

mod boundary;
mod bus;
mod cargs;
mod channels;
mod foreign;
pub mod ivy;
pub mod ivybind;
pub mod ivybuffer;
pub mod ivychannel;
pub mod ivyloop;
pub mod ivysocket;
pub mod shim;
mod sockets;
pub mod timer;
pub mod version;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ffi::{CStr, CString, c_char, c_int, c_void};

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use ::ivy::{Bus, Environment, EventLoop, PrintLogger, Stream};

/// ivy-c's `IVY_HANDLE` (a macro for `int` on Unix). Declared here, outside the
/// header sources, so cbindgen writes the name and the header's macro gives it
/// its meaning.
pub type IVY_HANDLE = c_int;

/// Opaque tags of the C handle types. They are never defined: cbindgen writes
/// them as `struct _tag` (see `[export.rename]` in `cbindgen.toml`).
pub enum _clnt_lst_dict {}
/// Tag of `MsgRcvPtr`.
pub enum _msg_rcv {}
/// Tag of `Channel`.
pub enum _channel {}
/// Tag of `TimerId`.
pub enum _timer {}
/// Tag of `IvyBinding`.
pub enum _binding {}
/// Tag of `Client` (ivysocket.h).
pub enum _client {}
/// Tag of `Server` (ivysocket.h).
pub enum _server {}

/// A user data pointer handed to us by C and given back, untouched, to C
/// callbacks.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(*mut c_void);

// SAFETY: the pointer is never dereferenced by Rust; it is only passed back to
// the C callback it was registered with. ivy-c runs those callbacks on the loop
// thread, and so do we; making the pointer usable there is the caller's
// contract, exactly as with ivy-c.
unsafe impl Send for SendPtr {}
// SAFETY: see `Send` above: the value is an opaque token, only copied.
unsafe impl Sync for SendPtr {}

impl SendPtr {
    pub(crate) fn new(p: *mut c_void) -> Self {
        SendPtr(p)
    }
    /// The pointer (a method, so closures capture the whole `SendPtr`).
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}

/// The process-global state of the C API.
pub(crate) struct Global {
    pub lp: EventLoop,
    pub bus: Bus,
    /// The environment, read once.
    pub env: Environment,
    /// The filter words (`IvySetFilter` / `IvyBindingSetFilter` share them).
    pub filter: Mutex<FilterWords>,
}

#[derive(Default)]
pub(crate) struct FilterWords {
    pub words: Vec<Vec<u8>>,
    pub filter: ivy_proto::pattern::Filter,
}

static GLOBAL: Lazy<Global> = Lazy::new(|| {
    let env = Environment::read();
    PrintLogger::install(env.log_level(), print);
    let lp = EventLoop::new();
    // The program's own loop when it implements ivychannel.h, else ours.
    let bus = if channels::program_loop() {
        Bus::with_socket_loop(&lp, b"(null)", None, foreign::socket_loop())
    } else {
        Bus::with_loop(&lp, b"(null)", None)
    };
    env.apply(&bus);
    bus.on_die(|_, _, _| obeyed_die());
    Global { lp, bus, env, filter: Mutex::new(FilterWords::default()) }
});

/// After the die callback: unless `IVY_IGNORE_DIE` says otherwise, the bus leaves
/// (its driver sees to that) and the loop is stopped, as after `IvyStop`
/// (`IvyChannelStop`: `IvyMainLoop` returns; a program's own loop decides).
pub(crate) fn obeyed_die() {
    if !global().env.ignore_die {
        channels::stop();
    }
}

/// Prints a line the library logs, as ivy-c prints it: through C's stdio.
fn print(stream: Stream, line: &str) {
    match stream {
        Stream::Stdout => c_stdout(line),
        Stream::Stderr => c_stderr(line),
    }
}

pub(crate) fn global() -> &'static Global {
    &GLOBAL
}

/// The bytes of a C string, or `None` for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: non-NULL, and NUL-terminated per this function's contract.
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// A C string of `b`, cut at its first NUL (C cannot see further anyway).
pub(crate) fn cstring(b: &[u8]) -> CString {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    CString::new(&b[..end]).unwrap_or_default()
}

/// Writes `s` to the C library's stdout (shared with the program's printf, so
/// output order is kept as with ivy-c).
pub(crate) fn c_stdout(s: &str) {
    let c = cstring(s.as_bytes());
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    unsafe { ivy_rs_puts(c.as_ptr(), 1) }
}

/// Writes `s` to the C library's stderr.
pub(crate) fn c_stderr(s: &str) {
    let c = cstring(s.as_bytes());
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    unsafe { ivy_rs_puts(c.as_ptr(), 2) }
}

unsafe extern "C" {
    /// In `csrc/ivy_shim.c`: `fputs(s, stream == 2 ? stderr : stdout)`.
    fn ivy_rs_puts(s: *const c_char, stream: c_int);
}

// ---------------------------------------------------------------------------
// Handles: integers in pointers, never dereferenced.

pub(crate) fn handle_addr<T>(p: *const T) -> u64 {
    p.addr() as u64
}

pub(crate) fn handle_ptr<T>(raw: u64) -> *mut T {
    match usize::try_from(raw) {
        Ok(a) => std::ptr::without_provenance_mut(a),
        Err(_) => std::ptr::null_mut(),
    }
}

// ---------------------------------------------------------------------------
// Per-thread storage for returned strings.

/// A small per-thread ring of C strings: a returned pointer stays valid until
/// `RING` more distinct strings were returned by the same function on the same
/// thread (ivy-c's contract is only "until the next call").
pub(crate) struct Ring {
    items: VecDeque<CString>,
}

const RING: usize = 16;

impl Ring {
    pub(crate) const fn new() -> Self {
        Ring { items: VecDeque::new() }
    }
    pub(crate) fn intern(&mut self, b: &[u8]) -> *const c_char {
        let c = cstring(b);
        if let Some(old) = self.items.iter().find(|o| **o == c) {
            return old.as_ptr();
        }
        self.items.push_back(c);
        if self.items.len() > RING {
            self.items.pop_front();
        }
        self.items.back().map_or(std::ptr::null(), |c| c.as_ptr())
    }
}

/// Interns `b` in the per-thread ring `ring`.
pub(crate) fn intern_in(ring: &'static std::thread::LocalKey<RefCell<Ring>>, b: &[u8]) -> *const c_char {
    ring.with(|r| r.borrow_mut().intern(b))
}
