//! `GET /v1/events/stream`: the key's tenant's events as Server-Sent Events, as they are committed
//! (scope `conversations:read`, DESIGN.md).
//!
//! Frames: `id: <position>`, `event: <type>`, `data: {id, type, position, createdAt, actor,
//! subjectId, conversationId, data, snapshot}`; a `: keep-alive` comment every 15 s.
//!
//! Decisions:
//! - Resume: `Last-Event-ID` (what `EventSource` sends on reconnect), else `?after=<position>`, else
//!   the current end of the log (only events committed after the request). The stream reads the log
//!   from the last position sent (`events_after`, in batches), so a resume has no gap and no
//!   duplicate; positions are commit-ordered, so nothing can appear below one already sent. A value
//!   that is not a whole number ≥ 0 is 400 `VALIDATION_ERROR` naming `Last-Event-ID` or `after`.
//! - `filter` (Lucene, Airy's `conversations.list` syntax) is parsed before the stream starts; one
//!   that does not parse is 400 `VALIDATION_ERROR` naming `filter`. With a filter, only events of
//!   conversations that match are sent: a conversation event is matched against its own snapshot
//!   (the conversation right after the change); another event of a conversation (a message, …) is
//!   matched against the conversation as it is when the event is sent (read from the store; a
//!   deleted conversation does not match); an event without a conversation (a contact, a channel,
//!   a bot) is sent only when there is no filter.
//! - Wake-up: the process's [`confab_events::EventNotifier`], advanced by the position relay (every
//!   node sees every node's events within one relay poll); the log is read by the shared
//!   [`crate::faces::event_follow::Follower`].
//! - Slow consumers: each stream has a buffer of [`BUFFER`] frames; a client that does not take a
//!   frame within [`SLOW_CONSUMER`] while it is full is cut off (it resumes with `Last-Event-ID`).
//!   Streams end when the server stops.

use super::extract::LinktorError;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::event_follow::Follower;
use crate::faces::params::Params;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use confab_core::model::{ConversationView, Ctx, Event};
use confab_core::{ConversationId, Error};
use confab_query::{Doc, Query};
use confab_store::DynStore;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::mpsc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Frames buffered per stream.
pub const BUFFER: usize = 256;
/// How long a stream waits for room in a full buffer before it cuts the client off.
pub const SLOW_CONSUMER: Duration = Duration::from_secs(10);
/// How many events are read from the log at a time.
const BATCH: u32 = 200;
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream_events))
}

/// Stream the tenant's events (Server-Sent Events).
#[utoipa::path(get, path = "/events/stream", tag = "events",
    params(
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this position"),
        ("after" = Option<i64>, Query, description = "Resume after this position (when there is no Last-Event-ID)"),
        ("filter" = Option<String>, Query, description = "Lucene query: only events of matching conversations"),
    ),
    responses((status = 200, description = "text/event-stream"), (status = 400, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn stream_events(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(confab_core::model::ScopeResource::Conversations, confab_core::model::Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let after_query = p.str("after");
    let filter = p.str("filter");
    p.finish()?;
    let header = headers.get("last-event-id").map(|v| v.to_str().unwrap_or("").trim().to_string());
    let resume = match (header, after_query) {
        (Some(v), _) => Some(position("Last-Event-ID", &v)?),
        (None, Some(v)) => Some(position("after", &v)?),
        (None, None) => None,
    };
    let query = match filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => Some(
            confab_query::parse(f).map_err(|e| ApiError::invalid("filter", format!("is not a valid query: {e}")))?,
        ),
        None => None,
    };
    let start = match resume {
        Some(p) => p,
        None => crate::faces::event_follow::current_position(&s.store).await?,
    };
    let (tx, mut rx) = mpsc::channel::<SseEvent>(BUFFER);
    tokio::spawn(produce(s, ctx, query, start, tx));
    let frames = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|f| f.map(Ok::<_, Infallible>)));
    Ok(Sse::new(frames).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response())
}

fn position(field: &str, v: &str) -> Result<i64, ApiError> {
    v.parse::<i64>()
        .ok()
        .filter(|p| *p >= 0)
        .ok_or_else(|| ApiError::invalid(field, "must be an event position (a whole number)"))
}

/// Reads the log after `last` and sends the frames until the client leaves, is cut off, or the
/// server stops.
async fn produce(s: AppState, ctx: Ctx, query: Option<Query>, last: i64, tx: mpsc::Sender<SseEvent>) {
    let mut follower = Follower::new(&s, ctx.tenant, last, BATCH);
    loop {
        let batch = tokio::select! {
            b = follower.next_batch() => match b {
                Ok(Some(b)) => b,
                Ok(None) => return, // the server is stopping
                Err(e) => {
                    tracing::warn!(error = %e, "event stream read failed; ending the stream");
                    return;
                }
            },
            _ = tx.closed() => return,
        };
        let mut current: HashMap<ConversationId, bool> = HashMap::new();
        for event in batch {
            let Some(pos) = event.position else { continue };
            if let Some(q) = &query {
                if !passes(&s.store, &ctx, q, &event, &mut current).await {
                    continue;
                }
            }
            let frame = frame(&event, pos);
            match tokio::time::timeout(SLOW_CONSUMER, tx.send(frame)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return, // the client left
                Err(_) => {
                    tracing::info!(tenant = %ctx.tenant.0, "event stream consumer too slow; cut off");
                    return;
                }
            }
        }
    }
}

/// Whether `event` passes the filter (see the module's decisions).
async fn passes(
    store: &DynStore,
    ctx: &Ctx,
    q: &Query,
    event: &Event,
    current: &mut HashMap<ConversationId, bool>,
) -> bool {
    if event.event_type.subject_kind() == "conversation" {
        if let Ok(view) = serde_json::from_value::<ConversationView>(event.snapshot.clone()) {
            return q.matches(&doc(&view));
        }
    }
    let Some(id) = event.conversation_id else { return false };
    if let Some(m) = current.get(&id) {
        return *m;
    }
    let m = match store.get_conversation(ctx, id).await {
        Ok(view) => q.matches(&doc(&view)),
        Err(Error::NotFound { .. }) => false,
        Err(e) => {
            tracing::warn!(error = %e, "event stream filter: conversation read failed");
            false
        }
    };
    current.insert(id, m);
    m
}

/// The query language's view of a conversation (as Airy's `conversations.list` sees it).
fn doc(view: &ConversationView) -> Doc {
    let c = serde_json::to_value(crate::faces::airy::render::conversation_json(view, None)).unwrap_or(Value::Null);
    let m = &c["metadata"];
    Doc {
        id: view.conversation.id.to_string(),
        channel_id: c["channel"]["id"].as_str().map(str::to_string),
        source: c["channel"]["source"].as_str().map(str::to_string),
        display_name: m["contact"]["display_name"].as_str().map(str::to_string),
        created_at_ms: view.conversation.created_at.timestamp_millis(),
        unread_count: m["unread_count"].as_i64().unwrap_or(0),
        tag_ids: view.tag_ids.iter().map(|t| t.to_string()).collect(),
        metadata: m.clone(),
    }
}

/// The SSE frame of an event.
fn frame(e: &Event, position: i64) -> SseEvent {
    let data = json!({
        "id": e.id.to_string(),
        "type": e.event_type.as_str(),
        "position": position,
        "createdAt": super::envelope::iso(e.created_at),
        "actor": e.actor,
        "subjectId": e.subject_id.to_string(),
        "conversationId": e.conversation_id.map(|c| c.to_string()),
        "data": e.data,
        "snapshot": e.snapshot,
    });
    SseEvent::default().id(position.to_string()).event(e.event_type.as_str()).data(data.to_string())
}
