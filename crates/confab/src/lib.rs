//! The Confab binary as a library: command-line parsing, picking the storage backend from the
//! database URL, and running the server with its background workers. `main.rs` only calls [`run`].

#![forbid(unsafe_code)]

pub mod cli;
pub mod keys;
pub mod server;
pub mod store;

pub use cli::{run, Cli};
