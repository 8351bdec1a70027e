//! The only layer that touches the OS: one epoll loop with timers, user channels,
//! hooks and a wake-up fd, and the [`agent::Agent`] that drives an engine over sockets.

pub mod agent;
mod channels;
mod event_loop;
mod fdmap;
mod ids;
mod net;
mod sys;
mod timers;
mod watch;

pub use channels::{ChannelFn, DeleteFn};
pub use event_loop::{EventLoop, Source};
pub use ids::{ChannelId, TimerId};
pub use net::{DIAL_TIMEOUT, Liveness, host_name};
pub use timers::TimerFn;
pub use watch::Watcher;
