//! Helpers shared by the binary's integration tests: the library's own loopback helpers
//! (one file, shared with `switchyard/tests/`, so the two suites cannot drift), and the
//! spawned `switchyard` binary.
#![allow(dead_code, unreachable_pub, unused_imports)]

#[path = "../../../switchyard/tests/common/mod.rs"]
mod library;

pub mod binary;
pub mod chat;
#[path = "../../../switchyard/tests/common/redis_server.rs"]
pub mod redis_server;

pub use library::*;
