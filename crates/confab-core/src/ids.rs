//! Identifiers: UUID v7 (time-ordered), one newtype per kind so that a contact id can never be
//! passed where a channel id is expected. Rendered as lowercase hyphenated strings in every face.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    )*};
}

id_type!(
    /// An organisation; every row belongs to exactly one.
    TenantId,
    /// An agent (or admin) of a tenant.
    UserId,
    /// An API key of a user.
    ApiKeyId,
    /// A messaging channel (a WhatsApp number, an email inbox, a web chat, …).
    ChannelId,
    /// A customer the tenant talks to.
    ContactId,
    /// An automated agent.
    BotId,
    /// A conversation.
    ConversationId,
    /// An internal note on a conversation.
    NoteId,
    /// A tag of a tenant.
    TagId,
    /// A message of a conversation.
    MessageId,
    /// A G-Tateth inbox (a queue of conversations; not a channel).
    InboxId,
    /// A Protocol group of contacts, with its own conversation.
    GroupId,
    /// A file attached to a message (Protocol).
    AttachmentId,
);
