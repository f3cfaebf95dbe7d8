//! Internal notes on a conversation: transfer summaries, close notes, assignment notes, manual notes.
//! Notes are never messages: they change no counter and never become the last message.

use super::Actor;
use crate::ids::{ConversationId, NoteId};
use crate::time::Time;
use serde::{Deserialize, Serialize};

/// Why a note was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    Transfer,
    Close,
    Assign,
    Manual,
}

impl NoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Transfer => "transfer",
            NoteKind::Close => "close",
            NoteKind::Assign => "assign",
            NoteKind::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "transfer" => NoteKind::Transfer,
            "close" => NoteKind::Close,
            "assign" => NoteKind::Assign,
            "manual" => NoteKind::Manual,
            _ => return None,
        })
    }
}

/// A note.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Note {
    pub id: NoteId,
    pub conversation_id: ConversationId,
    pub kind: NoteKind,
    pub body: String,
    pub author: Actor,
    pub created_at: Time,
}
