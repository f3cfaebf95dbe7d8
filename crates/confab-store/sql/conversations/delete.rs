//! Deleting a conversation (Protocol `DELETE /conversations/:id`, G-Tateth `DELETE
//! /conversations/:id`): the row, its messages (and their attachments, tags, notes, participants and
//! per-user reads, by foreign-key cascades) go; its events stay, ending with `conversation.deleted`.

use super::{load_view, Tx};
use crate::sql::events::append;
use crate::sql::util::db;
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::*;
use confab_core::{time, ConversationId, Error, Resource, Result, Time};
use confab_store::ConversationDeleteStore;
use serde_json::json;

/// Deletes a conversation inside the caller's transaction, appending `conversation.deleted` with
/// the last snapshot and `data {reason}`. 404 when it is not the tenant's.
pub(crate) async fn delete_in_tx(
    tx: &mut Tx,
    ctx: &Ctx,
    id: ConversationId,
    reason: Option<String>,
    now: Time,
) -> Result<()> {
    // Lock the row first (PostgreSQL), so that a concurrent change is either before or after.
    super::load_for_update(tx, ctx.tenant, id).await?;
    let view = load_view(tx, ctx.tenant, id).await?.ok_or_else(|| Error::not_found(Resource::Conversation))?;
    let snapshot = serde_json::to_value(&view).map_err(Error::internal)?;
    sqlx::query("DELETE FROM conversations WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tenant.0)
        .bind(id.0)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    let event = NewEvent {
        event_type: EventType::ConversationDeleted,
        subject_id: id.0,
        conversation_id: Some(id),
        snapshot,
        data: json!({ "reason": reason }),
    };
    append(tx, ctx.tenant, &ctx.actor, event, now).await
}

#[async_trait]
impl ConversationDeleteStore for SqlStore {
    async fn delete_conversation(&self, ctx: &Ctx, id: ConversationId, reason: Option<String>) -> Result<()> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        delete_in_tx(&mut tx, ctx, id, reason, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }
}
