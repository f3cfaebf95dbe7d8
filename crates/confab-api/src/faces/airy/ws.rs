//! `GET /ws.communication`: Airy's realtime websocket — STOMP 1.2 (1.1 and 1.0 too) over a
//! WebSocket, the tenant's events on the destination `/events` (`reference/airy.md` §11; Airy's
//! `WebSocketConfig.java`, `lib/typescript/websocketclient`). What the events look like is in
//! [`super::webhook_format`] (the frames are rendered next to the webhook payloads).
//!
//! **Handshake.** The subprotocols `v12.stomp`, `v11.stomp`, `v10.stomp` are negotiated, in that
//! order of preference (the browser STOMP client Airy uses offers all three, and drops a
//! connection whose subprotocol it did not get). A client that offers subprotocols but none of
//! these is refused: 400 `{"message": "Invalid request: Sec-WebSocket-Protocol must offer
//! v12.stomp, v11.stomp or v10.stomp."}`. A client that offers none is accepted (Spring does the
//! same; STOMP is then spoken without a subprotocol). A request that is not a WebSocket upgrade is
//! 400 naming `Upgrade`.
//!
//! **Auth.** As the rest of the Airy face, the key comes with the upgrade request: `Authorization`
//! (with or without `Bearer`) or the `airy_auth_token` cookie — what Airy's web inbox sends, since
//! a browser cannot set headers on a WebSocket. An unknown or revoked key, or one without
//! `conversations:read`, is 403 (empty) and no upgrade. Without a key on the upgrade, the STOMP
//! `CONNECT` frame must carry it, as `Authorization: Bearer <key>` (or the bare key) or as
//! `passcode`; otherwise, or when it is refused, the answer is an `ERROR` frame whose `message`
//! starts with `401` (what Airy's client looks for) or `403` (the scope), and the connection is
//! closed. A key on the upgrade wins over one in `CONNECT`.
//!
//! **Frames** (STOMP 1.2: NUL-terminated, `content-length` honoured, headers escaped with `\\`,
//! `\n`, `\r`, `\c` except in `CONNECT`/`CONNECTED`, the first of repeated headers wins, `\r\n`
//! line ends accepted, EOLs between frames are heart-beats; several frames per WebSocket message
//! and frames split across messages both work):
//! - `CONNECT`/`STOMP` → `CONNECTED` with `version` (the highest of `accept-version` Confab speaks;
//!   1.0 without the header), `heart-beat`, `server`. Anything but `CONNECT` first is an `ERROR`.
//! - Heart-beats: Confab offers to send one every 30 s and wants one every 30 s (Airy's broker
//!   settings); each side's interval is the larger of what one offers and the other wants, 0
//!   meaning none. Confab sends an EOL when it wrote nothing for its interval, and closes a
//!   connection it heard nothing from for twice the client's.
//! - `SUBSCRIBE` `destination:/events` `id:<sub>` (the `id` may be absent in 1.0: the destination
//!   is the id) → from then on every event as `MESSAGE` `subscription`, `message-id`,
//!   `destination:/events`, `content-type:application/json`, body `{"type", "payload",
//!   "timestamp"}` (epoch ms of the event). Another destination is an `ERROR` naming
//!   `destination`; a missing one or an `id` already in use likewise. Events are those after the
//!   newest positioned event at the first `SUBSCRIBE` (on PostgreSQL this may include events
//!   committed just before it that the relay had not positioned yet), read from the event log
//!   (see [`crate::faces::event_follow`]), so their order is the log's. `ack` modes other than `auto`
//!   are accepted and treated as `auto` (`ACK`/`NACK` are accepted and ignored), as Airy's simple
//!   broker does.
//! - `UNSUBSCRIBE` `id` stops that subscription (an unknown id is ignored). `SEND`, and any
//!   unknown command, is an `ERROR` (Airy's websocket takes no messages from clients).
//!   `BEGIN`/`COMMIT`/`ABORT` are accepted and do nothing.
//! - Any frame with `receipt` is answered with `RECEIPT` `receipt-id` once handled; `DISCONNECT`
//!   (with `receipt`) is answered, then the connection is closed.
//! - An `ERROR` (`message` header, `content-type:text/plain`, details in the body) always closes
//!   the connection, as STOMP requires. Frames are at most 64 KiB.
//!
//! **Slow consumers.** Each connection queues at most [`QUEUE_FRAMES`] events and
//! [`QUEUE_BYTES`] bytes of them (one event is always let in, however big) beyond what the socket
//! has taken. A client that falls further behind is sent an `ERROR` (`message:slow consumer`) in
//! place of the rest and disconnected; it reconnects and reloads, as Airy's inbox does after a
//! disconnection. A write the client does not take within [`WRITE_TIMEOUT`] drops the connection.
//! Connections end when the server stops.

use super::webhook_format::{is_message_event, websocket_events};
use super::{presented_key, AiryError};
use crate::auth::Auth;
use crate::faces::event_follow::Follower;
use crate::AppState;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use confab_core::model::{Access, Ctx, Event, ScopeResource};
use confab_core::{ChannelId, Error};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The destination Airy's clients subscribe to.
pub const DESTINATION: &str = "/events";
/// The subprotocols, by preference.
pub const SUBPROTOCOLS: [&str; 3] = ["v12.stomp", "v11.stomp", "v10.stomp"];
/// Events queued per connection beyond what the socket has taken.
pub const QUEUE_FRAMES: usize = 256;
/// Bytes of event bodies queued per connection.
pub const QUEUE_BYTES: usize = 2 * 1024 * 1024;
/// How long one write may wait for the client.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Confab's heart-beat offer, both ways (Airy's broker: 30 s / 30 s).
pub const HEART_BEAT: Duration = Duration::from_secs(30);
/// The largest STOMP frame a client may send.
const MAX_FRAME: usize = 64 * 1024;
/// How many events are read from the log at a time (they can be large).
const BATCH: u32 = 50;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ws_communication))
}

/// Airy's realtime events: STOMP over WebSocket, destination `/events`.
#[utoipa::path(get, path = "/ws.communication", tag = "airy",
    params(("Sec-WebSocket-Protocol" = Option<String>, Header, description = "v12.stomp, v11.stomp or v10.stomp")),
    responses(
        (status = 101, description = "Switching to STOMP over WebSocket"),
        (status = 400, description = "Not a WebSocket upgrade, or no STOMP subprotocol offered", body = super::ErrorMessage),
        (status = 403, description = "A key that is refused (empty body)"),
    ),
    security(("bearer" = []), ("airy_cookie" = []), ()))]
async fn ws_communication(
    State(s): State<AppState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, AiryError> {
    // A key on the upgrade is checked first, as Airy's security filter runs before the handshake.
    let preauth = match presented_key(&headers) {
        Some(key) => {
            let principal = s.keys.resolve(&s.store, &key).await?;
            Some(Auth(principal).require(ScopeResource::Conversations, Access::Read)?)
        }
        None => None,
    };
    let Ok(ws) = ws else {
        return Err(AiryError::invalid("Upgrade", "must be a WebSocket upgrade (GET with Upgrade: websocket)"));
    };
    let offered = ws.requested_protocols().count() > 0;
    let ws = ws.protocols(SUBPROTOCOLS).max_message_size(MAX_FRAME * 4).max_frame_size(MAX_FRAME * 4);
    if offered && ws.selected_protocol().is_none() {
        return Err(AiryError::invalid("Sec-WebSocket-Protocol", "must offer v12.stomp, v11.stomp or v10.stomp"));
    }
    Ok(ws.on_upgrade(move |socket| session(s, socket, preauth)).into_response())
}

// ---------------------------------------------------------------------------------------------
// STOMP frames

/// A parsed or outgoing STOMP frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub command: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Frame {
    fn new(command: &str) -> Self {
        Self { command: command.into(), headers: Vec::new(), body: Vec::new() }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first value of `name` (STOMP 1.2: the first of repeated headers wins).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The frame on the wire, NUL-terminated; headers escaped unless `CONNECTED`.
    pub fn encode(&self) -> Vec<u8> {
        let escape = self.command != "CONNECTED";
        let mut out = Vec::with_capacity(self.body.len() + 128);
        out.extend_from_slice(self.command.as_bytes());
        out.push(b'\n');
        for (n, v) in &self.headers {
            if escape {
                out.extend_from_slice(escape_header(n).as_bytes());
                out.push(b':');
                out.extend_from_slice(escape_header(v).as_bytes());
            } else {
                out.extend_from_slice(n.as_bytes());
                out.push(b':');
                out.extend_from_slice(v.as_bytes());
            }
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out.push(0);
        out
    }
}

/// STOMP 1.2 header escaping.
pub fn escape_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ':' => out.push_str("\\c"),
            c => out.push(c),
        }
    }
    out
}

/// STOMP 1.2 header unescaping; an undefined escape is an error.
pub fn unescape_header(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('c') => out.push(':'),
            other => {
                return Err(format!("undefined escape sequence \\{}", other.map(String::from).unwrap_or_default()))
            }
        }
    }
    Ok(out)
}

/// What the parser found at the front of the buffer.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// A whole frame, and how many bytes it took.
    Frame(Frame, usize),
    /// Heart-beat EOLs, and how many bytes they took.
    HeartBeat(usize),
    /// Not enough bytes yet.
    Incomplete,
}

/// Parses the frame at the front of `buf`; `escaped` says whether headers use STOMP 1.1+
/// escaping (never in `CONNECT`/`STOMP`).
pub fn parse_frame(buf: &[u8], escaped: bool) -> Result<Parsed, String> {
    let eols = buf.iter().take_while(|b| **b == b'\n' || **b == b'\r').count();
    if eols > 0 {
        return Ok(Parsed::HeartBeat(eols));
    }
    // The command and headers end at the first empty line.
    let mut lines = Vec::new();
    let mut pos = 0;
    loop {
        let Some(nl) = buf[pos..].iter().position(|b| *b == b'\n') else {
            if buf.len() > MAX_FRAME {
                return Err("the frame is too large".into());
            }
            return Ok(Parsed::Incomplete);
        };
        let mut line = &buf[pos..pos + nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        pos += nl + 1;
        if line.is_empty() {
            break;
        }
        if line.contains(&0) {
            return Err("a NUL byte in the command or headers".into());
        }
        lines.push(std::str::from_utf8(line).map_err(|_| "headers must be UTF-8".to_string())?);
    }
    let Some((command, header_lines)) = lines.split_first() else {
        return Err("a frame without a command".into());
    };
    let command = command.to_string();
    let escaped = escaped && command != "CONNECT" && command != "STOMP";
    let mut headers = Vec::new();
    for line in header_lines {
        let Some((n, v)) = line.split_once(':') else {
            return Err(format!("the header line `{line}` has no colon"));
        };
        let (n, v) = if escaped { (unescape_header(n)?, unescape_header(v)?) } else { (n.to_string(), v.to_string()) };
        headers.push((n, v));
    }
    let frame = Frame { command, headers, body: Vec::new() };
    let body_start = pos;
    let (body_end, end) = match frame.get("content-length") {
        Some(raw) => {
            let len: usize = raw.trim().parse().map_err(|_| "content-length must be a whole number".to_string())?;
            if len > MAX_FRAME {
                return Err("the frame is too large".into());
            }
            if buf.len() < body_start + len + 1 {
                return Ok(Parsed::Incomplete);
            }
            if buf[body_start + len] != 0 {
                return Err("the body does not end with NUL after content-length bytes".into());
            }
            (body_start + len, body_start + len + 1)
        }
        None => match buf[body_start..].iter().position(|b| *b == 0) {
            Some(n) => (body_start + n, body_start + n + 1),
            None if buf.len() > MAX_FRAME => return Err("the frame is too large".into()),
            None => return Ok(Parsed::Incomplete),
        },
    };
    Ok(Parsed::Frame(Frame { body: buf[body_start..body_end].to_vec(), ..frame }, end))
}

/// The negotiated (client → server, server → client) heart-beat intervals for a client's
/// `heart-beat: cx,cy`, and the `heart-beat` header Confab answers.
pub fn heart_beats(header: Option<&str>) -> Result<(Option<Duration>, Option<Duration>, String), String> {
    let (cx, cy) = match header {
        None => (0u64, 0u64),
        Some(h) => {
            let (a, b) = h.split_once(',').ok_or("heart-beat must be two numbers, `cx,cy`")?;
            let a = a.trim().parse().map_err(|_| "heart-beat must be two numbers, `cx,cy`")?;
            let b = b.trim().parse().map_err(|_| "heart-beat must be two numbers, `cx,cy`")?;
            (a, b)
        }
    };
    let ours = HEART_BEAT.as_millis() as u64;
    let sx = if cy > 0 { ours } else { 0 };
    let sy = if cx > 0 { ours } else { 0 };
    let incoming = (cx > 0).then(|| Duration::from_millis(cx.max(ours)));
    let outgoing = (cy > 0).then(|| Duration::from_millis(cy.max(ours)));
    Ok((incoming, outgoing, format!("{sx},{sy}")))
}

/// The highest STOMP version of `accept-version` Confab speaks (1.0 without the header).
pub fn negotiate_version(accept: Option<&str>) -> Option<&'static str> {
    let Some(accept) = accept else { return Some("1.0") };
    let offered: Vec<&str> = accept.split(',').map(str::trim).collect();
    ["1.2", "1.1", "1.0"].into_iter().find(|v| offered.contains(v))
}

// ---------------------------------------------------------------------------------------------
// A connection

/// An event rendered for the connection, before it is stamped for each subscription.
struct Queued {
    message_id: String,
    body: String,
}

/// Why the producer stopped.
#[derive(Default)]
struct Ended(Mutex<Option<&'static str>>);

impl Ended {
    fn set(&self, why: &'static str) {
        if let Ok(mut g) = self.0.lock() {
            g.get_or_insert(why);
        }
    }

    fn get(&self) -> Option<&'static str> {
        self.0.lock().ok().and_then(|g| *g)
    }
}

type Sink = SplitSink<WebSocket, WsMessage>;

struct Session {
    state: AppState,
    sink: Sink,
    ctx: Option<Ctx>,
    preauth: bool,
    connected: bool,
    /// STOMP 1.1+ header escaping.
    escaped: bool,
    /// (id, destination), in subscription order.
    subs: Vec<(String, String)>,
    producer: Option<tokio::task::JoinHandle<()>>,
    queue: Option<mpsc::Receiver<Queued>>,
    queued: Arc<AtomicUsize>,
    ended: Arc<Ended>,
    outgoing: Option<Duration>,
    incoming: Option<Duration>,
    last_write: Instant,
    last_read: Instant,
    closing: bool,
}

async fn session(state: AppState, socket: WebSocket, preauth: Option<Ctx>) {
    let (sink, mut stream): (Sink, SplitStream<WebSocket>) = socket.split();
    let now = Instant::now();
    let mut s = Session {
        state,
        sink,
        preauth: preauth.is_some(),
        ctx: preauth,
        connected: false,
        escaped: false,
        subs: Vec::new(),
        producer: None,
        queue: None,
        queued: Arc::new(AtomicUsize::new(0)),
        ended: Arc::new(Ended::default()),
        outgoing: None,
        incoming: None,
        last_write: now,
        last_read: now,
        closing: false,
    };
    let mut buf: Vec<u8> = Vec::new();
    let stopped = s.state.events.clone();
    let stopped = stopped.stopped();
    tokio::pin!(stopped);
    while !s.closing {
        let deadline = s.next_deadline();
        tokio::select! {
            biased;
            _ = &mut stopped => {
                let _ = s.error("server shutting down", "The server is stopping; reconnect.").await;
                break;
            }
            msg = stream.next() => {
                let data = match msg {
                    Some(Ok(WsMessage::Text(t))) => t.as_str().as_bytes().to_vec(),
                    Some(Ok(WsMessage::Binary(b))) => b.to_vec(),
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => { s.last_read = Instant::now(); continue }
                    Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                };
                s.last_read = Instant::now();
                buf.extend_from_slice(&data);
                if s.take_frames(&mut buf).await.is_err() {
                    break;
                }
            }
            item = recv(&mut s.queue), if s.queue.is_some() => {
                if s.deliver(item).await.is_err() {
                    break;
                }
            }
            _ = sleep_until(deadline) => {
                let now = Instant::now();
                if let Some(i) = s.incoming {
                    if now.duration_since(s.last_read) > i * 2 {
                        tracing::info!("websocket client sent no heart-beat; closing");
                        break;
                    }
                }
                if let Some(o) = s.outgoing {
                    if now.duration_since(s.last_write) >= o && s.write_raw(b"\n".to_vec()).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    if let Some(p) = s.producer.take() {
        p.abort();
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), s.sink.close()).await;
}

async fn recv(queue: &mut Option<mpsc::Receiver<Queued>>) -> Option<Queued> {
    match queue {
        Some(q) => q.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl Session {
    fn next_deadline(&self) -> Option<Instant> {
        let out = self.outgoing.map(|o| self.last_write + o);
        let inc = self.incoming.map(|i| self.last_read + i * 2 + Duration::from_millis(1));
        match (out, inc) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Writes one WebSocket text message; an error or a client that does not take it within
    /// [`WRITE_TIMEOUT`] ends the connection.
    async fn write_raw(&mut self, bytes: Vec<u8>) -> Result<(), ()> {
        let text = String::from_utf8(bytes).map_err(|_| ())?;
        match tokio::time::timeout(WRITE_TIMEOUT, self.sink.send(WsMessage::Text(text.into()))).await {
            Ok(Ok(())) => {
                self.last_write = Instant::now();
                Ok(())
            }
            _ => Err(()),
        }
    }

    async fn write(&mut self, frame: Frame) -> Result<(), ()> {
        self.write_raw(frame.encode()).await
    }

    /// Sends an `ERROR` and marks the connection to be closed.
    async fn error(&mut self, message: &str, details: &str) -> Result<(), ()> {
        self.error_with_receipt(message, details, None).await
    }

    async fn error_with_receipt(&mut self, message: &str, details: &str, receipt: Option<&str>) -> Result<(), ()> {
        self.closing = true;
        let mut frame = Frame::new("ERROR").header("message", message).header("content-type", "text/plain");
        if let Some(r) = receipt {
            frame = frame.header("receipt-id", r);
        }
        frame.body = details.as_bytes().to_vec();
        // The client may be the reason (a slow one): do not wait long for it.
        let text = String::from_utf8(frame.encode()).map_err(|_| ())?;
        match tokio::time::timeout(Duration::from_secs(5), self.sink.send(WsMessage::Text(text.into()))).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    /// Handles every whole frame in `buf`.
    async fn take_frames(&mut self, buf: &mut Vec<u8>) -> Result<(), ()> {
        while !buf.is_empty() && !self.closing {
            match parse_frame(buf, self.escaped) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::HeartBeat(n)) => {
                    buf.drain(..n);
                }
                Ok(Parsed::Frame(frame, n)) => {
                    buf.drain(..n);
                    self.handle(frame).await?;
                }
                Err(e) => {
                    return self.error("malformed frame", &e).await;
                }
            }
        }
        Ok(())
    }

    async fn handle(&mut self, frame: Frame) -> Result<(), ()> {
        let receipt = frame.get("receipt").map(str::to_string);
        if !self.connected {
            if frame.command != "CONNECT" && frame.command != "STOMP" {
                return self
                    .error_with_receipt(
                        "not connected",
                        &format!("Send CONNECT first (got {}).", frame.command),
                        receipt.as_deref(),
                    )
                    .await;
            }
            return self.connect(&frame).await;
        }
        match frame.command.as_str() {
            "SUBSCRIBE" => self.subscribe(&frame, receipt.as_deref()).await?,
            "UNSUBSCRIBE" => {
                let id = frame.get("id").or(frame.get("destination")).map(str::to_string);
                let Some(id) = id else {
                    return self
                        .error_with_receipt("missing id", "UNSUBSCRIBE needs the header id.", receipt.as_deref())
                        .await;
                };
                self.subs.retain(|(sid, _)| *sid != id);
            }
            "DISCONNECT" => {
                if let Some(r) = &receipt {
                    let _ = self.write(Frame::new("RECEIPT").header("receipt-id", r.clone())).await;
                }
                self.closing = true;
                return Ok(());
            }
            "ACK" | "NACK" | "BEGIN" | "COMMIT" | "ABORT" => {}
            "CONNECT" | "STOMP" => {
                return self
                    .error_with_receipt("already connected", "CONNECT was already sent.", receipt.as_deref())
                    .await;
            }
            "SEND" => {
                return self
                    .error_with_receipt(
                        "SEND is not supported",
                        "This server only publishes events on /events; send messages with POST /messages.send.",
                        receipt.as_deref(),
                    )
                    .await;
            }
            other => {
                return self
                    .error_with_receipt(
                        "unknown command",
                        &format!("Unknown STOMP command {other}."),
                        receipt.as_deref(),
                    )
                    .await;
            }
        }
        if let Some(r) = receipt {
            self.write(Frame::new("RECEIPT").header("receipt-id", r)).await?;
        }
        Ok(())
    }

    async fn connect(&mut self, frame: &Frame) -> Result<(), ()> {
        let Some(version) = negotiate_version(frame.get("accept-version")) else {
            self.closing = true;
            let mut e = Frame::new("ERROR")
                .header("version", "1.2,1.1,1.0")
                .header("message", "unsupported protocol version")
                .header("content-type", "text/plain");
            e.body = b"Supported protocol versions are 1.0, 1.1 and 1.2 (header accept-version).".to_vec();
            return self.write(e).await;
        };
        let (incoming, outgoing, answer) = match heart_beats(frame.get("heart-beat")) {
            Ok(hb) => hb,
            Err(e) => return self.error("invalid heart-beat", &e).await,
        };
        if !self.preauth {
            let key = frame
                .get("Authorization")
                .or(frame.get("authorization"))
                .map(|v| {
                    let v = v.trim();
                    match v.split_once(' ') {
                        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim().to_string(),
                        _ => v.to_string(),
                    }
                })
                .or(frame.get("passcode").map(|v| v.trim().to_string()))
                .filter(|k| !k.is_empty());
            let Some(key) = key else {
                return self
                    .error(
                        "401 Unauthorized",
                        "An API key is needed: on the upgrade request, or as the Authorization header of CONNECT.",
                    )
                    .await;
            };
            let principal = match self.state.keys.resolve(&self.state.store, &key).await {
                Ok(p) => p,
                Err(_) => return self.error("401 Unauthorized", "The API key is unknown or revoked.").await,
            };
            match Auth(principal).require(ScopeResource::Conversations, Access::Read) {
                Ok(ctx) => self.ctx = Some(ctx),
                Err(_) => return self.error("403 Forbidden", "The API key lacks the scope conversations:read.").await,
            }
        }
        self.connected = true;
        self.escaped = version != "1.0";
        self.incoming = incoming;
        self.outgoing = outgoing;
        let mut connected = Frame::new("CONNECTED")
            .header("version", version)
            .header("heart-beat", answer)
            .header("server", concat!("Confab/", env!("CARGO_PKG_VERSION")));
        if let Some(r) = frame.get("receipt") {
            connected = connected.header("receipt-id", r);
        }
        self.write(connected).await
    }

    async fn subscribe(&mut self, frame: &Frame, receipt: Option<&str>) -> Result<(), ()> {
        let Some(destination) = frame.get("destination").map(str::to_string) else {
            return self
                .error_with_receipt("missing destination", "SUBSCRIBE needs the header destination.", receipt)
                .await;
        };
        if destination != DESTINATION {
            return self
                .error_with_receipt(
                    "unknown destination",
                    &format!("destination must be {DESTINATION} (got {destination})."),
                    receipt,
                )
                .await;
        }
        let id = match frame.get("id") {
            Some(id) => id.to_string(),
            None if !self.escaped => destination.clone(),
            None => return self.error_with_receipt("missing id", "SUBSCRIBE needs the header id.", receipt).await,
        };
        if self.subs.iter().any(|(sid, _)| *sid == id) {
            return self
                .error_with_receipt("duplicate id", &format!("The subscription id {id} is already in use."), receipt)
                .await;
        }
        self.subs.push((id, destination));
        if self.producer.is_none() {
            let Some(ctx) = self.ctx.clone() else { return Err(()) };
            // Events committed from now on (the first SUBSCRIBE).
            let start = match crate::faces::event_follow::current_position(&self.state.store).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "websocket: reading the event log failed");
                    return self.error("internal error", "The event log could not be read.").await;
                }
            };
            let (tx, rx) = mpsc::channel(QUEUE_FRAMES);
            self.queue = Some(rx);
            self.producer = Some(tokio::spawn(produce(
                self.state.clone(),
                ctx,
                start,
                tx,
                self.queued.clone(),
                self.ended.clone(),
            )));
        }
        Ok(())
    }

    /// Writes a queued event to every subscription, or ends the connection when the producer
    /// stopped (a slow consumer, a failure).
    async fn deliver(&mut self, item: Option<Queued>) -> Result<(), ()> {
        let item = match item {
            Some(item) if self.ended.get() != Some(SLOW) => item,
            _ => {
                let (message, details) = match self.ended.get() {
                    Some(SLOW) => ("slow consumer", "The client fell too far behind the events; reconnect and reload."),
                    _ => ("internal error", "The event stream ended; reconnect."),
                };
                let _ = self.error(message, details).await;
                return Err(());
            }
        };
        self.queued.fetch_sub(item.body.len(), Ordering::SeqCst);
        let subs = self.subs.clone();
        for (i, (id, destination)) in subs.iter().enumerate() {
            let message_id = if i == 0 { item.message_id.clone() } else { format!("{}-{i}", item.message_id) };
            let mut frame = Frame::new("MESSAGE")
                .header("subscription", id.clone())
                .header("message-id", message_id)
                .header("destination", destination.clone())
                .header("content-type", "application/json")
                .header("content-length", item.body.len().to_string());
            frame.body = item.body.as_bytes().to_vec();
            self.write(frame).await?;
        }
        Ok(())
    }
}

const SLOW: &str = "slow";

/// Follows the tenant's events after `start` and queues their frames, until the connection ends,
/// the queue overflows (a slow consumer) or the server stops.
async fn produce(
    state: AppState,
    ctx: Ctx,
    start: i64,
    tx: mpsc::Sender<Queued>,
    queued: Arc<AtomicUsize>,
    ended: Arc<Ended>,
) {
    let mut follower = Follower::new(&state, ctx.tenant, start, BATCH);
    let mut sources: HashMap<ChannelId, String> = HashMap::new();
    loop {
        let batch = tokio::select! {
            b = follower.next_batch() => match b {
                Ok(Some(b)) => b,
                Ok(None) => { ended.set("stopped"); return }
                Err(e) => {
                    tracing::warn!(error = %e, "websocket: reading the event log failed");
                    ended.set("failed");
                    return;
                }
            },
            _ = tx.closed() => return,
        };
        for event in batch {
            let source = if is_message_event(&event) { source(&state, &ctx, &event, &mut sources).await } else { None };
            for (n, frame) in websocket_events(&event, source.as_deref()).into_iter().enumerate() {
                let body = json!({
                    "type": frame.event_type,
                    "payload": frame.payload,
                    "timestamp": event.created_at.timestamp_millis(),
                })
                .to_string();
                let len = body.len();
                let before = queued.fetch_add(len, Ordering::SeqCst);
                let item = Queued { message_id: format!("{}-{n}", event.id), body };
                if (before > 0 && before + len > QUEUE_BYTES) || tx.try_send(item).is_err() {
                    if tx.is_closed() {
                        return;
                    }
                    tracing::info!(tenant = %ctx.tenant.0, "websocket consumer too slow; cut off");
                    ended.set(SLOW);
                    return;
                }
            }
        }
    }
}

/// The channel type of a message event's channel (read once per connection).
async fn source(state: &AppState, ctx: &Ctx, event: &Event, cache: &mut HashMap<ChannelId, String>) -> Option<String> {
    let id: ChannelId = event.snapshot.get("channel_id").and_then(|v| v.as_str()).and_then(|s| s.parse().ok())?;
    if let Some(s) = cache.get(&id) {
        return Some(s.clone());
    }
    let source = match state.store.get_channel(ctx, id).await {
        Ok(c) => c.channel_type.as_str().to_string(),
        Err(Error::NotFound { .. }) => String::new(),
        Err(e) => {
            tracing::warn!(error = %e, "websocket: reading a channel failed");
            return None;
        }
    };
    cache.insert(id, source.clone());
    Some(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_escaped_headers() {
        let mut f = Frame::new("MESSAGE").header("subscription", "a:b\nc\\d").header("destination", "/events");
        f.body = b"{\"x\":1}".to_vec();
        let wire = f.encode();
        assert!(wire.starts_with(b"MESSAGE\nsubscription:a\\cb\\nc\\\\d\n"));
        assert_eq!(wire.last(), Some(&0));
        assert_eq!(parse_frame(&wire, true), Ok(Parsed::Frame(f, wire.len())));
    }

    #[test]
    fn connect_headers_are_not_unescaped_and_crlf_and_heart_beats_are_accepted() {
        let wire = b"\r\n\nCONNECT\r\naccept-version:1.2\r\nhost:a\\cb\r\n\r\n\0";
        assert_eq!(parse_frame(wire, true), Ok(Parsed::HeartBeat(3)));
        let Ok(Parsed::Frame(f, n)) = parse_frame(&wire[3..], true) else { panic!("a frame") };
        assert_eq!((f.command.as_str(), f.get("host"), n), ("CONNECT", Some("a\\cb"), wire.len() - 3));
    }

    #[test]
    fn content_length_and_incomplete_frames() {
        let wire = b"SEND\ndestination:/x\ncontent-length:3\n\na\0b\0";
        let Ok(Parsed::Frame(f, n)) = parse_frame(wire, true) else { panic!("a frame") };
        assert_eq!((f.body.as_slice(), n), (&b"a\0b"[..], wire.len()));
        assert_eq!(parse_frame(&wire[..wire.len() - 1], true), Ok(Parsed::Incomplete));
        assert_eq!(parse_frame(b"SUBSCRIBE\nid:1\n", true), Ok(Parsed::Incomplete));
        assert!(parse_frame(b"SUBSCRIBE\nid:\\x\n\n\0", true).is_err());
        assert!(parse_frame(b"SUBSCRIBE\nbad\n\n\0", true).is_err());
    }

    #[test]
    fn versions_and_heart_beats_are_negotiated() {
        assert_eq!(negotiate_version(Some("1.0,1.1,1.2")), Some("1.2"));
        assert_eq!(negotiate_version(Some("1.1")), Some("1.1"));
        assert_eq!(negotiate_version(None), Some("1.0"));
        assert_eq!(negotiate_version(Some("2.0")), None);
        let (i, o, h) = heart_beats(Some("10000,10000")).unwrap();
        assert_eq!((i, o, h.as_str()), (Some(HEART_BEAT), Some(HEART_BEAT), "30000,30000"));
        let (i, o, h) = heart_beats(Some("0,60000")).unwrap();
        assert_eq!((i, o, h.as_str()), (None, Some(Duration::from_secs(60)), "30000,0"));
        let (i, o, h) = heart_beats(None).unwrap();
        assert_eq!((i, o, h.as_str()), (None, None, "0,0"));
        assert!(heart_beats(Some("x")).is_err());
    }
}
