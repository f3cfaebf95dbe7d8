//! Participants: the contact, every user or bot that was assigned the conversation, its bot.
//! Recorded when they join (creation, assignment, transfer) and kept after they leave: unassigning
//! does not remove the agent who handled the conversation.

use super::Conn;
use crate::sql::util::{db, us, Tx};
use confab_core::model::{ActorKind, Assignee, Participant};
use confab_core::{ConversationId, Error, Resource, Result, TenantId, Time};
use uuid::Uuid;

/// Finds the user or bot `id` of the tenant. With no `kind`, users are looked up first, then bots
/// (ids are UUIDs, unique across both). 404 `ASSIGNEE_NOT_FOUND` (or `BOT_NOT_FOUND` when a bot was
/// asked for), naming `field`.
pub(crate) async fn resolve_assignee(
    tx: &mut Tx,
    tenant: TenantId,
    id: Uuid,
    kind: Option<ActorKind>,
    field: &str,
) -> Result<Assignee> {
    if kind.is_none() || kind == Some(ActorKind::User) {
        let user: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
        if user.is_some() {
            return Ok(Assignee { kind: ActorKind::User, id });
        }
    }
    if kind.is_none() || kind == Some(ActorKind::Bot) {
        let bot: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM bots WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
        if bot.is_some() {
            return Ok(Assignee { kind: ActorKind::Bot, id });
        }
        if kind == Some(ActorKind::Bot) {
            return Err(Error::not_found_field(Resource::Bot, field));
        }
    }
    Err(Error::not_found_field(Resource::Assignee, field))
}

/// Records that `kind`/`id` took part in the conversation (idempotent).
pub(crate) async fn add_participant(
    tx: &mut Tx,
    conversation: ConversationId,
    kind: ActorKind,
    id: Uuid,
    now: Time,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO conversation_participants (conversation_id, participant_type, participant_id, joined_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id, participant_type, participant_id) DO NOTHING",
    )
    .bind(conversation.0)
    .bind(kind.as_str())
    .bind(id)
    .bind(us(now))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// The participants, contact first, then users and bots in the order they joined. A participant
/// deleted since (a contact, a bot) is left out: there is nothing left to show of it.
pub(crate) async fn list(conn: &mut Conn, conversation: ConversationId) -> Result<Vec<Participant>> {
    type Row = (String, Uuid, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.participant_type, p.participant_id,
                COALESCE(u.name, b.name, ct.name), COALESCE(u.email, ct.email), ct.phone
         FROM conversation_participants p
         LEFT JOIN users u ON p.participant_type = 'user' AND u.id = p.participant_id
         LEFT JOIN bots b ON p.participant_type = 'bot' AND b.id = p.participant_id
         LEFT JOIN contacts ct ON p.participant_type = 'contact' AND ct.id = p.participant_id
         WHERE p.conversation_id = $1 AND (u.id IS NOT NULL OR b.id IS NOT NULL OR ct.id IS NOT NULL)
         ORDER BY CASE p.participant_type WHEN 'contact' THEN 0 WHEN 'user' THEN 1 ELSE 2 END, p.joined_at, p.participant_id",
    )
    .bind(conversation.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, id, name, email, phone)| {
            let kind = ActorKind::parse(&kind)?;
            let role = match kind {
                ActorKind::Contact => "customer",
                ActorKind::User => "agent",
                _ => "bot",
            };
            Some(Participant { kind, id, name, email, phone, role: role.to_string() })
        })
        .collect())
}
