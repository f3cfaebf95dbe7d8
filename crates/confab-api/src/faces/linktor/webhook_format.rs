//! The `linktor` webhook format (Linktor `api/webhooks.md`).
//!
//! Body: `{"id": <event id>, "event": <name>, "timestamp": <ISO 8601>, "data": {"id", "type",
//! "attributes"}, "meta": {"organizationId", "webhookId"}}`. Headers: `X-Linktor-Signature:
//! sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`, `X-Linktor-Timestamp: <unix seconds>`,
//! `X-Linktor-Event: <name>`, `X-Linktor-Delivery-Id: <delivery id>`. Event names are Confab's own
//! (Linktor's vocabulary, which Confab's event log uses).

use confab_core::model::{Event, EventType};
use confab_events::webhooks::{hmac_sha256, Outgoing, Rendered, WebhookFormat};

pub struct LinktorFormat;

/// Every event name a Linktor subscription may ask for.
static NAMES: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| EventType::ALL.iter().map(|t| t.as_str()).collect());

impl WebhookFormat for LinktorFormat {
    fn name(&self) -> &'static str {
        "linktor"
    }

    fn event_names(&self) -> &'static [&'static str] {
        NAMES.as_slice()
    }

    fn event_name(&self, event: &Event) -> Option<&'static str> {
        Some(event.event_type.as_str())
    }

    fn render(&self, out: &Outgoing<'_>) -> Rendered {
        let event = out.event;
        let body = serde_json::to_vec(&serde_json::json!({
            "id": event.id.to_string(),
            "event": out.event_name,
            "timestamp": event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": {
                "id": event.subject_id.to_string(),
                "type": event.event_type.subject_kind(),
                "attributes": attributes(event),
            },
            "meta": {"organizationId": event.tenant_id.0.to_string(), "webhookId": out.sub.id.to_string()},
        }))
        .unwrap_or_default();
        let ts = out.sent_at.timestamp();
        Rendered {
            headers: vec![
                ("X-Linktor-Signature", signature(&out.sub.secret, ts, &body)),
                ("X-Linktor-Timestamp", ts.to_string()),
                ("X-Linktor-Event", out.event_name.to_string()),
                ("X-Linktor-Delivery-Id", out.delivery_id.to_string()),
            ],
            body,
        }
    }
}

/// The `X-Linktor-Signature` value of `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut msg = format!("{timestamp}.").into_bytes();
    msg.extend_from_slice(body);
    format!("sha256={}", hex::encode(hmac_sha256(secret.as_bytes(), &msg)))
}

/// The event's subject as this face renders it. TODO(this session): render each subject kind in
/// the Linktor face's shape; for now the raw snapshot.
fn attributes(event: &Event) -> serde_json::Value {
    event.snapshot.clone()
}
