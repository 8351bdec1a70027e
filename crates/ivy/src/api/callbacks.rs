//! The user's callbacks, stored apart from the engine so that they run with no lock held.

use super::Bus;
use ivy_proto::engine::{AppEvent, BindEvent, IdMap, PeerId};
use std::sync::Arc;

pub type MsgFn = Arc<dyn Fn(&Bus, PeerId, &[&[u8]]) + Send + Sync>;
pub type AppFn = Arc<dyn Fn(&Bus, PeerId, AppEvent) + Send + Sync>;
pub type BindFn = Arc<dyn Fn(&Bus, PeerId, i32, &[u8], BindEvent) + Send + Sync>;
pub type DieFn = Arc<dyn Fn(&Bus, PeerId, i32) + Send + Sync>;
pub type DirectFn = Arc<dyn Fn(&Bus, PeerId, i32, &[u8]) + Send + Sync>;
pub type PongFn = Arc<dyn Fn(&Bus, PeerId, i32) + Send + Sync>;

#[derive(Default, Clone)]
pub struct Callbacks {
    pub bindings: IdMap<i32, MsgFn>,
    pub app: Option<AppFn>,
    pub bind: Option<BindFn>,
    pub die: Option<DieFn>,
    pub direct: Option<DirectFn>,
    pub pong: Option<PongFn>,
}
