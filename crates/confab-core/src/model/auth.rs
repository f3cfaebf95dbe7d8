//! Tenants, users, API keys and scopes.

use crate::ids::{ApiKeyId, TenantId, UserId};
use crate::time::Time;
use serde::{Deserialize, Serialize};

/// An organisation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub created_at: Time,
}

/// The role of a user in its tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    Admin,
    Agent,
    Viewer,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Agent => "agent",
            UserRole::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "admin" => UserRole::Admin,
            "agent" => UserRole::Agent,
            "viewer" => UserRole::Viewer,
            _ => return None,
        })
    }
}

/// An agent or admin of a tenant. The user of an API key is the actor of what the key does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub name: String,
    pub email: Option<String>,
    pub role: UserRole,
    pub created_at: Time,
    pub updated_at: Time,
}

/// A resource family that a scope grants access to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeResource {
    Conversations,
    Contacts,
    Channels,
    Bots,
    Messages,
    Webhooks,
}

impl ScopeResource {
    pub const ALL: [ScopeResource; 6] = [
        ScopeResource::Conversations,
        ScopeResource::Contacts,
        ScopeResource::Channels,
        ScopeResource::Bots,
        ScopeResource::Messages,
        ScopeResource::Webhooks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScopeResource::Conversations => "conversations",
            ScopeResource::Contacts => "contacts",
            ScopeResource::Channels => "channels",
            ScopeResource::Bots => "bots",
            ScopeResource::Messages => "messages",
            ScopeResource::Webhooks => "webhooks",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "conversations" => ScopeResource::Conversations,
            // G-Tateth's customers are Confab's contacts.
            "contacts" | "customers" => ScopeResource::Contacts,
            "channels" | "inboxes" => ScopeResource::Channels,
            "bots" => ScopeResource::Bots,
            "messages" => ScopeResource::Messages,
            "webhooks" => ScopeResource::Webhooks,
            _ => return None,
        })
    }
}

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
}

/// A permission held by an API key: `conversations:read`, …, or `admin` (implies every scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Admin,
    Grant(ScopeResource, Access),
}

impl Scope {
    /// Parses `conversations:read` and its alias `read:conversations`, or `admin`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s == "admin" {
            return Some(Scope::Admin);
        }
        let (a, b) = s.split_once(':')?;
        let access = |w: &str| match w {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            _ => None,
        };
        if let (Some(r), Some(acc)) = (ScopeResource::parse(a), access(b)) {
            return Some(Scope::Grant(r, acc));
        }
        if let (Some(acc), Some(r)) = (access(a), ScopeResource::parse(b)) {
            return Some(Scope::Grant(r, acc));
        }
        None
    }

    /// The canonical spelling (`conversations:read`).
    pub fn canonical(self) -> String {
        match self {
            Scope::Admin => "admin".into(),
            Scope::Grant(r, Access::Read) => format!("{}:read", r.as_str()),
            Scope::Grant(r, Access::Write) => format!("{}:write", r.as_str()),
        }
    }

    /// Parses a comma-separated list; the error names the first unknown scope.
    pub fn parse_list(list: &str) -> Result<Vec<Scope>, String> {
        let mut out = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope = Scope::parse(part).ok_or_else(|| part.to_string())?;
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
        Ok(out)
    }
}

/// Whether `held` grants `resource` with `access`. `admin` grants everything; write does not imply
/// read (keys are given exactly what they need).
pub fn scopes_allow(held: &[Scope], resource: ScopeResource, access: Access) -> bool {
    held.iter().any(|s| match s {
        Scope::Admin => true,
        Scope::Grant(r, a) => *r == resource && *a == access,
    })
}

/// Whether `held` includes `admin`.
pub fn scopes_admin(held: &[Scope]) -> bool {
    held.contains(&Scope::Admin)
}

/// An API key as listed (never the clear key).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub tenant_slug: String,
    pub user_id: UserId,
    pub user_name: String,
    /// The first characters of the key, to recognise it (`cfb_3k9x…`).
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: Time,
    pub revoked_at: Option<Time>,
}

/// What an authenticated request may do, resolved from its key.
#[derive(Clone, Debug)]
pub struct Principal {
    pub key_id: ApiKeyId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub user_name: String,
    pub scopes: Vec<Scope>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_a_scope_parse_to_the_same_grant() {
        assert_eq!(Scope::parse("conversations:read"), Scope::parse("read:conversations"));
        assert_eq!(Scope::parse("write:customers"), Some(Scope::Grant(ScopeResource::Contacts, Access::Write)));
        assert_eq!(Scope::parse("conversations:delete"), None);
    }

    #[test]
    fn admin_implies_every_scope_and_write_does_not_imply_read() {
        assert!(scopes_allow(&[Scope::Admin], ScopeResource::Bots, Access::Write));
        let held = [Scope::Grant(ScopeResource::Conversations, Access::Write)];
        assert!(!scopes_allow(&held, ScopeResource::Conversations, Access::Read));
        assert!(scopes_allow(&held, ScopeResource::Conversations, Access::Write));
    }

    #[test]
    fn a_scope_list_names_the_unknown_entry() {
        assert_eq!(Scope::parse_list("admin, bogus"), Err("bogus".into()));
        assert_eq!(Scope::parse_list("admin,admin").unwrap().len(), 1);
    }
}
