//! `confab keys`: create, list and revoke API keys.

use confab_core::model::Scope;
use confab_core::ApiKeyId;
use confab_store::{DynStore, NewApiKey};

/// Creates a key (and its tenant and user if missing) and returns the listing line and the clear key.
pub async fn create(
    store: &DynStore,
    tenant: &str,
    user: &str,
    email: Option<String>,
    scopes: &str,
) -> Result<(String, String), String> {
    let tenant = tenant.trim();
    if tenant.is_empty() || !tenant.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err("--tenant must be a slug: letters, digits, '-' or '_'".into());
    }
    let user = user.trim();
    if user.is_empty() {
        return Err("--user must not be empty".into());
    }
    let email = match email {
        Some(e) => Some(confab_core::rules::contact::normalize_email(&e).ok_or("--email is not an email address")?),
        None => None,
    };
    let scopes = Scope::parse_list(scopes).map_err(|bad| {
        format!(
            "unknown scope '{bad}': use admin or RESOURCE:read / RESOURCE:write with RESOURCE one of conversations, contacts, channels, bots, messages, webhooks"
        )
    })?;
    if scopes.is_empty() {
        return Err("--scopes must name at least one scope".into());
    }
    let (clear, hash, prefix) = confab_api::auth::generate_key();
    let key = store
        .create_api_key(NewApiKey {
            tenant_slug: tenant.to_string(),
            user_name: user.to_string(),
            user_email: email,
            scopes,
            hash,
            prefix,
        })
        .await
        .map_err(|e| e.to_string())?;
    let line = format!(
        "created key {} for user {} ({}) of tenant {} with scopes {}",
        key.id,
        key.user_name,
        key.user_id,
        key.tenant_slug,
        key.scopes.join(",")
    );
    Ok((line, clear))
}

/// One line per key.
pub async fn list(store: &DynStore) -> Result<Vec<String>, String> {
    let keys = store.list_api_keys().await.map_err(|e| e.to_string())?;
    Ok(keys
        .into_iter()
        .map(|k| {
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                k.id,
                k.prefix,
                k.tenant_slug,
                k.user_name,
                k.scopes.join(","),
                confab_core::time::iso(k.created_at),
                k.revoked_at
                    .map(|t| format!("revoked {}", confab_core::time::iso(t)))
                    .unwrap_or_else(|| "active".into())
            )
        })
        .collect())
}

/// Revokes a key by id.
pub async fn revoke(store: &DynStore, id: &str) -> Result<String, String> {
    let id: ApiKeyId =
        id.trim().parse().map_err(|_| format!("'{id}' is not a key id (a UUID, see `confab keys list`)"))?;
    let key = store.revoke_api_key(id).await.map_err(|e| match e {
        confab_core::Error::NotFound { .. } => format!("no key with id {id}"),
        other => other.to_string(),
    })?;
    Ok(format!("revoked key {} ({})", key.id, key.prefix))
}
