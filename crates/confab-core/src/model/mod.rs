//! The domain model, one vocabulary for every face. Views (`ConversationView`, …) are what the store
//! returns and what an event's snapshot holds: the subject with the names of what it refers to, so
//! that any face can render it without another query.

pub mod actor;
pub mod auth;
pub mod bot;
pub mod channel;
pub mod contact;
pub mod conversation;
pub mod event;
pub mod message;
pub mod note;
pub mod tag;

pub use actor::*;
pub use auth::*;
pub use bot::*;
pub use channel::*;
pub use contact::*;
pub use conversation::*;
pub use event::*;
pub use message::*;
pub use note::*;
pub use tag::*;

/// A JSON object: custom metadata, channel config, …
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// One page of a list and the exact number of matching rows.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Offset pagination as the faces ask for it: 1-based page, page size already validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    pub fn offset(self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.per_page)
    }
}

/// Ascending or descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}
