//! What the engine asks of its driver: events for the user, actions for the runtime.

use super::types::{AppEvent, BindEvent, PeerId};
use std::net::SocketAddr;

/// Something to deliver to the user's callbacks, in order, on the loop thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection event; after `Disconnected` is delivered the driver calls
    /// [`super::Engine::reap`] so the peer stays listed during the callback.
    App { peer: PeerId, event: AppEvent },
    /// A peer's subscription changed (`regexp` as ivy-c reports it, §4.4).
    Bind { peer: PeerId, id: i32, regexp: Vec<u8>, event: BindEvent },
    /// A Msg for our binding `binding`; `params` is the raw ETX-separated block.
    Msg { peer: PeerId, binding: i32, params: Vec<u8> },
    /// A direct message, text raw (ETX kept).
    Direct { peer: PeerId, id: i32, text: Vec<u8> },
    /// The peer asks us to die.
    Die { peer: PeerId, id: i32 },
    /// Round trip of a ping in µs, negative when the Pong id was not the last ping's.
    Pong { peer: PeerId, micros: i32 },
}

/// Something the runtime must do with sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a connection (the hello of a newcomer); the name is its hello name.
    Connect { addr: SocketAddr, name: Vec<u8> },
    /// Flush what is queued for the peer, then close its connection.
    Close(PeerId),
}
