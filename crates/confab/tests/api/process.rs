//! Real `confab` processes for the durability and multi-node tests: a fresh database, keys made with
//! `confab keys create`, and `confab serve` children that can be killed (SIGKILL) and started again
//! on the same database. A child is stopped by its own PID only, and killed when dropped, so no
//! server outlives a failing test.

use crate::support::{postgres_url, with_database};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// How long a process may take to start before a test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// A fresh database (a SQLite file in a temporary folder, or a new PostgreSQL database), dropped
/// with this value, and the folder the processes run in.
pub struct ProcDb {
    pub url: String,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl ProcDb {
    /// A new PostgreSQL database when `CONFAB_TEST_POSTGRES` is set, else a SQLite file.
    pub async fn fresh() -> ProcDb {
        match postgres_url() {
            Some(admin_url) => ProcDb::postgres(&admin_url).await,
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("confab.db").display());
                ProcDb { url, dir, postgres: None }
            }
        }
    }

    /// A new database on the PostgreSQL server of `admin_url`.
    pub async fn postgres(admin_url: &str) -> ProcDb {
        use sqlx::Connection;
        let dir = tempfile::tempdir().expect("temp dir");
        let name = format!("confab_p_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("CONFAB_TEST_POSTGRES is set but PostgreSQL cannot be reached: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
        let _ = conn.close().await;
        ProcDb { url: with_database(admin_url, &name), dir, postgres: Some((admin_url.to_string(), name)) }
    }

    /// The binary, in the database's folder, with no `CONFAB_*` variable inherited.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_confab"));
        cmd.args(args).arg("--database-url").arg(&self.url).current_dir(self.dir.path()).env("NO_COLOR", "1");
        for (name, _) in std::env::vars() {
            if name.starts_with("CONFAB_") {
                cmd.env_remove(name);
            }
        }
        cmd
    }

    /// `confab keys create --tenant acme … --scopes admin`: the clear key.
    pub fn admin_key(&self) -> String {
        let o = self
            .command(&["keys", "create", "--tenant", "acme", "--user", "Ana Admin", "--scopes", "admin"])
            .output()
            .expect("run confab keys create");
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "keys create failed: {out}{}", String::from_utf8_lossy(&o.stderr));
        out.lines().last().expect("the key on the last line").trim().to_string()
    }

    /// Starts `confab serve ARGS` on a random loopback port.
    pub fn serve(&self, args: &[&str]) -> Node {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Node::start(self.command(&all))
    }
}

impl Drop for ProcDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            let _ = std::thread::spawn(move || {
                use sqlx::Connection;
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async move {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A `confab serve` child process and its stderr, line by line.
pub struct Node {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Node {
    /// Starts the command and waits for the log line that names its address.
    fn start(mut cmd: Command) -> Node {
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start confab serve");
        let pipe = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        // Drains stderr for the whole life of the process, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut node = Node { child, lines, seen: Vec::new(), base: String::new() };
        let deadline = Instant::now() + PATIENCE;
        let line = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match node.lines.recv_timeout(left) {
                Ok(line) if line.contains("listening on http://") => break line,
                Ok(line) => node.seen.push(line),
                Err(_) => panic!("confab serve never logged its address; it logged:\n{}", node.seen.join("\n")),
            }
        };
        let at = line.find("listening on http://").unwrap() + "listening on http://".len();
        let addr: String = line[at..].chars().take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ':')).collect();
        node.base = format!("http://{addr}");
        node
    }

    /// SIGKILL (`kill -9`): no shutdown, no flush, work in flight is cut.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What the process logged so far (for failure messages).
    pub fn log(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A client of one node with one key: `(status, body)` of each request.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    key: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str, key: &str) -> Client {
        Client { base: base.to_string(), key: key.to_string(), http: reqwest::Client::new() }
    }

    /// Sends a request with an optional JSON body and extra headers.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> (u16, serde_json::Value, String) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null), text)
    }

    pub async fn get(&self, path: &str) -> serde_json::Value {
        let (status, body, text) = self.send(reqwest::Method::GET, path, None, &[]).await;
        assert_eq!(status, 200, "GET {path}: {text}");
        body
    }

    /// A POST expected to answer 200 or 201: its body.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (status, body, text) = self.send(reqwest::Method::POST, path, Some(body), &[]).await;
        assert!(status == 200 || status == 201, "POST {path}: {status} {text}");
        body
    }
}
