//! Every call the C library makes on the Rust API's [`Bus`] (the global agent
//! of the C API; `lib.rs` makes it), in the C API's terms: C handles in and
//! out, C callbacks registered as closures, ivy-c's results (the Rust API's
//! errors become ivy-c's silence, a 0 or a printed line). The exports convert
//! their C arguments and call these; a change of the Rust API is adapted to
//! here.

use std::ffi::c_int;

use ::ivy::{AppEvent, BindEvent, BindingId, Bus, PeerId, SendError};

use crate::cargs::CArgs;
use crate::ivy::{
    IvyApplicationCallback, IvyApplicationEvent, IvyBindCallback, IvyBindEvent, IvyClientPtr, IvyDieCallback,
    IvyPongCallback, MsgCallback, MsgDirectCallback, MsgRcvPtr,
};
use crate::{_clnt_lst_dict, SendPtr, c_stderr, global, handle_addr, handle_ptr, obeyed_die};

fn bus() -> &'static Bus {
    &global().bus
}

// ---------------------------------------------------------------------------
// Handles and events.

fn client_ptr(p: PeerId) -> IvyClientPtr {
    handle_ptr::<_clnt_lst_dict>(p.to_raw()).cast_const()
}

fn peer_of(app: IvyClientPtr) -> Option<PeerId> {
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

// ---------------------------------------------------------------------------
// Identity and callbacks.

/// `IvyInit`: name, ready message, application and die callbacks (a Die
/// obeyed then stops the loop), and ivy-c's `IVY_DEBUG_BINARY` check.
pub(crate) fn init(
    name: &[u8],
    ready: Option<&[u8]>,
    (callback, data): (IvyApplicationCallback, SendPtr),
    (die_callback, die_data): (IvyDieCallback, SendPtr),
) {
    let bus = bus();
    bus.set_identity(name, ready);
    bus.on_application(move |_bus, peer, ev| {
        if let Some(cb) = callback {
            // SAFETY: a C callback with the ivy-c signature, called on the loop
            // thread with the user data it was registered with.
            unsafe { cb(client_ptr(peer), data.get(), app_event(ev)) }
        }
    });
    bus.on_die(move |_bus, peer, id| {
        if let Some(cb) = die_callback {
            // SAFETY: as above.
            unsafe { cb(client_ptr(peer), die_data.get(), id) }
        }
        obeyed_die();
    });
    bus.set_debug_binary(global().env.debug_binary);
}

/// `IvySetBindCallback`.
pub(crate) fn on_bind_change(callback: IvyBindCallback, data: SendPtr) {
    bus().on_bind_change(move |_bus, peer, id, re, ev| {
        if let Some(cb) = callback {
            let mut re = CArgs::one(re);
            // SAFETY: C callback with the ivy-c signature; `re` outlives the call.
            unsafe { cb(client_ptr(peer), data.get(), id, re.first(), bind_event(ev)) }
        }
    });
}

/// `IvySetPongCallback` (NULL: none).
pub(crate) fn on_pong(callback: IvyPongCallback) {
    match callback {
        // SAFETY: C callback with the ivy-c signature.
        Some(cb) => bus().on_pong(move |_bus, peer, us| unsafe { cb(client_ptr(peer), us) }),
        None => bus().clear_pong(),
    }
}

/// `IvyBindDirectMsg`.
pub(crate) fn on_direct(callback: MsgDirectCallback, data: SendPtr) {
    bus().on_direct(move |_bus, peer, id, msg| {
        if let Some(cb) = callback {
            let mut m = CArgs::one(msg);
            // SAFETY: C callback with the ivy-c signature; `m` is a writable
            // NUL-terminated copy alive for the call.
            unsafe { cb(client_ptr(peer), data.get(), id, m.first()) }
        }
    });
}

/// `IvyStart` (NULL or "": `IVYBUS`, then the default): a failure is printed,
/// as the C API has no way to report it.
pub(crate) fn start(spec: Option<&str>) {
    let g = global();
    if let Err(e) = g.bus.start(g.env.bus_or(spec)) {
        c_stderr(&format!("IvyStart: cannot start the bus: {e}\n"));
    }
}

/// `IvyStop`: the bus leaves, and the loop is stopped (`IvyChannelStop`, as
/// ivy-c: `IvyMainLoop` returns; a program's own loop decides).
pub(crate) fn stop() {
    global().bus.stop();
    crate::channels::stop();
}

// ---------------------------------------------------------------------------
// Queries.

/// The peer's name; `None` for NULL or stale.
pub(crate) fn peer_name(app: IvyClientPtr) -> Option<Vec<u8>> {
    peer_of(app).and_then(|p| bus().peer_name(p))
}

/// The peer's name for a printed line ("Unknown" for NULL or stale).
pub(crate) fn name_text(app: IvyClientPtr) -> String {
    String::from_utf8_lossy(&peer_name(app).unwrap_or_else(|| b"Unknown".to_vec())).into_owned()
}

/// The peer's host name; `None` for NULL or stale.
pub(crate) fn peer_host(app: IvyClientPtr) -> Option<String> {
    peer_of(app).and_then(|p| bus().peer_host(p))
}

/// The newest peer named `name`, or NULL.
pub(crate) fn peer_by_name(name: &[u8]) -> IvyClientPtr {
    bus().peer_by_name(name).map_or(std::ptr::null(), client_ptr)
}

/// Every peer's name, newest first.
pub(crate) fn peer_names() -> Vec<Vec<u8>> {
    let bus = bus();
    bus.peers().into_iter().map(|p| bus.peer_name(p).unwrap_or_default()).collect()
}

/// The peer's regexps, newest first (none for NULL or stale).
pub(crate) fn peer_regexps(app: IvyClientPtr) -> Vec<Vec<u8>> {
    peer_of(app).and_then(|p| bus().peer_regexps(p)).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Bindings, sends, filters.

/// `IvyBindMsg` (the regexp formatted): the callback gets writable
/// NUL-terminated copies of the arguments.
pub(crate) fn bind(regexp: &[u8], callback: MsgCallback, data: SendPtr) -> MsgRcvPtr {
    let id = bus().bind(regexp, move |_bus, peer, args| {
        if let Some(cb) = callback {
            let mut argv = CArgs::new(args);
            // SAFETY: C callback with the ivy-c signature; `argv` holds `argc`
            // writable NUL-terminated strings and a final NULL, alive for the call.
            unsafe { cb(client_ptr(peer), data.get(), argv.argc(), argv.argv()) }
        }
    });
    msg_rcv_ptr(id)
}

/// `IvyChangeMsg`: NULL or stale does nothing.
pub(crate) fn change(msg: MsgRcvPtr, regexp: &[u8]) {
    if let Some(id) = binding_of(msg) {
        // Unknown: nothing to change, as with ivy-c.
        let _ = bus().change(id, regexp);
    }
}

/// `IvyUnbindMsg`: NULL or stale does nothing.
pub(crate) fn unbind(msg: MsgRcvPtr) {
    if let Some(id) = binding_of(msg) {
        // Unknown: nothing to remove, as with ivy-c.
        let _ = bus().unbind(id);
    }
}

/// `IvySendMsg`: the number of Msg lines sent; 0 for a message refused.
pub(crate) fn send(message: &[u8]) -> c_int {
    bus().send(message).map_or(0, |n| c_int::try_from(n).unwrap_or(c_int::MAX))
}

/// Runs a send to the peer `app`: a stale peer or a refused text is ignored,
/// as ivy-c's sends report nothing.
fn to_peer(app: IvyClientPtr, send: impl FnOnce(&Bus, PeerId) -> Result<(), SendError>) {
    if let Some(p) = peer_of(app) {
        let _ = send(bus(), p);
    }
}

/// `IvySendError`.
pub(crate) fn send_error(app: IvyClientPtr, id: c_int, text: &[u8]) {
    to_peer(app, |bus, p| bus.send_error(p, id, text));
}

/// `IvySendDieMsg`.
pub(crate) fn send_die(app: IvyClientPtr) {
    to_peer(app, |bus, p| bus.send_die(p, 0, b""));
}

/// `IvySendDirectMsg`.
pub(crate) fn send_direct(app: IvyClientPtr, id: c_int, text: &[u8]) {
    to_peer(app, |bus, p| bus.send_direct(p, id, text));
}

/// `IvySendPing`: without a pong callback, ivy-c's complaint on stderr.
pub(crate) fn ping(app: IvyClientPtr) {
    let Some(p) = peer_of(app) else { return };
    let bus = bus();
    if bus.ping(p) == Err(SendError::NoPongCallback) {
        let name = name_text(app);
        c_stderr(&format!("Application: {name} useless IvySendPing issued since no pong callback defined\n"));
    }
}

/// One more filter word for peers' regexps.
pub(crate) fn add_filter(word: &[u8]) {
    bus().add_filter(word);
}

/// One filter word less.
pub(crate) fn remove_filter(word: &[u8]) {
    bus().remove_filter(word);
}
