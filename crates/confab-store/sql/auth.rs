//! Tenants, users and API keys.
//!
//! [`AuthStore::create_user`] (`POST /v1/users`) appends `user.created` (snapshot: the [`User`],
//! actor: the key's user) in the same transaction. The user that [`AuthStore::create_api_key`]
//! makes when missing (`confab keys create`, the bootstrap path outside any request) has no
//! event: on PostgreSQL an event is positioned by the relay shortly after its commit, so a
//! subscription or stream opened right after `keys create` would receive it as if it were new.
//! No operation updates a user yet, so nothing emits `user.updated`.

use super::events::append;
use super::util::{at, at_opt, db, limit_offset, unique_violation, us, Tx};
use crate::dialect::Db;
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::{
    Actor, ApiKey, Ctx, EventType, NewEvent, Page, PageRequest, Principal, Scope, User, UserRole,
};
use confab_core::{time, ApiKeyId, Error, Resource, Result, TenantId, Time, UserId};
use confab_store::{AuthStore, NewApiKey, NewUser};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    email: Option<String>,
    role: String,
    created_at: i64,
    updated_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.id),
            tenant_id: TenantId(r.tenant_id),
            name: r.name,
            email: r.email,
            role: UserRole::parse(&r.role).unwrap_or(UserRole::Agent),
            created_at: at(r.created_at),
            updated_at: at(r.updated_at),
        }
    }
}

const USER_COLUMNS: &str = "id, tenant_id, name, email, role, created_at, updated_at";

/// Appends `user.created` with the user as its snapshot.
async fn user_created(tx: &mut Tx, actor: &Actor, user: &User, now: Time) -> Result<()> {
    let event = NewEvent {
        event_type: EventType::UserCreated,
        subject_id: user.id.0,
        conversation_id: None,
        snapshot: serde_json::to_value(user).map_err(Error::internal)?,
        data: serde_json::Value::Null,
    };
    append(tx, user.tenant_id, actor, event, now).await
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    tenant_id: Uuid,
    slug: String,
    user_id: Uuid,
    user_name: String,
    prefix: String,
    scopes: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<KeyRow> for ApiKey {
    fn from(r: KeyRow) -> Self {
        ApiKey {
            id: ApiKeyId(r.id),
            tenant_id: TenantId(r.tenant_id),
            tenant_slug: r.slug,
            user_id: UserId(r.user_id),
            user_name: r.user_name,
            prefix: r.prefix,
            scopes: r.scopes.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            created_at: at(r.created_at),
            revoked_at: at_opt(r.revoked_at),
        }
    }
}

const KEY_SELECT: &str = "SELECT k.id, k.tenant_id, t.slug, k.user_id, u.name AS user_name, k.prefix, k.scopes,
    k.created_at, k.revoked_at FROM api_keys k JOIN tenants t ON t.id = k.tenant_id JOIN users u ON u.id = k.user_id";

#[async_trait]
impl AuthStore for SqlStore {
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey> {
        let now = us(time::now());
        let mut tx = self.write.begin().await.map_err(db)?;
        let tenant: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM tenants WHERE slug = $1")
            .bind(&key.tenant_slug)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let tenant_id = match tenant {
            Some((id,)) => id,
            None => {
                let id = Uuid::now_v7();
                sqlx::query("INSERT INTO tenants (id, slug, name, created_at) VALUES ($1, $2, $2, $3)")
                    .bind(id)
                    .bind(&key.tenant_slug)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                id
            }
        };
        let user: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(&key.user_name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let user_id = match user {
            Some((id,)) => id,
            None => {
                let id = Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO users (id, tenant_id, name, email, role, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, 'admin', $5, $5)",
                )
                .bind(id)
                .bind(tenant_id)
                .bind(&key.user_name)
                .bind(&key.user_email)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| match unique_violation(&e) {
                    Some(_) => Error::conflict("USER_EXISTS", "Another user of this tenant has that email."),
                    None => db(e),
                })?;
                id
            }
        };
        let id = Uuid::now_v7();
        let scopes = key.scopes.iter().map(|s| s.canonical()).collect::<Vec<_>>().join(",");
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, user_id, prefix, hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(tenant_id)
        .bind(user_id)
        .bind(&key.prefix)
        .bind(&key.hash)
        .bind(&scopes)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let row: KeyRow = sqlx::query_as::<Db, KeyRow>(&format!("{KEY_SELECT} WHERE k.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(row.into())
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows: Vec<KeyRow> =
            sqlx::query_as::<Db, KeyRow>(&format!("{KEY_SELECT} ORDER BY k.created_at DESC, k.id DESC"))
                .fetch_all(&self.read)
                .await
                .map_err(db)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn revoke_api_key(&self, id: ApiKeyId) -> Result<ApiKey> {
        let mut tx = self.write.begin().await.map_err(db)?;
        sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.0)
            .bind(us(time::now()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let row: Option<KeyRow> = sqlx::query_as::<Db, KeyRow>(&format!("{KEY_SELECT} WHERE k.id = $1"))
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        row.map(Into::into).ok_or_else(|| Error::not_found(Resource::ApiKey))
    }

    async fn principal_by_key_hash(&self, hash: &[u8]) -> Result<Option<Principal>> {
        let row: Option<(Uuid, Uuid, Uuid, String, String)> = sqlx::query_as(
            "SELECT k.id, k.tenant_id, k.user_id, u.name, k.scopes FROM api_keys k JOIN users u ON u.id = k.user_id
             WHERE k.hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        Ok(row.map(|(id, tenant, user, name, scopes)| Principal {
            key_id: ApiKeyId(id),
            tenant_id: TenantId(tenant),
            user_id: UserId(user),
            user_name: name,
            scopes: scopes.split(',').filter_map(Scope::parse).collect(),
        }))
    }

    async fn create_user(&self, ctx: &Ctx, user: NewUser) -> Result<User> {
        let now_t = time::now();
        let now = us(now_t);
        let id = Uuid::now_v7();
        let mut tx = self.write.begin().await.map_err(db)?;
        let row: UserRow = sqlx::query_as::<Db, UserRow>(&format!(
            "INSERT INTO users (id, tenant_id, name, email, role, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {USER_COLUMNS}"
        ))
        .bind(id)
        .bind(ctx.tenant.0)
        .bind(&user.name)
        .bind(&user.email)
        .bind(user.role.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => Error::Conflict {
                code: "USER_EXISTS",
                message: "Another user of this organisation has that email.".into(),
                field: Some("email".into()),
            },
            None => db(e),
        })?;
        let created: User = row.into();
        user_created(&mut tx, &ctx.actor, &created, now_t).await?;
        tx.commit().await.map_err(db)?;
        Ok(created)
    }

    async fn list_users(&self, ctx: &Ctx, page: PageRequest) -> Result<Page<User>> {
        let (limit, offset) = limit_offset(page);
        let rows: Vec<UserRow> = sqlx::query_as::<Db, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
        ))
        .bind(ctx.tenant.0)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE tenant_id = $1")
            .bind(ctx.tenant.0)
            .fetch_one(&self.read)
            .await
            .map_err(db)?;
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), total: total as u64 })
    }

    async fn get_user(&self, ctx: &Ctx, id: UserId) -> Result<User> {
        let row: Option<UserRow> = sqlx::query_as::<Db, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(ctx.tenant.0)
        .bind(id.0)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        row.map(Into::into).ok_or_else(|| Error::not_found(Resource::User))
    }
}
