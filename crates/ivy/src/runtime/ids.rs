//! Handles of loop objects: timers and user channels.

/// A loop timer. Never zero; not reused within a loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(pub(crate) u64);

/// A user channel (a file descriptor watched by the loop). Never zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub(crate) u64);

macro_rules! raw_u64 {
    ($t:ident) => {
        impl $t {
            /// The handle as a non-zero integer (for pointer-sized C handles).
            pub fn to_raw(self) -> u64 {
                self.0
            }
            /// Rebuilds a handle from [`Self::to_raw`]; zero gives `None`.
            pub fn from_raw(raw: u64) -> Option<Self> {
                (raw != 0).then_some($t(raw))
            }
        }
    };
}
raw_u64!(TimerId);
raw_u64!(ChannelId);
