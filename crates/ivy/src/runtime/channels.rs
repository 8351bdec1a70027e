//! User channels (§8.2): file descriptors the loop watches for the application.
//! Removal is deferred to the start of the next iteration, as in ivy-c's select loop.

use super::ids::ChannelId;
use std::os::fd::RawFd;

/// A read or write handler: (channel, fd).
pub type ChannelFn = Box<dyn FnMut(&super::EventLoop, ChannelId, RawFd) + Send>;
/// Called when the channel is removed.
pub type DeleteFn = Box<dyn FnMut() + Send>;

pub(super) struct Channel {
    pub id: ChannelId,
    pub fd: RawFd,
    pub read: Option<ChannelFn>,
    pub write: Option<ChannelFn>,
    pub delete: Option<DeleteFn>,
    pub writable: bool,
    pub removed: bool,
}

/// The channel list, newest first when iterated with [`Channels::ids`].
#[derive(Default)]
pub(super) struct Channels {
    list: Vec<Channel>,
    next_id: u64,
}

/// Which handler of a channel to take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Handler {
    Read,
    Write,
}

impl Channels {
    pub(super) fn add(
        &mut self,
        fd: RawFd,
        read: ChannelFn,
        write: Option<ChannelFn>,
        delete: Option<DeleteFn>,
    ) -> ChannelId {
        self.next_id += 1;
        let id = ChannelId(self.next_id);
        let ch = Channel { id, fd, read: Some(read), write, delete, writable: false, removed: false };
        self.list.push(ch);
        id
    }

    fn find(&mut self, id: ChannelId) -> Option<&mut Channel> {
        self.list.iter_mut().find(|c| c.id == id && !c.removed)
    }

    pub(super) fn mark_removed(&mut self, id: ChannelId) {
        if let Some(c) = self.find(id) {
            c.removed = true;
        }
    }

    pub(super) fn set_writable(&mut self, id: ChannelId, on: bool) {
        if let Some(c) = self.find(id) {
            c.writable = on;
        }
    }

    /// Takes out the channels marked removed; the caller runs their delete handlers.
    pub(super) fn take_removed(&mut self) -> Vec<Channel> {
        if !self.list.iter().any(|c| c.removed) {
            return Vec::new();
        }
        let (gone, kept) = std::mem::take(&mut self.list).into_iter().partition(|c| c.removed);
        self.list = kept;
        gone
    }

    /// (id, fd, writable watch) of live channels, newest first.
    pub(super) fn interests(&self) -> impl Iterator<Item = (ChannelId, RawFd, bool)> + '_ {
        self.list.iter().rev().filter(|c| !c.removed).map(|c| (c.id, c.fd, c.writable))
    }

    /// Takes a handler out to call it without the loop's lock.
    pub(super) fn take(&mut self, id: ChannelId, which: Handler) -> Option<(ChannelFn, RawFd)> {
        let c = self.find(id)?;
        let slot = match which {
            Handler::Read => &mut c.read,
            Handler::Write => &mut c.write,
        };
        Some((slot.take()?, c.fd))
    }

    /// Puts a handler back, unless the channel has gone meanwhile.
    pub(super) fn put(&mut self, id: ChannelId, which: Handler, f: ChannelFn) {
        if let Some(c) = self.list.iter_mut().find(|c| c.id == id) {
            match which {
                Handler::Read => c.read = Some(f),
                Handler::Write => c.write = Some(f),
            }
        }
    }

    /// Takes the delete handler (for an error condition; the channel stays).
    pub(super) fn take_delete(&mut self, id: ChannelId) -> Option<DeleteFn> {
        self.find(id)?.delete.take()
    }

    pub(super) fn put_delete(&mut self, id: ChannelId, f: DeleteFn) {
        if let Some(c) = self.list.iter_mut().find(|c| c.id == id) {
            c.delete = Some(f);
        }
    }
}
