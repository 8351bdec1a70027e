//! Engine-level handles and event kinds handed to users. Handles are integers that
//! the C border can carry in a pointer-sized handle; a stale one resolves to nothing.

/// A peer (another agent on the bus). Never zero; not reused within a bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub(crate) u64);

/// One of our own subscriptions; its id is the one sent on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BindingId(pub(crate) i32);

impl PeerId {
    /// The handle as a non-zero integer (for pointer-sized C handles).
    pub fn to_raw(self) -> u64 {
        self.0
    }
    /// Rebuilds a handle from [`Self::to_raw`]; zero gives `None`.
    pub fn from_raw(raw: u64) -> Option<Self> {
        (raw != 0).then_some(PeerId(raw))
    }
}

impl BindingId {
    /// The subscription id used on the wire (from 0, never reused).
    pub fn id(self) -> i32 {
        self.0
    }
    /// Rebuilds a handle from a wire id.
    pub fn from_id(id: i32) -> Self {
        BindingId(id)
    }
}

/// The wire id.
impl std::fmt::Display for BindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Application events, numbered as ivy-c's `IvyApplicationEvent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum AppEvent {
    /// The peer finished its handshake (again, for each EndRegexp).
    Connected = 0,
    /// The peer's connection is gone (not for our own leaving).
    Disconnected = 1,
    /// The peer's socket refused bytes: they wait in its queue.
    Congestion = 2,
    /// The peer's queue was written out.
    Decongestion = 3,
    /// A line was dropped at the peer's queue cap.
    FifoFull = 4,
}

/// Peer-subscription events, numbered as ivy-c's `IvyBindEvent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum BindEvent {
    /// The peer subscribed a regexp.
    Added = 0,
    /// The peer withdrew a subscription.
    Removed = 1,
    /// Our filter words refused the peer's regexp.
    Filtered = 2,
    /// The peer replaced the regexp of a subscription id.
    Changed = 3,
}

/// How the peers' regexps read our messages (matching is the sender's, §5): the
/// dialect of ivy-c's or of ivy-python's sender, so that a message reaches the
/// subscribers it would reach from either.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Matching {
    /// ivy-c's PCRE: on bytes (`.` takes one byte, so `^dot (.)$` does not match
    /// `dot é`, two bytes in UTF-8), a match anywhere in the message, trailing
    /// groups that took no part omitted (§5.3). The default.
    #[default]
    IvyC,
    /// ivy-python's `re.match`: a match must start at the message's start; on a
    /// message that is valid UTF-8, `.` and `[^…]` take a whole character and no
    /// capture ends inside one (other meanings stay ASCII: `\d`, `\w`, `\s`,
    /// `\b`, POSIX classes, `(?i)`); every group is sent, empty when it took no part.
    IvyPython,
}
