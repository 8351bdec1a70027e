//! The user's callbacks, stored apart from the engine so that they run with no lock held.

use crate::Bus;
use ivy_proto::engine::{AppEvent, BindEvent, IdMap, PeerId};
use std::sync::Arc;

/// A binding's callback: the peer and the captured groups.
pub(super) type MsgFn = Arc<dyn Fn(&Bus, PeerId, &[&[u8]]) + Send + Sync>;
/// The application callback: a peer's connection events.
pub(super) type AppFn = Arc<dyn Fn(&Bus, PeerId, AppEvent) + Send + Sync>;
/// The bind-change callback: a peer's subscription events.
pub(super) type BindFn = Arc<dyn Fn(&Bus, PeerId, i32, &[u8], BindEvent) + Send + Sync>;
/// The die callback: a peer asks us to die.
pub(super) type DieFn = Arc<dyn Fn(&Bus, PeerId, i32) + Send + Sync>;
/// The direct-message callback.
pub(super) type DirectFn = Arc<dyn Fn(&Bus, PeerId, i32, &[u8]) + Send + Sync>;
/// The pong callback: the round trip in µs.
pub(super) type PongFn = Arc<dyn Fn(&Bus, PeerId, i32) + Send + Sync>;

/// Every callback of one bus.
#[derive(Default, Clone)]
pub(crate) struct Callbacks {
    pub bindings: IdMap<i32, MsgFn>,
    pub app: Option<AppFn>,
    pub bind: Option<BindFn>,
    pub die: Option<DieFn>,
    pub direct: Option<DirectFn>,
    pub pong: Option<PongFn>,
}
