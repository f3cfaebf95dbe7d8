//! Tags: one name per tenant, with a colour. Linktor shows names, Airy ids.

use crate::ids::{TagId, TenantId};
use crate::time::Time;
use serde::{Deserialize, Serialize};

/// The longest tag name accepted.
pub const TAG_NAME_MAX: usize = 100;

/// The colours a tag can have: exactly Airy's (its clients know no others), the first the default.
pub const TAG_COLORS: [&str; 4] = ["tag-blue", "tag-red", "tag-green", "tag-purple"];

/// The colour of a new tag when none is given.
pub const TAG_COLOR_DEFAULT: &str = TAG_COLORS[0];

/// A tag colour if `raw` is one of [`TAG_COLORS`] (exact spelling).
pub fn parse_tag_color(raw: &str) -> Option<&'static str> {
    TAG_COLORS.iter().copied().find(|c| *c == raw)
}

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

/// A partial update of a tag: `None` leaves a field as it is. The name is validated with
/// [`normalize_tag_name`], the colour with [`parse_tag_color`].
#[derive(Clone, Debug, Default)]
pub struct TagPatch {
    pub name: Option<String>,
    pub color: Option<String>,
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
