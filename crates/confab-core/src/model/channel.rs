//! Channels: where conversations happen. Connectors (outside Confab) feed them.

use super::JsonMap;
use crate::ids::{BotId, ChannelId, TenantId};
use crate::time::Time;
use serde::{Deserialize, Serialize};

/// The Linktor channel types, plus `api` for programmatic channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelType {
    Whatsapp,
    Telegram,
    Sms,
    Email,
    Webchat,
    Facebook,
    Instagram,
    Voice,
    Rcs,
    Api,
}

impl ChannelType {
    pub const ALL: [ChannelType; 10] = [
        ChannelType::Whatsapp,
        ChannelType::Telegram,
        ChannelType::Sms,
        ChannelType::Email,
        ChannelType::Webchat,
        ChannelType::Facebook,
        ChannelType::Instagram,
        ChannelType::Voice,
        ChannelType::Rcs,
        ChannelType::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::Whatsapp => "whatsapp",
            ChannelType::Telegram => "telegram",
            ChannelType::Sms => "sms",
            ChannelType::Email => "email",
            ChannelType::Webchat => "webchat",
            ChannelType::Facebook => "facebook",
            ChannelType::Instagram => "instagram",
            ChannelType::Voice => "voice",
            ChannelType::Rcs => "rcs",
            ChannelType::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The accepted values, for error messages.
    pub fn list() -> String {
        Self::ALL.map(|t| t.as_str()).join(", ")
    }
}

/// Whether a channel takes traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    Active,
    Inactive,
}

impl ChannelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelStatus::Active => "active",
            ChannelStatus::Inactive => "inactive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => ChannelStatus::Active,
            "inactive" => ChannelStatus::Inactive,
            _ => return None,
        })
    }
}

/// A channel of a tenant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Channel {
    pub id: ChannelId,
    pub tenant_id: TenantId,
    pub name: String,
    pub channel_type: ChannelType,
    pub status: ChannelStatus,
    /// Connector settings (credentials are the connector's business; Confab keeps them opaque).
    pub config: JsonMap,
    pub default_bot_id: Option<BotId>,
    pub metadata: JsonMap,
    pub created_at: Time,
    pub updated_at: Time,
}

/// What a conversation shows of its channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelRef {
    pub id: ChannelId,
    pub channel_type: ChannelType,
    pub name: String,
}

/// Fields to create a channel with (validated by the face's parsing and by the store).
#[derive(Clone, Debug)]
pub struct NewChannel {
    pub name: String,
    pub channel_type: ChannelType,
    pub config: JsonMap,
    pub default_bot_id: Option<BotId>,
    pub metadata: JsonMap,
}

/// A partial update of a channel: `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ChannelPatch {
    pub name: Option<String>,
    /// Merged into the existing config (a `null` value deletes the key).
    pub config: Option<JsonMap>,
    /// `Some(None)` removes the default bot.
    pub default_bot_id: Option<Option<BotId>>,
    /// Deep-merged like a conversation's metadata.
    pub metadata: Option<JsonMap>,
}

/// Filters of the channel list.
#[derive(Clone, Debug, Default)]
pub struct ChannelFilter {
    pub channel_type: Option<ChannelType>,
    pub status: Option<ChannelStatus>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
}
