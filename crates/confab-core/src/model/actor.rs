//! Who did something: the key's user, a bot, a contact (inbound), or Confab itself (timers).

use crate::ids::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The kind of an actor or a participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    Bot,
    Contact,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Bot => "bot",
            ActorKind::Contact => "contact",
            ActorKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => ActorKind::User,
            "bot" => ActorKind::Bot,
            "contact" => ActorKind::Contact,
            "system" => ActorKind::System,
            _ => return None,
        })
    }
}

/// A reference to a person or thing, with the name to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    /// `None` for the system.
    pub id: Option<Uuid>,
    pub name: String,
}

impl Actor {
    /// Confab itself (a snooze wake-up, …).
    pub fn system() -> Self {
        Actor { kind: ActorKind::System, id: None, name: "Confab".into() }
    }

    pub fn user(id: UserId, name: impl Into<String>) -> Self {
        Actor { kind: ActorKind::User, id: Some(id.0), name: name.into() }
    }

    /// The user id, when the actor is a user.
    pub fn user_id(&self) -> Option<UserId> {
        match self.kind {
            ActorKind::User => self.id.map(UserId),
            _ => None,
        }
    }
}

/// The tenant and actor every store operation runs for: derived from the API key.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub tenant: TenantId,
    pub actor: Actor,
}
