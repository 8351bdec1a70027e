//! `Ivy/ivy.h`: the bus API (ivy-protocol.md §8.1).
//!
//! The variadic functions (`IvyBindMsg`, `IvyChangeMsg`, `IvySendMsg`,
//! `IvySendError`) are written in C (`csrc/ivy_shim.c`): they format their
//! arguments and call the `ivy_rs_*` entry points below.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};

use super::{
    _clnt_lst_dict, _msg_rcv, FilterWords, Ring, SendPtr, bytes, c_stderr, c_stdout, cstring, global, handle_addr,
    handle_ptr, intern_in,
};
use crate::boundary::boundary;
use ::ivy::api::{AppEvent, BindEvent, BindingId, Bus, PeerId};

/// A peer, as handed to callbacks (writable form).
pub type RWIvyClientPtr = *mut _clnt_lst_dict;
/// A peer, as handed to callbacks. Valid until its Disconnected event; a stale
/// one is harmless (calls with it do nothing).
pub type IvyClientPtr = *const _clnt_lst_dict;

/// Events about a peer, given to the `IvyApplicationCallback`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IvyApplicationEvent {
    IvyApplicationConnected,
    IvyApplicationDisconnected,
    IvyApplicationCongestion,
    IvyApplicationDecongestion,
    IvyApplicationFifoFull,
}

/// Events about a peer's subscriptions, given to the `IvyBindCallback`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IvyBindEvent {
    IvyAddBind,
    IvyRemoveBind,
    IvyFilterBind,
    IvyChangeBind,
}

pub type IvyApplicationCallback =
    Option<unsafe extern "C" fn(app: IvyClientPtr, user_data: *mut c_void, event: IvyApplicationEvent)>;
pub type IvyBindCallback = Option<
    unsafe extern "C" fn(
        app: IvyClientPtr,
        user_data: *mut c_void,
        id: c_int,
        regexp: *const c_char,
        event: IvyBindEvent,
    ),
>;
pub type IvyDieCallback = Option<unsafe extern "C" fn(app: IvyClientPtr, user_data: *mut c_void, id: c_int)>;
pub type IvyPongCallback = Option<unsafe extern "C" fn(app: IvyClientPtr, round_trip_delay: c_int)>;
pub type MsgCallback =
    Option<unsafe extern "C" fn(app: IvyClientPtr, user_data: *mut c_void, argc: c_int, argv: *mut *mut c_char)>;
pub type MsgDirectCallback =
    Option<unsafe extern "C" fn(app: IvyClientPtr, user_data: *mut c_void, id: c_int, msg: *mut c_char)>;

/// One of our own subscriptions, as returned by `IvyBindMsg`.
pub type MsgRcvPtr = *mut _msg_rcv;

// ---------------------------------------------------------------------------
// Handle conversions.

pub(crate) fn client_ptr(p: PeerId) -> IvyClientPtr {
    handle_ptr::<_clnt_lst_dict>(p.to_raw()).cast_const()
}

pub(crate) fn peer_of(app: IvyClientPtr) -> Option<PeerId> {
    PeerId::from_raw(handle_addr(app))
}

fn msg_rcv_ptr(b: BindingId) -> MsgRcvPtr {
    match u64::try_from(b.id()) {
        Ok(id) => handle_ptr(id + 1),
        Err(_) => std::ptr::null_mut(),
    }
}

fn binding_of(m: MsgRcvPtr) -> Option<BindingId> {
    let raw = handle_addr(m);
    let id = i32::try_from(raw.checked_sub(1)?).ok()?;
    Some(BindingId::from_id(id))
}

fn app_event(e: AppEvent) -> IvyApplicationEvent {
    match e {
        AppEvent::Connected => IvyApplicationEvent::IvyApplicationConnected,
        AppEvent::Disconnected => IvyApplicationEvent::IvyApplicationDisconnected,
        AppEvent::Congestion => IvyApplicationEvent::IvyApplicationCongestion,
        AppEvent::Decongestion => IvyApplicationEvent::IvyApplicationDecongestion,
        AppEvent::FifoFull => IvyApplicationEvent::IvyApplicationFifoFull,
    }
}

fn bind_event(e: BindEvent) -> IvyBindEvent {
    match e {
        BindEvent::Added => IvyBindEvent::IvyAddBind,
        BindEvent::Removed => IvyBindEvent::IvyRemoveBind,
        BindEvent::Filtered => IvyBindEvent::IvyFilterBind,
        BindEvent::Changed => IvyBindEvent::IvyChangeBind,
    }
}

fn name_bytes(bus: &Bus, app: IvyClientPtr) -> Option<Vec<u8>> {
    peer_of(app).and_then(|p| bus.peer_name(p))
}

fn host_string(bus: &Bus, app: IvyClientPtr) -> String {
    peer_of(app).and_then(|p| bus.peer_host(p)).unwrap_or_else(|| "can't get peer".to_owned())
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
    boundary!({
        let bus = &global().bus;
        let name = String::from_utf8_lossy(&name_bytes(bus, app).unwrap_or_else(|| b"Unknown".to_vec())).into_owned();
        let host = host_string(bus, app);
        let line = match event {
            IvyApplicationEvent::IvyApplicationConnected => format!("Application: {name} ready on {host}\n"),
            IvyApplicationEvent::IvyApplicationDisconnected => format!("Application: {name} bye on {host}\n"),
            IvyApplicationEvent::IvyApplicationCongestion => format!("Application: {name} congestion on {host}\n"),
            IvyApplicationEvent::IvyApplicationDecongestion => {
                format!("Application: {name}  decongestion on {host}\n")
            }
            IvyApplicationEvent::IvyApplicationFifoFull => {
                format!("Application: {name}  fifo full, msg on {host} will be lost until decongestion\n")
            }
        };
        c_stdout(&line);
    })
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
        let bus = &global().bus;
        let name = String::from_utf8_lossy(&name_bytes(bus, app).unwrap_or_else(|| b"Unknown".to_vec())).into_owned();
        let host = host_string(bus, app);
        // SAFETY: `regexp` is NULL or a NUL-terminated string (module contract).
        let re = String::from_utf8_lossy(unsafe { bytes(regexp) }.unwrap_or(b"(null)")).into_owned();
        let line = match event {
            IvyBindEvent::IvyAddBind => format!("Application: {name} on {host} add regexp {id} : {re}\n"),
            IvyBindEvent::IvyRemoveBind => format!("Application: {name} on {host} remove regexp {id} :{re}\n"),
            IvyBindEvent::IvyFilterBind => format!("Application: {name} on {host} as been filtred regexp {id} :{re}\n"),
            IvyBindEvent::IvyChangeBind => format!("Application: {name} on {host} change regexp {id} : {re}\n"),
        };
        c_stdout(&line);
    })
}

// ---------------------------------------------------------------------------
// Filters (shared with ivybind.h).

pub(crate) fn filter_add(f: &mut FilterWords, w: &[u8]) {
    f.words.push(w.to_vec());
    f.filter.add(w);
    global().bus.add_filter(w);
}

pub(crate) fn filter_remove(f: &mut FilterWords, w: &[u8]) {
    f.words.retain(|x| x != w);
    f.filter.remove(w);
    global().bus.remove_filter(w);
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
/// Opens nothing; resets the loop's stop flag; reads `IVY_DEBUG_BINARY`.
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
        let g = global();
        // SAFETY: both are NULL or NUL-terminated strings; they are copied here.
        let (name, ready) = unsafe { (bytes(AppName), bytes(ready)) };
        g.bus.set_identity(name.unwrap_or(b"(null)"), ready);
        let data = SendPtr::new(data);
        g.bus.on_application(move |_bus, peer, ev| {
            if let Some(cb) = callback {
                // SAFETY: a C callback with the ivy-c signature, called on the loop
                // thread with the user data it was registered with.
                unsafe { cb(client_ptr(peer), data.get(), app_event(ev)) }
            }
        });
        let die_data = SendPtr::new(die_data);
        g.bus.on_die(move |_bus, peer, id| {
            if let Some(cb) = die_callback {
                // SAFETY: as above.
                unsafe { cb(client_ptr(peer), die_data.get(), id) }
            }
        });
        g.bus.set_debug_binary(std::env::var_os("IVY_DEBUG_BINARY").is_some());
        super::ivychannel::channel_init();
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
        let data = SendPtr::new(bind_data);
        global().bus.on_bind_change(move |_bus, peer, id, re, ev| {
            if let Some(cb) = bind_callback {
                let re = cstring(re);
                // SAFETY: C callback with the ivy-c signature; `re` outlives the call.
                unsafe { cb(client_ptr(peer), data.get(), id, re.as_ptr(), bind_event(ev)) }
            }
        });
    })
}

/// Sets the callback given each Pong's round trip in µs (negative when the
/// Pong's id is not the last Ping's). `IvySendPing` needs one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvySetPongCallback(pong_callback: IvyPongCallback) {
    boundary!({
        let bus = &global().bus;
        match pong_callback {
            // SAFETY: C callback with the ivy-c signature.
            Some(cb) => bus.on_pong(move |_bus, peer, us| unsafe { cb(client_ptr(peer), us) }),
            None => bus.clear_pong(),
        }
    })
}

/// Joins the bus `bus` ("net,net:port"); NULL or "" uses `IVYBUS`, then the
/// default `127.255.255.255:2010`. Returns at once; the loop does the rest.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyStart(bus: *const c_char) {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        let spec = unsafe { bytes(bus) }.map(|b| String::from_utf8_lossy(b).into_owned());
        let spec = spec.filter(|s| !s.is_empty());
        if let Err(e) = global().bus.start(spec.as_deref()) {
            c_stderr(&format!("IvyStart: cannot start the bus: {e}\n"));
        }
    })
}

/// Leaves the bus (peers see us go) and makes `IvyMainLoop` return.
#[unsafe(no_mangle)]
pub extern "C" fn IvyStop() {
    boundary!(global().bus.stop())
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
    boundary!(match name_bytes(&global().bus, app) {
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
        intern_in(&HOSTS, host_string(&global().bus, app).as_bytes())
    })
}

/// The newest peer named `name`, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyGetApplication(name: *mut c_char) -> IvyClientPtr {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        match unsafe { bytes(name) } {
            Some(n) => global().bus.peer_by_name(n).map_or(std::ptr::null(), client_ptr),
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
        let bus = &global().bus;
        let mut out = Vec::new();
        for p in bus.peers() {
            out.extend_from_slice(&bus.peer_name(p).unwrap_or_default());
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
        let res = peer_of(app).and_then(|p| global().bus.peer_regexps(p)).unwrap_or_default();
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
// Bindings (the variadic front ends are in C).

/// Builds argv (NUL-terminated copies plus a final NULL) and calls the C
/// message callback.
fn call_msg_callback(cb: MsgCallback, data: SendPtr, peer: PeerId, args: &[&[u8]]) {
    let Some(cb) = cb else { return };
    let mut owned: Vec<Vec<u8>> = args
        .iter()
        .map(|a| {
            let mut v = cstring(a).into_bytes_with_nul();
            v.shrink_to_fit();
            v
        })
        .collect();
    let mut argv: Vec<*mut c_char> = owned.iter_mut().map(|v| v.as_mut_ptr().cast::<c_char>()).collect();
    argv.push(std::ptr::null_mut());
    let argc = c_int::try_from(args.len()).unwrap_or(c_int::MAX);
    // SAFETY: C callback with the ivy-c signature; `argv` holds `argc` writable
    // NUL-terminated strings and a final NULL, alive for the whole call.
    unsafe { cb(client_ptr(peer), data.get(), argc, argv.as_mut_ptr()) }
}

/// Rust side of `IvyBindMsg` (the regexp is already formatted).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_bind_msg(
    callback: MsgCallback,
    user_data: *mut c_void,
    regexp: *const c_char,
) -> MsgRcvPtr {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string (from the C shim).
        let Some(re) = (unsafe { bytes(regexp) }) else {
            return std::ptr::null_mut();
        };
        let data = SendPtr::new(user_data);
        let id = global().bus.bind(re, move |_bus, peer, args| call_msg_callback(callback, data, peer, args));
        msg_rcv_ptr(id)
    })
}

/// Rust side of `IvyChangeMsg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_change_msg(msg: MsgRcvPtr, regexp: *const c_char) -> MsgRcvPtr {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string (from the C shim).
        if let (Some(id), Some(re)) = (binding_of(msg), unsafe { bytes(regexp) }) {
            global().bus.change(id, re);
        }
        msg
    })
}

/// Removes one of our subscriptions (peers are told); NULL or stale: nothing.
#[unsafe(no_mangle)]
pub extern "C" fn IvyUnbindMsg(id: MsgRcvPtr) {
    boundary!({
        if let Some(b) = binding_of(id) {
            global().bus.unbind(b);
        }
    })
}

/// Rust side of `IvySendMsg`: returns the number of Msg lines sent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_send_msg(message: *const c_char) -> c_int {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string (from the C shim).
        match unsafe { bytes(message) } {
            Some(m) => c_int::try_from(global().bus.send(m)).unwrap_or(c_int::MAX),
            None => 0,
        }
    })
}

/// Rust side of `IvySendError`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_send_error(app: IvyClientPtr, id: c_int, text: *const c_char) {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string (from the C shim).
        if let (Some(p), Some(t)) = (peer_of(app), unsafe { bytes(text) }) {
            global().bus.send_error(p, id, t);
        }
    })
}

/// Asks the peer to die.
#[unsafe(no_mangle)]
pub extern "C" fn IvySendDieMsg(app: IvyClientPtr) {
    boundary!({
        if let Some(p) = peer_of(app) {
            global().bus.send_die(p);
        }
    })
}

/// Sets the single callback for direct messages (a later call replaces it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyBindDirectMsg(callback: MsgDirectCallback, user_data: *mut c_void) {
    boundary!({
        let data = SendPtr::new(user_data);
        global().bus.on_direct(move |_bus, peer, id, msg| {
            if let Some(cb) = callback {
                let mut m = cstring(msg).into_bytes_with_nul();
                // SAFETY: C callback with the ivy-c signature; `m` is a writable
                // NUL-terminated copy alive for the call.
                unsafe { cb(client_ptr(peer), data.get(), id, m.as_mut_ptr().cast::<c_char>()) }
            }
        });
    })
}

/// Sends `msg` (raw, not formatted) to one peer as a direct message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvySendDirectMsg(app: IvyClientPtr, id: c_int, msg: *mut c_char) {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        if let (Some(p), Some(m)) = (peer_of(app), unsafe { bytes(msg) }) {
            global().bus.send_direct(p, id, m);
        }
    })
}

/// Pings the peer; the round trip goes to the pong callback, which must be set.
#[unsafe(no_mangle)]
pub extern "C" fn IvySendPing(app: IvyClientPtr) {
    boundary!({
        if let Some(p) = peer_of(app) {
            global().bus.ping(p);
        }
    })
}
