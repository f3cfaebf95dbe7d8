//! The heart of Confab: the domain model every face renders, and the rules every write obeys.
//!
//! Nothing here does IO. The store crates load and persist these types inside their transactions and
//! call the rules in [`rules`] to decide what a change does; the faces parse requests into the inputs
//! defined here and render the views back in their own dialect.

#![forbid(unsafe_code)]

pub mod error;
pub mod ids;
pub mod model;
pub mod rules;
pub mod time;

pub use error::{Error, FieldError, Resource, Result};
pub use ids::*;
pub use time::Time;
