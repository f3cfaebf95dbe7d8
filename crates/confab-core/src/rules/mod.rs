//! The rules every write obeys, as pure functions over the model. The store calls them inside its
//! transactions; the faces never re-implement them.

pub mod contact;
pub mod conversation;
pub mod message;
pub mod metadata;
