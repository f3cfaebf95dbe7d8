//! Contacts. Phone and email are unique per tenant (unique indexes); a violation is 409
//! `CONTACT_EXISTS` naming the field. The list's `search` finds a contact when every word of it
//! (a prefix, full text: `sql/search.rs`) is in its name or display name, or when the whole search
//! as typed is part of its email or phone (identifiers: substring, case-insensitive, not indexed). Deleting a contact keeps its conversations, without a contact,
//! each with a `conversation.updated` event.

use super::events::append;
use super::protocol::contacts::Extras;
use super::search::{query_words, Target};
use super::util::{at, db, like_pattern, limit_offset, unique_violation, us, Tx};
use crate::dialect::{push_matching, Db, FOR_UPDATE};
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::*;
use confab_core::rules::{contact::derived_name, metadata::deep_merge};
use confab_core::{time, ContactId, ConversationId, Error, Resource, Result, TenantId, Time};
use confab_store::ContactStore;
use sqlx::types::Json;
use sqlx::QueryBuilder;
use uuid::Uuid;

pub(crate) const COLUMNS: &str =
    "id, tenant_id, name, first_name, last_name, username, display_name, phone, email, avatar_url,
    company, job_title, tier, status, tags, metadata, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ContactRow {
    id: Uuid,
    tenant_id: Uuid,
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
    display_name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    avatar_url: Option<String>,
    company: Option<String>,
    job_title: Option<String>,
    tier: Option<String>,
    status: Option<String>,
    tags: Json<Vec<String>>,
    metadata: Json<JsonMap>,
    created_at: i64,
    updated_at: i64,
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Self {
        Contact {
            id: ContactId(r.id),
            tenant_id: TenantId(r.tenant_id),
            name: r.name,
            first_name: r.first_name,
            last_name: r.last_name,
            username: r.username,
            display_name: r.display_name,
            phone: r.phone,
            email: r.email,
            avatar_url: r.avatar_url,
            company: r.company,
            job_title: r.job_title,
            tier: r.tier,
            status: r.status,
            tags: r.tags.0,
            metadata: r.metadata.0,
            created_at: at(r.created_at),
            updated_at: at(r.updated_at),
        }
    }
}

/// 409 `CONTACT_EXISTS` naming `phone` or `email`, from a unique violation.
fn contact_conflict(e: sqlx::Error) -> Error {
    match unique_violation(&e) {
        Some(c) => {
            let field = if c.contains("phone") { "phone" } else { "email" };
            Error::Conflict {
                code: "CONTACT_EXISTS",
                message: format!("A contact with this {field} already exists."),
                field: Some(field.into()),
            }
        }
        None => db(e),
    }
}

fn build(ctx: &Ctx, new: NewContact, now: Time) -> Contact {
    let name = new.name.clone().or_else(|| {
        derived_name(
            new.first_name.as_deref(),
            new.last_name.as_deref(),
            new.display_name.as_deref(),
            new.username.as_deref(),
        )
    });
    Contact {
        id: ContactId::new(),
        tenant_id: ctx.tenant,
        name,
        first_name: new.first_name,
        last_name: new.last_name,
        username: new.username,
        display_name: new.display_name,
        phone: new.phone,
        email: new.email,
        avatar_url: new.avatar_url,
        company: new.company,
        job_title: new.job_title,
        tier: new.tier,
        status: new.status,
        tags: new.tags,
        metadata: new.metadata,
        created_at: now,
        updated_at: now,
    }
}

/// Inserts `c`; with `on_conflict_nothing`, a phone or email already taken inserts nothing and
/// returns `false` (the caller then finds the existing contact).
async fn insert(tx: &mut Tx, c: &Contact, on_conflict_nothing: bool) -> Result<bool> {
    let sql = format!(
        "INSERT INTO contacts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18){}",
        if on_conflict_nothing { " ON CONFLICT DO NOTHING" } else { "" }
    );
    let done = sqlx::query(&sql)
        .bind(c.id.0)
        .bind(c.tenant_id.0)
        .bind(&c.name)
        .bind(&c.first_name)
        .bind(&c.last_name)
        .bind(&c.username)
        .bind(&c.display_name)
        .bind(&c.phone)
        .bind(&c.email)
        .bind(&c.avatar_url)
        .bind(&c.company)
        .bind(&c.job_title)
        .bind(&c.tier)
        .bind(&c.status)
        .bind(Json(&c.tags))
        .bind(Json(&c.metadata))
        .bind(us(c.created_at))
        .bind(us(c.updated_at))
        .execute(&mut **tx)
        .await
        .map_err(contact_conflict)?;
    Ok(done.rows_affected() == 1)
}

/// Appends a contact event; its snapshot is the contact with the keys Protocol's webhook payload
/// needs (`sql/protocol/contacts.rs`, [`Extras`]), read now.
async fn emit(tx: &mut Tx, ctx: &Ctx, c: &Contact, event_type: EventType, now: Time) -> Result<()> {
    let extras = super::protocol::contacts::extras(tx, ctx.tenant, c.id).await?;
    emit_with(tx, ctx, c, event_type, extras, now).await
}

async fn emit_with(
    tx: &mut Tx,
    ctx: &Ctx,
    c: &Contact,
    event_type: EventType,
    extras: Extras,
    now: Time,
) -> Result<()> {
    let mut snapshot = serde_json::to_value(c).map_err(Error::internal)?;
    extras.add_to(&mut snapshot)?;
    let event =
        NewEvent { event_type, subject_id: c.id.0, conversation_id: None, snapshot, data: serde_json::Value::Null };
    append(tx, ctx.tenant, &ctx.actor, event, now).await
}

/// Deletes a contact inside the caller's transaction (see [`ContactStore::delete_contact`]);
/// `extras`, when given, are the Protocol keys of its snapshot (read by a caller that deletes its
/// Protocol conversation first), else they are read before the deletion.
pub(crate) async fn delete_in_tx(
    tx: &mut Tx,
    ctx: &Ctx,
    id: ContactId,
    extras: Option<Extras>,
    now: Time,
) -> Result<()> {
    let c = load_for_update(tx, ctx.tenant, id).await?;
    let extras = match extras {
        Some(e) => e,
        None => super::protocol::contacts::extras(tx, ctx.tenant, id).await?,
    };
    // Its conversations remain without a contact (the foreign key sets it to null): each is
    // locked first (in id order, as every multi-row lock), then touched with its own event.
    let conversations: Vec<(Uuid,)> = sqlx::query_as(&format!(
        "SELECT id FROM conversations WHERE tenant_id = $1 AND contact_id = $2 ORDER BY id{FOR_UPDATE}"
    ))
    .bind(ctx.tenant.0)
    .bind(id.0)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tenant.0)
        .bind(id.0)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    emit_with(tx, ctx, &c, EventType::ContactDeleted, extras, now).await?;
    let data = serde_json::json!({ "changed": ["contact"], "previousContactId": id });
    for (conversation,) in conversations {
        touch_conversation(tx, ctx, ConversationId(conversation), data.clone(), now).await?;
    }
    Ok(())
}

/// A contact of the tenant, locked on PostgreSQL. 404 `CONTACT_NOT_FOUND`.
pub(crate) async fn load_for_update(tx: &mut Tx, tenant: TenantId, id: ContactId) -> Result<Contact> {
    let row: Option<ContactRow> = sqlx::query_as::<Db, ContactRow>(&format!(
        "SELECT {COLUMNS} FROM contacts WHERE tenant_id = $1 AND id = $2{FOR_UPDATE}"
    ))
    .bind(tenant.0)
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    row.map(Into::into).ok_or_else(|| Error::not_found(Resource::Contact))
}

/// Marks a conversation changed by a change of something it refers to (a deleted contact, bot or
/// tag): a new `updated_at` and a `conversation.updated` event with its snapshot after the change.
/// The caller has locked the conversation.
pub(super) async fn touch_conversation(
    tx: &mut Tx,
    ctx: &Ctx,
    id: ConversationId,
    data: serde_json::Value,
    now: Time,
) -> Result<()> {
    sqlx::query("UPDATE conversations SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tenant.0)
        .bind(id.0)
        .bind(us(now))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    super::conversations::finish(tx, ctx, id, Some(EventType::ConversationUpdated), data, now).await?;
    Ok(())
}

/// Renames a contact inside the caller's transaction (`contact.updated`; none when the name is
/// the one it has).
pub(crate) async fn rename_in_tx(tx: &mut Tx, ctx: &Ctx, id: ContactId, name: &str, now: Time) -> Result<Contact> {
    let mut c = load_for_update(tx, ctx.tenant, id).await?;
    if c.name.as_deref() == Some(name) {
        // The name it has: nothing changes, no event.
        return Ok(c);
    }
    c.name = Some(name.to_string());
    c.updated_at = now;
    sqlx::query("UPDATE contacts SET name = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tenant.0)
        .bind(id.0)
        .bind(&c.name)
        .bind(us(now))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    emit(tx, ctx, &c, EventType::ContactUpdated, now).await?;
    Ok(c)
}

/// Creates a contact inside the caller's transaction (`contact.created`).
pub(crate) async fn create_in_tx(tx: &mut Tx, ctx: &Ctx, new: NewContact, now: Time) -> Result<Contact> {
    let contact = build(ctx, new, now);
    insert(tx, &contact, false).await?;
    emit(tx, ctx, &contact, EventType::ContactCreated, now).await?;
    Ok(contact)
}

/// The contact of the tenant with this phone, else this email, created when there is none (an
/// inline contact on conversation create). Safe under concurrent creates of the same contact.
pub(crate) async fn find_or_create_inline(tx: &mut Tx, ctx: &Ctx, new: NewContact, now: Time) -> Result<ContactId> {
    async fn find(
        tx: &mut Tx,
        tenant: TenantId,
        phone: Option<&str>,
        email: Option<&str>,
    ) -> Result<Option<ContactId>> {
        for (column, value) in [("phone", phone), ("email", email)] {
            let Some(value) = value else { continue };
            let found: Option<(Uuid,)> =
                sqlx::query_as(&format!("SELECT id FROM contacts WHERE tenant_id = $1 AND {column} = $2"))
                    .bind(tenant.0)
                    .bind(value)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db)?;
            if let Some((id,)) = found {
                return Ok(Some(ContactId(id)));
            }
        }
        Ok(None)
    }
    let (phone, email) = (new.phone.clone(), new.email.clone());
    if let Some(id) = find(tx, ctx.tenant, phone.as_deref(), email.as_deref()).await? {
        return Ok(id);
    }
    let contact = build(ctx, new, now);
    if insert(tx, &contact, true).await? {
        emit(tx, ctx, &contact, EventType::ContactCreated, now).await?;
        return Ok(contact.id);
    }
    // A concurrent request created it meanwhile: its row is committed and visible now.
    find(tx, ctx.tenant, phone.as_deref(), email.as_deref())
        .await?
        .ok_or_else(|| Error::internal("contact vanished after a conflicting insert"))
}

#[async_trait]
impl ContactStore for SqlStore {
    async fn create_contact(&self, ctx: &Ctx, new: NewContact) -> Result<Contact> {
        let now = time::now();
        let contact = build(ctx, new, now);
        let mut tx = self.write.begin().await.map_err(db)?;
        insert(&mut tx, &contact, false).await?;
        emit(&mut tx, ctx, &contact, EventType::ContactCreated, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(contact)
    }

    async fn list_contacts(&self, ctx: &Ctx, f: &ContactFilter, page: PageRequest) -> Result<Page<Contact>> {
        let words = query_words(f.search.as_deref())?;
        let mut rows_q = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM contacts WHERE tenant_id = "));
        let mut count_q = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM contacts WHERE tenant_id = ");
        for q in [&mut rows_q, &mut count_q] {
            q.push_bind(ctx.tenant.0);
            if let (Some(words), Some(search)) = (&words, f.search.as_deref()) {
                // Every word (a prefix) in the name or display name, through the full-text index; or
                // the whole search, as typed, inside the email or the phone (identifiers, matched
                // by substring: `acme.io`, `+1415`). The words' matches are sets (each found once
                // through the index), so that the scan the LIKEs need costs no per-row text work.
                let p = like_pattern(search.trim());
                q.push(" AND ((");
                for (i, word) in words.iter().enumerate() {
                    q.push(if i == 0 { "id IN (" } else { " AND id IN (" });
                    push_matching(q, Target::ContactNames, "id", ctx.tenant.0, word);
                    q.push(")");
                }
                q.push(") OR email LIKE ")
                    .push_bind(p.clone())
                    .push(" ESCAPE '\\' OR phone LIKE ")
                    .push_bind(p)
                    .push(" ESCAPE '\\')");
            }
            if let Some(t) = &f.tier {
                q.push(" AND tier = ").push_bind(t.clone());
            }
            if let Some(s) = &f.status {
                q.push(" AND status = ").push_bind(s.clone());
            }
            for tag in &f.tags {
                // Tags are a JSON array of strings; its text holds each tag as a JSON string. Both
                // sides are lower-cased (the pattern by `like_pattern`), so tags match alike on both
                // engines (PostgreSQL's LIKE is case-sensitive, SQLite's is not).
                let quoted = serde_json::Value::String(tag.clone()).to_string();
                q.push(" AND lower(CAST(tags AS TEXT)) LIKE ").push_bind(like_pattern(&quoted)).push(" ESCAPE '\\'");
            }
        }
        let (limit, offset) = limit_offset(page);
        rows_q.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
        let rows: Vec<ContactRow> = rows_q.build_query_as().fetch_all(&self.read).await.map_err(db)?;
        let (total,): (i64,) = count_q.build_query_as().fetch_one(&self.read).await.map_err(db)?;
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), total: total as u64 })
    }

    async fn get_contact(&self, ctx: &Ctx, id: ContactId) -> Result<Contact> {
        let row: Option<ContactRow> = sqlx::query_as::<Db, ContactRow>(&format!(
            "SELECT {COLUMNS} FROM contacts WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(ctx.tenant.0)
        .bind(id.0)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        row.map(Into::into).ok_or_else(|| Error::not_found(Resource::Contact))
    }

    async fn update_contact(&self, ctx: &Ctx, id: ContactId, p: ContactPatch) -> Result<Contact> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut c = load_for_update(&mut tx, ctx.tenant, id).await?;
        macro_rules! set {
            ($($field:ident),*) => {$( if let Some(v) = p.$field { c.$field = v; } )*};
        }
        set!(
            name,
            first_name,
            last_name,
            username,
            display_name,
            phone,
            email,
            avatar_url,
            company,
            job_title,
            tier,
            status
        );
        if c.name.is_none() {
            // A cleared (or never given) name shows the derived one, as on create.
            c.name = derived_name(
                c.first_name.as_deref(),
                c.last_name.as_deref(),
                c.display_name.as_deref(),
                c.username.as_deref(),
            );
        }
        if let Some(tags) = p.tags {
            c.tags = tags;
        }
        if let Some(meta) = &p.metadata {
            deep_merge(&mut c.metadata, meta);
        }
        c.updated_at = now;
        sqlx::query(
            "UPDATE contacts SET name = $3, first_name = $4, last_name = $5, username = $6, display_name = $7, phone = $8,
                email = $9, avatar_url = $10, company = $11, job_title = $12, tier = $13, status = $14, tags = $15,
                metadata = $16, updated_at = $17
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(ctx.tenant.0)
        .bind(id.0)
        .bind(&c.name)
        .bind(&c.first_name)
        .bind(&c.last_name)
        .bind(&c.username)
        .bind(&c.display_name)
        .bind(&c.phone)
        .bind(&c.email)
        .bind(&c.avatar_url)
        .bind(&c.company)
        .bind(&c.job_title)
        .bind(&c.tier)
        .bind(&c.status)
        .bind(Json(&c.tags))
        .bind(Json(&c.metadata))
        .bind(us(now))
        .execute(&mut *tx)
        .await
        .map_err(contact_conflict)?;
        emit(&mut tx, ctx, &c, EventType::ContactUpdated, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(c)
    }

    async fn delete_contact(&self, ctx: &Ctx, id: ContactId) -> Result<()> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        delete_in_tx(&mut tx, ctx, id, None, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }
}
