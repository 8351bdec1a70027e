//! `Ivy/list.h`: the intrusive singly-linked-list macros `IVY_LIST_*`, C
//! written by hand in `include/Ivy/list.h` (nothing of it comes from Rust).
//! Elements are structs with a `next` member.
