//! Messages: appending them to conversations (outbound sends, inbound ingestion), reading them (the
//! tenant-wide list, a conversation's cursor pages, its newest messages) and changing them (reads,
//! delivery reports, deletes).
//!
//! Every write is one transaction that also updates the conversation row (message and unread
//! counts, first/last message time, last message, `updatedAt`) and appends its event(s). Locks are
//! always taken conversation first, then its messages (PostgreSQL row locks; SQLite's one writer
//! serialises anyway), so no two operations wait on each other in a cycle.
//!
//! Decisions (DESIGN.md: Lifecycle, Contacts and channels, Inbound):
//!
//! - **Times.** `createdAt` is when Confab stored the message; it orders everything (lists, cursors,
//!   the last message, `lastMessageAt`), and within a conversation it never goes back: a message is
//!   stamped no earlier than the conversation's last message (the row is locked), so the newest
//!   message is always the last one. An inbound `sentAt` (the contact's time at the channel,
//!   default now) is kept as given and orders nothing, so a late delivery cannot slip before
//!   messages already shown.
//! - **Inbound.** The message starts `delivered` (history `[delivered]`, `deliveredAt` = now). The
//!   contact is matched by phone, else email, else the sender's `externalId` on this channel (the
//!   `contact_identities` table: one contact per (channel, external id)); an `externalId` given
//!   with a phone or email is linked to the contact found unless the channel already links it to
//!   another contact (the first link stays). A new contact takes the sender's name; an existing one
//!   is left as it is. The conversation is the contact's active one on the channel: a pending or
//!   snoozed one is opened (`conversation.updated`, data `{changed: ["status"], reason:
//!   "inbound_message"}`); without one (a closed one is never reused) a new one starts
//!   (`conversation.created` before `message.received`), with `source` = the channel's type and the
//!   channel's default bot as its bot. The contact is the actor of the message and of the
//!   conversation changes it causes; a contact created on the way is created by the key's user (the
//!   connector that reported it).
//! - **De-duplication.** An inbound message whose `externalId` the channel already received is
//!   answered with the stored message (`created: false`), writing nothing and emitting nothing.
//!   Concurrent retries meet on the unique index `ux_messages_inbound_channel_id_external_id`: the
//!   loser's transaction is rolled back whole and it answers with the winner's message.
//! - **Inactive channels** take no inbound messages and no sends: `CHANNEL_NOT_CONNECTED` (a
//!   `Refused` error; the Linktor face answers 422, Linktor's code for it).
//! - **Outbound** messages start `pending` (history `[pending]`) and emit `message.sent` when they
//!   are created (what connectors and webhooks watch). Sending into a closed conversation is
//!   allowed and does not reopen it; sending to an address finds or starts the contact's active
//!   conversation on the channel, like an inbound message, but never opens a pending or snoozed one.
//! - **Delivery reports** only move forward, `pending < sent < delivered < read`, and `failed` comes
//!   from anything but `read`; a report of the current or an earlier status changes nothing (no
//!   event). `sent` emits no event (`message.sent` was emitted at creation); `delivered`, `read`
//!   and `failed` emit `message.delivered`, `.read`, `.failed`. A step implies the earlier stamps
//!   (`read` also stamps `deliveredAt` and `sentAt` when missing). A report's `externalId` is
//!   recorded even when the status does not move (without an event). On an inbound message only
//!   `read` means something (the same as marking it read); other reports are no-ops.
//! - **Reads.** Only inbound messages are ever unread. Marking an outbound or an already read
//!   message read is a no-op that returns it. `unreadCount` is recounted (partial index) in the same
//!   transaction; the conversation's `updatedAt` is left alone (reading changes nothing about the
//!   conversation, and lists by `updatedAt` must not reshuffle as agents read). One `message.read`
//!   per message; a bulk read emits one `message.read` per conversation (bounded, however many were
//!   marked) whose subject and snapshot are the newest message marked and whose data is
//!   `{conversationId, count, messageIds (the newest 1,000 at most), bulk: true}`.
//! - **Deletes** remove the row; the conversation's counts, first/last message time and last
//!   message (the next newest) follow, `updatedAt` moves, and `message.deleted` carries the message
//!   as it was.
//! - **Cursors** are the position of a page's last message, `<createdAt micros>_<id>`; either
//!   direction accepts any cursor. Anything else is 400 naming `cursor`.

mod airy;

use super::channels::load_in_tx as load_channel;
use super::contacts::find_or_create_inline;
use super::conversations::{
    add_participant, finish, insert_unless_active, load_for_update as load_conversation, save, Conn,
};
use super::events::append;
use super::util::{at, at_opt, db, limit_offset, unique_violation, us, us_opt, Tx};
use crate::dialect::{Db, FOR_UPDATE};
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::*;
use confab_core::rules::contact::{normalize_email, normalize_phone};
use confab_core::rules::conversation::change_status;
use confab_core::rules::message::validate_content;
use confab_core::rules::metadata::deep_merge;
use confab_core::{time, ChannelId, ContactId, ConversationId, Error, MessageId, Resource, Result, TenantId, Time};
use confab_store::MessageStore;
use serde_json::json;
use sqlx::types::Json;
use sqlx::QueryBuilder;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The columns [`MessageRow`] reads, in table order.
const COLUMNS: &str = "id, tenant_id, conversation_id, channel_id, direction, sender, content, content_type, text, \
    status, status_history, external_id, metadata, error, created_at, sent_at, delivered_at, read_at, failed_at";

/// The code of the conflict [`append_in_tx`] answers when the channel already has an inbound
/// message with this external id.
const DUPLICATE_EXTERNAL_ID: &str = "MESSAGE_EXISTS";

/// The most message ids a bulk read's event lists.
const EVENT_IDS_MAX: usize = 1000;

/// How many ids go into one `IN (…)` list.
const IN_CHUNK: usize = 500;

/// The message columns of table alias `alias`, each renamed with `prefix` (`lm.id AS lm_id, …`), for
/// joining a message into another query (the conversation view's last message).
pub(crate) fn prefixed_columns(alias: &str, prefix: &str) -> String {
    COLUMNS.split(',').map(str::trim).map(|c| format!("{alias}.{c} AS {prefix}{c}")).collect::<Vec<_>>().join(", ")
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: Uuid,
    tenant_id: Uuid,
    conversation_id: Uuid,
    channel_id: Option<Uuid>,
    direction: String,
    sender: Json<Actor>,
    content: Json<JsonMap>,
    content_type: String,
    text: Option<String>,
    status: String,
    status_history: Json<Vec<StatusStep>>,
    external_id: Option<String>,
    metadata: Json<JsonMap>,
    error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
    delivered_at: Option<i64>,
    read_at: Option<i64>,
    failed_at: Option<i64>,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            id: MessageId(r.id),
            tenant_id: TenantId(r.tenant_id),
            conversation_id: ConversationId(r.conversation_id),
            channel_id: r.channel_id.map(ChannelId),
            direction: Direction::parse(&r.direction).unwrap_or(Direction::Inbound),
            sender: r.sender.0,
            content: r.content.0,
            content_type: r.content_type,
            text: r.text,
            status: MessageStatus::parse(&r.status).unwrap_or(MessageStatus::Pending),
            status_history: r.status_history.0,
            external_id: r.external_id,
            metadata: r.metadata.0,
            error: r.error,
            created_at: at(r.created_at),
            sent_at: at_opt(r.sent_at),
            delivered_at: at_opt(r.delivered_at),
            read_at: at_opt(r.read_at),
            failed_at: at_opt(r.failed_at),
        }
    }
}

/// The last message joined into the conversation view (`lm_` columns, all null without one).
#[derive(sqlx::FromRow)]
pub(crate) struct LastMessageRow {
    lm_id: Option<Uuid>,
    lm_tenant_id: Option<Uuid>,
    lm_conversation_id: Option<Uuid>,
    lm_channel_id: Option<Uuid>,
    lm_direction: Option<String>,
    lm_sender: Option<Json<Actor>>,
    lm_content: Option<Json<JsonMap>>,
    lm_content_type: Option<String>,
    lm_text: Option<String>,
    lm_status: Option<String>,
    lm_status_history: Option<Json<Vec<StatusStep>>>,
    lm_external_id: Option<String>,
    lm_metadata: Option<Json<JsonMap>>,
    lm_error: Option<String>,
    lm_created_at: Option<i64>,
    lm_sent_at: Option<i64>,
    lm_delivered_at: Option<i64>,
    lm_read_at: Option<i64>,
    lm_failed_at: Option<i64>,
}

impl LastMessageRow {
    /// The message, when the join found one.
    pub(crate) fn into_message(self) -> Option<Message> {
        let row = MessageRow {
            id: self.lm_id?,
            tenant_id: self.lm_tenant_id?,
            conversation_id: self.lm_conversation_id?,
            channel_id: self.lm_channel_id,
            direction: self.lm_direction?,
            sender: self.lm_sender?,
            content: self.lm_content?,
            content_type: self.lm_content_type?,
            text: self.lm_text,
            status: self.lm_status?,
            status_history: self.lm_status_history?,
            external_id: self.lm_external_id,
            metadata: self.lm_metadata?,
            error: self.lm_error,
            created_at: self.lm_created_at?,
            sent_at: self.lm_sent_at,
            delivered_at: self.lm_delivered_at,
            read_at: self.lm_read_at,
            failed_at: self.lm_failed_at,
        };
        Some(row.into())
    }
}

/// A message to append to a conversation (see [`append_in_tx`]).
#[derive(Clone, Debug)]
pub(crate) struct NewMessage {
    pub direction: Direction,
    /// The contact (inbound), or the user, bot or system (outbound).
    pub sender: Actor,
    /// Validated again by [`append_in_tx`].
    pub content: JsonMap,
    pub metadata: JsonMap,
    /// The message's id at the channel.
    pub external_id: Option<String>,
    /// Inbound: when the contact sent it (defaults to now). Ignored for outbound messages.
    pub sent_at: Option<Time>,
}

/// Appends a message to `conv` inside the caller's transaction — the one way a message comes into
/// being (sends, inbound ingestion, a transfer's `notifyContact`).
///
/// `conv` must have been read in this transaction with `conversations::load_for_update` (or
/// inserted by it), so its row is locked on PostgreSQL. The content is validated
/// (`VALIDATION_ERROR` naming `content.<field>`; `UNSUPPORTED_CONTENT_TYPE`, a conflict the faces
/// render as 400). Outbound messages start `pending`, inbound ones `delivered` with `sentAt` =
/// `new.sent_at` or now. The conversation is updated and saved in the same transaction (message
/// count, unread count for inbound, first/last message time, last message, `updatedAt`; `conv`
/// holds the result), and `message.received` (inbound) or `message.sent` (outbound) is appended with
/// the message as its snapshot, data `{conversationId}` and `ctx.actor` as its actor.
///
/// An inbound `external_id` the channel already has is a 409 `MESSAGE_EXISTS` conflict; on
/// PostgreSQL the transaction is then aborted, so the caller must roll it back.
pub(crate) async fn append_in_tx(
    tx: &mut Tx,
    ctx: &Ctx,
    conv: &mut Conversation,
    new: NewMessage,
    now: Time,
) -> Result<Message> {
    let (content_type, text) = validate_content(&new.content)?;
    // Never before the conversation's last message: the newest message is the last one.
    let created_at = match conv.last_message_at {
        Some(last) if last > now => last,
        _ => now,
    };
    let (status, sent_at, delivered_at) = match new.direction {
        Direction::Inbound => (MessageStatus::Delivered, Some(new.sent_at.unwrap_or(created_at)), Some(created_at)),
        Direction::Outbound => (MessageStatus::Pending, None, None),
    };
    let message = Message {
        id: MessageId::new(),
        tenant_id: ctx.tenant,
        conversation_id: conv.id,
        channel_id: conv.channel_id,
        direction: new.direction,
        sender: new.sender,
        content: new.content,
        content_type,
        text,
        status,
        status_history: vec![StatusStep { status, at: created_at, error: None }],
        external_id: new.external_id,
        metadata: new.metadata,
        error: None,
        created_at,
        sent_at,
        delivered_at,
        read_at: None,
        failed_at: None,
    };
    insert(tx, &message).await?;
    conv.message_count += 1;
    if message.direction == Direction::Inbound {
        conv.unread_count += 1;
    }
    conv.first_message_at.get_or_insert(created_at);
    conv.last_message_at = Some(created_at);
    conv.last_message_id = Some(message.id);
    conv.updated_at = now;
    save(tx, conv).await?;
    let event_type = match message.direction {
        Direction::Inbound => EventType::MessageReceived,
        Direction::Outbound => EventType::MessageSent,
    };
    emit(tx, ctx.tenant, &ctx.actor, &message, event_type, json!({ "conversationId": conv.id }), now).await?;
    Ok(message)
}

fn duplicate_external_id() -> Error {
    Error::Conflict {
        code: DUPLICATE_EXTERNAL_ID,
        message: "The channel already received a message with this externalId.".into(),
        field: Some("externalId".into()),
    }
}

fn insert_error(e: sqlx::Error) -> Error {
    match unique_violation(&e) {
        Some(c) if c.contains("external_id") => duplicate_external_id(),
        _ => db(e),
    }
}

async fn insert(tx: &mut Tx, m: &Message) -> Result<()> {
    sqlx::query(
        "INSERT INTO messages (id, tenant_id, conversation_id, channel_id, direction, sender, sender_type, sender_id,
            content, content_type, text, status, status_history, external_id, metadata, error, created_at, sent_at,
            delivered_at, read_at, failed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
    )
    .bind(m.id.0)
    .bind(m.tenant_id.0)
    .bind(m.conversation_id.0)
    .bind(m.channel_id.map(|c| c.0))
    .bind(m.direction.as_str())
    .bind(Json(&m.sender))
    .bind(m.sender.kind.as_str())
    .bind(m.sender.id)
    .bind(Json(&m.content))
    .bind(&m.content_type)
    .bind(&m.text)
    .bind(m.status.as_str())
    .bind(Json(&m.status_history))
    .bind(&m.external_id)
    .bind(Json(&m.metadata))
    .bind(&m.error)
    .bind(us(m.created_at))
    .bind(us_opt(m.sent_at))
    .bind(us_opt(m.delivered_at))
    .bind(us_opt(m.read_at))
    .bind(us_opt(m.failed_at))
    .execute(&mut **tx)
    .await
    .map_err(insert_error)?;
    Ok(())
}

/// Writes the fields a status change or a read moves.
async fn update(tx: &mut Tx, m: &Message) -> Result<()> {
    sqlx::query(
        "UPDATE messages SET status = $2, status_history = $3, external_id = $4, error = $5, sent_at = $6,
            delivered_at = $7, read_at = $8, failed_at = $9
         WHERE id = $1",
    )
    .bind(m.id.0)
    .bind(m.status.as_str())
    .bind(Json(&m.status_history))
    .bind(&m.external_id)
    .bind(&m.error)
    .bind(us_opt(m.sent_at))
    .bind(us_opt(m.delivered_at))
    .bind(us_opt(m.read_at))
    .bind(us_opt(m.failed_at))
    .execute(&mut **tx)
    .await
    .map_err(insert_error)?;
    Ok(())
}

/// Appends a message event with the message as its snapshot, plus `channel_type` (the type of the
/// message's channel, when it has one): Airy's webhook payloads show it as the message's `source`,
/// and rendering never reads the store.
async fn emit(
    tx: &mut Tx,
    tenant: TenantId,
    actor: &Actor,
    m: &Message,
    event_type: EventType,
    data: serde_json::Value,
    now: Time,
) -> Result<()> {
    let event = NewEvent {
        event_type,
        subject_id: m.id.0,
        conversation_id: Some(m.conversation_id),
        snapshot: match event_type {
            // A new message: nothing Protocol-specific yet (no reactions, attachments nor edits).
            EventType::MessageReceived | EventType::MessageSent => snapshot(tx, m).await?,
            _ => full_snapshot(tx, tenant, m).await?,
        },
        data,
    };
    append(tx, tenant, actor, event, now).await
}

/// The snapshot of an existing message with what every face's payload needs (the Protocol keys:
/// reactions, attachments, edit time, sending contact); the plain one if the row is gone.
async fn full_snapshot(tx: &mut Tx, tenant: TenantId, m: &Message) -> Result<serde_json::Value> {
    match super::protocol::messages::load_one(tx, tenant, m.id).await {
        Ok(mut pm) => {
            pm.message = m.clone();
            super::protocol::messages::snapshot(tx, tenant, &pm).await
        }
        Err(Error::NotFound { .. }) => snapshot(tx, m).await,
        Err(e) => Err(e),
    }
}

/// A message's event snapshot: the message and its channel's type.
pub(crate) async fn snapshot(conn: &mut Conn, m: &Message) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(m).map_err(Error::internal)?;
    if let Some(channel) = m.channel_id {
        let t: Option<(String,)> = sqlx::query_as::<Db, (String,)>("SELECT channel_type FROM channels WHERE id = $1")
            .bind(channel.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
        if let (Some((t,)), Some(map)) = (t, v.as_object_mut()) {
            map.insert("channel_type".into(), serde_json::Value::String(t));
        }
    }
    Ok(v)
}

/// A message of the tenant, locked on PostgreSQL when `lock`. 404 `MESSAGE_NOT_FOUND`.
async fn load(conn: &mut Conn, tenant: TenantId, id: MessageId, lock: bool) -> Result<Message> {
    let row: Option<MessageRow> = sqlx::query_as::<Db, MessageRow>(&format!(
        "SELECT {COLUMNS} FROM messages WHERE tenant_id = $1 AND id = $2{}",
        if lock { FOR_UPDATE } else { "" }
    ))
    .bind(tenant.0)
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.map(Into::into).ok_or_else(|| Error::not_found(Resource::Message))
}

/// The inbound message the channel received with this external id.
async fn find_inbound(
    conn: &mut Conn,
    tenant: TenantId,
    channel: ChannelId,
    external_id: &str,
) -> Result<Option<Message>> {
    let row: Option<MessageRow> = sqlx::query_as::<Db, MessageRow>(&format!(
        "SELECT {COLUMNS} FROM messages
         WHERE channel_id = $2 AND external_id = $3 AND direction = 'inbound' AND tenant_id = $1"
    ))
    .bind(tenant.0)
    .bind(channel.0)
    .bind(external_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    Ok(row.map(Into::into))
}

/// 404 `CONVERSATION_NOT_FOUND` unless the tenant has the conversation.
async fn conversation_exists(conn: &mut Conn, tenant: TenantId, id: ConversationId) -> Result<()> {
    let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM conversations WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    found.map(|_| ()).ok_or_else(|| Error::not_found(Resource::Conversation))
}

/// Sets the conversation's unread count to its inbound messages not yet read (the partial index
/// `ix_messages_unread`), returning it.
async fn recount_unread(tx: &mut Tx, conversation: ConversationId) -> Result<i64> {
    let (unread,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM messages WHERE conversation_id = $1 AND direction = 'inbound' AND read_at IS NULL",
    )
    .bind(conversation.0)
    .fetch_one(&mut **tx)
    .await
    .map_err(db)?;
    sqlx::query("UPDATE conversations SET unread_count = $2 WHERE id = $1")
        .bind(conversation.0)
        .bind(unread)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(unread)
}

/// 422-worthy `CHANNEL_NOT_CONNECTED` for an inactive channel.
fn ensure_connected(channel: &Channel) -> Result<()> {
    if channel.status == ChannelStatus::Active {
        return Ok(());
    }
    Err(Error::Refused {
        code: "CHANNEL_NOT_CONNECTED",
        message: "The channel is inactive: activate it before it takes or sends messages.".into(),
    })
}

// ---------------------------------------------------------------------------------------------
// Contacts and conversations of new messages

/// The contact a channel links to `external_id`.
async fn identity(tx: &mut Tx, tenant: TenantId, channel: ChannelId, external_id: &str) -> Result<Option<ContactId>> {
    let found: Option<(Uuid,)> = sqlx::query_as(
        "SELECT contact_id FROM contact_identities WHERE tenant_id = $1 AND channel_id = $2 AND external_id = $3",
    )
    .bind(tenant.0)
    .bind(channel.0)
    .bind(external_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    Ok(found.map(|(id,)| ContactId(id)))
}

/// Links `external_id` on the channel to `contact` unless it is linked already (to anyone); returns
/// whether this call linked it. A concurrent link waits for the other transaction, then links nothing.
async fn link(
    tx: &mut Tx,
    tenant: TenantId,
    channel: ChannelId,
    external_id: &str,
    contact: ContactId,
    now: Time,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO contact_identities (tenant_id, channel_id, external_id, contact_id, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, channel_id, external_id) DO NOTHING",
    )
    .bind(tenant.0)
    .bind(channel.0)
    .bind(external_id)
    .bind(contact.0)
    .bind(us(now))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

async fn savepoint(tx: &mut Tx, statement: &str) -> Result<()> {
    sqlx::query(statement).execute(&mut **tx).await.map_err(db)?;
    Ok(())
}

/// The sender's contact: by phone, else email, else the sender's external id on the channel;
/// created when none matches. Safe under concurrent first messages of one new sender.
async fn sender_contact(
    tx: &mut Tx,
    ctx: &Ctx,
    channel: ChannelId,
    sender: &InboundSender,
    now: Time,
) -> Result<ContactId> {
    if sender.phone.is_some() || sender.email.is_some() {
        let new = NewContact {
            name: sender.name.clone(),
            phone: sender.phone.clone(),
            email: sender.email.clone(),
            ..NewContact::default()
        };
        let id = find_or_create_inline(tx, ctx, new, now).await?;
        if let Some(external_id) = sender.external_id.as_deref() {
            link(tx, ctx.tenant, channel, external_id, id, now).await?;
        }
        return Ok(id);
    }
    let external_id = sender
        .external_id
        .as_deref()
        .ok_or_else(|| Error::invalid("sender", "needs a phone, an email or an externalId"))?;
    if let Some(id) = identity(tx, ctx.tenant, channel, external_id).await? {
        return Ok(id);
    }
    // A contact known only by this id. Inside a savepoint: when a concurrent first message of the
    // same sender links the id first, this contact (and its event) is undone without aborting the
    // transaction, and that message's contact is used.
    savepoint(tx, "SAVEPOINT inbound_sender").await?;
    let new = NewContact { name: sender.name.clone(), ..NewContact::default() };
    let id = find_or_create_inline(tx, ctx, new, now).await?;
    if link(tx, ctx.tenant, channel, external_id, id, now).await? {
        savepoint(tx, "RELEASE SAVEPOINT inbound_sender").await?;
        return Ok(id);
    }
    savepoint(tx, "ROLLBACK TO SAVEPOINT inbound_sender").await?;
    savepoint(tx, "RELEASE SAVEPOINT inbound_sender").await?;
    identity(tx, ctx.tenant, channel, external_id)
        .await?
        .ok_or_else(|| Error::internal("contact identity vanished after a conflicting insert"))
}

/// The contact as the actor of what its message causes.
async fn contact_actor(tx: &mut Tx, tenant: TenantId, id: ContactId, sender: &InboundSender) -> Result<Actor> {
    let row: Option<(Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT name, phone, email FROM contacts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    let name = row
        .and_then(|(name, phone, email)| name.or(phone).or(email))
        .or_else(|| sender.external_id.clone())
        .unwrap_or_else(|| "Contact".into());
    Ok(Actor { kind: ActorKind::Contact, id: Some(id.0), name })
}

/// The contact's active conversation on the channel, locked.
async fn find_active(
    tx: &mut Tx,
    tenant: TenantId,
    contact: ContactId,
    channel: ChannelId,
) -> Result<Option<Conversation>> {
    let found: Option<(Uuid,)> = sqlx::query_as(&format!(
        "SELECT id FROM conversations
         WHERE tenant_id = $1 AND contact_id = $2 AND channel_id = $3 AND status <> 'closed'{FOR_UPDATE}"
    ))
    .bind(tenant.0)
    .bind(contact.0)
    .bind(channel.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    match found {
        Some((id,)) => Ok(Some(load_conversation(tx, tenant, ConversationId(id)).await?)),
        None => Ok(None),
    }
}

/// The contact's active conversation on the channel, or a new open one (then `true`; the caller
/// appends `conversation.created`). A concurrent start for the same contact and channel is waited
/// for and reused, never an error.
async fn active_conversation(
    tx: &mut Tx,
    ctx: &Ctx,
    contact: ContactId,
    channel: &Channel,
    source: &str,
    now: Time,
) -> Result<(Conversation, bool)> {
    // Three rounds: an active conversation found by the conflict can only vanish if it is closed in
    // between, and then a new insert succeeds.
    for _ in 0..3 {
        if let Some(conv) = find_active(tx, ctx.tenant, contact, channel.id).await? {
            return Ok((conv, false));
        }
        let conv = Conversation {
            channel_id: Some(channel.id),
            channel_type: Some(channel.channel_type.as_str().to_string()),
            contact_id: Some(contact),
            bot_id: channel.default_bot_id,
            source: Some(source.to_string()),
            ..Conversation::new(ctx.tenant, now)
        };
        if insert_unless_active(tx, &conv).await? {
            add_participant(tx, conv.id, ActorKind::Contact, contact.0, now).await?;
            if let Some(bot) = conv.bot_id {
                add_participant(tx, conv.id, ActorKind::Bot, bot.0, now).await?;
            }
            return Ok((conv, true));
        }
    }
    Err(Error::internal("no active conversation could be found or started"))
}

/// The contact an outbound address names: an E.164 phone or an email, else 400 `INVALID_RECIPIENT`.
fn address_contact(to: &str) -> Result<NewContact> {
    let (phone, email) = if to.contains('@') { (None, normalize_email(to)) } else { (normalize_phone(to), None) };
    if phone.is_none() && email.is_none() {
        return Err(Error::Refused {
            code: "INVALID_RECIPIENT",
            message: "The recipient must be a phone number in E.164 format (+5511999999999) or an email address."
                .into(),
        });
    }
    Ok(NewContact { phone, email, ..NewContact::default() })
}

// ---------------------------------------------------------------------------------------------
// Reads and status changes

/// Marks an inbound message read (`read`, `readAt`); returns whether it changed.
fn mark_read(m: &mut Message, now: Time) -> bool {
    if m.direction != Direction::Inbound || m.read_at.is_some() {
        return false;
    }
    m.read_at = Some(now);
    if m.status < MessageStatus::Read {
        m.status = MessageStatus::Read;
        m.status_history.push(StatusStep { status: MessageStatus::Read, at: now, error: None });
    }
    true
}

/// Applies a delivery report to an outbound message. `None` when the status does not move; else the
/// event it emits (`sent` emits none).
fn apply_report(m: &mut Message, report: &StatusReport, now: Time) -> Option<Option<EventType>> {
    let (current, next) = (m.status, report.status);
    let forward = current != MessageStatus::Failed
        && next > current
        && !(next == MessageStatus::Failed && current == MessageStatus::Read);
    if !forward {
        return None;
    }
    let when = report.at.unwrap_or(now);
    let error = (next == MessageStatus::Failed).then(|| report.error.clone()).flatten();
    m.status = next;
    m.status_history.push(StatusStep { status: next, at: when, error: error.clone() });
    Some(match next {
        MessageStatus::Pending => None,
        MessageStatus::Sent => {
            m.sent_at = Some(when);
            None
        }
        MessageStatus::Delivered => {
            m.delivered_at = Some(when);
            m.sent_at.get_or_insert(when);
            Some(EventType::MessageDelivered)
        }
        MessageStatus::Read => {
            m.read_at = Some(when);
            m.delivered_at.get_or_insert(when);
            m.sent_at.get_or_insert(when);
            Some(EventType::MessageRead)
        }
        MessageStatus::Failed => {
            m.failed_at = Some(when);
            m.error = error;
            Some(EventType::MessageFailed)
        }
    })
}

/// Marks one message read inside the caller's transaction: the conversation is locked first, then
/// the message. Returns the message after the change.
async fn read_one(tx: &mut Tx, ctx: &Ctx, id: MessageId, now: Time) -> Result<Message> {
    let peek = load(tx, ctx.tenant, id, false).await?;
    load_conversation(tx, ctx.tenant, peek.conversation_id).await?;
    let mut m = load(tx, ctx.tenant, id, true).await?;
    if !mark_read(&mut m, now) {
        return Ok(m);
    }
    update(tx, &m).await?;
    recount_unread(tx, m.conversation_id).await?;
    emit(tx, ctx.tenant, &ctx.actor, &m, EventType::MessageRead, json!({ "conversationId": m.conversation_id }), now)
        .await?;
    Ok(m)
}

/// Appends ` AND id IN (…)` for `ids` (at most [`IN_CHUNK`]).
fn push_ids(q: &mut QueryBuilder<'_, Db>, ids: &[MessageId]) {
    q.push(" AND id IN (");
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(id.0);
    }
    q.push(")");
}

/// Marks read the unread inbound messages of one conversation (those of `ids`, or all created at or
/// before `before`), emitting one event. Returns how many changed.
async fn read_in_conversation(
    tx: &mut Tx,
    ctx: &Ctx,
    conversation: ConversationId,
    ids: Option<&[MessageId]>,
    before: Option<Time>,
    now: Time,
) -> Result<u64> {
    let mut unread: Vec<Message> = Vec::new();
    let chunks: Vec<Option<&[MessageId]>> = match ids {
        Some(ids) => ids.chunks(IN_CHUNK).map(Some).collect(),
        None => vec![None],
    };
    for chunk in chunks {
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM messages WHERE conversation_id = "));
        q.push_bind(conversation.0).push(" AND direction = 'inbound' AND read_at IS NULL");
        if let Some(chunk) = chunk {
            push_ids(&mut q, chunk);
        }
        if let Some(before) = before {
            q.push(" AND created_at <= ").push_bind(us(before));
        }
        q.push(format!(" ORDER BY created_at DESC, id DESC{FOR_UPDATE}"));
        let rows: Vec<MessageRow> = q.build_query_as().fetch_all(&mut **tx).await.map_err(db)?;
        unread.extend(rows.into_iter().map(Message::from));
    }
    if unread.is_empty() {
        return Ok(0);
    }
    unread.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.id)));
    for m in &mut unread {
        mark_read(m, now);
        update(tx, m).await?;
    }
    recount_unread(tx, conversation).await?;
    let ids: Vec<MessageId> = unread.iter().take(EVENT_IDS_MAX).map(|m| m.id).collect();
    let data = json!({
        "conversationId": conversation,
        "count": unread.len(),
        "messageIds": ids,
        "bulk": true,
    });
    emit(tx, ctx.tenant, &ctx.actor, &unread[0], EventType::MessageRead, data, now).await?;
    Ok(unread.len() as u64)
}

// ---------------------------------------------------------------------------------------------
// Cursors

fn cursor_of(m: &Message) -> String {
    format!("{}_{}", us(m.created_at), m.id.0)
}

fn parse_cursor(raw: &str) -> Result<(i64, Uuid)> {
    let bad = || Error::invalid("cursor", "is not a cursor of this list (pass meta.cursor.next of a previous page)");
    let (micros, id) = raw.trim().split_once('_').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((micros, id))
}

/// Appends the WHERE clause of the tenant-wide list.
fn push_filters(q: &mut QueryBuilder<'_, Db>, tenant: TenantId, f: &MessageFilter) {
    q.push(" WHERE tenant_id = ").push_bind(tenant.0);
    if let Some(id) = f.conversation_id {
        q.push(" AND conversation_id = ").push_bind(id.0);
    }
    if let Some(id) = f.channel_id {
        q.push(" AND channel_id = ").push_bind(id.0);
    }
    if let Some(d) = f.direction {
        q.push(" AND direction = ").push_bind(d.as_str());
    }
    if let Some(s) = f.status {
        q.push(" AND status = ").push_bind(s.as_str());
    }
    if let Some(t) = &f.content_type {
        q.push(" AND content_type = ").push_bind(t.clone());
    }
    if let Some(t) = f.created_from {
        q.push(" AND created_at >= ").push_bind(us(t));
    }
    if let Some(t) = f.created_to {
        q.push(" AND created_at <= ").push_bind(us(t));
    }
}

#[async_trait]
impl MessageStore for SqlStore {
    async fn send_message(&self, ctx: &Ctx, send: SendMessage) -> Result<Message> {
        validate_content(&send.content)?;
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut conv = match send.recipient {
            Recipient::Conversation(id) => {
                let conv = load_conversation(&mut tx, ctx.tenant, id).await?;
                if let Some(channel_id) = conv.channel_id {
                    if let Some(channel) = load_channel(&mut tx, ctx.tenant, channel_id, false).await? {
                        ensure_connected(&channel)?;
                    }
                }
                conv
            }
            Recipient::Address { channel_id, to } => {
                let channel = load_channel(&mut tx, ctx.tenant, channel_id, false)
                    .await?
                    .ok_or_else(|| Error::not_found_field(Resource::Channel, "channelId"))?;
                ensure_connected(&channel)?;
                let contact = find_or_create_inline(&mut tx, ctx, address_contact(&to)?, now).await?;
                let (conv, created) = active_conversation(&mut tx, ctx, contact, &channel, "api", now).await?;
                if created {
                    finish(&mut tx, ctx, conv.id, Some(EventType::ConversationCreated), serde_json::Value::Null, now)
                        .await?;
                }
                conv
            }
        };
        let new = NewMessage {
            direction: Direction::Outbound,
            sender: ctx.actor.clone(),
            content: send.content,
            metadata: send.metadata,
            external_id: send.external_id,
            sent_at: None,
        };
        let message = append_in_tx(&mut tx, ctx, &mut conv, new, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(message)
    }

    async fn ingest_inbound(&self, ctx: &Ctx, inbound: InboundMessage) -> Result<Ingested> {
        let s = &inbound.sender;
        if s.phone.is_none() && s.email.is_none() && s.external_id.is_none() {
            return Err(Error::invalid("sender", "needs a phone, an email or an externalId"));
        }
        validate_content(&inbound.content)?;
        let retry = |m: Message| Ingested {
            contact_id: ContactId(m.sender.id.unwrap_or_default()),
            message: m,
            created: false,
            conversation_created: false,
        };
        if let Some(external_id) = inbound.external_id.as_deref() {
            let mut conn = self.read.acquire().await.map_err(db)?;
            if let Some(m) = find_inbound(&mut conn, ctx.tenant, inbound.channel_id, external_id).await? {
                return Ok(retry(m));
            }
        }
        match self.ingest_in_tx(ctx, &inbound).await {
            Err(Error::Conflict { code: DUPLICATE_EXTERNAL_ID, .. }) => {
                // A concurrent delivery of the same message committed first (this transaction is
                // rolled back): answer with that message.
                let external_id = inbound.external_id.as_deref().unwrap_or_default();
                let mut conn = self.write.acquire().await.map_err(db)?;
                let m = find_inbound(&mut conn, ctx.tenant, inbound.channel_id, external_id)
                    .await?
                    .ok_or_else(|| Error::internal("a duplicate inbound message vanished"))?;
                Ok(retry(m))
            }
            other => other,
        }
    }

    async fn get_message(&self, ctx: &Ctx, id: MessageId) -> Result<Message> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        load(&mut conn, ctx.tenant, id, false).await
    }

    async fn list_messages(&self, ctx: &Ctx, filter: &MessageFilter, page: PageRequest) -> Result<Page<Message>> {
        // `search`: every word (a prefix) in the message's own text, full text (`sql/search.rs`).
        let words = super::search::query_words(filter.search.as_deref())?;
        let push_search = |q: &mut QueryBuilder<'_, Db>| {
            if let Some(words) = &words {
                q.push(" AND");
                super::search::push_all_words(q, super::search::Target::MessageText, "messages", words);
            }
        };
        let dir = match filter.order {
            SortOrder::Asc => "ASC",
            SortOrder::Desc => "DESC",
        };
        let mut rows_q = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM messages"));
        push_filters(&mut rows_q, ctx.tenant, filter);
        push_search(&mut rows_q);
        let (limit, offset) = limit_offset(page);
        rows_q
            .push(format!(" ORDER BY created_at {dir}, id {dir} LIMIT "))
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        let mut count_q = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM messages");
        push_filters(&mut count_q, ctx.tenant, filter);
        push_search(&mut count_q);
        let mut conn = self.read.acquire().await.map_err(db)?;
        let rows: Vec<MessageRow> = rows_q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
        let (total,): (i64,) = count_q.build_query_as().fetch_one(&mut *conn).await.map_err(db)?;
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), total: total as u64 })
    }

    async fn conversation_messages(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        cursor: Option<&str>,
        limit: u32,
        direction: CursorDirection,
    ) -> Result<CursorPage<Message>> {
        let cursor = cursor.map(parse_cursor).transpose()?;
        if !(1..=100).contains(&limit) {
            return Err(Error::invalid("limit", "must be between 1 and 100"));
        }
        let mut conn = self.read.acquire().await.map_err(db)?;
        conversation_exists(&mut conn, ctx.tenant, id).await?;
        let (op, dir) = match direction {
            CursorDirection::Before => ("<", "DESC"),
            CursorDirection::After => (">", "ASC"),
        };
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM messages WHERE conversation_id = "));
        q.push_bind(id.0).push(" AND tenant_id = ").push_bind(ctx.tenant.0);
        if let Some((micros, after_id)) = cursor {
            q.push(format!(" AND (created_at, id) {op} (")).push_bind(micros).push(", ").push_bind(after_id).push(")");
        }
        q.push(format!(" ORDER BY created_at {dir}, id {dir} LIMIT ")).push_bind(i64::from(limit) + 1);
        let rows: Vec<MessageRow> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
        let mut items: Vec<Message> = rows.into_iter().map(Into::into).collect();
        let has_more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = if has_more { items.last().map(cursor_of) } else { None };
        Ok(CursorPage { items, next, has_more })
    }

    async fn recent_messages(&self, ctx: &Ctx, id: ConversationId, limit: u32) -> Result<Vec<Message>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        conversation_exists(&mut conn, ctx.tenant, id).await?;
        let rows: Vec<MessageRow> = sqlx::query_as::<Db, MessageRow>(&format!(
            "SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND tenant_id = $2
             ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(id.0)
        .bind(ctx.tenant.0)
        .bind(i64::from(limit.min(1000)))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().rev().map(Into::into).collect())
    }

    async fn mark_message_read(&self, ctx: &Ctx, id: MessageId) -> Result<Message> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let m = read_one(&mut tx, ctx, id, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(m)
    }

    async fn bulk_read(&self, ctx: &Ctx, read: BulkRead) -> Result<(u64, Option<ConversationId>)> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut marked = 0;
        let concerned = match read {
            BulkRead::Messages(ids) => {
                // The conversations the ids belong to (ids of no message of the tenant are ignored),
                // then each conversation in id order, the order every multi-row lock follows.
                let mut by_conversation: BTreeMap<Uuid, Vec<MessageId>> = BTreeMap::new();
                for chunk in ids.chunks(IN_CHUNK) {
                    let mut q = QueryBuilder::<Db>::new("SELECT id, conversation_id FROM messages WHERE tenant_id = ");
                    q.push_bind(ctx.tenant.0);
                    push_ids(&mut q, chunk);
                    let rows: Vec<(Uuid, Uuid)> = q.build_query_as().fetch_all(&mut *tx).await.map_err(db)?;
                    for (id, conversation) in rows {
                        by_conversation.entry(conversation).or_default().push(MessageId(id));
                    }
                }
                for (conversation, ids) in &by_conversation {
                    let conversation = ConversationId(*conversation);
                    load_conversation(&mut tx, ctx.tenant, conversation).await?;
                    marked += read_in_conversation(&mut tx, ctx, conversation, Some(ids), None, now).await?;
                }
                match by_conversation.keys().collect::<Vec<_>>().as_slice() {
                    [one] => Some(ConversationId(**one)),
                    _ => None,
                }
            }
            BulkRead::Conversation { id, before } => {
                load_conversation(&mut tx, ctx.tenant, id).await?;
                marked += read_in_conversation(&mut tx, ctx, id, None, before, now).await?;
                Some(id)
            }
        };
        tx.commit().await.map_err(db)?;
        Ok((marked, concerned))
    }

    async fn delete_message(&self, ctx: &Ctx, id: MessageId) -> Result<Message> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let peek = load(&mut tx, ctx.tenant, id, false).await?;
        let mut conv = load_conversation(&mut tx, ctx.tenant, peek.conversation_id).await?;
        let m = load(&mut tx, ctx.tenant, id, true).await?;
        // The event's snapshot is the message's last state, taken before the row goes.
        let last_state = full_snapshot(&mut tx, ctx.tenant, &m).await?;
        sqlx::query("DELETE FROM messages WHERE id = $1").bind(m.id.0).execute(&mut *tx).await.map_err(db)?;
        conv.message_count = (conv.message_count - 1).max(0);
        conv.unread_count = recount_unread(&mut tx, conv.id).await?;
        if conv.last_message_id == Some(m.id) {
            let newest: Option<(Uuid, i64)> = sqlx::query_as(
                "SELECT id, created_at FROM messages WHERE conversation_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
            )
            .bind(conv.id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            conv.last_message_id = newest.map(|(id, _)| MessageId(id));
            conv.last_message_at = newest.map(|(_, t)| at(t));
        }
        if conv.first_message_at.is_none_or(|first| first >= m.created_at) {
            let oldest: Option<(i64,)> = sqlx::query_as(
                "SELECT created_at FROM messages WHERE conversation_id = $1 ORDER BY created_at, id LIMIT 1",
            )
            .bind(conv.id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            conv.first_message_at = oldest.map(|(t,)| at(t));
        }
        conv.updated_at = now;
        save(&mut tx, &conv).await?;
        let data = json!({ "conversationId": conv.id, "deletedAt": now });
        let event = NewEvent {
            event_type: EventType::MessageDeleted,
            subject_id: m.id.0,
            conversation_id: Some(m.conversation_id),
            snapshot: last_state,
            data,
        };
        append(&mut tx, ctx.tenant, &ctx.actor, event, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(m)
    }

    async fn report_status(&self, ctx: &Ctx, id: MessageId, report: StatusReport) -> Result<Message> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let peek = load(&mut tx, ctx.tenant, id, false).await?;
        if peek.direction == Direction::Inbound {
            // Only `read` means something for an inbound message: the same as marking it read.
            let m = if report.status == MessageStatus::Read { read_one(&mut tx, ctx, id, now).await? } else { peek };
            tx.commit().await.map_err(db)?;
            return Ok(m);
        }
        let mut m = load(&mut tx, ctx.tenant, id, true).await?;
        let mut changed = false;
        if let Some(external_id) = report.external_id.as_ref().filter(|e| m.external_id.as_ref() != Some(*e)) {
            m.external_id = Some(external_id.clone());
            changed = true;
        }
        let moved = apply_report(&mut m, &report, now);
        if changed || moved.is_some() {
            update(&mut tx, &m).await?;
        }
        if let Some(Some(event_type)) = moved {
            let data = json!({ "conversationId": m.conversation_id, "status": m.status.as_str() });
            emit(&mut tx, ctx.tenant, &ctx.actor, &m, event_type, data, now).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(m)
    }

    async fn update_message_metadata(&self, ctx: &Ctx, id: MessageId, patch: JsonMap) -> Result<Message> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        // Only the message row changes and only it is locked: no lock order to keep with its
        // conversation.
        let mut m = load(&mut tx, ctx.tenant, id, true).await?;
        let before = m.metadata.clone();
        deep_merge(&mut m.metadata, &patch);
        if m.metadata != before {
            sqlx::query("UPDATE messages SET metadata = $2 WHERE id = $1")
                .bind(m.id.0)
                .bind(Json(&m.metadata))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            let data = json!({ "conversationId": m.conversation_id, "changed": ["metadata"] });
            emit(&mut tx, ctx.tenant, &ctx.actor, &m, EventType::MessageUpdated, data, now).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(m)
    }

    async fn messages_from(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        from: Option<MessageId>,
        limit: u32,
    ) -> Result<confab_store::MessagesFrom> {
        airy::messages_from(&self.read, ctx.tenant, id, from, limit).await
    }

    async fn resend_message(&self, ctx: &Ctx, id: MessageId) -> Result<Message> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let m = airy::resend(&mut tx, ctx, id).await?;
        tx.commit().await.map_err(db)?;
        Ok(m)
    }
}

impl SqlStore {
    /// The write transaction of an inbound message that is not a known retry.
    async fn ingest_in_tx(&self, ctx: &Ctx, inbound: &InboundMessage) -> Result<Ingested> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let channel = load_channel(&mut tx, ctx.tenant, inbound.channel_id, false)
            .await?
            .ok_or_else(|| Error::not_found(Resource::Channel))?;
        ensure_connected(&channel)?;
        let contact = sender_contact(&mut tx, ctx, channel.id, &inbound.sender, now).await?;
        let as_contact =
            Ctx { tenant: ctx.tenant, actor: contact_actor(&mut tx, ctx.tenant, contact, &inbound.sender).await? };
        let source = channel.channel_type.as_str();
        let (mut conv, created) = active_conversation(&mut tx, &as_contact, contact, &channel, source, now).await?;
        if created {
            finish(&mut tx, &as_contact, conv.id, Some(EventType::ConversationCreated), serde_json::Value::Null, now)
                .await?;
        } else if matches!(conv.status, Status::Pending | Status::Snoozed) {
            let open = StatusChange { status: Status::Open, snoozed_until: None };
            if let Some(event) = change_status(&mut conv, &open, &as_contact.actor, now)? {
                save(&mut tx, &conv).await?;
                let data = json!({ "changed": ["status"], "reason": "inbound_message" });
                finish(&mut tx, &as_contact, conv.id, Some(event), data, now).await?;
            }
        }
        let new = NewMessage {
            direction: Direction::Inbound,
            sender: as_contact.actor.clone(),
            content: inbound.content.clone(),
            metadata: inbound.metadata.clone(),
            external_id: inbound.external_id.clone(),
            sent_at: inbound.sent_at,
        };
        let message = append_in_tx(&mut tx, &as_contact, &mut conv, new, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(Ingested { message, contact_id: contact, created: true, conversation_created: created })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound() -> Message {
        let now = time::now();
        Message {
            id: MessageId::new(),
            tenant_id: TenantId::new(),
            conversation_id: ConversationId::new(),
            channel_id: None,
            direction: Direction::Outbound,
            sender: Actor::system(),
            content: JsonMap::new(),
            content_type: "text".into(),
            text: None,
            status: MessageStatus::Pending,
            status_history: vec![StatusStep { status: MessageStatus::Pending, at: now, error: None }],
            external_id: None,
            metadata: JsonMap::new(),
            error: None,
            created_at: now,
            sent_at: None,
            delivered_at: None,
            read_at: None,
            failed_at: None,
        }
    }

    fn report(status: MessageStatus) -> StatusReport {
        StatusReport { status, at: None, error: Some("boom".into()), external_id: None }
    }

    #[test]
    fn reports_only_move_forward_and_fail_from_anything_but_read() {
        let now = time::now();
        let mut m = outbound();
        assert_eq!(apply_report(&mut m, &report(MessageStatus::Sent), now), Some(None));
        assert_eq!(apply_report(&mut m, &report(MessageStatus::Sent), now), None);
        assert_eq!(apply_report(&mut m, &report(MessageStatus::Read), now), Some(Some(EventType::MessageRead)));
        assert_eq!((m.delivered_at, m.read_at), (Some(now), Some(now)));
        assert_eq!(apply_report(&mut m, &report(MessageStatus::Delivered), now), None);
        assert_eq!(apply_report(&mut m, &report(MessageStatus::Failed), now), None);
        assert_eq!(m.status_history.len(), 3);

        let mut m = outbound();
        assert_eq!(apply_report(&mut m, &report(MessageStatus::Failed), now), Some(Some(EventType::MessageFailed)));
        assert_eq!(m.error.as_deref(), Some("boom"));
        assert_eq!(apply_report(&mut m, &report(MessageStatus::Delivered), now), None);
    }

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused_naming_cursor() {
        let m = outbound();
        assert_eq!(parse_cursor(&cursor_of(&m)).unwrap(), (us(m.created_at), m.id.0));
        for bad in ["", "abc", "12_x", "x_0190a0a0-0000-7000-8000-000000000000"] {
            let Err(Error::Validation(e)) = parse_cursor(bad) else { panic!("{bad} parsed") };
            assert_eq!(e[0].field, "cursor");
        }
    }

    #[test]
    fn an_outbound_message_is_never_unread() {
        let mut m = outbound();
        assert!(!mark_read(&mut m, time::now()));
        m.direction = Direction::Inbound;
        m.status = MessageStatus::Delivered;
        assert!(mark_read(&mut m, time::now()));
        assert_eq!(m.status, MessageStatus::Read);
        assert!(!mark_read(&mut m, time::now()));
    }
}
