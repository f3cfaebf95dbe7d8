//! Groups of contacts. A group is created with its conversation (`conversation.created`, then
//! `group.created`); deleting it deletes that conversation and its messages (`conversation.deleted`,
//! then `group.deleted`). A `PUT` that changes something appends `group.updated` (one that changes
//! nothing appends no event). Each event is appended in the transaction of its change; the event has
//! no `conversation_id` (it is about the group).
//!
//! A group event's snapshot ([`snapshot`]) is the group as the store returns it (there is no model
//! struct to serialize): `{id, name, description, avatar_url, conversation_id, contacts,
//! archived_at, created_at, updated_at}`, times RFC 3339, each contact a contact snapshot
//! (`contacts.rs`: the contact with `protocol_conversation_id` and `protocol_last_active_at`). A
//! deleted group's snapshot is its state just before the deletion.

use super::conversations::{of_group, open};
use super::{contacts, cursor_anchor, emit, into_page, push_page};
use crate::dialect::{Db, FOR_UPDATE};
use crate::sql::conversations::{delete_in_tx, Conn};
use crate::sql::util::{at, at_opt, db, us, us_opt, Tx};
use confab_core::model::*;
use confab_core::{ContactId, ConversationId, Error, GroupId, Resource, Result, TenantId};
use confab_store::{Cursor, CursorList, Group, GroupPatch, NewGroup, ProtocolTarget};
use sqlx::{Pool, QueryBuilder};
use std::collections::HashMap;
use uuid::Uuid;

const SELECT: &str = "SELECT g.id, g.name, g.description, g.avatar_url, g.archived_at, g.created_at, g.updated_at,
    (SELECT c.id FROM conversations c WHERE c.group_id = g.id) AS conversation_id FROM contact_groups g";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    description: Option<String>,
    avatar_url: Option<String>,
    archived_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    conversation_id: Option<Uuid>,
}

/// A group event's snapshot (see the module doc).
pub(crate) fn snapshot(g: &Group) -> Result<serde_json::Value> {
    let contacts = g.contacts.iter().map(contacts::snapshot).collect::<Result<Vec<_>>>()?;
    Ok(serde_json::json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "avatar_url": g.avatar_url,
        "conversation_id": g.conversation_id,
        "contacts": contacts,
        "archived_at": g.archived_at,
        "created_at": g.created_at,
        "updated_at": g.updated_at,
    }))
}

/// Rows into groups with their members (one query for the members of the page, one for them).
async fn with_members(conn: &mut Conn, tenant: TenantId, rows: Vec<Row>) -> Result<Vec<Group>> {
    let mut members: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    if !rows.is_empty() {
        let mut q = QueryBuilder::<Db>::new("SELECT group_id, contact_id FROM group_members WHERE group_id IN (");
        let mut sep = q.separated(", ");
        for r in &rows {
            sep.push_bind(r.id);
        }
        q.push(") ORDER BY position");
        let pairs: Vec<(Uuid, Uuid)> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
        for (g, c) in pairs {
            members.entry(g).or_default().push(c);
        }
    }
    let all: Vec<Uuid> = members.values().flatten().copied().collect();
    let loaded = contacts::load(conn, tenant, &all).await?;
    Ok(rows
        .into_iter()
        .map(|r| Group {
            contacts: members
                .get(&r.id)
                .map(|ids| ids.iter().filter_map(|id| loaded.iter().find(|c| c.contact.id.0 == *id).cloned()).collect())
                .unwrap_or_default(),
            id: GroupId(r.id),
            name: r.name,
            description: r.description,
            avatar_url: r.avatar_url,
            conversation_id: r.conversation_id.map(ConversationId),
            archived_at: at_opt(r.archived_at),
            created_at: at(r.created_at),
            updated_at: at(r.updated_at),
        })
        .collect())
}

pub(crate) async fn load_one(conn: &mut Conn, tenant: TenantId, id: GroupId) -> Result<Group> {
    let row: Option<Row> = sqlx::query_as::<Db, Row>(&format!("{SELECT} WHERE g.tenant_id = $1 AND g.id = $2"))
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    let row = row.ok_or_else(|| Error::not_found(Resource::Group))?;
    Ok(with_members(conn, tenant, vec![row]).await?.pop().expect("one row in, one group out"))
}

pub(crate) async fn list(
    pool: &Pool<Db>,
    ctx: &Ctx,
    archived: Option<bool>,
    cursor: Cursor,
) -> Result<CursorList<Group>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    let anchor = cursor_anchor(&mut conn, "contact_groups", ctx.tenant, cursor, "group").await?;
    let mut q = QueryBuilder::<Db>::new(SELECT);
    q.push(" WHERE g.tenant_id = ").push_bind(ctx.tenant.0);
    match archived {
        Some(true) => {
            q.push(" AND g.archived_at IS NOT NULL");
        }
        Some(false) => {
            q.push(" AND g.archived_at IS NULL");
        }
        None => {}
    }
    push_page(&mut q, "g", cursor, anchor);
    let rows: Vec<Row> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
    let groups = with_members(&mut conn, ctx.tenant, rows).await?;
    Ok(into_page(groups, cursor))
}

/// Replaces the members; each must be a contact of the tenant (404 naming `contacts`).
async fn set_members(tx: &mut Tx, tenant: TenantId, group: GroupId, contacts: &[ContactId]) -> Result<()> {
    sqlx::query("DELETE FROM group_members WHERE group_id = $1").bind(group.0).execute(&mut **tx).await.map_err(db)?;
    let mut seen = Vec::new();
    for c in contacts {
        if seen.contains(c) {
            continue;
        }
        seen.push(*c);
        let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM contacts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(c.0)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
        if found.is_none() {
            return Err(Error::not_found_field(Resource::Contact, "contacts"));
        }
        sqlx::query("INSERT INTO group_members (group_id, contact_id, position) VALUES ($1, $2, $3)")
            .bind(group.0)
            .bind(c.0)
            .bind(seen.len() as i64)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

pub(crate) async fn create(pool: &Pool<Db>, ctx: &Ctx, new: NewGroup) -> Result<Group> {
    let now = confab_core::time::now();
    let id = GroupId(Uuid::now_v7());
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query(
        "INSERT INTO contact_groups (id, tenant_id, name, description, avatar_url, archived_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, NULL, $6, $6)",
    )
    .bind(id.0)
    .bind(ctx.tenant.0)
    .bind(&new.name)
    .bind(&new.description)
    .bind(&new.avatar_url)
    .bind(us(now))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    set_members(&mut tx, ctx.tenant, id, &new.contacts).await?;
    open(&mut tx, ctx, ProtocolTarget::Group(id), now).await?;
    let group = load_one(&mut tx, ctx.tenant, id).await?;
    emit(&mut tx, ctx, EventType::GroupCreated, id.0, None, snapshot(&group)?, serde_json::Value::Null, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(group)
}

async fn lock(tx: &mut Tx, tenant: TenantId, id: GroupId) -> Result<()> {
    let found: Option<(Uuid,)> =
        sqlx::query_as(&format!("SELECT id FROM contact_groups WHERE tenant_id = $1 AND id = $2{FOR_UPDATE}"))
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    found.map(|_| ()).ok_or_else(|| Error::not_found(Resource::Group))
}

pub(crate) async fn update(pool: &Pool<Db>, ctx: &Ctx, id: GroupId, p: GroupPatch) -> Result<Group> {
    let now = confab_core::time::now();
    let mut tx = pool.begin().await.map_err(db)?;
    lock(&mut tx, ctx.tenant, id).await?;
    let before = load_one(&mut tx, ctx.tenant, id).await?;
    let mut q = QueryBuilder::<Db>::new("UPDATE contact_groups SET updated_at = ");
    q.push_bind(us(now));
    if let Some(name) = &p.name {
        q.push(", name = ").push_bind(name.clone());
    }
    if let Some(d) = &p.description {
        q.push(", description = ").push_bind(d.clone());
    }
    if let Some(a) = &p.avatar_url {
        q.push(", avatar_url = ").push_bind(a.clone());
    }
    if let Some(a) = p.archived_at {
        q.push(", archived_at = ").push_bind(us_opt(a));
    }
    q.push(" WHERE tenant_id = ").push_bind(ctx.tenant.0).push(" AND id = ").push_bind(id.0);
    q.build().execute(&mut *tx).await.map_err(db)?;
    if let Some(contacts) = &p.contacts {
        set_members(&mut tx, ctx.tenant, id, contacts).await?;
    }
    let group = load_one(&mut tx, ctx.tenant, id).await?;
    let mut changed = Vec::new();
    if group.name != before.name {
        changed.push("name");
    }
    if group.description != before.description {
        changed.push("description");
    }
    if group.avatar_url != before.avatar_url {
        changed.push("avatar_url");
    }
    if group.archived_at != before.archived_at {
        changed.push("archived_at");
    }
    let members = |g: &Group| g.contacts.iter().map(|c| c.contact.id).collect::<Vec<_>>();
    if members(&group) != members(&before) {
        changed.push("contacts");
    }
    if changed.is_empty() {
        // Nothing changed: the group stays as it was (not even its update time moves).
        tx.rollback().await.map_err(db)?;
        return Ok(before);
    }
    let data = serde_json::json!({ "changed": changed });
    emit(&mut tx, ctx, EventType::GroupUpdated, id.0, None, snapshot(&group)?, data, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(group)
}

pub(crate) async fn delete(pool: &Pool<Db>, ctx: &Ctx, id: GroupId) -> Result<()> {
    let now = confab_core::time::now();
    let mut tx = pool.begin().await.map_err(db)?;
    lock(&mut tx, ctx.tenant, id).await?;
    let last = snapshot(&load_one(&mut tx, ctx.tenant, id).await?)?;
    if let Some(conv) = of_group(&mut tx, id).await? {
        delete_in_tx(&mut tx, ctx, ConversationId(conv), Some("group deleted".into()), now).await?;
    }
    sqlx::query("DELETE FROM contact_groups WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tenant.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    emit(&mut tx, ctx, EventType::GroupDeleted, id.0, None, last, serde_json::Value::Null, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(())
}
