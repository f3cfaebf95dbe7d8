//! G-Tateth inboxes: named queues that conversations belong to (`conversations.inbox_id`). An inbox
//! is not a channel. Names are unique per tenant regardless of case (`name_key`, the lower-cased
//! name, under a unique index); a violation is 409 `INBOX_EXISTS` naming `name`. An inbox that
//! conversations still belong to cannot be deleted (409 `INBOX_NOT_EMPTY`): the inbox row is locked
//! (PostgreSQL) both by a conversation create that checks it and by the delete, so a delete never
//! leaves a conversation pointing at a missing inbox.

use super::util::{at, db, limit_offset, unique_violation, us, Tx};
use crate::dialect::{Db, FOR_UPDATE};
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::{Ctx, Page, PageRequest};
use confab_core::{time, Error, InboxId, Resource, Result, TenantId};
use confab_store::{Inbox, InboxPatch, InboxStore, NewInbox};
use uuid::Uuid;

const COLUMNS: &str = "id, tenant_id, name, description, channel, is_active, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct InboxRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    description: Option<String>,
    channel: Option<String>,
    is_active: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<InboxRow> for Inbox {
    fn from(r: InboxRow) -> Self {
        Inbox {
            id: InboxId(r.id),
            tenant_id: TenantId(r.tenant_id),
            name: r.name,
            description: r.description,
            channel: r.channel,
            is_active: r.is_active,
            created_at: at(r.created_at),
            updated_at: at(r.updated_at),
        }
    }
}

/// A unique violation on the name is 409 `INBOX_EXISTS`.
fn name_conflict(e: sqlx::Error) -> Error {
    if unique_violation(&e).is_some_and(|c| c.contains("name_key")) {
        return Error::Conflict {
            code: "INBOX_EXISTS",
            message: "An inbox with this name already exists.".into(),
            field: Some("name".into()),
        };
    }
    db(e)
}

/// Loads an inbox of the tenant inside a write transaction, locked on PostgreSQL.
pub(crate) async fn lock_in_tx(tx: &mut Tx, tenant: TenantId, id: InboxId) -> Result<Option<Inbox>> {
    let row: Option<InboxRow> = sqlx::query_as::<Db, InboxRow>(&format!(
        "SELECT {COLUMNS} FROM inboxes WHERE tenant_id = $1 AND id = $2{FOR_UPDATE}"
    ))
    .bind(tenant.0)
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    Ok(row.map(Into::into))
}

#[async_trait]
impl InboxStore for SqlStore {
    async fn create_inbox(&self, ctx: &Ctx, new: NewInbox) -> Result<Inbox> {
        let now = time::now();
        let inbox = Inbox {
            id: InboxId::new(),
            tenant_id: ctx.tenant,
            name: new.name,
            description: new.description,
            channel: new.channel,
            is_active: new.is_active,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.write.begin().await.map_err(db)?;
        sqlx::query(&format!("INSERT INTO inboxes ({COLUMNS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            .bind(inbox.id.0)
            .bind(inbox.tenant_id.0)
            .bind(&inbox.name)
            .bind(&inbox.description)
            .bind(&inbox.channel)
            .bind(inbox.is_active)
            .bind(us(inbox.created_at))
            .bind(us(inbox.updated_at))
            .bind(inbox.name.to_lowercase())
            .execute(&mut *tx)
            .await
            .map_err(name_conflict)?;
        tx.commit().await.map_err(db)?;
        Ok(inbox)
    }

    async fn list_inboxes(&self, ctx: &Ctx, page: PageRequest) -> Result<Page<Inbox>> {
        let (limit, offset) = limit_offset(page);
        let mut conn = self.read.acquire().await.map_err(db)?;
        let rows: Vec<InboxRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM inboxes WHERE tenant_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
        ))
        .bind(ctx.tenant.0)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM inboxes WHERE tenant_id = $1")
            .bind(ctx.tenant.0)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), total: total as u64 })
    }

    async fn get_inbox(&self, ctx: &Ctx, id: InboxId) -> Result<Inbox> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let row: Option<InboxRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM inboxes WHERE tenant_id = $1 AND id = $2"))
                .bind(ctx.tenant.0)
                .bind(id.0)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
        row.map(Into::into).ok_or_else(|| Error::not_found(Resource::Inbox))
    }

    async fn update_inbox(&self, ctx: &Ctx, id: InboxId, patch: InboxPatch) -> Result<Inbox> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut inbox = lock_in_tx(&mut tx, ctx.tenant, id).await?.ok_or_else(|| Error::not_found(Resource::Inbox))?;
        let before = inbox.clone();
        if let Some(name) = patch.name {
            inbox.name = name;
        }
        if let Some(d) = patch.description {
            inbox.description = d;
        }
        if let Some(c) = patch.channel {
            inbox.channel = c;
        }
        if let Some(a) = patch.is_active {
            inbox.is_active = a;
        }
        if inbox == before {
            return Ok(inbox);
        }
        inbox.updated_at = time::now();
        sqlx::query(
            "UPDATE inboxes SET name = $3, name_key = $4, description = $5, channel = $6, is_active = $7, updated_at = $8
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(ctx.tenant.0)
        .bind(id.0)
        .bind(&inbox.name)
        .bind(inbox.name.to_lowercase())
        .bind(&inbox.description)
        .bind(&inbox.channel)
        .bind(inbox.is_active)
        .bind(us(inbox.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(name_conflict)?;
        tx.commit().await.map_err(db)?;
        Ok(inbox)
    }

    async fn delete_inbox(&self, ctx: &Ctx, id: InboxId) -> Result<()> {
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_in_tx(&mut tx, ctx.tenant, id).await?.ok_or_else(|| Error::not_found(Resource::Inbox))?;
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM conversations WHERE tenant_id = $1 AND inbox_id = $2")
            .bind(ctx.tenant.0)
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        if n > 0 {
            return Err(Error::conflict(
                "INBOX_NOT_EMPTY",
                format!("{n} conversation(s) belong to this inbox; delete or move them first."),
            ));
        }
        sqlx::query("DELETE FROM inboxes WHERE tenant_id = $1 AND id = $2")
            .bind(ctx.tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }
}
