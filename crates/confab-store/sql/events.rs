//! Appending to the event log (inside the caller's transaction) and reading it back.

use super::util::{at, db, Tx};
use crate::dialect::{self, Db};
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::{Actor, Event, EventType, NewEvent};
use confab_core::{ConversationId, Result, TenantId, Time};
use confab_store::EventStore;
use sqlx::types::Json;
use uuid::Uuid;

/// Appends one event in the caller's transaction.
pub(crate) async fn append(tx: &mut Tx, tenant: TenantId, actor: &Actor, event: NewEvent, now: Time) -> Result<()> {
    let sql = format!(
        "INSERT INTO events (id, position, tenant_id, event_type, subject_id, conversation_id, actor, snapshot, data, created_at)
         VALUES ($1, {}, $2, $3, $4, $5, $6, $7, $8, $9)",
        dialect::POSITION_AT_INSERT
    );
    sqlx::query(&sql)
        .bind(Uuid::now_v7())
        .bind(tenant.0)
        .bind(event.event_type.as_str())
        .bind(event.subject_id)
        .bind(event.conversation_id.map(|c| c.0))
        .bind(Json(actor))
        .bind(Json(&event.snapshot))
        .bind(Json(&event.data))
        .bind(super::util::us(now))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

/// The columns [`EventRow`] reads.
pub(crate) const EVENT_COLUMNS: &str =
    "id, position, tenant_id, event_type, subject_id, conversation_id, actor, snapshot, data, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    id: Uuid,
    position: Option<i64>,
    tenant_id: Uuid,
    event_type: String,
    subject_id: Uuid,
    conversation_id: Option<Uuid>,
    actor: Json<Actor>,
    snapshot: Json<serde_json::Value>,
    data: Json<serde_json::Value>,
    created_at: i64,
}

impl EventRow {
    pub(crate) fn into_event(self) -> Result<Event> {
        let event_type = EventType::parse(&self.event_type)
            .ok_or_else(|| confab_core::Error::internal(format!("unknown event type {}", self.event_type)))?;
        Ok(Event {
            id: self.id,
            position: self.position,
            tenant_id: TenantId(self.tenant_id),
            event_type,
            subject_id: self.subject_id,
            conversation_id: self.conversation_id.map(ConversationId),
            actor: self.actor.0,
            snapshot: self.snapshot.0,
            data: self.data.0,
            created_at: at(self.created_at),
        })
    }
}

#[async_trait]
impl EventStore for SqlStore {
    async fn assign_event_positions(&self) -> Result<u64> {
        dialect::assign_event_positions(&self.write).await
    }

    async fn events_after(&self, tenant: TenantId, after: i64, limit: u32) -> Result<Vec<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND position > $2 ORDER BY position LIMIT $3"
        );
        let rows: Vec<EventRow> = sqlx::query_as::<Db, EventRow>(&sql)
            .bind(tenant.0)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        rows.into_iter().map(EventRow::into_event).collect()
    }

    async fn latest_event_position(&self) -> Result<i64> {
        let (p,): (Option<i64>,) = sqlx::query_as::<Db, (Option<i64>,)>("SELECT MAX(position) FROM events")
            .fetch_one(&self.read)
            .await
            .map_err(db)?;
        Ok(p.unwrap_or(0))
    }

    async fn listen_for_events(&self, on_event: &(dyn Fn() + Send + Sync)) -> Result<()> {
        dialect::listen_for_events(&self.write, on_event).await
    }
}
