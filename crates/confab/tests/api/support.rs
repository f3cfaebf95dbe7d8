//! `TestApp`: a running Confab on a fresh database, and a small HTTP client for it.

#![allow(dead_code)]

use confab::server::Running;
use confab::store::Opened;
use confab_store::DynStore;
use reqwest::Method;
use serde_json::Value;

/// Which database a test runs on.
enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

/// A running server on its own database, with an admin key of the tenant `acme`.
pub struct TestApp {
    pub base: String,
    pub url: String,
    pub store: DynStore,
    /// An `admin` key of tenant `acme`, user "Ana Admin".
    pub key: String,
    running: Option<Running>,
    opened: Option<Opened>,
    db: TestDb,
    http: reqwest::Client,
}

/// How the test server runs: webhooks may go to this machine over http
/// (`--allow-insecure-webhooks`), and are retried after 50 ms.
pub fn test_options() -> confab::server::Options {
    confab::server::Options {
        webhooks: confab_events::webhooks::WebhookConfig {
            retry_schedule: vec![std::time::Duration::from_millis(50)],
            allow_insecure: true,
        },
        ..Default::default()
    }
}

/// Whether the suite runs on PostgreSQL (`CONFAB_TEST_POSTGRES`).
pub fn postgres_url() -> Option<String> {
    std::env::var("CONFAB_TEST_POSTGRES").ok().filter(|s| !s.trim().is_empty())
}

/// Creates a database named `{prefix}_{uuid}` on the PostgreSQL server of `admin_url`; returns its
/// URL and name.
pub async fn create_database(admin_url: &str, prefix: &str) -> (String, String) {
    use sqlx::Connection;
    let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("CONFAB_TEST_POSTGRES is set but PostgreSQL cannot be reached: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
    let _ = conn.close().await;
    (with_database(admin_url, &name), name)
}

/// Drops database `name` (from `Drop`: the test's runtime may be going away, so it runs on a
/// runtime of its own, on a thread of its own).
pub fn drop_database(admin_url: &str, name: &str) {
    let (admin_url, name) = (admin_url.to_string(), name.to_string());
    let _ = std::thread::spawn(move || {
        use sqlx::Connection;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
            }
        });
    })
    .join();
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl TestApp {
    /// Starts Confab on a fresh database.
    pub async fn spawn() -> TestApp {
        let (url, db) = match postgres_url() {
            Some(admin_url) => {
                let (url, name) = create_database(&admin_url, "confab_t").await;
                (url, TestDb::Postgres { admin_url, name })
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("confab.db").display());
                (url, TestDb::Sqlite(dir))
            }
        };
        let opened = confab::store::open(&url).await.expect("open the test database");
        let store = opened.store.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let running = confab::server::start_with_options(listener, store.clone(), test_options()).expect("start");
        let base = format!("http://{}", running.addr);
        let mut app = TestApp {
            base,
            url,
            store,
            key: String::new(),
            running: Some(running),
            opened: Some(opened),
            db,
            http: reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client"),
        };
        app.key = app.new_key("acme", "Ana Admin", "admin").await;
        app
    }

    /// Creates a key as `confab keys create` does and returns the clear key.
    pub async fn new_key(&self, tenant: &str, user: &str, scopes: &str) -> String {
        confab::keys::create(&self.store, tenant, user, None, scopes).await.expect("create key").1
    }

    /// A client with the admin key of `acme`.
    pub fn api(&self) -> Api {
        self.as_key(&self.key)
    }

    /// A client with `key` (sent as `Authorization: Bearer`).
    pub fn as_key(&self, key: &str) -> Api {
        Api { base: self.base.clone(), key: Some(key.to_string()), http: self.http.clone(), headers: Vec::new() }
    }

    /// A client sending no key.
    pub fn anonymous(&self) -> Api {
        Api { base: self.base.clone(), key: None, http: self.http.clone(), headers: Vec::new() }
    }

    /// Stops the server and starts a new one on the same database (a restart: caches are gone).
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        if let Some(o) = self.opened.take() {
            o.close().await;
        }
        let opened = confab::store::open(&self.url).await.expect("reopen the test database");
        self.store = opened.store.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let running = confab::server::start_with_options(listener, self.store.clone(), test_options()).expect("start");
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
        self.opened = Some(opened);
    }

    /// Stops the server (waiting for requests in flight) and closes the database.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        if let Some(o) = self.opened.take() {
            o.close().await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = &self.db {
            drop_database(admin_url, name);
        }
    }
}

/// A response: status, headers and the body parsed as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// `data.id` of a Linktor response.
    pub fn id(&self) -> String {
        self.body["data"]["id"].as_str().unwrap_or_else(|| panic!("no data.id in {}", self.text)).to_string()
    }

    /// `data.attributes` of a Linktor response.
    pub fn attrs(&self) -> &Value {
        &self.body["data"]["attributes"]
    }

    /// The Linktor error code.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self
    }

    /// Asserts a Linktor error: status and code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!((self.status, self.code()), (status, code), "body: {}", self.text);
        self
    }

    /// The fields named in the error's details.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["error"]["details"]
            .as_array()
            .map(|a| a.iter().filter_map(|d| d["field"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
}

/// An HTTP client for one key.
#[derive(Clone)]
pub struct Api {
    base: String,
    key: Option<String>,
    http: reqwest::Client,
    headers: Vec<(String, String)>,
}

impl Api {
    /// The same client sending one more header on every request.
    pub fn with_header(mut self, name: &str, value: &str) -> Api {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The same client sending its key as `X-API-Key` instead of `Authorization`.
    pub fn via_x_api_key(self) -> Api {
        let key = self.key.clone().expect("a key");
        Api { key: None, ..self }.with_header("X-API-Key", &key)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        for (n, v) in &self.headers {
            req = req.header(n, v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, body, text }
    }

    /// Sends raw bytes with a content type.
    pub async fn send_raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        let mut req =
            self.http.request(method, format!("{}{}", self.base, path)).header("content-type", content_type).body(body);
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        for (n, v) in &self.headers {
            req = req.header(n, v);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, body, text }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body)).await
    }

    /// A POST with no body at all.
    pub async fn post_empty(&self, path: &str) -> Resp {
        self.send(Method::POST, path, None).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None).await
    }
}

/// Fixtures through the API.
impl TestApp {
    /// Creates a channel and returns its id.
    pub async fn channel(&self, name: &str, channel_type: &str) -> String {
        self.api()
            .post("/v1/channels", serde_json::json!({ "name": name, "type": channel_type }))
            .await
            .expect(201)
            .id()
    }
}

// ---- A webhook receiver: a real HTTP server on a random loopback port. ----

use axum::http::{HeaderMap, StatusCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got: its headers and raw body.
#[derive(Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A receiver on a random loopback port that answers `fail_first` requests with 500, then 200.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

pub async fn receiver(fail_first: usize) -> Receiver {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let (g, c) = (got.clone(), count.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (g, c) = (g.clone(), c.clone());
            async move {
                g.lock().unwrap().push(Received { headers, body: body.to_vec() });
                if c.fetch_add(1, Ordering::SeqCst) < fail_first {
                    (StatusCode::INTERNAL_SERVER_ERROR, "try later")
                } else {
                    (StatusCode::OK, "ok")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver { url, got }
}

impl Receiver {
    /// Waits until `n` requests arrived (at most 15 s) and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n || start.elapsed() > Duration::from_secs(15) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
}

/// Lower-case hex of `b`.
pub fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Parses a received body as JSON.
impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}
