//! API keys: generation, hashing, and resolving a clear key to its principal.
//!
//! A key is `cfb_` followed by 40 random base62 characters (~238 bits). Only its SHA-256 is stored
//! (a key is high-entropy, so a slow hash would add nothing but latency); the clear key is shown
//! once. Resolved principals are cached for [`CACHE_TTL`] so that a request costs no auth query; a
//! revoked key therefore stops working within that time on every node.

use crate::error::ApiError;
use confab_core::model::{scopes_allow, Access, Actor, Ctx, Principal, Scope, ScopeResource};
use confab_store::DynStore;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

/// How long a resolved key is trusted without asking the database again.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
const CACHE_MAX: usize = 10_000;
const KEY_PREFIX: &str = "cfb_";
const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new clear key, its hash and its display prefix.
pub fn generate_key() -> (String, Vec<u8>, String) {
    let mut rng = rand::rng();
    let body: String = (0..40).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    let key = format!("{KEY_PREFIX}{body}");
    let prefix = format!("{}…", &key[..KEY_PREFIX.len() + 6]);
    (key.clone(), hash_key(&key), prefix)
}

/// SHA-256 of a clear key.
pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Resolved principals by key hash.
#[derive(Default)]
pub struct KeyCache {
    entries: RwLock<HashMap<Vec<u8>, (Principal, Instant)>>,
}

impl KeyCache {
    /// The principal of `key`: 401 `INVALID_API_KEY` when it is unknown or revoked.
    pub async fn resolve(&self, store: &DynStore, key: &str) -> Result<Principal, ApiError> {
        let key = key.trim();
        if key.is_empty() || key.len() > 256 {
            return Err(ApiError::invalid_key());
        }
        let hash = hash_key(key);
        if let Some((p, at)) = self.entries.read().ok().and_then(|m| m.get(&hash).cloned()) {
            if at.elapsed() < CACHE_TTL {
                return Ok(p);
            }
        }
        let principal = store.principal_by_key_hash(&hash).await?.ok_or_else(ApiError::invalid_key)?;
        if let Ok(mut m) = self.entries.write() {
            if m.len() >= CACHE_MAX {
                m.clear();
            }
            m.insert(hash, (principal.clone(), Instant::now()));
        }
        Ok(principal)
    }

    /// Forgets every cached key (after a revocation in this process).
    pub fn clear(&self) {
        if let Ok(mut m) = self.entries.write() {
            m.clear();
        }
    }
}

/// An authenticated request: who, for which tenant, with which scopes.
#[derive(Clone, Debug)]
pub struct Auth(pub Principal);

impl Auth {
    /// 403 `INSUFFICIENT_PERMISSIONS` unless the key holds `resource:access` (or `admin`).
    pub fn require(&self, resource: ScopeResource, access: Access) -> Result<Ctx, ApiError> {
        if !scopes_allow(&self.0.scopes, resource, access) {
            let scope = Scope::Grant(resource, access).canonical();
            return Err(ApiError::forbidden(&scope));
        }
        Ok(self.ctx())
    }

    /// 403 unless the key holds `admin`.
    pub fn require_admin(&self) -> Result<Ctx, ApiError> {
        if !self.0.scopes.contains(&Scope::Admin) {
            return Err(ApiError::forbidden("admin"));
        }
        Ok(self.ctx())
    }

    /// The store context: the key's tenant, its user as the actor.
    pub fn ctx(&self) -> Ctx {
        Ctx { tenant: self.0.tenant_id, actor: Actor::user(self.0.user_id, self.0.user_name.clone()) }
    }
}

/// The `Authorization: Bearer` and `X-API-Key` schemes, and the Airy face's `airy_auth_token`
/// cookie, in the OpenAPI document.
pub struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("cfb_…").build()),
        );
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        // The Protocol face also takes HTTP Basic with the key as the password.
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "airy_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::faces::airy::AUTH_COOKIE))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hash_stably() {
        let (a, ha, prefix) = generate_key();
        let (b, _, _) = generate_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 44);
        assert!(a.starts_with("cfb_") && prefix.starts_with(&a[..10]));
        assert_eq!(ha, hash_key(&a));
    }
}
