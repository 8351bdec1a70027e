//! The only layer that touches the OS: the bus driver, its loop back-ends (the
//! epoll [`EventLoop`], or a loop the program owns through [`SocketLoop`]), sockets,
//! timers, user channels, hooks and the wake-up fd.

mod backend;
mod channels;
pub(crate) mod driver;
mod event_loop;
mod fdmap;
mod ids;
mod net;
mod reclaim;
mod sys;
mod thread;
mod timers;

pub use backend::{MakeSocketLoop, Readiness, SocketEvents, SocketLoop};
pub use channels::{ChannelFn, DeleteFn};
pub use driver::{ACCEPT_BACKOFF, DATAGRAM_BUFFER, DiePolicy};
pub use event_loop::EventLoop;
pub use ids::{ChannelId, TimerId};

pub use net::{DIAL_TIMEOUT, Liveness, host_name};
pub use timers::TimerFn;
