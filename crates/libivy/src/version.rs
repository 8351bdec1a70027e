//! `Ivy/version.h`: the ivy-c version this library stands in for.

/// Major version (also the wire protocol version).
pub const IVYMAJOR_VERSION: i32 = 3;
/// Minor version.
pub const IVYMINOR_VERSION: i32 = 15;
