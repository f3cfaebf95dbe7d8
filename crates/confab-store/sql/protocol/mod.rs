//! What the Protocol face needs beyond the shared operations ([`ProtocolStore`]): lists by cursor
//! (newest first: created time, then id), one channel-less conversation per contact (marked
//! `source = 'protocol'`) and one per group, per-user last-opened times, groups, reactions and
//! attachments (bytes in the database).

mod attachments;
pub(crate) mod contacts;
mod conversations;
mod groups;
pub(crate) mod messages;

use crate::dialect::Db;
use crate::sql::util::db;
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::*;
use confab_core::{AttachmentId, ContactId, ConversationId, Error, GroupId, MessageId, Result, TenantId, Time, UserId};
use confab_store::*;
use sqlx::QueryBuilder;
use std::collections::HashMap;
use uuid::Uuid;

/// Appends an event about a Protocol resource (group, attachment, message) in the caller's
/// transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn emit(
    tx: &mut crate::sql::util::Tx,
    ctx: &Ctx,
    event_type: EventType,
    subject: Uuid,
    conversation: Option<ConversationId>,
    snapshot: serde_json::Value,
    data: serde_json::Value,
    now: Time,
) -> Result<()> {
    let event = NewEvent { event_type, subject_id: subject, conversation_id: conversation, snapshot, data };
    crate::sql::events::append(tx, ctx.tenant, &ctx.actor, event, now).await
}

/// The position of a cursor item: its creation time and id.
pub(crate) type Anchor = (i64, Uuid);

/// The position of the cursor item `id` in `table` (of the tenant); 400 naming `field` when there
/// is no such item.
pub(crate) async fn anchor(
    conn: &mut crate::sql::conversations::Conn,
    table: &str,
    tenant: TenantId,
    id: Uuid,
    field: &str,
    noun: &str,
) -> Result<Anchor> {
    let row: Option<(i64,)> =
        sqlx::query_as(&format!("SELECT created_at FROM {table} WHERE tenant_id = $1 AND id = $2"))
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    row.map(|(t,)| (t, id)).ok_or_else(|| Error::invalid(field, format!("is not the id of a {noun}")))
}

/// The anchor of whichever cursor is set.
pub(crate) async fn cursor_anchor(
    conn: &mut crate::sql::conversations::Conn,
    table: &str,
    tenant: TenantId,
    cursor: Cursor,
    noun: &str,
) -> Result<Option<Anchor>> {
    match (cursor.after, cursor.before) {
        (Some(id), _) => Ok(Some(anchor(conn, table, tenant, id, "starting_after", noun).await?)),
        (None, Some(id)) => Ok(Some(anchor(conn, table, tenant, id, "ending_before", noun).await?)),
        (None, None) => Ok(None),
    }
}

/// Appends the cursor condition (after the caller's `WHERE …`), the order and `LIMIT limit + 1`.
pub(crate) fn push_page(q: &mut QueryBuilder<'_, Db>, alias: &str, cursor: Cursor, anchor: Option<Anchor>) {
    let before = cursor.after.is_none() && cursor.before.is_some();
    if let Some((t, id)) = anchor {
        let op = if before { ">" } else { "<" };
        q.push(format!(" AND ({alias}.created_at {op} "))
            .push_bind(t)
            .push(format!(" OR ({alias}.created_at = "))
            .push_bind(t)
            .push(format!(" AND {alias}.id {op} "))
            .push_bind(id)
            .push("))");
    }
    let dir = if before { "ASC" } else { "DESC" };
    q.push(format!(" ORDER BY {alias}.created_at {dir}, {alias}.id {dir} LIMIT "))
        .push_bind(i64::from(cursor.limit) + 1);
}

/// Turns the `limit + 1` rows read into a page, newest first.
pub(crate) fn into_page<T>(mut items: Vec<T>, cursor: Cursor) -> CursorList<T> {
    let has_more = items.len() > cursor.limit as usize;
    items.truncate(cursor.limit as usize);
    if cursor.after.is_none() && cursor.before.is_some() {
        items.reverse();
    }
    CursorList { items, has_more }
}

#[async_trait]
impl ProtocolStore for SqlStore {
    async fn protocol_conversations(
        &self,
        ctx: &Ctx,
        filter: &ProtocolConversationFilter,
        cursor: Cursor,
    ) -> Result<CursorList<ConversationView>> {
        conversations::list(&self.read, ctx, filter, cursor).await
    }

    async fn protocol_open_conversation(&self, ctx: &Ctx, target: ProtocolTarget) -> Result<(ConversationView, bool)> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let out = conversations::open(&mut tx, ctx, target, confab_core::time::now()).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn protocol_update_conversation(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        patch: ProtocolConversationPatch,
    ) -> Result<ConversationView> {
        conversations::update(&self.write, ctx, id, patch).await
    }

    async fn last_opened(&self, user: UserId, ids: &[ConversationId]) -> Result<HashMap<ConversationId, Time>> {
        conversations::last_opened(&self.read, user, ids).await
    }

    async fn record_opened(&self, user: UserId, opened: &[(ConversationId, Time)]) -> Result<()> {
        conversations::record_opened(&self.write, user, opened).await
    }

    async fn protocol_contacts(&self, ctx: &Ctx, cursor: Cursor) -> Result<CursorList<ProtocolContact>> {
        contacts::list(&self.read, ctx, cursor).await
    }

    async fn protocol_contact(&self, ctx: &Ctx, id: ContactId) -> Result<ProtocolContact> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        contacts::load(&mut conn, ctx.tenant, &[id.0])
            .await?
            .pop()
            .ok_or_else(|| Error::not_found(confab_core::Resource::Contact))
    }

    /// One transaction: the contact's snapshot keeps the Protocol conversation it had, then
    /// `conversation.deleted`, `contact.deleted` and the other conversations' `conversation.updated`.
    async fn protocol_delete_contact(&self, ctx: &Ctx, id: ContactId) -> Result<()> {
        let now = confab_core::time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        crate::sql::contacts::load_for_update(&mut tx, ctx.tenant, id).await?;
        let extras = contacts::extras(&mut tx, ctx.tenant, id).await?;
        contacts::delete_conversation(&mut tx, ctx, id, now).await?;
        crate::sql::contacts::delete_in_tx(&mut tx, ctx, id, Some(extras), now).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn protocol_messages(
        &self,
        ctx: &Ctx,
        conversation: Option<ConversationId>,
        cursor: Cursor,
    ) -> Result<CursorList<ProtocolMessage>> {
        messages::list(&self.read, ctx, conversation, cursor).await
    }

    async fn protocol_message(&self, ctx: &Ctx, id: MessageId) -> Result<ProtocolMessage> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        messages::load_one(&mut conn, ctx.tenant, id).await
    }

    async fn protocol_send_message(
        &self,
        ctx: &Ctx,
        conversation: ConversationId,
        text: String,
        attachments: &[AttachmentId],
    ) -> Result<ProtocolMessage> {
        messages::send(&self.write, ctx, conversation, text, attachments).await
    }

    async fn protocol_update_message(
        &self,
        ctx: &Ctx,
        id: MessageId,
        patch: ProtocolMessagePatch,
    ) -> Result<ProtocolMessage> {
        messages::update(&self.write, ctx, id, patch).await
    }

    async fn list_groups(&self, ctx: &Ctx, archived: Option<bool>, cursor: Cursor) -> Result<CursorList<Group>> {
        groups::list(&self.read, ctx, archived, cursor).await
    }

    async fn create_group(&self, ctx: &Ctx, group: NewGroup) -> Result<Group> {
        groups::create(&self.write, ctx, group).await
    }

    async fn get_group(&self, ctx: &Ctx, id: GroupId) -> Result<Group> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        groups::load_one(&mut conn, ctx.tenant, id).await
    }

    async fn update_group(&self, ctx: &Ctx, id: GroupId, patch: GroupPatch) -> Result<Group> {
        groups::update(&self.write, ctx, id, patch).await
    }

    async fn delete_group(&self, ctx: &Ctx, id: GroupId) -> Result<()> {
        groups::delete(&self.write, ctx, id).await
    }

    async fn create_attachment(&self, ctx: &Ctx, new: NewAttachment) -> Result<Attachment> {
        attachments::create(&self.write, ctx, new).await
    }

    async fn list_attachments(
        &self,
        ctx: &Ctx,
        conversation: Option<ConversationId>,
        cursor: Cursor,
    ) -> Result<CursorList<Attachment>> {
        attachments::list(&self.read, ctx, conversation, cursor).await
    }

    async fn get_attachment(&self, ctx: &Ctx, id: AttachmentId) -> Result<Attachment> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        attachments::load_one(&mut conn, Some(ctx.tenant), id).await
    }

    async fn rename_attachment(&self, ctx: &Ctx, id: AttachmentId, filename: String) -> Result<Attachment> {
        attachments::rename(&self.write, ctx, id, filename).await
    }

    async fn delete_attachment(&self, ctx: &Ctx, id: AttachmentId) -> Result<()> {
        attachments::delete(&self.write, ctx, id).await
    }

    async fn attachment_data(&self, id: AttachmentId) -> Result<(Attachment, Vec<u8>)> {
        attachments::data(&self.read, id).await
    }
}
