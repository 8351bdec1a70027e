//! `Ivy/ivysocket.h`: the types of ivy-c's internal socket layer, kept for
//! source compatibility. Of its functions only `SocketInit` is exported: the
//! others act on ivy-c's own client and server records, which this library does
//! not have.

use std::ffi::{c_char, c_void};

use super::{_client, _server};
use crate::boundary::boundary;

/// Result of a socket send in ivy-c's socket layer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendState {
    SendOk,
    SendStillCongestion,
    SendStateChangeToCongestion,
    SendStateChangeToDecongestion,
    SendStateFifoFull,
    SendError,
    SendParamError,
}

/// A connection of ivy-c's socket layer (opaque).
pub type Client = *mut _client;
/// A listening socket of ivy-c's socket layer (opaque).
pub type Server = *mut _server;
/// A line handler of ivy-c's socket layer.
pub type SocketInterpretation = Option<unsafe extern "C" fn(client: Client, data: *const c_void, line: *mut c_char)>;

/// Same as `IvyChannelInit`.
#[unsafe(no_mangle)]
pub extern "C" fn SocketInit() {
    boundary!(super::ivychannel::channel_init())
}
