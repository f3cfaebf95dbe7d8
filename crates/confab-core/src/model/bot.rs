//! Bots: automated agents a conversation can be assigned to.

use super::JsonMap;
use crate::ids::{BotId, TenantId};
use crate::time::Time;
use serde::{Deserialize, Serialize};

/// Where a bot's intelligence comes from (Linktor's providers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BotProvider {
    Openai,
    Anthropic,
    Custom,
}

impl BotProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            BotProvider::Openai => "openai",
            BotProvider::Anthropic => "anthropic",
            BotProvider::Custom => "custom",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "openai" => BotProvider::Openai,
            "anthropic" => BotProvider::Anthropic,
            "custom" => BotProvider::Custom,
            _ => return None,
        })
    }
}

/// A bot of a tenant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bot {
    pub id: BotId,
    pub tenant_id: TenantId,
    pub name: String,
    pub provider: BotProvider,
    pub model: String,
    /// Whether the bot takes conversations. A bot is created active; an active bot cannot be deleted.
    pub active: bool,
    pub config: JsonMap,
    pub metadata: JsonMap,
    pub created_at: Time,
    pub updated_at: Time,
}

/// What a conversation shows of its bot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BotRef {
    pub id: BotId,
    pub name: String,
    pub active: bool,
}

/// Fields to create a bot with.
#[derive(Clone, Debug)]
pub struct NewBot {
    pub name: String,
    pub provider: BotProvider,
    pub model: String,
    pub config: JsonMap,
    pub metadata: JsonMap,
}

/// A partial update of a bot.
#[derive(Clone, Debug, Default)]
pub struct BotPatch {
    pub name: Option<String>,
    pub provider: Option<BotProvider>,
    pub model: Option<String>,
    pub config: Option<JsonMap>,
    pub metadata: Option<JsonMap>,
    pub active: Option<bool>,
}

/// Filters of the bot list.
#[derive(Clone, Debug, Default)]
pub struct BotFilter {
    pub active: Option<bool>,
    pub provider: Option<BotProvider>,
    pub search: Option<String>,
}
