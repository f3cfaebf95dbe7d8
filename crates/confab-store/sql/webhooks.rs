//! Webhook subscriptions and the delivery outbox. The dispatcher turns events into delivery rows
//! (moving the subscription's cursor in the same transaction); senders claim due rows by pushing
//! their `next_attempt_at` a lease ahead (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and commit before
//! the HTTP call, so no transaction is held across it.

use super::events::{EventRow, EVENT_COLUMNS};
use super::util::{at, db, limit_offset, us};
use crate::dialect::{Db, FOR_UPDATE, FOR_UPDATE_SKIP_LOCKED};
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::{Ctx, Event, JsonMap, Page, PageRequest};
use confab_core::{Error, Resource, Result, TenantId, Time};
use confab_store::{DeliveryAttempt, NewWebhook, Webhook, WebhookDelivery, WebhookFilter, WebhookPatch, WebhookStore};
use sqlx::types::Json;
use uuid::Uuid;

const SUB_COLUMNS: &str =
    "id, tenant_id, url, events, description, headers, secret, status, max_retries, timeout_secs, \
     format, cursor_position, created_at, updated_at, name, backoff";
const DELIVERY_COLUMNS: &str = "id, subscription_id, event_id, event_position, event_type, conversation_id, attempts, \
     status, next_attempt_at, last_response_status, last_error, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct SubRow {
    id: Uuid,
    tenant_id: Uuid,
    url: String,
    events: Json<Vec<String>>,
    description: Option<String>,
    headers: Json<JsonMap>,
    secret: String,
    status: String,
    max_retries: i64,
    timeout_secs: i64,
    format: String,
    cursor_position: i64,
    created_at: i64,
    updated_at: i64,
    name: Option<String>,
    backoff: String,
}

impl SubRow {
    fn into_webhook(self) -> Webhook {
        Webhook {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            url: self.url,
            events: self.events.0,
            description: self.description,
            name: self.name,
            headers: self.headers.0,
            secret: self.secret,
            status: self.status,
            max_retries: self.max_retries,
            timeout_secs: self.timeout_secs,
            backoff: self.backoff,
            format: self.format,
            cursor_position: self.cursor_position,
            created_at: at(self.created_at),
            updated_at: at(self.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    subscription_id: Uuid,
    event_id: Uuid,
    event_position: i64,
    event_type: String,
    conversation_id: Option<Uuid>,
    attempts: i64,
    status: String,
    next_attempt_at: i64,
    last_response_status: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl DeliveryRow {
    fn into_delivery(self) -> WebhookDelivery {
        WebhookDelivery {
            id: self.id,
            subscription_id: self.subscription_id,
            event_id: self.event_id,
            event_position: self.event_position,
            event_type: self.event_type,
            conversation_id: self.conversation_id,
            attempts: self.attempts,
            status: self.status,
            next_attempt_at: at(self.next_attempt_at),
            last_response_status: self.last_response_status,
            last_error: self.last_error,
            created_at: at(self.created_at),
            updated_at: at(self.updated_at),
        }
    }
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_webhook(&self, ctx: &Ctx, new: NewWebhook) -> Result<Webhook> {
        let now = us(confab_core::time::now());
        let id = Uuid::now_v7();
        // Events committed before now but not yet positioned (PostgreSQL's relay runs apart) are
        // positioned first, so that the cursor below starts after them.
        crate::dialect::assign_event_positions(&self.write).await?;
        let (cursor,): (Option<i64>,) =
            sqlx::query_as::<Db, (Option<i64>,)>("SELECT MAX(position) FROM events WHERE tenant_id = $1")
                .bind(ctx.tenant.0)
                .fetch_one(&self.write)
                .await
                .map_err(db)?;
        sqlx::query(&format!(
            "INSERT INTO webhook_subscriptions ({SUB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10, $11, $12, $12, $13, $14)"
        ))
        .bind(id)
        .bind(ctx.tenant.0)
        .bind(&new.url)
        .bind(Json(&new.events))
        .bind(&new.description)
        .bind(Json(&new.headers))
        .bind(&new.secret)
        .bind(new.max_retries)
        .bind(new.timeout_secs)
        .bind(&new.format)
        .bind(cursor.unwrap_or(0))
        .bind(now)
        .bind(&new.name)
        .bind(&new.backoff)
        .execute(&self.write)
        .await
        .map_err(db)?;
        self.get_webhook(ctx, id).await
    }

    async fn list_webhooks(&self, ctx: &Ctx, filter: &WebhookFilter, page: PageRequest) -> Result<Page<Webhook>> {
        let (limit, offset) = limit_offset(page);
        let status = filter.active.map(|a| if a { "active" } else { "inactive" });
        let cond = "tenant_id = $1 AND ($2 IS NULL OR format = $2) AND ($3 IS NULL OR status = $3)";
        let rows: Vec<SubRow> = sqlx::query_as::<Db, SubRow>(&format!(
            "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
        ))
        .bind(ctx.tenant.0)
        .bind(&filter.format)
        .bind(status)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        let (total,): (i64,) =
            sqlx::query_as::<Db, (i64,)>(&format!("SELECT COUNT(*) FROM webhook_subscriptions WHERE {cond}"))
                .bind(ctx.tenant.0)
                .bind(&filter.format)
                .bind(status)
                .fetch_one(&self.read)
                .await
                .map_err(db)?;
        Ok(Page { items: rows.into_iter().map(SubRow::into_webhook).collect(), total: total as u64 })
    }

    async fn get_webhook(&self, ctx: &Ctx, id: Uuid) -> Result<Webhook> {
        let row: Option<SubRow> = sqlx::query_as::<Db, SubRow>(&format!(
            "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(ctx.tenant.0)
        .bind(id)
        .fetch_optional(&self.write)
        .await
        .map_err(db)?;
        row.map(SubRow::into_webhook).ok_or_else(|| Error::not_found(Resource::Webhook))
    }

    async fn update_webhook(&self, ctx: &Ctx, id: Uuid, patch: WebhookPatch) -> Result<Webhook> {
        if patch.status.as_deref() == Some("active") {
            // As at creation: a reactivated subscription resumes after every committed event.
            crate::dialect::assign_event_positions(&self.write).await?;
        }
        let mut tx = self.write.begin().await.map_err(db)?;
        let row: Option<SubRow> = sqlx::query_as::<Db, SubRow>(&format!(
            "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2{FOR_UPDATE}"
        ))
        .bind(ctx.tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let mut w = row.map(SubRow::into_webhook).ok_or_else(|| Error::not_found(Resource::Webhook))?;
        let reactivated = w.status != "active" && patch.status.as_deref() == Some("active");
        let WebhookPatch {
            url,
            events,
            description,
            name,
            headers,
            secret,
            status,
            max_retries,
            timeout_secs,
            backoff,
        } = patch;
        w.url = url.unwrap_or(w.url);
        w.events = events.unwrap_or(w.events);
        w.description = description.unwrap_or(w.description);
        w.name = name.unwrap_or(w.name);
        w.headers = headers.unwrap_or(w.headers);
        w.secret = secret.unwrap_or(w.secret);
        w.status = status.unwrap_or(w.status);
        w.max_retries = max_retries.unwrap_or(w.max_retries);
        w.timeout_secs = timeout_secs.unwrap_or(w.timeout_secs);
        w.backoff = backoff.unwrap_or(w.backoff);
        if reactivated {
            let (cursor,): (Option<i64>,) =
                sqlx::query_as::<Db, (Option<i64>,)>("SELECT MAX(position) FROM events WHERE tenant_id = $1")
                    .bind(ctx.tenant.0)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
            w.cursor_position = cursor.unwrap_or(0).max(w.cursor_position);
        }
        sqlx::query(
            "UPDATE webhook_subscriptions SET url = $1, events = $2, description = $3, name = $4, headers = $5,
                 secret = $6, status = $7, max_retries = $8, timeout_secs = $9, backoff = $10, cursor_position = $11,
                 updated_at = $12
             WHERE tenant_id = $13 AND id = $14",
        )
        .bind(&w.url)
        .bind(Json(&w.events))
        .bind(&w.description)
        .bind(&w.name)
        .bind(Json(&w.headers))
        .bind(&w.secret)
        .bind(&w.status)
        .bind(w.max_retries)
        .bind(w.timeout_secs)
        .bind(&w.backoff)
        .bind(w.cursor_position)
        .bind(us(confab_core::time::now()))
        .bind(ctx.tenant.0)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.get_webhook(ctx, id).await
    }

    async fn delete_webhook(&self, ctx: &Ctx, id: Uuid) -> Result<()> {
        let mut tx = self.write.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND subscription_id = $2")
            .bind(ctx.tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let done = sqlx::query("DELETE FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2")
            .bind(ctx.tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(Resource::Webhook));
        }
        tx.commit().await.map_err(db)
    }

    async fn list_webhook_deliveries(
        &self,
        ctx: &Ctx,
        id: Uuid,
        status: Option<String>,
        event: Option<String>,
        page: PageRequest,
    ) -> Result<Page<WebhookDelivery>> {
        self.get_webhook(ctx, id).await?;
        let (limit, offset) = limit_offset(page);
        let cond = "tenant_id = $1 AND subscription_id = $2 AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR event_type = $4)";
        let rows: Vec<DeliveryRow> = sqlx::query_as::<Db, DeliveryRow>(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE {cond} ORDER BY event_position DESC LIMIT $5 OFFSET $6"
        ))
        .bind(ctx.tenant.0)
        .bind(id)
        .bind(&status)
        .bind(&event)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.write)
        .await
        .map_err(db)?;
        let (total,): (i64,) =
            sqlx::query_as::<Db, (i64,)>(&format!("SELECT COUNT(*) FROM webhook_deliveries WHERE {cond}"))
                .bind(ctx.tenant.0)
                .bind(id)
                .bind(&status)
                .bind(&event)
                .fetch_one(&self.write)
                .await
                .map_err(db)?;
        Ok(Page { items: rows.into_iter().map(DeliveryRow::into_delivery).collect(), total: total as u64 })
    }

    async fn get_webhook_delivery(&self, ctx: &Ctx, id: Uuid, delivery: Uuid) -> Result<WebhookDelivery> {
        let row: Option<DeliveryRow> = sqlx::query_as::<Db, DeliveryRow>(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = $1 AND subscription_id = $2 AND id = $3"
        ))
        .bind(ctx.tenant.0)
        .bind(id)
        .bind(delivery)
        .fetch_optional(&self.write)
        .await
        .map_err(db)?;
        row.map(DeliveryRow::into_delivery).ok_or_else(|| Error::not_found(Resource::WebhookDelivery))
    }

    async fn retry_webhook_delivery(&self, ctx: &Ctx, id: Uuid, delivery: Uuid, now: Time) -> Result<WebhookDelivery> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, updated_at = $1
             WHERE tenant_id = $2 AND subscription_id = $3 AND id = $4 AND status <> 'pending'",
        )
        .bind(us(now))
        .bind(ctx.tenant.0)
        .bind(id)
        .bind(delivery)
        .execute(&self.write)
        .await
        .map_err(db)?;
        let current = self.get_webhook_delivery(ctx, id, delivery).await?;
        if done.rows_affected() == 0 {
            return Err(Error::conflict("DELIVERY_PENDING", "the delivery is still pending: it is retried on its own"));
        }
        Ok(current)
    }

    async fn record_test_delivery(
        &self,
        ctx: &Ctx,
        id: Uuid,
        event: &Event,
        event_name: &str,
        attempt: DeliveryAttempt,
    ) -> Result<WebhookDelivery> {
        let now = us(confab_core::time::now());
        let delivery = Uuid::now_v7();
        sqlx::query(&format!(
            "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}, tenant_id)
             VALUES ($1, $2, $3, 0, $4, NULL, 1, $5, $6, $7, $8, $9, $9, $10)"
        ))
        .bind(delivery)
        .bind(id)
        .bind(event.id)
        .bind(event_name)
        .bind(&attempt.status)
        .bind(us(attempt.next_attempt_at))
        .bind(attempt.response_status)
        .bind(&attempt.error)
        .bind(now)
        .bind(ctx.tenant.0)
        .execute(&self.write)
        .await
        .map_err(db)?;
        self.get_webhook_delivery(ctx, id, delivery).await
    }

    async fn active_webhooks(&self) -> Result<Vec<Webhook>> {
        let rows: Vec<SubRow> = sqlx::query_as::<Db, SubRow>(&format!(
            "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE status = 'active' ORDER BY id"
        ))
        .fetch_all(&self.write)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(SubRow::into_webhook).collect())
    }

    async fn enqueue_deliveries(
        &self,
        sub: &Webhook,
        from: i64,
        to: i64,
        events: &[(&Event, &str)],
        now: Time,
    ) -> Result<bool> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let moved =
            sqlx::query("UPDATE webhook_subscriptions SET cursor_position = $1 WHERE id = $2 AND cursor_position = $3")
                .bind(to)
                .bind(sub.id)
                .bind(from)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        if moved.rows_affected() == 0 {
            return Ok(false);
        }
        for (e, name) in events {
            sqlx::query(&format!(
                "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}, tenant_id, order_key)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, 'pending', $7, NULL, NULL, $7, $7, $8, $9)
                 ON CONFLICT (subscription_id, event_id) DO NOTHING"
            ))
            .bind(Uuid::now_v7())
            .bind(sub.id)
            .bind(e.id)
            .bind(e.position.unwrap_or(0))
            .bind(*name)
            .bind(e.conversation_id.map(|c| c.0))
            .bind(us(now))
            .bind(sub.tenant_id.0)
            // Ordered by conversation, else by subject (see migration 0011).
            .bind(e.conversation_id.map_or(e.subject_id, |c| c.0))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn claim_deliveries(
        &self,
        now: Time,
        lease_margin: std::time::Duration,
        limit: u32,
        in_flight: &std::collections::HashMap<Uuid, usize>,
        per_subscription: usize,
    ) -> Result<Vec<(WebhookDelivery, Webhook, Event)>> {
        let full: Vec<Uuid> = in_flight.iter().filter(|(_, n)| **n >= per_subscription).map(|(id, _)| *id).collect();
        let skip = if full.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..full.len()).map(|i| format!("${}", i + 3)).collect();
            format!(" AND d.subscription_id NOT IN ({})", marks.join(", "))
        };
        let mut room: std::collections::HashMap<Uuid, usize> = std::collections::HashMap::new();
        let mut tx = self.write.begin().await.map_err(db)?;
        // The earliest pending delivery of its (subscription, conversation — or subject, for an
        // event of no conversation: `order_key`) only: a later event
        // waits while an earlier one is retried — or leased (a leased row is still `pending`, due
        // at its lease's end), so an attempt in flight holds back its successors too.
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                   WHERE e.subscription_id = d.subscription_id AND e.status = 'pending'
                     AND e.order_key = d.order_key AND e.event_position < d.event_position){skip}
             ORDER BY d.next_attempt_at, d.event_position LIMIT $2{FOR_UPDATE_SKIP_LOCKED}"
        );
        let mut query = sqlx::query_as::<Db, DeliveryRow>(&sql).bind(us(now)).bind(i64::from(limit));
        for id in &full {
            query = query.bind(*id);
        }
        let rows: Vec<DeliveryRow> = query.fetch_all(&mut *tx).await.map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            // Under the cap: the rest of this subscription's rows stay pending, unleased.
            let left = room.entry(row.subscription_id).or_insert_with(|| {
                per_subscription.saturating_sub(in_flight.get(&row.subscription_id).copied().unwrap_or(0))
            });
            if *left == 0 {
                continue;
            }
            *left -= 1;
            let sub: Option<SubRow> =
                sqlx::query_as::<Db, SubRow>(&format!("SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE id = $1"))
                    .bind(row.subscription_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            let event: Option<EventRow> =
                sqlx::query_as::<Db, EventRow>(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"))
                    .bind(row.event_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            match (sub, event) {
                (Some(sub), Some(event)) => {
                    // The lease: the attempt's own bound (the sender caps its timeout the same
                    // way) and a margin for rendering and recording it.
                    let timeout = std::time::Duration::from_secs(sub.timeout_secs.clamp(1, 300) as u64);
                    let lease_until = now + chrono::Duration::from_std(timeout + lease_margin).unwrap_or_default();
                    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2")
                        .bind(us(lease_until))
                        .bind(row.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    out.push((row.into_delivery(), sub.into_webhook(), event.into_event()?))
                }
                _ => {
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = 'failed', last_error = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind("its event is not in the event log (a test delivery is not retried: send a new test)")
                    .bind(us(now))
                    .bind(row.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn record_delivery_attempt(
        &self,
        id: Uuid,
        attempts_before: i64,
        attempt: DeliveryAttempt,
        now: Time,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, status = $1, next_attempt_at = $2,
                 last_response_status = $3, last_error = $4, updated_at = $5
             WHERE id = $6 AND status = 'pending' AND attempts = $7",
        )
        .bind(&attempt.status)
        .bind(us(attempt.next_attempt_at))
        .bind(attempt.response_status)
        .bind(&attempt.error)
        .bind(us(now))
        .bind(id)
        .bind(attempts_before)
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}
