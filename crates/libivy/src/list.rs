//! `Ivy/list.h`: the intrusive singly-linked-list macros `IVY_LIST_*` (raw
//! block in `cbindgen.toml`). Elements are structs with a `next` member.
