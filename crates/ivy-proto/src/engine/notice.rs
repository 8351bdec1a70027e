//! What the engine has to say about what happened, beside the events it delivers:
//! the lines ivy-c prints (§8.6), and the limits and policies it applied. The
//! driver polls them ([`super::Engine::poll_notice`]) and logs them; the engine
//! itself prints nothing and keeps no global.

use super::types::PeerId;
use crate::wire::HelloError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// What [`Notice::NoRoom`] turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnedAway {
    /// A connection from this address, closed as soon as accepted.
    Connection(SocketAddr),
    /// A hello asking us to dial this address.
    Hello(SocketAddr),
}

impl fmt::Display for TurnedAway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnedAway::Connection(addr) => write!(f, "connection from {addr} closed"),
            TurnedAway::Hello(addr) => write!(f, "hello from {addr} ignored"),
        }
    }
}

/// How much a notice matters to the user of the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// A detail for whoever diagnoses a bus (ivy-c prints nothing of it).
    Detail,
    /// What ivy-c prints on stdout.
    Info,
    /// What ivy-c prints on stderr, and limits we applied to a peer.
    Warning,
}

/// Something the engine did or saw that its user may want to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A peer sent a line that is not `TYPE ID\x02...`: it is dropped.
    BadFormat {
        /// The peer.
        peer: PeerId,
        /// The line.
        line: Vec<u8>,
    },
    /// A peer sent a message type we do not know: the line is ignored.
    UnknownType {
        /// The peer.
        peer: PeerId,
        /// The line.
        line: Vec<u8>,
    },
    /// A peer sent an Error message.
    ErrorReceived {
        /// The peer.
        peer: PeerId,
        /// The Error's id.
        id: i32,
        /// Its text.
        text: Vec<u8>,
    },
    /// A peer sent a Msg for a subscription id of ours that does not exist.
    UnknownBinding {
        /// The peer.
        peer: PeerId,
        /// The id.
        id: i32,
    },
    /// A peer's regexp does not compile: it was answered with an Error.
    BadRegexp {
        /// The peer.
        peer: PeerId,
        /// Its subscription id.
        id: i32,
        /// The regexp.
        regexp: Vec<u8>,
        /// Why it does not compile.
        error: String,
    },
    /// A second connection to an agent we already reach: it is dropped
    /// (drained or closed, `dedupe.rs`).
    AlreadyConnected {
        /// The connection dropped.
        peer: PeerId,
    },
    /// A limit of [`super::Limits`] was passed: the peer is dropped.
    LimitPassed {
        /// The peer.
        peer: PeerId,
        /// Which limit.
        limit: &'static str,
        /// What the peer reached.
        value: usize,
        /// The limit.
        max: usize,
    },
    /// A hello that does not parse.
    BadHello {
        /// Its sender.
        from: SocketAddr,
        /// Why.
        error: HelloError,
    },
    /// A hello or a connection from a host outside the allow-list.
    NotAllowed {
        /// The host.
        from: IpAddr,
    },
    /// A connection refused, or a hello not followed, for lack of room under
    /// `max_peers`.
    NoRoom {
        /// What was turned away.
        turned_away: TurnedAway,
        /// Which count is full (peer connections, or connects under way).
        limit: &'static str,
        /// How many are held.
        held: usize,
        /// How many may be.
        max: usize,
        /// Refusals so far.
        refused: u64,
    },
    /// Regexps not run on a message, for the search budget.
    SearchesRefused {
        /// How many.
        count: usize,
        /// The message's length.
        message_len: usize,
    },
    /// A message with bytes outside 0x20..0x80 while debug-binary is on.
    BinaryRefused,
    /// A line that would carry a line feed, which framing cannot: not sent.
    LineFeedRefused {
        /// What held it.
        what: &'static str,
    },
}

impl Notice {
    /// How much it matters; [`Severity::Info`] and [`Severity::Warning`] are the
    /// lines ivy-c prints, on stdout and stderr.
    pub fn severity(&self) -> Severity {
        match self {
            Notice::BadFormat { .. }
            | Notice::UnknownType { .. }
            | Notice::ErrorReceived { .. }
            | Notice::UnknownBinding { .. }
            | Notice::BadRegexp { .. }
            | Notice::AlreadyConnected { .. }
            | Notice::BinaryRefused => Severity::Info,
            Notice::BadHello { error, .. } if error.is_version() => Severity::Warning,
            Notice::BadHello { .. } => Severity::Info,
            Notice::LimitPassed { .. } => Severity::Warning,
            Notice::NotAllowed { .. }
            | Notice::NoRoom { .. }
            | Notice::SearchesRefused { .. }
            | Notice::LineFeedRefused { .. } => Severity::Detail,
        }
    }
}

/// Bytes from the wire, shown as text.
struct Text<'a>(&'a [u8]);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.0))
    }
}

/// The text of each notice: ivy-c's words for the lines ivy-c prints.
impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::BadFormat { line, .. } => write!(f, "Quitting bad format  {}", Text(line)),
            Notice::UnknownType { line, .. } => write!(f, "Receive unhandled message {}", Text(line)),
            Notice::ErrorReceived { id, text, .. } => write!(f, "Received error {id} {}", Text(text)),
            Notice::UnknownBinding { id, .. } => write!(f, "Callback Message id={id} not found!!!'"),
            Notice::BadRegexp { regexp, error, .. } => write!(f, "Error compiling '{}', {error}", Text(regexp)),
            Notice::AlreadyConnected { .. } => f.write_str("Receive StartRegexp: Quitting already connected"),
            Notice::LimitPassed { limit, value, max, .. } => {
                write!(f, "peer dropped: {limit} {value} over the limit of {max}")
            }
            Notice::BadHello { from, error } => write!(f, "{error} from {from}"),
            Notice::NotAllowed { from } => write!(f, "{from} refused: not in the allow-list"),
            Notice::NoRoom { turned_away, limit, held, max, refused } => {
                write!(f, "{turned_away}: {held} {limit} {max} ({refused} refused)")
            }
            Notice::SearchesRefused { count, message_len } => {
                write!(f, "{count} regexps not run on a message of {message_len} bytes (search budget)")
            }
            Notice::BinaryRefused => f.write_str("IvySendMsg bad msg to send binary data not allowed ignored"),
            Notice::LineFeedRefused { what } => write!(f, "{what} holds a line feed: not sent"),
        }
    }
}
