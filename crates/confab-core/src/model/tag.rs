//! Tags: one name per tenant, with a colour. Linktor shows names, Airy ids.

use crate::ids::{TagId, TenantId};
use crate::time::Time;
use serde::{Deserialize, Serialize};

/// The longest tag name accepted.
pub const TAG_NAME_MAX: usize = 100;

/// A tag of a tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    pub id: TagId,
    pub tenant_id: TenantId,
    pub name: String,
    /// Airy's colour words (`tag-blue`, …); `tag-blue` when not given.
    pub color: String,
    pub created_at: Time,
}

/// A tag as a conversation carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRef {
    pub id: TagId,
    pub name: String,
}

/// Validates and trims a tag name: 1 to [`TAG_NAME_MAX`] characters, no control characters.
pub fn normalize_tag_name(raw: &str) -> Option<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > TAG_NAME_MAX || name.chars().any(char::is_control) {
        return None;
    }
    Some(name.to_string())
}
