//! Tags of a tenant. Deleting a tag removes it from every conversation, and renaming one renames it
//! in every conversation (their views show tag names), each with a `conversation.updated` event.
//!
//! Every change of a tag appends its own event in the same transaction, with the tag as its
//! snapshot (the tag as it was, for a delete): `tag.created`, `tag.updated` (only when the name or
//! the colour changed) and `tag.deleted`. [`emit_tag_created`] is there for the other writers that
//! create tags (tagging a conversation by a new name).

use super::events::append;
use super::util::{at, db, unique_violation, us, Tx};
use crate::dialect::FOR_UPDATE;
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::{Ctx, EventType, NewEvent, Tag, TagPatch};
use confab_core::{time, ConversationId, Error, Resource, Result, TagId, TenantId, Time};
use confab_store::TagStore;
use serde_json::json;
use uuid::Uuid;

type Row = (Uuid, Uuid, String, String, i64);

fn tag((id, tenant, name, color, created): Row) -> Tag {
    Tag { id: TagId(id), tenant_id: TenantId(tenant), name, color, created_at: at(created) }
}

/// Appends a tag event with `t` as its snapshot, in the caller's transaction.
async fn emit(tx: &mut Tx, ctx: &Ctx, t: &Tag, event_type: EventType, now: Time) -> Result<()> {
    let event = NewEvent {
        event_type,
        subject_id: t.id.0,
        conversation_id: None,
        snapshot: serde_json::to_value(t).map_err(Error::internal)?,
        data: serde_json::Value::Null,
    };
    append(tx, ctx.tenant, &ctx.actor, event, now).await
}

/// `tag.created` for a tag another writer created in `tx` (tagging a conversation by a new name).
pub(crate) async fn emit_tag_created(tx: &mut Tx, ctx: &Ctx, t: &Tag, now: Time) -> Result<()> {
    emit(tx, ctx, t, EventType::TagCreated, now).await
}

#[async_trait]
impl TagStore for SqlStore {
    async fn list_tags(&self, ctx: &Ctx) -> Result<Vec<Tag>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, tenant_id, name, color, created_at FROM tags WHERE tenant_id = $1 ORDER BY name, id",
        )
        .bind(ctx.tenant.0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        // Sorted here, not by the database's collation (which differs between engines and
        // PostgreSQL installations): case-insensitively, then by exact spelling.
        let mut tags: Vec<Tag> = rows.into_iter().map(tag).collect();
        tags.sort_by_cached_key(|t| (t.name.to_lowercase(), t.name.clone()));
        Ok(tags)
    }

    async fn create_tag(&self, ctx: &Ctx, name: String, color: Option<String>) -> Result<Tag> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let row: Row = sqlx::query_as(
            "INSERT INTO tags (id, tenant_id, name, color, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id, tenant_id, name, color, created_at",
        )
        .bind(Uuid::now_v7())
        .bind(ctx.tenant.0)
        .bind(&name)
        .bind(color.unwrap_or_else(|| "tag-blue".into()))
        .bind(us(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => Error::Conflict {
                code: "TAG_EXISTS",
                message: format!("A tag named '{name}' already exists."),
                field: Some("name".into()),
            },
            None => db(e),
        })?;
        let created = tag(row);
        emit(&mut tx, ctx, &created, EventType::TagCreated, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(created)
    }

    async fn delete_tag(&self, ctx: &Ctx, id: TagId) -> Result<()> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let found: Option<Row> =
            sqlx::query_as("SELECT id, tenant_id, name, color, created_at FROM tags WHERE tenant_id = $1 AND id = $2")
                .bind(ctx.tenant.0)
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let tag = tag(found.ok_or_else(|| Error::not_found(Resource::Tag))?);
        // The conversations carrying it are locked first, in id order (as every change of a
        // conversation locks it before its tags), then lose the tag, each with its own event.
        let carriers: Vec<(Uuid,)> = sqlx::query_as(&format!(
            "SELECT c.id FROM conversations c WHERE c.tenant_id = $1
               AND c.id IN (SELECT conversation_id FROM conversation_tags WHERE tag_id = $2)
             ORDER BY c.id{FOR_UPDATE}"
        ))
        .bind(ctx.tenant.0)
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let untagged: Vec<(Uuid,)> =
            sqlx::query_as("DELETE FROM conversation_tags WHERE tag_id = $1 RETURNING conversation_id")
                .bind(id.0)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        sqlx::query("DELETE FROM tags WHERE tenant_id = $1 AND id = $2")
            .bind(ctx.tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let mut touched: Vec<Uuid> = carriers.into_iter().chain(untagged).map(|(c,)| c).collect();
        touched.sort();
        touched.dedup();
        let data = json!({ "changed": ["tags"], "removed": [tag.name] });
        for conversation in touched {
            super::contacts::touch_conversation(&mut tx, ctx, ConversationId(conversation), data.clone(), now).await?;
        }
        emit(&mut tx, ctx, &tag, EventType::TagDeleted, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn update_tag(&self, ctx: &Ctx, id: TagId, patch: TagPatch) -> Result<Tag> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let found: Option<Row> =
            sqlx::query_as("SELECT id, tenant_id, name, color, created_at FROM tags WHERE tenant_id = $1 AND id = $2")
                .bind(ctx.tenant.0)
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let before = tag(found.ok_or_else(|| Error::not_found(Resource::Tag))?);
        let mut after = before.clone();
        if let Some(name) = patch.name {
            after.name = name;
        }
        if let Some(color) = patch.color {
            after.color = color;
        }
        if after == before {
            return Ok(before);
        }
        let renamed = after.name != before.name;
        // As in a delete: the conversations carrying the tag are locked first, in id order, then the tag.
        let carriers: Vec<(Uuid,)> = if renamed {
            sqlx::query_as(&format!(
                "SELECT c.id FROM conversations c WHERE c.tenant_id = $1
                   AND c.id IN (SELECT conversation_id FROM conversation_tags WHERE tag_id = $2)
                 ORDER BY c.id{FOR_UPDATE}"
            ))
            .bind(ctx.tenant.0)
            .bind(id.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
        } else {
            Vec::new()
        };
        sqlx::query("UPDATE tags SET name = $3, color = $4 WHERE tenant_id = $1 AND id = $2")
            .bind(ctx.tenant.0)
            .bind(id.0)
            .bind(&after.name)
            .bind(&after.color)
            .execute(&mut *tx)
            .await
            .map_err(|e| match unique_violation(&e) {
                Some(_) => Error::Conflict {
                    code: "TAG_EXISTS",
                    message: format!("A tag named '{}' already exists.", after.name),
                    field: Some("name".into()),
                },
                None => db(e),
            })?;
        let data = json!({ "changed": ["tags"], "renamed": { "from": before.name, "to": after.name } });
        for (conversation,) in carriers {
            super::contacts::touch_conversation(&mut tx, ctx, ConversationId(conversation), data.clone(), now).await?;
        }
        emit(&mut tx, ctx, &after, EventType::TagUpdated, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(after)
    }

    async fn find_tag_by_name(&self, ctx: &Ctx, name: &str) -> Result<Option<Tag>> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, tenant_id, name, color, created_at FROM tags WHERE tenant_id = $1 AND name = $2",
        )
        .bind(ctx.tenant.0)
        .bind(name)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        Ok(row.map(tag))
    }
}
