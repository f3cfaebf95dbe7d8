//! Real `confab` processes, for the CLI, durability and multi-node tests: a fresh database, the
//! binary's commands run on it, keys made with `confab keys create`, and `confab serve` children
//! that can be stopped (SIGTERM), killed (SIGKILL) and started again on the same database. A child
//! is stopped by its own PID only, and killed when dropped, so no server outlives a failing test.

use crate::support::{create_database, drop_database, postgres_url};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// How long a process may take to start, log a line or stop before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A fresh database (a SQLite file in a temporary folder, or a new PostgreSQL database), dropped
/// with this value, and the folder the processes run in.
pub struct ProcDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL server's admin URL and the database's name; `None` on SQLite.
    pub postgres: Option<(String, String)>,
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
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, name) = create_database(admin_url, "confab_p").await;
        ProcDb { url, dir, postgres: Some((admin_url.to_string(), name)) }
    }

    /// The binary with `args`, in the database's folder, with no `CONFAB_*` variable inherited (the
    /// database URL is not added: see [`ProcDb::run`]).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_confab"));
        cmd.args(args).current_dir(self.dir.path()).env("NO_COLOR", "1");
        for (name, _) in std::env::vars() {
            if name.starts_with("CONFAB_") {
                cmd.env_remove(name);
            }
        }
        cmd
    }

    /// The binary with `args` and `--database-url` of this database.
    pub fn with_database(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(args);
        cmd.arg("--database-url").arg(&self.url);
        cmd
    }

    /// Runs `confab ARGS --database-url URL` to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.with_database(args).output().expect("run confab")
    }

    /// `confab keys create --tenant acme … --scopes admin`: the clear key.
    pub fn admin_key(&self) -> String {
        let o = self.run(&["keys", "create", "--tenant", "acme", "--user", "Ana Admin", "--scopes", "admin"]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "keys create failed: {out}{}", String::from_utf8_lossy(&o.stderr));
        out.lines().last().expect("the key on the last line").trim().to_string()
    }

    /// Starts `confab serve ARGS` on a random loopback port.
    pub fn serve(&self, args: &[&str]) -> Node {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Node::start(self.with_database(&all))
    }
}

impl Drop for ProcDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            drop_database(&admin_url, &name);
        }
    }
}

/// A `confab` child process and its stderr, line by line.
pub struct Node {
    child: Child,
    lines: Receiver<String>,
    /// The stderr lines read so far.
    pub seen: Vec<String>,
    /// `127.0.0.1:PORT` (empty for a process started with [`Node::start_raw`]).
    pub addr: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Node {
    /// Starts `cmd` (a `confab serve`) and waits for the log line that names its address.
    pub fn start(cmd: Command) -> Node {
        let mut node = Node::start_raw(cmd);
        let line = node.wait_for_line("listening on http://");
        let at = line.find("listening on http://").unwrap() + "listening on http://".len();
        node.addr =
            line[at..].chars().take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ':' | '[' | ']')).collect();
        assert!(node.addr.starts_with("127.0.0.1:") && !node.addr.ends_with(":0"), "address in: {line}");
        node.base = format!("http://{}", node.addr);
        node
    }

    /// Starts `cmd` without waiting for it to listen.
    pub fn start_raw(mut cmd: Command) -> Node {
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start confab");
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
        Node { child, lines, seen: Vec::new(), addr: String::new(), base: String::new() }
    }

    /// The next stderr line containing `needle` (every line read is kept in `seen`).
    #[track_caller]
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("confab never logged {needle:?}; it logged:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// SIGTERM: a graceful shutdown.
    pub fn sigterm(&self) {
        let ok = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().expect("kill");
        assert!(ok.success());
    }

    /// Waits for the process to exit; the rest of its stderr goes to `seen`.
    #[track_caller]
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
                    self.seen.push(line);
                }
                return status;
            }
            assert!(Instant::now() < deadline, "confab did not exit; it logged:\n{}", self.seen.join("\n"));
            std::thread::sleep(Duration::from_millis(20));
        }
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
