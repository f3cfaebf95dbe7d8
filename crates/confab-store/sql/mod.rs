//! The one SQL implementation of [`confab_store::Store`], shared by both backends.
//!
//! This folder is not a module of `confab-store`: `confab-store-sqlite` and `confab-store-postgres`
//! each compile it as their own `sql` module (`#[path = "../../confab-store/sql/mod.rs"]`), against
//! their `crate::dialect` (the `sqlx` database type and the handful of SQL fragments that differ)
//! and their `crate::SqlStore` (the pools). Queries use `$n` placeholders, which both drivers accept.
//! Instants are bound as microseconds, ids as UUIDs, JSON through `sqlx::types::Json`.
//!
//! Rules are not written here: the lifecycle decisions come from `confab_core::rules`, applied to the
//! state read inside the same transaction that writes the change and its event.

mod auth;
mod bots;
mod channels;
mod contacts;
mod conversations;
mod events;
mod idempotency;
mod inboxes;
mod messages;
mod protocol;
pub(crate) mod search;
mod tags;
mod util;
mod webhooks;
