//! Airy's realtime websocket, `GET /ws.communication`: STOMP over WebSocket (subprotocol
//! negotiation, auth on the upgrade or in `CONNECT`, `CONNECTED`, `SUBSCRIBE` to `/events`,
//! `MESSAGE` frames in Airy's shapes, receipts, errors) and a slow consumer cut off.

use crate::support::TestApp;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// How long a test waits for a frame.
const WAIT: Duration = Duration::from_secs(15);

/// A STOMP frame as received.
#[derive(Debug)]
struct Frame {
    command: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Frame {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn unescape(s: &str) -> String {
    s.replace("\\c", ":").replace("\\n", "\n").replace("\\r", "\r").replace("\\\\", "\\")
}

/// Parses one server frame (a whole WebSocket message).
fn parse(raw: &str) -> Frame {
    let raw = raw.strip_suffix('\0').unwrap_or_else(|| panic!("a frame ends with NUL: {raw:?}"));
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw, ""));
    let mut lines = head.lines();
    let command = lines.next().unwrap_or("").to_string();
    let escaped = command != "CONNECTED";
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap_or_else(|| panic!("a header line: {l:?}"));
            if escaped {
                (unescape(n), unescape(v))
            } else {
                (n.to_string(), v.to_string())
            }
        })
        .collect();
    Frame { command, headers, body: body.to_string() }
}

/// A STOMP client over any stream.
struct Stomp<S> {
    ws: WebSocketStream<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stomp<S> {
    async fn send(&mut self, frame: &str) {
        use futures_util::SinkExt;
        self.ws.send(Message::text(format!("{frame}\0"))).await.expect("send a frame");
    }

    /// The next frame (heart-beats skipped), or `None` once the server closed.
    async fn next(&mut self) -> Option<Frame> {
        use futures_util::StreamExt;
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next()).await.expect("a frame within 15 s");
            match msg {
                Some(Ok(Message::Text(t))) if t.as_str().trim_matches(['\n', '\r']).is_empty() => continue,
                Some(Ok(Message::Text(t))) => return Some(parse(t.as_str())),
                Some(Ok(Message::Binary(b))) => return Some(parse(std::str::from_utf8(&b).unwrap())),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            }
        }
    }

    /// The next frame, which must be `command`.
    async fn expect(&mut self, command: &str) -> Frame {
        let f = self.next().await.unwrap_or_else(|| panic!("the connection closed; expected {command}"));
        assert_eq!(f.command, command, "{f:?}");
        f
    }

    /// The next `MESSAGE` whose body's `type` is `t` (others skipped).
    async fn event(&mut self, t: &str) -> (Frame, Value) {
        loop {
            let f = self.expect("MESSAGE").await;
            let body = f.json();
            if body["type"] == t {
                return (f, body);
            }
        }
    }

    /// `CONNECT` (with `extra` headers) and `CONNECTED`.
    async fn connect(&mut self, extra: &str) -> Frame {
        self.send(&format!("CONNECT\naccept-version:1.0,1.1,1.2\nhost:confab\nheart-beat:0,0\n{extra}\n")).await;
        self.expect("CONNECTED").await
    }

    /// `SUBSCRIBE` to `/events` as `id`, waiting for its receipt.
    async fn subscribe(&mut self, id: &str) {
        self.send(&format!("SUBSCRIBE\nid:{id}\ndestination:/events\nack:auto\nreceipt:sub-{id}\n\n")).await;
        let r = self.expect("RECEIPT").await;
        assert_eq!(r.get("receipt-id"), Some(format!("sub-{id}").as_str()));
    }

    /// Asserts the server closes the connection (after any frames, returned).
    async fn closed(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(f) = self.next().await {
            frames.push(f);
        }
        frames
    }
}

fn ws_url(app: &TestApp) -> String {
    format!("{}/ws.communication", app.base.replacen("http://", "ws://", 1))
}

/// The upgrade request, offering `protocols` (none when empty) and sending `headers`.
fn request(app: &TestApp, protocols: &str, headers: &[(&str, &str)]) -> Request {
    let mut req = ws_url(app).into_client_request().unwrap();
    if !protocols.is_empty() {
        req.headers_mut().insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    }
    for (n, v) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(n.as_bytes()).unwrap();
        req.headers_mut().insert(name, v.parse().unwrap());
    }
    req
}

/// A connection as Airy's browser client makes it (every STOMP version offered), with the key.
async fn open(app: &TestApp) -> Stomp<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let bearer = format!("Bearer {}", app.key);
    let req = request(app, "v10.stomp, v11.stomp, v12.stomp", &[("Authorization", bearer.as_str())]);
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.expect("the handshake");
    assert_eq!(resp.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()), Some("v12.stomp"));
    Stomp { ws }
}

/// The status and body of a refused handshake.
async fn refused(req: Request) -> (u16, String) {
    match tokio_tungstenite::connect_async(req).await {
        Err(WsError::Http(resp)) => {
            let body = resp.body().as_ref().map(|b| String::from_utf8_lossy(b).to_string()).unwrap_or_default();
            (resp.status().as_u16(), body)
        }
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

/// A conversation on a new WhatsApp channel (an inbound message started it).
async fn conversation(app: &TestApp) -> (String, String) {
    let channel = app.channel("WhatsApp", "whatsapp").await;
    let r = app
        .api()
        .post(
            &format!("/v1/channels/{channel}/inbound"),
            json!({"sender": {"phone": "+5511999990003", "name": "Grace Hopper"}, "content": {"type": "text", "text": "Hi"}}),
        )
        .await;
    r.expect(201);
    (channel, r.attrs()["conversationId"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn the_stomp_subprotocol_is_negotiated_and_anything_else_is_refused() {
    let app = TestApp::spawn().await;
    let bearer = format!("Bearer {}", app.key);
    let auth = [("Authorization", bearer.as_str())];
    // Airy's client offers all three; the newest wins.
    let mut s = open(&app).await;
    let connected = s.connect("").await;
    assert_eq!(connected.get("version"), Some("1.2"));

    let (_, resp) = tokio_tungstenite::connect_async(request(&app, "v11.stomp", &auth)).await.expect("v11");
    assert_eq!(resp.headers().get("sec-websocket-protocol").unwrap(), "v11.stomp");

    // Only other subprotocols: refused, naming the header.
    let (status, body) = refused(request(&app, "mqtt, wamp", &auth)).await;
    assert_eq!(status, 400);
    assert!(body.contains("Sec-WebSocket-Protocol"), "{body}");

    // Not an upgrade at all.
    let plain = app.api().get("/ws.communication").await;
    assert_eq!(plain.status, 400, "{}", plain.text);
    assert!(plain.body["message"].as_str().unwrap_or("").contains("Upgrade"), "{}", plain.text);
}

#[tokio::test]
async fn connect_answers_connected_with_negotiated_heart_beats_and_disconnect_has_its_receipt() {
    let app = TestApp::spawn().await;
    let mut s = open(&app).await;
    s.send("CONNECT\naccept-version:1.1,1.2\nhost:confab\nheart-beat:10000,10000\n\n").await;
    let c = s.expect("CONNECTED").await;
    assert_eq!((c.get("version"), c.get("heart-beat")), (Some("1.2"), Some("30000,30000")));
    s.send("DISCONNECT\nreceipt:bye\n\n").await;
    let r = s.expect("RECEIPT").await;
    assert_eq!(r.get("receipt-id"), Some("bye"));
    assert!(s.closed().await.is_empty(), "nothing after the receipt");

    // A frame before CONNECT is an error, and closes the connection.
    let mut s = open(&app).await;
    s.send("SUBSCRIBE\nid:0\ndestination:/events\n\n").await;
    let e = s.expect("ERROR").await;
    assert!(e.get("message").is_some());
    assert!(s.closed().await.is_empty());

    // An unknown destination names the header; SEND is not taken.
    let mut s = open(&app).await;
    s.connect("").await;
    s.send("SUBSCRIBE\nid:0\ndestination:/topic/x\n\n").await;
    let e = s.expect("ERROR").await;
    assert!(e.body.contains("destination"), "{e:?}");
    let mut s = open(&app).await;
    s.connect("").await;
    s.send("SEND\ndestination:/events\n\nhello").await;
    s.expect("ERROR").await;
    assert!(s.closed().await.is_empty());
}

#[tokio::test]
async fn the_key_comes_with_the_upgrade_or_in_connect_and_is_refused_otherwise() {
    let app = TestApp::spawn().await;
    // No key anywhere: CONNECT is answered with a 401 ERROR (what Airy's client looks for).
    let req = request(&app, "v12.stomp", &[]);
    let (ws, _) = tokio_tungstenite::connect_async(req).await.expect("the handshake");
    let mut s = Stomp { ws };
    s.send("CONNECT\naccept-version:1.2\nhost:confab\n\n").await;
    let e = s.expect("ERROR").await;
    assert!(e.get("message").unwrap_or("").starts_with("401"), "{e:?}");
    assert!(s.closed().await.is_empty());

    // A refused key on the upgrade: 403, no upgrade.
    let (status, _) = refused(request(&app, "v12.stomp", &[("Authorization", "Bearer cfb_nope")])).await;
    assert_eq!(status, 403);
    // A key without conversations:read.
    let writer = app.new_key("acme", "Wendy Webhooks", "webhooks:read").await;
    let (status, _) = refused(request(&app, "v12.stomp", &[("Authorization", &format!("Bearer {writer}"))])).await;
    assert_eq!(status, 403);

    // The key in CONNECT.
    let (ws, _) = tokio_tungstenite::connect_async(request(&app, "v12.stomp", &[])).await.unwrap();
    let mut s = Stomp { ws };
    s.connect(&format!("Authorization:Bearer {}\n", app.key)).await;
    // A wrong one in CONNECT.
    let (ws, _) = tokio_tungstenite::connect_async(request(&app, "v12.stomp", &[])).await.unwrap();
    let mut s = Stomp { ws };
    s.send("CONNECT\naccept-version:1.2\nhost:confab\npasscode:cfb_nope\n\n").await;
    assert!(s.expect("ERROR").await.get("message").unwrap_or("").starts_with("401"));

    // The web inbox's cookie.
    let cookie = format!("airy_auth_token={}", app.key);
    let (ws, _) = tokio_tungstenite::connect_async(request(&app, "v12.stomp", &[("Cookie", &cookie)])).await.unwrap();
    let mut s = Stomp { ws };
    s.connect("").await;
}

#[tokio::test]
async fn a_message_sent_through_the_api_arrives_as_a_message_frame_in_airys_shape() {
    let app = TestApp::spawn().await;
    let (channel, conversation) = conversation(&app).await;
    let mut s = open(&app).await;
    s.connect("").await;
    s.subscribe("sub-0").await;

    let sent =
        app.api().post("/messages.send", json!({"conversation_id": conversation, "message": {"text": "Hello"}})).await;
    sent.expect(200);
    // (On PostgreSQL the inbound message, committed just before SUBSCRIBE, may come first.)
    let (frame, body) = loop {
        let (frame, body) = s.event("message.created").await;
        if body["payload"]["message"]["id"] == sent.body["id"] {
            break (frame, body);
        }
    };
    assert_eq!(frame.get("subscription"), Some("sub-0"));
    assert_eq!(frame.get("destination"), Some("/events"));
    assert_eq!(frame.get("content-type"), Some("application/json"));
    assert!(frame.get("message-id").is_some_and(|id| !id.is_empty()));
    assert!(body["timestamp"].is_i64(), "{body}");
    let user = sent.body["sender"]["id"].clone();
    assert_eq!(
        body["payload"],
        json!({
            "conversation_id": conversation,
            "channel_id": channel,
            "message": {
                "id": sent.body["id"],
                "content": {"text": "Hello"},
                "sent_at": sent.body["sent_at"],
                "delivery_state": "pending",
                "from_contact": false,
                "source": "whatsapp",
                "metadata": null,
                "sender": {"id": user, "name": null, "avatar_url": null},
            }
        })
    );

    // Conversation changes are metadata.updated; tags tag.updated; channels channel.updated.
    let tag = app.api().post("/tags.create", json!({"name": "vip", "color": "tag-red"})).await;
    tag.expect(201);
    let (_, body) = s.event("tag.updated").await;
    assert_eq!(body["payload"], tag.body);
    app.api()
        .post("/conversations.tag", json!({"conversation_id": conversation, "tag_id": tag.body["id"]}))
        .await
        .expect(204);
    let body = loop {
        let (_, body) = s.event("metadata.updated").await;
        if body["payload"]["metadata"]["tags"].as_object().is_some_and(|t| !t.is_empty()) {
            break body;
        }
    };
    assert_eq!(
        (body["payload"]["subject"].as_str(), body["payload"]["identifier"].as_str()),
        (Some("conversation"), Some(&*conversation))
    );
    let tag_id = tag.body["id"].as_str().unwrap();
    assert_eq!(body["payload"]["metadata"]["tags"], json!({ tag_id: "" }));
    assert_eq!(body["payload"]["metadata"]["contact"]["display_name"], "Grace Hopper");
    app.api().post("/channels.update", json!({"channel_id": channel, "name": "WA 2"})).await.expect(200);
    let (_, body) = s.event("channel.updated").await;
    assert_eq!(
        body["payload"],
        json!({"id": channel, "source": "whatsapp", "source_channel_id": channel, "connected": true, "metadata": null})
    );

    // UNSUBSCRIBE stops the frames: the next event is only seen by a new subscription.
    s.send("UNSUBSCRIBE\nid:sub-0\n\n").await;
    s.subscribe("sub-1").await;
    app.api().post("/tags.create", json!({"name": "later", "color": "tag-blue"})).await.expect(201);
    let (frame, _) = s.event("tag.updated").await;
    assert_eq!(frame.get("subscription"), Some("sub-1"));
}

#[tokio::test]
async fn a_slow_consumer_is_sent_an_error_and_cut_off() {
    let app = TestApp::spawn().await;
    let (_, conversation) = conversation(&app).await;
    // A client with a small receive buffer, so that the server's writes block soon.
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let bearer = format!("Bearer {}", app.key);
    let req = request(&app, "v12.stomp", &[("Authorization", bearer.as_str())]);
    let (ws, _) = tokio_tungstenite::client_async(req, stream).await.expect("the handshake");
    let mut s = Stomp { ws };
    s.connect("").await;
    s.subscribe("0").await;

    // Without reading, let the server queue far more than it holds for one connection: each
    // metadata change of the conversation is a metadata.updated of about 400 kB.
    let blob = "x".repeat(400 * 1024);
    let rounds = 40;
    for i in 0..rounds {
        app.api()
            .post(
                "/metadata.upsert",
                json!({"subject": "conversation", "id": conversation, "data": {"blob": format!("{i}{blob}")}}),
            )
            .await
            .expect(204);
    }

    // Reading again: some frames the socket had taken, then the ERROR, then the end.
    let frames = s.closed().await;
    let messages = frames.iter().filter(|f| f.command == "MESSAGE").count();
    let error = frames.last().expect("frames before the end");
    assert_eq!((error.command.as_str(), error.get("message")), ("ERROR", Some("slow consumer")), "{:?}", error.headers);
    assert!(messages < rounds, "cut off before every event: {messages} of {rounds}");
}
