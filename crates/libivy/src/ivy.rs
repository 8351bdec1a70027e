//! `Ivy/ivy.h`: the bus API (ivy-protocol.md §8.1).
//!
//! The variadic functions (`IvyBindMsg`, `IvyChangeMsg`, `IvySendMsg`,
//! `IvySendError`) are written in C (`csrc/ivy_shim.c`): they format their
//! arguments and call the entry points of `shim.rs`. Every call on the bus
//! goes through `bus.rs`.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};

use super::{_clnt_lst_dict, _msg_rcv, FilterWords, Ring, SendPtr, bytes, c_stdout, cstring, global, intern_in};
use crate::boundary::boundary;
use crate::bus;

/// A peer, as handed to callbacks (writable form).
pub type RWIvyClientPtr = *mut _clnt_lst_dict;
/// A peer, as handed to callbacks. Valid until its Disconnected event; a stale
/// one is harmless (calls with it do nothing).
pub type IvyClientPtr = *const _clnt_lst_dict;

/// Events about a peer, given to the `IvyApplicationCallback`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IvyApplicationEvent {
    /// The peer finished its handshake.
    IvyApplicationConnected,
    /// The peer left.
    IvyApplicationDisconnected,
    /// The peer's socket refused bytes: they wait in its queue.
    IvyApplicationCongestion,
    /// The peer's queue was written out.
    IvyApplicationDecongestion,
    /// A message to the peer was dropped at its queue's cap.
    IvyApplicationFifoFull,
}

/// Events about a peer's subscriptions, given to the `IvyBindCallback`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IvyBindEvent {
    /// The peer subscribed a regexp.
    IvyAddBind,
    /// The peer withdrew a subscription.
    IvyRemoveBind,
    /// The filter words refused the peer's regexp.
    IvyFilterBind,
    /// The peer changed the regexp of a subscription.
    IvyChangeBind,
}

/// Told about a peer's connection events (`IvyInit`).
pub type IvyApplicationCallback =
    Option<unsafe extern "C" fn(app: IvyClientPtr, user_data: *mut c_void, event: IvyApplicationEvent)>;
/// Told about a peer's subscriptions (`IvySetBindCallback`).
pub type IvyBindCallback = Option<
    unsafe extern "C" fn(
        app: IvyClientPtr,
        user_data: *mut c_void,
        id: c_int,
        regexp: *const c_char,
        event: IvyBindEvent,
    ),
>;
/// Run when a peer asks us to die (`IvyInit`).
pub type IvyDieCallback = Option<unsafe extern "C" fn(app: IvyClientPtr, user_data: *mut c_void, id: c_int)>;
/// Given a Pong's round trip in microseconds (`IvySetPongCallback`).
pub type IvyPongCallback = Option<unsafe extern "C" fn(app: IvyClientPtr, round_trip_delay: c_int)>;
/// Given the captured groups of a message that matched a binding (`IvyBindMsg`).
pub type MsgCallback =
    Option<unsafe extern "C" fn(app: IvyClientPtr, user_data: *mut c_void, argc: c_int, argv: *mut *mut c_char)>;
/// Given a direct message (`IvyBindDirectMsg`).
pub type MsgDirectCallback =
    Option<unsafe extern "C" fn(app: IvyClientPtr, user_data: *mut c_void, id: c_int, msg: *mut c_char)>;

/// One of our own subscriptions, as returned by `IvyBindMsg`.
pub type MsgRcvPtr = *mut _msg_rcv;

fn host_string(app: IvyClientPtr) -> String {
    bus::peer_host(app).unwrap_or_else(|| "can't get peer".to_owned())
}

/// Prints on stdout the line that `line` makes of the peer's name and host
/// (the default callbacks' lines).
fn print_about_peer(app: IvyClientPtr, line: impl FnOnce(&str, &str) -> String) {
    c_stdout(&line(&bus::name_text(app), &host_string(app)));
}

// ---------------------------------------------------------------------------
// Default callbacks.

/// Prints one line per peer event on stdout, as ivy-c does.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyDefaultApplicationCallback(
    app: IvyClientPtr,
    user_data: *mut c_void,
    event: IvyApplicationEvent,
) {
    let _ = user_data;
    boundary!(print_about_peer(app, |name, host| match event {
        IvyApplicationEvent::IvyApplicationConnected => format!("Application: {name} ready on {host}\n"),
        IvyApplicationEvent::IvyApplicationDisconnected => format!("Application: {name} bye on {host}\n"),
        IvyApplicationEvent::IvyApplicationCongestion => format!("Application: {name} congestion on {host}\n"),
        IvyApplicationEvent::IvyApplicationDecongestion => format!("Application: {name}  decongestion on {host}\n"),
        IvyApplicationEvent::IvyApplicationFifoFull => {
            format!("Application: {name}  fifo full, msg on {host} will be lost until decongestion\n")
        }
    }))
}

/// Prints one line per peer subscription event on stdout, as ivy-c does.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyDefaultBindCallback(
    app: IvyClientPtr,
    user_data: *mut c_void,
    id: c_int,
    regexp: *const c_char,
    event: IvyBindEvent,
) {
    let _ = user_data;
    boundary!({
        // SAFETY: `regexp` is NULL or a NUL-terminated string (module contract).
        let re = String::from_utf8_lossy(unsafe { bytes(regexp) }.unwrap_or(b"(null)")).into_owned();
        print_about_peer(app, |name, host| match event {
            IvyBindEvent::IvyAddBind => format!("Application: {name} on {host} add regexp {id} : {re}\n"),
            IvyBindEvent::IvyRemoveBind => format!("Application: {name} on {host} remove regexp {id} :{re}\n"),
            IvyBindEvent::IvyFilterBind => format!("Application: {name} on {host} as been filtred regexp {id} :{re}\n"),
            IvyBindEvent::IvyChangeBind => format!("Application: {name} on {host} change regexp {id} : {re}\n"),
        })
    })
}

// ---------------------------------------------------------------------------
// Filters (shared with ivybind.h).

/// Adds the filter word `w` (to our list, the pattern filter and the bus).
fn filter_add(f: &mut FilterWords, w: &[u8]) {
    f.words.push(w.to_vec());
    f.filter.add(w);
    bus::add_filter(w);
}

/// Removes every filter word equal to `w`.
fn filter_remove(f: &mut FilterWords, w: &[u8]) {
    f.words.retain(|x| x != w);
    f.filter.remove(w);
    bus::remove_filter(w);
}

/// Adds each of the `argc` words of `argv` to the filter list (it does not
/// replace the list). Set filters before `IvyStart`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvySetFilter(argc: c_int, argv: *mut *const c_char) {
    boundary!({
        if argv.is_null() {
            return;
        }
        let mut f = global().filter.lock();
        for i in 0..usize::try_from(argc).unwrap_or(0) {
            // SAFETY: `argv` holds `argc` entries (module contract).
            let p = unsafe { *argv.add(i) };
            // SAFETY: each entry is NULL or a NUL-terminated string.
            if let Some(w) = unsafe { bytes(p) } {
                filter_add(&mut f, w);
            }
        }
    })
}

/// Adds one word to the filter list (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyAddFilter(arg: *const c_char) {
    boundary!({
        // SAFETY: `arg` is NULL or a NUL-terminated string.
        if let Some(w) = unsafe { bytes(arg) } {
            filter_add(&mut global().filter.lock(), w);
        }
    })
}

/// Removes every filter word equal to `arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyRemoveFilter(arg: *const c_char) {
    boundary!({
        // SAFETY: `arg` is NULL or a NUL-terminated string.
        if let Some(w) = unsafe { bytes(arg) } {
            filter_remove(&mut global().filter.lock(), w);
        }
    })
}

// ---------------------------------------------------------------------------
// Life cycle.

/// Names the agent and sets its ready message (both copied; NULL name gives
/// "(null)", NULL ready sends none) and its application and die callbacks.
/// Opens nothing; calls `IvyChannelInit` (ours resets the loop's stop flag);
/// reads `IVY_DEBUG_BINARY`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyInit(
    AppName: *const c_char,
    ready: *const c_char,
    callback: IvyApplicationCallback,
    data: *mut c_void,
    die_callback: IvyDieCallback,
    die_data: *mut c_void,
) {
    boundary!({
        // SAFETY: both are NULL or NUL-terminated strings; they are copied here.
        let (name, ready) = unsafe { (bytes(AppName), bytes(ready)) };
        let app = (callback, SendPtr::new(data));
        let die = (die_callback, SendPtr::new(die_data));
        bus::init(name.unwrap_or(b"(null)"), ready, app, die);
        crate::channels::init();
    })
}

/// Forgets the filter words. (ivy-c also frees the stored name and ready
/// message; ours stay usable, so a second call is harmless.)
#[unsafe(no_mangle)]
pub extern "C" fn IvyTerminate() {
    boundary!({
        let mut f = global().filter.lock();
        for w in std::mem::take(&mut f.words) {
            filter_remove(&mut f, &w);
        }
    })
}

/// Sets the callback told about peers' subscriptions (NULL: none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvySetBindCallback(bind_callback: IvyBindCallback, bind_data: *mut c_void) {
    boundary!({
        bus::on_bind_change(bind_callback, SendPtr::new(bind_data));
    })
}

/// Sets the callback given each Pong's round trip in µs (negative when the
/// Pong's id is not the last Ping's). `IvySendPing` needs one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvySetPongCallback(pong_callback: IvyPongCallback) {
    boundary!({
        bus::on_pong(pong_callback);
    })
}

/// Joins the bus `bus` ("net,net:port"); NULL or "" uses `IVYBUS`, then the
/// default `127.255.255.255:2010`. Returns at once; the loop does the rest.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyStart(bus: *const c_char) {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        let spec = unsafe { bytes(bus) }.map(|b| String::from_utf8_lossy(b).into_owned());
        crate::foreign::drive();
        bus::start(spec.as_deref());
    })
}

/// Leaves the bus (peers see us go) and makes `IvyMainLoop` return.
#[unsafe(no_mangle)]
pub extern "C" fn IvyStop() {
    boundary!(bus::stop())
}

// ---------------------------------------------------------------------------
// Queries.

thread_local! {
    static NAMES: RefCell<Ring> = const { RefCell::new(Ring::new()) };
    static HOSTS: RefCell<Ring> = const { RefCell::new(Ring::new()) };
    static APP_LIST: RefCell<std::ffi::CString> = RefCell::new(std::ffi::CString::default());
    static APP_MSGS: RefCell<(Vec<std::ffi::CString>, Vec<*mut c_char>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// The peer's name, or "Unknown". Library-owned storage, per thread.
#[unsafe(no_mangle)]
pub extern "C" fn IvyGetApplicationName(app: IvyClientPtr) -> *const c_char {
    boundary!(match bus::peer_name(app) {
        Some(n) => intern_in(&NAMES, &n),
        None => c"Unknown".as_ptr(),
    })
}

/// The peer's host (reverse-DNS short name, e.g. "localhost"); NULL for a NULL
/// app, "can't get peer" for an unknown one. Library-owned, per thread.
#[unsafe(no_mangle)]
pub extern "C" fn IvyGetApplicationHost(app: IvyClientPtr) -> *const c_char {
    boundary!({
        if app.is_null() {
            return std::ptr::null();
        }
        intern_in(&HOSTS, host_string(app).as_bytes())
    })
}

/// The newest peer named `name`, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyGetApplication(name: *mut c_char) -> IvyClientPtr {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        match unsafe { bytes(name) } {
            Some(n) => bus::peer_by_name(n),
            None => std::ptr::null(),
        }
    })
}

/// Every peer's name, newest first, each followed by `sep` (NULL: ""). The
/// buffer is library-owned, per thread, valid until the next call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyGetApplicationList(sep: *const c_char) -> *mut c_char {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        let sep = unsafe { bytes(sep) }.unwrap_or(b"").to_vec();
        let mut out = Vec::new();
        for name in bus::peer_names() {
            out.extend_from_slice(&name);
            out.extend_from_slice(&sep);
        }
        APP_LIST.with(|l| {
            let mut l = l.borrow_mut();
            *l = cstring(&out);
            l.as_ptr().cast_mut()
        })
    })
}

/// The peer's regexps, newest first, in a NULL-terminated array. Library-owned,
/// per thread, valid until the next call; an unknown peer gives an empty array.
#[unsafe(no_mangle)]
pub extern "C" fn IvyGetApplicationMessages(app: IvyClientPtr) -> *mut *mut c_char {
    boundary!({
        let res = bus::peer_regexps(app);
        APP_MSGS.with(|m| {
            let mut m = m.borrow_mut();
            let (strings, ptrs) = &mut *m;
            *strings = res.iter().map(|r| cstring(r)).collect();
            *ptrs = strings.iter().map(|s| s.as_ptr().cast_mut()).collect();
            ptrs.push(std::ptr::null_mut());
            ptrs.as_mut_ptr()
        })
    })
}

// ---------------------------------------------------------------------------
// Bindings and sends (the variadic front ends are in C).

/// Removes one of our subscriptions (peers are told); NULL or stale: nothing.
#[unsafe(no_mangle)]
pub extern "C" fn IvyUnbindMsg(id: MsgRcvPtr) {
    boundary!(bus::unbind(id))
}

/// Asks the peer to die.
#[unsafe(no_mangle)]
pub extern "C" fn IvySendDieMsg(app: IvyClientPtr) {
    boundary!(bus::send_die(app))
}

/// Sets the single callback for direct messages (a later call replaces it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyBindDirectMsg(callback: MsgDirectCallback, user_data: *mut c_void) {
    boundary!(bus::on_direct(callback, SendPtr::new(user_data)))
}

/// Sends `msg` (raw, not formatted) to one peer as a direct message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvySendDirectMsg(app: IvyClientPtr, id: c_int, msg: *mut c_char) {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        if let Some(m) = unsafe { bytes(msg) } {
            bus::send_direct(app, id, m);
        }
    })
}

/// Pings the peer; the round trip goes to the pong callback, which must be set.
#[unsafe(no_mangle)]
pub extern "C" fn IvySendPing(app: IvyClientPtr) {
    boundary!(bus::ping(app))
}
