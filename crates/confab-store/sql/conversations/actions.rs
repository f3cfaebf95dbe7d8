//! Conversation operations beyond the lifecycle of `lifecycle.rs`, first needed by the Airy face
//! and open to any: tags by id, the state label, the contact's name, and a request that connectors
//! re-fetch the contact's profile. Each is one transaction that locks the conversation first (the
//! order every operation follows), applies the change, and appends its one event, or none when
//! nothing changed.

use super::participants::add_participant;
use super::{finish, load_for_update, save};
use crate::sql::contacts::{create_in_tx, load_for_update as load_contact, rename_in_tx};
use crate::sql::events::append;
use crate::sql::util::{db, Tx};
use crate::SqlStore;
use confab_core::model::*;
use confab_core::rules::conversation as rules;
use confab_core::{time, ConversationId, Error, Resource, Result, TagId};
use serde_json::json;

/// The name of a tag of the tenant, read in the transaction; `None` when there is no such tag.
async fn tag_name(tx: &mut Tx, ctx: &Ctx, tag: TagId) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT name FROM tags WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tenant.0)
        .bind(tag.0)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    Ok(row.map(|(name,)| name))
}

pub(super) async fn add_tag_by_id(
    store: &SqlStore,
    ctx: &Ctx,
    id: ConversationId,
    tag: TagId,
) -> Result<ConversationView> {
    let now = time::now();
    let mut tx = store.write.begin().await.map_err(db)?;
    let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
    let name = tag_name(&mut tx, ctx, tag).await?.ok_or_else(|| Error::not_found(Resource::Tag))?;
    let (max,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(position) FROM conversation_tags WHERE conversation_id = $1")
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
    let added = sqlx::query(
        "INSERT INTO conversation_tags (conversation_id, tag_id, position) VALUES ($1, $2, $3)
         ON CONFLICT (conversation_id, tag_id) DO NOTHING",
    )
    .bind(id.0)
    .bind(tag.0)
    .bind(max.map_or(0, |m| m + 1))
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected()
        > 0;
    let event = if added {
        conv.updated_at = now;
        save(&mut tx, &conv).await?;
        Some(EventType::ConversationUpdated)
    } else {
        None
    };
    let view = finish(&mut tx, ctx, id, event, json!({ "changed": ["tags"], "added": [name] }), now).await?;
    tx.commit().await.map_err(db)?;
    Ok(view)
}

pub(super) async fn remove_tag_by_id(
    store: &SqlStore,
    ctx: &Ctx,
    id: ConversationId,
    tag: TagId,
) -> Result<ConversationView> {
    let now = time::now();
    let mut tx = store.write.begin().await.map_err(db)?;
    let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
    let name = tag_name(&mut tx, ctx, tag).await?;
    let removed = sqlx::query("DELETE FROM conversation_tags WHERE conversation_id = $1 AND tag_id = $2")
        .bind(id.0)
        .bind(tag.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
        > 0;
    let event = if removed {
        conv.updated_at = now;
        save(&mut tx, &conv).await?;
        Some(EventType::ConversationUpdated)
    } else {
        None
    };
    let view = finish(&mut tx, ctx, id, event, json!({ "changed": ["tags"], "removed": [name] }), now).await?;
    tx.commit().await.map_err(db)?;
    Ok(view)
}

pub(super) async fn set_state(
    store: &SqlStore,
    ctx: &Ctx,
    id: ConversationId,
    change: StateChange,
) -> Result<ConversationView> {
    let now = time::now();
    let mut tx = store.write.begin().await.map_err(db)?;
    let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
    let before = conv.clone();
    let event = rules::set_state(&mut conv, &change, &ctx.actor, now)?;
    let mut changed = Vec::new();
    if conv.status != before.status {
        changed.push("status");
    }
    if conv.state_label != before.state_label {
        changed.push("stateLabel");
    }
    if event.is_some() {
        // A reopen may meet the one-active rule here: 409 `CONVERSATION_EXISTS`.
        save(&mut tx, &conv).await?;
    }
    let data = json!({ "changed": changed, "stateLabel": conv.state_label });
    let view = finish(&mut tx, ctx, id, event, data, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(view)
}

pub(super) async fn set_contact_name(
    store: &SqlStore,
    ctx: &Ctx,
    id: ConversationId,
    name: String,
) -> Result<ConversationView> {
    let now = time::now();
    let mut tx = store.write.begin().await.map_err(db)?;
    let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
    let view = match conv.contact_id {
        Some(contact) => {
            rename_in_tx(&mut tx, ctx, contact, &name, now).await?;
            finish(&mut tx, ctx, id, None, serde_json::Value::Null, now).await?
        }
        None => {
            let new = NewContact {
                name: Some(name),
                first_name: None,
                last_name: None,
                username: None,
                display_name: None,
                phone: None,
                email: None,
                avatar_url: None,
                company: None,
                job_title: None,
                tier: None,
                status: None,
                tags: Vec::new(),
                metadata: JsonMap::new(),
            };
            let contact = create_in_tx(&mut tx, ctx, new, now).await?;
            conv.contact_id = Some(contact.id);
            conv.updated_at = now;
            save(&mut tx, &conv).await?;
            add_participant(&mut tx, id, ActorKind::Contact, contact.id.0, now).await?;
            let data = json!({ "changed": ["contact"] });
            finish(&mut tx, ctx, id, Some(EventType::ConversationUpdated), data, now).await?
        }
    };
    tx.commit().await.map_err(db)?;
    Ok(view)
}

pub(super) async fn request_refetch(store: &SqlStore, ctx: &Ctx, id: ConversationId) -> Result<bool> {
    let now = time::now();
    let mut tx = store.write.begin().await.map_err(db)?;
    let conv = load_for_update(&mut tx, ctx.tenant, id).await?;
    let Some(contact) = conv.contact_id else {
        return Ok(false);
    };
    let contact = load_contact(&mut tx, ctx.tenant, contact).await?;
    let event = NewEvent {
        event_type: EventType::ContactRefetchRequested,
        subject_id: contact.id.0,
        conversation_id: Some(id),
        snapshot: serde_json::to_value(&contact).map_err(Error::internal)?,
        data: json!({ "conversationId": id, "channelId": conv.channel_id.map(|c| c.0) }),
    };
    append(&mut tx, ctx.tenant, &ctx.actor, event, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(true)
}
