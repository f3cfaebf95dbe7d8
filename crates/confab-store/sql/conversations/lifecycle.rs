//! The conversation operations of [`ConversationStore`]: each one transaction that reads the
//! conversation, applies the core rule, writes it back, and appends its one event.
//!
//! An event's `data` says what the change was about beyond the snapshot, in camelCase, face-neutral
//! JSON: `changed` (the fields an update changed), an assignee as `{"id", "type"}` (`user`/`bot`),
//! a transfer's `reason`/`summary`/`notifyContact`, a close's `reason`/`resolution`/`notes`, a
//! note's `noteId`/`kind`/`body`. A change that changes nothing (unassigning an unassigned
//! conversation, adding tags it has, removing tags it lacks) appends no event.

use super::participants::{add_participant, resolve_assignee};
use super::{add_tags, finish, insert, load_for_update, load_view, save, set_tags, Conn};
use crate::dialect::{Db, FOR_UPDATE_SKIP_LOCKED};
use crate::sql::contacts::find_or_create_inline;
use crate::sql::events::{EventRow, EVENT_COLUMNS};
use crate::sql::util::{at, db, limit_offset, us, Tx};
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::*;
use confab_core::rules::{conversation as rules, metadata::deep_merge};
use confab_core::{time, ChannelId, ConversationId, Error, NoteId, Resource, Result, TagId, TenantId, Time};
use confab_store::ConversationStore;
use serde_json::json;
use sqlx::types::Json;
use uuid::Uuid;

/// The active conversations on a channel (for deleting it).
pub(crate) async fn active_on_channel(
    tx: &mut Tx,
    tenant: TenantId,
    channel: ChannelId,
) -> Result<Vec<ConversationId>> {
    let rows: Vec<(Uuid,)> =
        sqlx::query_as("SELECT id FROM conversations WHERE tenant_id = $1 AND channel_id = $2 AND status <> 'closed'")
            .bind(tenant.0)
            .bind(channel.0)
            .fetch_all(&mut **tx)
            .await
            .map_err(db)?;
    Ok(rows.into_iter().map(|(id,)| ConversationId(id)).collect())
}

/// Closes a conversation inside the caller's transaction (a forced channel delete).
pub(crate) async fn close_in_tx(
    tx: &mut Tx,
    ctx: &Ctx,
    id: ConversationId,
    input: &CloseInput,
    now: Time,
) -> Result<ConversationView> {
    let mut conv = load_for_update(tx, ctx.tenant, id).await?;
    let event = rules::close(&mut conv, input, &ctx.actor, now)?;
    save(tx, &conv).await?;
    if let Some(notes) = input.notes.as_deref().filter(|n| !n.trim().is_empty()) {
        insert_note(tx, ctx, id, NoteKind::Close, notes, now).await?;
    }
    let data = json!({
        "reason": input.reason,
        "resolution": input.resolution.map(|r| r.as_str()),
        "notes": input.notes,
    });
    finish(tx, ctx, id, Some(event), data, now).await
}

/// An assignee in an event's data: `{"id", "type"}`, or `null`.
fn assignee_json(a: Option<Assignee>) -> serde_json::Value {
    match a {
        Some(a) => json!({ "id": a.id, "type": a.kind.as_str() }),
        None => serde_json::Value::Null,
    }
}

/// Appends `bot.handoff` when a conversation a bot held goes to someone who is not a bot (a person
/// or a queue): the snapshot is the conversation after the change, the data names the bot and the
/// new assignee.
async fn bot_handoff(
    tx: &mut Tx,
    ctx: &Ctx,
    view: &ConversationView,
    previous: Option<Assignee>,
    next: Assignee,
    reason: Option<&str>,
    now: Time,
) -> Result<()> {
    let Some(bot) = previous.filter(|p| p.kind == ActorKind::Bot && next.kind != ActorKind::Bot) else {
        return Ok(());
    };
    let event = NewEvent {
        event_type: EventType::BotHandoff,
        subject_id: bot.id,
        conversation_id: Some(view.conversation.id),
        snapshot: serde_json::to_value(view).map_err(Error::internal)?,
        data: json!({ "botId": bot.id, "to": assignee_json(Some(next)), "reason": reason }),
    };
    crate::sql::events::append(tx, ctx.tenant, &ctx.actor, event, now).await
}

/// Inserts an internal note.
async fn insert_note(
    tx: &mut Tx,
    ctx: &Ctx,
    id: ConversationId,
    kind: NoteKind,
    body: &str,
    now: Time,
) -> Result<Note> {
    let note = Note {
        id: NoteId::new(),
        conversation_id: id,
        kind,
        body: body.to_string(),
        author: ctx.actor.clone(),
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO notes (id, tenant_id, conversation_id, kind, body, author, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(note.id.0)
    .bind(ctx.tenant.0)
    .bind(id.0)
    .bind(kind.as_str())
    .bind(&note.body)
    .bind(Json(&note.author))
    .bind(us(now))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(note)
}

/// Checks the conversation exists for the tenant (reads that need no view).
async fn exists(conn: &mut Conn, tenant: TenantId, id: ConversationId) -> Result<()> {
    let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM conversations WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    found.map(|_| ()).ok_or_else(|| Error::not_found(Resource::Conversation))
}

/// An assignment (plain or transfer): sets the assignee, its stamps, the bot when the assignee is a
/// bot, and records the participant.
async fn apply_assignment(
    tx: &mut Tx,
    ctx: &Ctx,
    conv: &mut Conversation,
    assignee: Assignee,
    now: Time,
) -> Result<()> {
    conv.assignee = Some(assignee);
    if assignee.kind == ActorKind::Bot {
        conv.bot_id = Some(confab_core::BotId(assignee.id));
    }
    conv.assigned_at = Some(now);
    conv.assigned_by = Some(ctx.actor.clone());
    conv.updated_at = now;
    add_participant(tx, conv.id, assignee.kind, assignee.id, now).await
}

#[async_trait]
impl ConversationStore for SqlStore {
    async fn create_conversation(&self, ctx: &Ctx, new: NewConversation) -> Result<ConversationView> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let channel_type = if let Some(channel_id) = new.channel_id {
            let channel = crate::sql::channels::load_in_tx(&mut tx, ctx.tenant, channel_id, false)
                .await?
                .ok_or_else(|| Error::not_found_field(Resource::Channel, "channelId"))?;
            Some(channel.channel_type.as_str().to_string())
        } else {
            // Without a channel (G-Tateth tickets), the type is the one given.
            new.channel_type.clone()
        };
        if let Some(inbox) = new.inbox_id {
            crate::sql::inboxes::lock_in_tx(&mut tx, ctx.tenant, inbox)
                .await?
                .ok_or_else(|| Error::not_found_field(Resource::Inbox, "inboxId"))?;
        }
        let contact_id = match new.contact {
            None => None,
            Some(ContactInput::Existing(id)) => {
                let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM contacts WHERE tenant_id = $1 AND id = $2")
                    .bind(ctx.tenant.0)
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                found.ok_or_else(|| Error::not_found_field(Resource::Contact, "contactId"))?;
                Some(id)
            }
            Some(ContactInput::Inline(contact)) => Some(find_or_create_inline(&mut tx, ctx, *contact, now).await?),
        };
        let assignee = match new.assignee_id {
            Some(id) => Some(resolve_assignee(&mut tx, ctx.tenant, id, new.assignee_kind, "assigneeId").await?),
            None => None,
        };
        if let Some(bot) = new.bot_id {
            resolve_assignee(&mut tx, ctx.tenant, bot.0, Some(ActorKind::Bot), "botId")
                .await
                .map_err(|_| Error::not_found_field(Resource::Bot, "botId"))?;
        }
        let mut conv = Conversation {
            channel_id: new.channel_id,
            channel_type,
            contact_id,
            subject: new.subject,
            priority: new.priority,
            bot_id: new.bot_id,
            metadata: new.metadata,
            source: new.source,
            inbox_id: new.inbox_id,
            ..Conversation::new(ctx.tenant, now)
        };
        if let Some(a) = assignee {
            conv.assignee = Some(a);
            if a.kind == ActorKind::Bot && conv.bot_id.is_none() {
                conv.bot_id = Some(confab_core::BotId(a.id));
            }
            conv.assigned_at = Some(now);
            conv.assigned_by = Some(ctx.actor.clone());
        }
        insert(&mut tx, &conv).await?;
        if !new.tags.is_empty() {
            set_tags(&mut tx, ctx, conv.id, &new.tags).await?;
        }
        if let Some(c) = contact_id {
            add_participant(&mut tx, conv.id, ActorKind::Contact, c.0, now).await?;
        }
        if let Some(a) = conv.assignee {
            add_participant(&mut tx, conv.id, a.kind, a.id, now).await?;
        }
        if let Some(b) = conv.bot_id {
            add_participant(&mut tx, conv.id, ActorKind::Bot, b.0, now).await?;
        }
        let view =
            finish(&mut tx, ctx, conv.id, Some(EventType::ConversationCreated), serde_json::Value::Null, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(view)
    }

    async fn get_conversation(&self, ctx: &Ctx, id: ConversationId) -> Result<ConversationView> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        load_view(&mut conn, ctx.tenant, id).await?.ok_or_else(|| Error::not_found(Resource::Conversation))
    }

    async fn list_conversations(
        &self,
        ctx: &Ctx,
        filter: &ConversationFilter,
        page: PageRequest,
    ) -> Result<Page<ConversationView>> {
        super::list::list(&self.read, ctx.tenant, filter, page).await
    }

    async fn airy_list_conversations(
        &self,
        ctx: &Ctx,
        query: Option<&confab_query::Query>,
        offset: u64,
        limit: u32,
    ) -> Result<Page<ConversationView>> {
        super::airy::list(&self.read, ctx.tenant, query, offset, limit).await
    }

    async fn update_conversation(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        patch: ConversationPatch,
    ) -> Result<ConversationView> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
        let before = conv.clone();
        let mut event = None;
        let mut changed = Vec::new();
        if let Some(change) = &patch.status {
            event = rules::change_status(&mut conv, change, &ctx.actor, now)?;
            if event.is_some() {
                changed.push("status");
            }
        }
        if let Some(meta) = &patch.metadata {
            deep_merge(&mut conv.metadata, meta);
            if conv.metadata != before.metadata {
                changed.push("metadata");
            }
        }
        if let Some(p) = patch.priority {
            conv.priority = p;
            if p != before.priority {
                changed.push("priority");
            }
        }
        if let Some(subject) = patch.subject.clone() {
            conv.subject = subject;
            if conv.subject != before.subject {
                changed.push("subject");
            }
        }
        if let Some(tags) = &patch.tags {
            let current = load_view(&mut tx, ctx.tenant, id).await?.map(|v| v.tags).unwrap_or_default();
            if &current != tags {
                set_tags(&mut tx, ctx, id, tags).await?;
                changed.push("tags");
            }
        }
        if changed.is_empty() {
            let view = finish(&mut tx, ctx, id, None, serde_json::Value::Null, now).await?;
            tx.commit().await.map_err(db)?;
            return Ok(view);
        }
        conv.updated_at = now;
        save(&mut tx, &conv).await?;
        let event = event.unwrap_or(EventType::ConversationUpdated);
        let view = finish(&mut tx, ctx, id, Some(event), json!({ "changed": changed }), now).await?;
        tx.commit().await.map_err(db)?;
        Ok(view)
    }

    async fn close_conversation(&self, ctx: &Ctx, id: ConversationId, input: CloseInput) -> Result<ConversationView> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let view = close_in_tx(&mut tx, ctx, id, &input, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(view)
    }

    async fn reopen_conversation(&self, ctx: &Ctx, id: ConversationId) -> Result<ConversationView> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
        let event = rules::reopen(&mut conv, &ctx.actor, now)?;
        save(&mut tx, &conv).await?;
        let view = finish(&mut tx, ctx, id, Some(event), serde_json::Value::Null, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(view)
    }

    async fn assign_conversation(&self, ctx: &Ctx, id: ConversationId, input: AssignInput) -> Result<ConversationView> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
        let assignee =
            resolve_assignee(&mut tx, ctx.tenant, input.assignee_id, input.assignee_kind, "assigneeId").await?;
        let previous = conv.assignee;
        apply_assignment(&mut tx, ctx, &mut conv, assignee, now).await?;
        save(&mut tx, &conv).await?;
        if let Some(note) = input.note.as_deref().filter(|n| !n.trim().is_empty()) {
            insert_note(&mut tx, ctx, id, NoteKind::Assign, note, now).await?;
        }
        let data = json!({
            "changed": ["assignee"],
            "assignee": assignee_json(Some(assignee)),
            "previousAssignee": assignee_json(previous),
            "note": &input.note,
        });
        let view = finish(&mut tx, ctx, id, Some(EventType::ConversationAssigned), data, now).await?;
        bot_handoff(&mut tx, ctx, &view, previous, assignee, input.note.as_deref(), now).await?;
        tx.commit().await.map_err(db)?;
        Ok(view)
    }

    async fn unassign_conversation(&self, ctx: &Ctx, id: ConversationId) -> Result<ConversationView> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
        let Some(previous) = conv.assignee.take() else {
            let view = finish(&mut tx, ctx, id, None, serde_json::Value::Null, now).await?;
            tx.commit().await.map_err(db)?;
            return Ok(view);
        };
        conv.updated_at = now;
        save(&mut tx, &conv).await?;
        let data = json!({ "changed": ["assignee"], "previousAssignee": assignee_json(Some(previous)) });
        let view = finish(&mut tx, ctx, id, Some(EventType::ConversationUpdated), data, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(view)
    }

    async fn transfer_conversation(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        input: TransferInput,
    ) -> Result<ConversationView> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
        let assignee =
            resolve_assignee(&mut tx, ctx.tenant, input.to_assignee_id, input.assignee_kind, "toAssigneeId").await?;
        let previous = conv.assignee;
        apply_assignment(&mut tx, ctx, &mut conv, assignee, now).await?;
        conv.transferred_at = Some(now);
        conv.transferred_by = Some(ctx.actor.clone());
        save(&mut tx, &conv).await?;
        let body = [
            input.reason.as_deref().map(|r| format!("Reason: {r}")),
            input.summary.as_deref().map(|s| format!("Summary: {s}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n");
        if !body.is_empty() {
            insert_note(&mut tx, ctx, id, NoteKind::Transfer, &body, now).await?;
        }
        let data = json!({
            "changed": ["assignee"],
            "from": assignee_json(previous),
            "to": assignee_json(Some(assignee)),
            "reason": &input.reason,
            "summary": input.summary,
            "notifyContact": input.notify_contact,
        });
        let view = finish(&mut tx, ctx, id, Some(EventType::ConversationTransferred), data, now).await?;
        bot_handoff(&mut tx, ctx, &view, previous, assignee, input.reason.as_deref(), now).await?;
        tx.commit().await.map_err(db)?;
        Ok(view)
    }

    async fn add_conversation_tags(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        names: Vec<String>,
    ) -> Result<ConversationView> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
        let before = load_view(&mut tx, ctx.tenant, id).await?.map(|v| v.tags).unwrap_or_default();
        add_tags(&mut tx, ctx, id, &names).await?;
        let after = load_view(&mut tx, ctx.tenant, id).await?.map(|v| v.tags).unwrap_or_default();
        let added: Vec<&String> = after.iter().filter(|t| !before.contains(t)).collect();
        let event = if added.is_empty() {
            None
        } else {
            conv.updated_at = now;
            save(&mut tx, &conv).await?;
            Some(EventType::ConversationUpdated)
        };
        let view = finish(&mut tx, ctx, id, event, json!({ "changed": ["tags"], "added": added }), now).await?;
        tx.commit().await.map_err(db)?;
        Ok(view)
    }

    async fn remove_conversation_tags(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        names: Vec<String>,
    ) -> Result<ConversationView> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
        let mut removed = Vec::new();
        for name in &names {
            let done = sqlx::query(
                "DELETE FROM conversation_tags WHERE conversation_id = $1
                   AND tag_id IN (SELECT id FROM tags WHERE tenant_id = $2 AND name = $3)",
            )
            .bind(id.0)
            .bind(ctx.tenant.0)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
            if done > 0 {
                removed.push(name.as_str());
            }
        }
        let event = if removed.is_empty() {
            None
        } else {
            conv.updated_at = now;
            save(&mut tx, &conv).await?;
            Some(EventType::ConversationUpdated)
        };
        let view = finish(&mut tx, ctx, id, event, json!({ "changed": ["tags"], "removed": removed }), now).await?;
        tx.commit().await.map_err(db)?;
        Ok(view)
    }

    async fn add_conversation_tag_by_id(&self, ctx: &Ctx, id: ConversationId, tag: TagId) -> Result<ConversationView> {
        super::actions::add_tag_by_id(self, ctx, id, tag).await
    }

    async fn remove_conversation_tag_by_id(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        tag: TagId,
    ) -> Result<ConversationView> {
        super::actions::remove_tag_by_id(self, ctx, id, tag).await
    }

    async fn set_conversation_state(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        change: StateChange,
    ) -> Result<ConversationView> {
        super::actions::set_state(self, ctx, id, change).await
    }

    async fn set_conversation_contact_name(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        name: String,
    ) -> Result<ConversationView> {
        super::actions::set_contact_name(self, ctx, id, name).await
    }

    async fn request_contact_refetch(&self, ctx: &Ctx, id: ConversationId) -> Result<bool> {
        super::actions::request_refetch(self, ctx, id).await
    }

    async fn list_participants(&self, ctx: &Ctx, id: ConversationId) -> Result<Vec<Participant>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        exists(&mut conn, ctx.tenant, id).await?;
        super::participants::list(&mut conn, id).await
    }

    async fn list_notes(&self, ctx: &Ctx, id: ConversationId) -> Result<Vec<Note>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        exists(&mut conn, ctx.tenant, id).await?;
        let rows: Vec<(Uuid, String, String, Json<Actor>, i64)> = sqlx::query_as(
            "SELECT id, kind, body, author, created_at FROM notes WHERE conversation_id = $1 ORDER BY created_at, id",
        )
        .bind(id.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(nid, kind, body, author, created)| Note {
                id: NoteId(nid),
                conversation_id: id,
                kind: NoteKind::parse(&kind).unwrap_or(NoteKind::Manual),
                body,
                author: author.0,
                created_at: at(created),
            })
            .collect())
    }

    async fn add_note(&self, ctx: &Ctx, id: ConversationId, body: String) -> Result<Note> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        load_for_update(&mut tx, ctx.tenant, id).await?;
        let note = insert_note(&mut tx, ctx, id, NoteKind::Manual, &body, now).await?;
        let data = json!({ "noteId": note.id.0, "kind": note.kind.as_str(), "body": note.body });
        finish(&mut tx, ctx, id, Some(EventType::ConversationNoteAdded), data, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(note)
    }

    async fn conversation_events(&self, ctx: &Ctx, id: ConversationId, page: PageRequest) -> Result<Page<Event>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        exists(&mut conn, ctx.tenant, id).await?;
        let (limit, offset) = limit_offset(page);
        let rows: Vec<EventRow> = sqlx::query_as::<Db, EventRow>(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY seq LIMIT $3 OFFSET $4"
        ))
        .bind(ctx.tenant.0)
        .bind(id.0)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let (total,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM events WHERE tenant_id = $1 AND conversation_id = $2")
                .bind(ctx.tenant.0)
                .bind(id.0)
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
        Ok(Page { items: rows.into_iter().map(EventRow::into_event).collect::<Result<_>>()?, total: total as u64 })
    }

    async fn wake_snoozed(&self, now: Time, limit: u32) -> Result<u32> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let due: Vec<(Uuid, Uuid)> = sqlx::query_as(&format!(
            "SELECT id, tenant_id FROM conversations WHERE status = 'snoozed' AND snoozed_until <= $1
             ORDER BY snoozed_until LIMIT $2{FOR_UPDATE_SKIP_LOCKED}"
        ))
        .bind(us(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut woken = 0;
        for (id, tenant) in due {
            let ctx = Ctx { tenant: TenantId(tenant), actor: Actor::system() };
            let id = ConversationId(id);
            let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
            if rules::wake(&mut conv, now) {
                save(&mut tx, &conv).await?;
                let data = json!({ "changed": ["status"], "reason": "snooze_expired" });
                finish(&mut tx, &ctx, id, Some(EventType::ConversationUpdated), data, now).await?;
                woken += 1;
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(woken)
    }

    async fn next_snooze_due(&self) -> Result<Option<Time>> {
        let (next,): (Option<i64>,) =
            sqlx::query_as("SELECT MIN(snoozed_until) FROM conversations WHERE status = 'snoozed'")
                .fetch_one(&self.read)
                .await
                .map_err(db)?;
        Ok(next.map(at))
    }
}
