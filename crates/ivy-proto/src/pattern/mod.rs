//! Ivy regexps: PCRE-dialect compilation on bytes (§5.3, §5.4), ivy-c's
//! interval extension (§5.5), subscription filters (§5.6) and a literal-prefix
//! index that keeps a sender from running patterns that cannot match.

mod compile;
mod cost;
mod filter;
mod index;
mod interval;
mod prefix;
mod translate;

#[cfg(test)]
mod tests;

pub use compile::{
    BACKTRACK_BYTES_PER_STATE, BACKTRACK_LIMIT, BACKTRACK_PROG_LIMIT, CACHE_KEEP, CaptureSlots, CompileError, Pattern,
    REGEX_DFA_SIZE_LIMIT, REGEX_SIZE_LIMIT, Subject,
};
pub use filter::Filter;
pub use index::PrefixIndex;
pub(crate) use index::shrink_if_sparse;
pub use interval::{MAX_EXPANDED_LEN, expand_intervals};
pub use prefix::MAX_PREFIX_LEN;
pub use translate::MAX_REPEAT_COUNT;
