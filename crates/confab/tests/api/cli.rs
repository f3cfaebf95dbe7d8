//! The `confab` binary itself: `keys create/list/revoke`, `migrate`, `serve` (its log line, SIGTERM with
//! a request in flight), `--help` everywhere, and errors as sentences. Each test runs the real binary
//! on a fresh database: a SQLite file, or a new PostgreSQL database when `CONFAB_TEST_POSTGRES` is set.

use crate::process::{Node, ProcDb, PATIENCE};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn expect_success(o: &Output) {
    assert!(o.status.success(), "exit {:?}\nstdout: {}\nstderr: {}", o.status, stdout(o), stderr(o));
}

/// A created key: its id and the clear key.
struct CreatedKey {
    id: String,
    key: String,
}

fn create_key(db: &ProcDb, tenant: &str, scopes: &str) -> CreatedKey {
    let o = db.run(&[
        "keys",
        "create",
        "--tenant",
        tenant,
        "--user",
        "Ana Admin",
        "--email",
        "Ana@Example.com",
        "--scopes",
        scopes,
    ]);
    expect_success(&o);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let key = lines.last().expect("a last line").to_string();
    assert!(key.starts_with("cfb_") && key.len() == 44 && !key.contains(' '), "the last line is the key alone: {out}");
    let first = lines.first().unwrap();
    let id = first
        .strip_prefix("created key ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the first line names the key: {out}"))
        .to_string();
    CreatedKey { id, key }
}

fn serve(db: &ProcDb) -> Node {
    db.serve(&[])
}

async fn get_channels(base: &str, header: (&str, &str)) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}/v1/channels"))
        .header(header.0, header.1)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_key_created_by_the_cli_opens_the_api_is_listed_and_stops_working_once_revoked() {
    let db = ProcDb::fresh().await;
    let created = create_key(&db, "acme", "channels:read,read:conversations");

    let list = db.run(&["keys", "list"]);
    expect_success(&list);
    let row = stdout(&list).lines().find(|l| l.starts_with(&created.id)).map(str::to_string);
    let row = row.unwrap_or_else(|| panic!("keys list shows the key: {}", stdout(&list)));
    assert!(row.contains("acme") && row.contains("Ana Admin") && row.contains("active"), "{row}");
    assert!(row.contains(&created.key[..10]), "the list shows the key's prefix: {row}");
    assert!(!stdout(&list).contains(&created.key), "the clear key is never shown again");
    assert!(row.contains("channels:read") && row.contains("conversations:read"), "scopes, canonical: {row}");

    let mut server = serve(&db);
    let bearer = format!("Bearer {}", created.key);
    let (status, body) = get_channels(&server.base, ("Authorization", &bearer)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = get_channels(&server.base, ("X-API-Key", &created.key)).await;
    assert_eq!(status, 200);
    server.sigterm();
    assert!(server.wait_exit().success());

    let revoked = db.run(&["keys", "revoke", &created.id]);
    expect_success(&revoked);
    assert!(stdout(&revoked).contains(&format!("revoked key {}", created.id)), "{}", stdout(&revoked));
    let list = stdout(&db.run(&["keys", "list"]));
    let row = list.lines().find(|l| l.starts_with(&created.id)).unwrap();
    assert!(row.contains("revoked") && !row.ends_with("active"), "{row}");

    let server = serve(&db);
    let (status, body) = get_channels(&server.base, ("Authorization", &bearer)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("INVALID_API_KEY")), "{body}");
}

#[tokio::test]
async fn serve_logs_its_address_and_exits_0_on_sigterm_after_finishing_the_request_in_flight() {
    let db = ProcDb::fresh().await;
    let created = create_key(&db, "acme", "admin");
    // Configured through the environment this time.
    let mut cmd = db.command(&["serve"]);
    cmd.env("CONFAB_LISTEN", "127.0.0.1:0").env("CONFAB_DATABASE_URL", &db.url);
    let mut server = Node::start(cmd);
    let listening: Vec<&String> = server.seen.iter().filter(|l| l.contains(&server.addr)).collect();
    assert_eq!(listening.len(), 1, "one line names the address: {:#?}", server.seen);

    // A request whose body is not all there yet: `Expect: 100-continue` makes the server say when the
    // handler starts reading it, so it is in flight for sure when SIGTERM arrives.
    let body = br#"{"name":"Late night","type":"sms"}"#;
    let mut conn = TcpStream::connect(&server.addr).expect("connect");
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    let head = format!(
        "POST /v1/channels HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        server.addr,
        created.key,
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    let mut interim = [0u8; 25];
    conn.read_exact(&mut interim).expect("100 Continue");
    assert!(interim.starts_with(b"HTTP/1.1 100 Continue\r\n\r\n"), "{}", String::from_utf8_lossy(&interim));
    conn.write_all(&body[..10]).unwrap();

    server.sigterm();
    server.wait_for_line("shutting down");
    // Shutdown is under way once the listener is closed: new connections are refused.
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(&server.addr).is_ok() {
        assert!(Instant::now() < deadline, "the listener stays open after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
    conn.write_all(&body[10..]).unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).expect("the response");
    assert!(response.starts_with("HTTP/1.1 201"), "the request in flight completes: {response}");
    assert!(response.contains("\"type\":\"channel\""), "{response}");
    // The server answered it while shutting down: it closes the connection after this response.
    assert!(response.to_lowercase().contains("connection: close"), "{response}");

    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "clean exit; logged:\n{}", server.seen.join("\n"));
    assert!(server.seen.iter().any(|l| l.contains("stopped")), "{:#?}", server.seen);

    // The write made during shutdown is there after a restart.
    let server = serve(&db);
    let (status, list) = get_channels(&server.base, ("Authorization", &format!("Bearer {}", created.key))).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"][0]["attributes"]["name"], "Late night", "{list}");
}

#[tokio::test]
async fn serve_on_an_address_in_use_exits_non_zero_with_a_sentence() {
    let db = ProcDb::fresh().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut child = Node::start_raw(db.command(&["serve", "--listen", &addr, "--database-url", &db.url]));
    let status = child.wait_exit();
    assert!(!status.success());
    assert!(child.seen.iter().any(|l| l.contains(&format!("cannot listen on {addr}"))), "{:#?}", child.seen);
}

#[tokio::test]
async fn bad_input_exits_non_zero_with_a_sentence_and_changes_nothing() {
    let db = ProcDb::fresh().await;
    let cases: &[(&[&str], &str)] = &[
        (
            &["keys", "create", "--tenant", "acme", "--user", "Ana", "--scopes", "conversations:fly"],
            "unknown scope 'conversations:fly'",
        ),
        (
            &["keys", "create", "--tenant", "acme", "--user", "Ana", "--scopes", ""],
            "--scopes must name at least one scope",
        ),
        (&["keys", "create", "--tenant", "acme corp", "--user", "Ana", "--scopes", "admin"], "--tenant must be a slug"),
        (&["keys", "create", "--tenant", "acme", "--user", "  ", "--scopes", "admin"], "--user must not be empty"),
        (
            &["keys", "create", "--tenant", "acme", "--user", "Ana", "--email", "not-an-email", "--scopes", "admin"],
            "--email is not an email address",
        ),
        (&["keys", "revoke", "not-a-uuid"], "is not a key id"),
        (
            &["keys", "revoke", "0190a0a0-0000-7000-8000-000000000000"],
            "no key with id 0190a0a0-0000-7000-8000-000000000000",
        ),
    ];
    for (args, sentence) in cases {
        let o = db.run(args);
        assert!(!o.status.success(), "{args:?} should fail; stdout: {}", stdout(&o));
        let err = stderr(&o);
        assert!(err.contains("error: ") && err.contains(sentence), "{args:?}: stderr {err}");
        assert!(stdout(&o).trim().is_empty(), "{args:?} prints no key: {}", stdout(&o));
    }
    let list = db.run(&["keys", "list"]);
    expect_success(&list);
    assert!(stdout(&list).trim().is_empty(), "no key was created: {}", stdout(&list));

    // A required flag missing, and a database URL of an unknown kind.
    let o = db
        .command(&["keys", "create", "--tenant", "acme", "--user", "Ana", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(!o.status.success() && stderr(&o).contains("--scopes"), "{}", stderr(&o));
    let o = db.command(&["migrate", "--database-url", "mysql://db/confab"]).output().unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unsupported database URL mysql://db/confab"), "{}", stderr(&o));
}

#[tokio::test]
async fn migrate_applies_the_migrations_and_running_it_again_is_harmless() {
    let db = ProcDb::fresh().await;
    for _ in 0..2 {
        let o = db.run(&["migrate"]);
        expect_success(&o);
        assert!(stdout(&o).contains("migrations applied"), "{}", stdout(&o));
    }
    if db.postgres.is_none() {
        assert!(db.dir.path().join("confab.db").exists(), "the SQLite file is created");
    }
    // The database is usable by the other commands.
    create_key(&db, "acme", "admin");
    // The URL also comes from the environment.
    let o = db.command(&["keys", "list"]).env("CONFAB_DATABASE_URL", &db.url).output().unwrap();
    expect_success(&o);
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
}

#[test]
fn every_command_explains_every_flag_in_its_help() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(args)
            .arg("--help")
            .current_dir(dir.path())
            .output()
            .expect("run confab --help");
        assert!(o.status.success(), "{args:?} --help exits 0: {}", stderr(&o));
        stdout(&o)
    };
    let db_flags: &[&str] = &["--database-url", "CONFAB_DATABASE_URL", "--log-format", "CONFAB_LOG_FORMAT"];
    let cases: &[(&[&str], &[&str])] = &[
        (&[], &["serve", "migrate", "keys", "--log-format"]),
        (&["serve"], &["--listen", "CONFAB_LISTEN", "127.0.0.1:8080", "sqlite://confab.db", "SIGTERM"]),
        (&["migrate"], &[]),
        (&["keys"], &["create", "list", "revoke", "--log-format"]),
        (&["keys", "create"], &["--tenant", "--user", "--email", "--scopes", "admin", "conversations"]),
        (&["keys", "list"], &[]),
        (&["keys", "revoke"], &["<ID>"]),
    ];
    for (args, words) in cases {
        let text = help(args);
        let mut expected: Vec<&str> = words.to_vec();
        if !args.is_empty() && args != &["keys"] {
            expected.extend(db_flags);
        }
        for word in expected {
            assert!(text.contains(word), "`confab {} --help` mentions {word}:\n{text}", args.join(" "));
        }
    }
}
