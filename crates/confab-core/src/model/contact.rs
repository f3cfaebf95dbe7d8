//! Contacts: the people a tenant talks to. G-Tateth's customers and Protocol's contacts are the same
//! rows. Phone (E.164) and email (lower-cased) are unique per tenant.

use super::JsonMap;
use crate::ids::{ContactId, TenantId};
use crate::time::Time;
use serde::{Deserialize, Serialize};

/// A contact with the union of the faces' fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub tenant_id: TenantId,
    /// The display name used by Linktor and Airy; derived from first/last name or the username
    /// when not given.
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// E.164 (`+5511999999999`).
    pub phone: Option<String>,
    /// Lower-cased.
    pub email: Option<String>,
    pub avatar_url: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub tier: Option<String>,
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub metadata: JsonMap,
    pub created_at: Time,
    pub updated_at: Time,
}

/// What a conversation shows of its contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactRef {
    pub id: ContactId,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub avatar_url: Option<String>,
    pub metadata: JsonMap,
}

/// Fields of a new contact; phone and email already normalised (see [`crate::rules::contact`]).
#[derive(Clone, Debug, Default)]
pub struct NewContact {
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub avatar_url: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub tier: Option<String>,
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub metadata: JsonMap,
}

/// A partial update: `None` leaves a field, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct ContactPatch {
    pub name: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub job_title: Option<Option<String>>,
    pub tier: Option<Option<String>>,
    pub status: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    /// Deep-merged (a `null` value deletes the key).
    pub metadata: Option<JsonMap>,
}

/// Filters of the contact list.
#[derive(Clone, Debug, Default)]
pub struct ContactFilter {
    /// Case-insensitive match on name, email or phone.
    pub search: Option<String>,
    pub tier: Option<String>,
    pub status: Option<String>,
    /// Contacts carrying every one of these tags.
    pub tags: Vec<String>,
}
