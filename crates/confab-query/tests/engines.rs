//! The cross-engine suite: every query runs through the SQL compiled for SQLite (in memory), the SQL
//! compiled for PostgreSQL (when `CONFAB_TEST_POSTGRES` names a server: a fresh database
//! `confab_q_<random>` is created there and dropped at the end) and the in-memory evaluator, over the
//! same dozen conversations, and all must answer the same conversations. Some cases also state the
//! answer, so that three engines agreeing on a wrong answer is caught too. Then a few hundred generated
//! queries get the same treatment.

use std::collections::BTreeMap;

use confab_query::{matches, parse, to_sql, Bind, Dialect, Doc, Query, Schema, TagSource};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, SqliteConnection};

fn uuid(kind: &str, n: u32) -> String {
    format!("0190c0de-{kind}-7000-8000-{n:012x}")
}

/// The conversations, each with a short label used in expectations and messages.
fn fixtures() -> Vec<(&'static str, Doc)> {
    let doc = |n: u32| Doc { id: uuid("0000", n), ..Doc::default() };
    let chan = |c: u32| Some(uuid("cccc", c));
    vec![
        (
            "grace",
            Doc {
                channel_id: chan(0xa),
                source: Some("facebook".into()),
                display_name: Some("Grace Hopper".into()),
                created_at_ms: 1_600_000_000_000,
                unread_count: 0,
                tag_ids: vec!["T-VIP".into()],
                metadata: json!({"state": "CLOSED", "contact": {"display_name": "Grace Hopper"},
                                 "user_data": {"erp": {"id": "ABC"}}, "unread_count": 0}),
                ..doc(1)
            },
        ),
        (
            "ada",
            Doc {
                channel_id: chan(0xb),
                source: Some("google".into()),
                display_name: Some("Ada\tLovelace".into()),
                created_at_ms: 1_650_000_000_000,
                unread_count: 3,
                tag_ids: vec!["t-vip".into(), "t-new".into()],
                metadata: json!({"state": "OPEN", "score": 9, "list": ["x", "Y z"], "flag": true, "nothing": null}),
                ..doc(2)
            },
        ),
        ("bare", Doc { created_at_ms: 1_700_000_000_000, metadata: json!({}), ..doc(3) }),
        (
            "zoe",
            Doc {
                channel_id: chan(0xa),
                source: Some("whatsapp".into()),
                display_name: Some("Zoë  Straße ÉCOLE".into()),
                created_at_ms: 1_700_000_000_001,
                unread_count: 10,
                tag_ids: vec!["t-new".into()],
                metadata: json!({"state": "open", "tags": "x", "odd key": "v", "q\"k": "quoted", "a\\b": "back",
                                 "dotted": {"x": {"y": "deep value"}}, "ünï": "ü"}),
                ..doc(4)
            },
        ),
        (
            "lines",
            Doc {
                channel_id: chan(0xc),
                source: Some("twilio.sms".into()),
                display_name: Some("Line\nBreak\r\nName".into()),
                created_at_ms: 1_500_000_000_000,
                unread_count: 1,
                tag_ids: vec!["t-x".into()],
                metadata: json!({"state": "CLOSED", "score": 10, "ratio": 1.5, "neg": -3, "big": 12_345_678_901_234_i64}),
                ..doc(5)
            },
        ),
        (
            "percent",
            Doc {
                source: Some("chatplugin".into()),
                display_name: Some("100% real_name".into()),
                created_at_ms: 1_600_000_000_000,
                unread_count: 2,
                metadata: json!({"note": "50% off_now", "path": "a\\b"}),
                ..doc(6)
            },
        ),
        (
            "stars",
            Doc {
                channel_id: chan(0xb),
                source: Some("instagram".into()),
                display_name: Some("star*name q?mark [br]".into()),
                created_at_ms: 1_750_000_000_000,
                unread_count: 0,
                tag_ids: vec!["T-VIP".into(), "t-x".into()],
                metadata: json!({"user_data": {"erp": {"id": "abc def"}}, "arr": [], "obj": {},
                                 "nested_arr": [[1, 2], {"k": "v w"}]}),
                ..doc(7)
            },
        ),
        (
            "shout",
            Doc {
                channel_id: chan(0xa),
                source: Some("Facebook".into()),
                display_name: Some("GRACE hopper".into()),
                created_at_ms: 1_680_000_000_000,
                unread_count: 5,
                metadata: json!({"state": "OPEN", "flag": false}),
                ..doc(8)
            },
        ),
        (
            "empty",
            Doc {
                source: Some(String::new()),
                display_name: Some(String::new()),
                created_at_ms: 1_690_000_000_000,
                metadata: json!({"state": ""}),
                ..doc(9)
            },
        ),
        (
            "blank",
            Doc {
                source: Some("viber".into()),
                display_name: Some(" \t ".into()),
                created_at_ms: 1_690_000_000_001,
                unread_count: 4,
                metadata: Value::Null,
                ..doc(10)
            },
        ),
        (
            "controls",
            Doc {
                channel_id: chan(0xc),
                source: Some("google".into()),
                display_name: Some("a\u{1}b\u{b}c\u{c}d".into()),
                created_at_ms: 1_720_000_000_000,
                unread_count: 1,
                tag_ids: vec!["t-new".into(), "t-x".into()],
                metadata: json!({"x": "tab\there", "num_str": "42"}),
                ..doc(11)
            },
        ),
        (
            "mary",
            Doc {
                source: Some("facebook".into()),
                display_name: Some("Mary-Jane O'Neil".into()),
                created_at_ms: -1000,
                unread_count: 7,
                tag_ids: vec!["t-vip".into()],
                metadata: json!({"state": "PENDING", "user_data": {"erp": {"id": "x-1"}}, "n": 0.5}),
                ..doc(12)
            },
        ),
    ]
}

/// The queries, with the labels they must match where the answer is stated.
fn cases() -> Vec<(&'static str, Option<&'static [&'static str]>)> {
    let all: &'static [&'static str] =
        &["grace", "ada", "bare", "zoe", "lines", "percent", "stars", "shout", "empty", "blank", "controls", "mary"];
    vec![
        // everything / nothing
        ("*:*", Some(all)),
        ("*", Some(all)),
        ("id:*", Some(all)),
        ("NOT *:*", Some(&[])),
        // id: keyword, default field
        (r"id:0190c0de\-0000\-7000\-8000\-000000000001", Some(&["grace"])),
        (r#""0190c0de-0000-7000-8000-000000000002""#, Some(&["ada"])),
        ("0190c0de-0000-7000-8000-00000000000c", Some(&["mary"])),
        ("id:*0003", Some(&["bare"])),
        ("id:0190c0de-*-00000000000?", None),
        (
            "id:[0190c0de-0000-7000-8000-000000000005 TO 0190c0de-0000-7000-8000-000000000008}",
            Some(&["lines", "percent", "stars"]),
        ),
        ("0190C0DE*", Some(&[])),
        // source, channel_id: keywords
        ("source:facebook", Some(&["grace", "mary"])),
        ("source:Facebook", Some(&["shout"])),
        ("source:(facebook OR google)", Some(&["grace", "ada", "controls", "mary"])),
        ("source:face*", Some(&["grace", "mary"])),
        ("source:*book", Some(&["grace", "shout", "mary"])),
        ("source:?acebook", None),
        ("source:twilio.sms", Some(&["lines"])),
        ("source:twilio*", Some(&["lines"])),
        (
            "source:*",
            Some(&["grace", "ada", "zoe", "lines", "percent", "stars", "shout", "empty", "blank", "controls", "mary"]),
        ),
        ("NOT source:*", Some(&["bare"])),
        (r#"source:"""#, Some(&["empty"])),
        ("source:[f TO h]", None),
        ("source:{facebook TO google]", Some(&["ada", "controls"])),
        (
            r"channel_id:(0190c0de\-cccc\-7000\-8000\-00000000000a OR 0190c0de\-cccc\-7000\-8000\-00000000000b)",
            Some(&["grace", "ada", "zoe", "stars", "shout"]),
        ),
        ("channel_id:*", None),
        ("NOT channel_id:*", Some(&["bare", "percent", "empty", "blank", "mary"])),
        // display_name: analysed text
        ("display_name:grace", Some(&["grace", "shout"])),
        ("display_name:GRACE", Some(&["grace", "shout"])),
        ("display_name:hopper", Some(&["grace", "shout"])),
        ("display_name:*race*", Some(&["grace", "shout"])),
        ("display_name:*Grace Hopper*", Some(&["grace", "shout"])),
        (r#"display_name:"grace hopper""#, Some(&["grace", "shout"])),
        (r#"display_name:"hopper grace""#, Some(&[])),
        (r#"display_name:"ada lovelace""#, Some(&["ada"])),
        ("display_name:lovelace", Some(&["ada"])),
        ("display_name:g*r", Some(&[])),
        ("display_name:l*e", Some(&["ada", "lines"])),
        ("display_name:straße", Some(&["zoe"])),
        ("display_name:STRASSE", Some(&[])),
        ("display_name:école", Some(&[])),
        ("display_name:ÉCOLE", Some(&["zoe"])),
        ("display_name:zo?", Some(&["zoe"])),
        (r#"display_name:"zoë straße""#, Some(&["zoe"])),
        ("display_name:break", Some(&["lines"])),
        (r#"display_name:"line break name""#, Some(&["lines"])),
        ("display_name:100%", Some(&["percent"])),
        ("display_name:100*", Some(&["percent"])),
        ("display_name:real_name", Some(&["percent"])),
        ("display_name:real?name", Some(&["percent"])),
        ("display_name:*_*", Some(&["percent"])),
        ("display_name:*%*", Some(&["percent"])),
        ("display_name:1_0%", Some(&[])),
        (r"display_name:star\*name", Some(&["stars"])),
        ("display_name:star*", Some(&["stars"])),
        (r"display_name:q\?mark", Some(&["stars"])),
        (r"display_name:\[br\]", Some(&["stars"])),
        (r"display_name:\[*", Some(&["stars"])),
        ("display_name:*", Some(&["grace", "ada", "zoe", "lines", "percent", "stars", "shout", "controls", "mary"])),
        ("NOT display_name:*", Some(&["bare", "empty", "blank"])),
        (r#"display_name:"""#, Some(&[])),
        ("display_name:[a TO h]", None),
        ("display_name:{grace TO *]", None),
        ("display_name:b", Some(&["controls"])),
        (r#"display_name:"b c d""#, Some(&["controls"])),
        (r#"display_name:"mary-jane o'neil""#, Some(&["mary"])),
        ("display_name:o'neil", Some(&["mary"])),
        (r"display_name:mary\-jane", Some(&["mary"])),
        // created_at: epoch ms, every bracket
        ("created_at:1600000000000", Some(&["grace", "percent"])),
        (
            "created_at:[1600000000000 TO 1700000000000]",
            Some(&["grace", "ada", "bare", "percent", "shout", "empty", "blank"]),
        ),
        ("created_at:{1600000000000 TO 1700000000000}", Some(&["ada", "shout", "empty", "blank"])),
        ("created_at:[1600000000000 TO 1700000000000}", Some(&["grace", "ada", "percent", "shout", "empty", "blank"])),
        ("created_at:{1600000000000 TO 1700000000000]", Some(&["ada", "bare", "shout", "empty", "blank"])),
        ("created_at:[* TO 1600000000000]", Some(&["grace", "lines", "percent", "mary"])),
        ("created_at:{1700000000000 TO *]", Some(&["zoe", "stars", "controls"])),
        (r"created_at:\-1000", Some(&["mary"])),
        ("created_at:[* TO 0}", Some(&["mary"])),
        ("created_at:*", Some(all)),
        // unread_count: integers
        ("unread_count:0", Some(&["grace", "bare", "stars", "empty"])),
        ("unread_count:[1 TO *]", Some(&["ada", "zoe", "lines", "percent", "shout", "blank", "controls", "mary"])),
        ("unread_count:{0 TO 5]", Some(&["ada", "lines", "percent", "shout", "blank", "controls"])),
        ("unread_count:[3 TO 3]", Some(&["ada"])),
        ("unread_count:{3 TO 3]", Some(&[])),
        ("unread_count:(0 OR 10)", Some(&["grace", "bare", "zoe", "stars", "empty"])),
        ("NOT unread_count:0", Some(&["ada", "zoe", "lines", "percent", "shout", "blank", "controls", "mary"])),
        ("unread_count:[5 TO 1]", Some(&[])),
        // tag_ids: case-insensitive tokens
        (r"tag_ids:t\-vip", Some(&["grace", "ada", "stars", "mary"])),
        (r"tag_ids:T\-VIP", Some(&["grace", "ada", "stars", "mary"])),
        (r"tag_ids:(t\-vip AND t\-new)", Some(&["ada"])),
        (r"tag_ids:(t\-vip OR t\-x)", Some(&["grace", "ada", "lines", "stars", "controls", "mary"])),
        ("tag_ids:t*", None),
        ("tag_ids:*X", Some(&["lines", "stars", "controls"])),
        ("tag_ids:*", None),
        ("NOT tag_ids:*", Some(&["bare", "percent", "shout", "empty", "blank"])),
        (r"tag_ids:[t\-new TO t\-x]", None),
        (r#"tag_ids:"T-NEW""#, Some(&["ada", "zoe", "controls"])),
        // metadata paths
        ("metadata.state:closed", Some(&["grace", "lines"])),
        ("metadata.state:OPEN", Some(&["ada", "zoe", "shout"])),
        (
            "id:* AND NOT metadata.state:CLOSED",
            Some(&["ada", "bare", "zoe", "percent", "stars", "shout", "empty", "blank", "controls", "mary"]),
        ),
        (
            "NOT metadata.state:CLOSED",
            Some(&["ada", "bare", "zoe", "percent", "stars", "shout", "empty", "blank", "controls", "mary"]),
        ),
        ("metadata.state:*", Some(&["grace", "ada", "zoe", "lines", "shout", "mary"])),
        ("NOT metadata.state:*", None),
        (r#"metadata.state:"""#, Some(&[])),
        ("metadata.user_data.erp.id:abc", Some(&["grace", "stars"])),
        (r#"metadata.user_data.erp.id:"abc def""#, Some(&["stars"])),
        ("metadata.user_data.erp.id:def", Some(&["stars"])),
        (r"metadata.user_data.erp.id:x\-1", Some(&["mary"])),
        ("metadata.user_data:*abc*", Some(&["grace", "stars"])),
        ("metadata.contact.display_name:grace", Some(&["grace"])),
        ("metadata.score:9", Some(&["ada"])),
        ("metadata.score:[10 TO 9]", Some(&["ada", "lines"])),
        ("metadata.ratio:1.5", Some(&["lines"])),
        (r"metadata.neg:\-3", Some(&["lines"])),
        ("metadata.big:12345678901234", Some(&["lines"])),
        ("metadata.n:0.5", Some(&["mary"])),
        ("metadata.unread_count:0", Some(&["grace"])),
        ("metadata.flag:true", Some(&["ada"])),
        ("metadata.flag:FALSE", Some(&["shout"])),
        ("metadata.nothing:null", Some(&["ada"])),
        ("metadata.list:*x*", Some(&["ada"])),
        (r#"metadata.list:"[\"x\",\"y z\"]""#, Some(&["ada"])),
        (r#"metadata.list:z\"\]"#, Some(&["ada"])),
        ("metadata.list.0:x", Some(&[])),
        (r"metadata.arr:\[\]", Some(&["stars"])),
        (r"metadata.obj:\{\}", Some(&["stars"])),
        ("metadata.nested_arr:*v*", Some(&["stars"])),
        (r#"metadata.nested_arr:w\"\}\]"#, Some(&["stars"])),
        (r#"metadata.nested_arr:"[[1,2],{\"k\":\"v w\"}]""#, Some(&["stars"])),
        (r"metadata.odd\ key:v", Some(&["zoe"])),
        (r#"metadata.q\"k:quoted"#, Some(&["zoe"])),
        (r"metadata.a\\b:back", Some(&["zoe"])),
        ("metadata.dotted.x.y:deep", Some(&["zoe"])),
        (r#"metadata.dotted.x.y:"deep value""#, Some(&["zoe"])),
        ("metadata.dotted:*deep*", Some(&["zoe"])),
        ("metadata.ünï:ü", Some(&["zoe"])),
        ("metadata.ünï:Ü", Some(&[])),
        ("metadata.note:50%", Some(&["percent"])),
        ("metadata.note:off_now", Some(&["percent"])),
        ("metadata.note:off?now", Some(&["percent"])),
        (r"metadata.path:a\\b", Some(&["percent"])),
        ("metadata.x:tab", Some(&["controls"])),
        (r#"metadata.x:"TAB here""#, Some(&["controls"])),
        ("metadata.num_str:42", Some(&["controls"])),
        ("metadata.tags:x", Some(&["zoe"])),
        ("metadata.missing:*", Some(&[])),
        ("NOT metadata.missing:*", Some(all)),
        ("metadata.state.deeper:x", Some(&[])),
        // Boolean logic, Lucene's way
        ("source:facebook AND unread_count:0", Some(&["grace"])),
        ("source:facebook OR unread_count:[5 TO *]", Some(&["grace", "zoe", "shout", "mary"])),
        ("source:facebook OR source:google AND unread_count:3", Some(&["ada"])),
        ("(source:facebook OR source:google) AND unread_count:3", Some(&["ada"])),
        ("source:facebook AND unread_count:7 OR source:google", Some(&["mary"])),
        (
            "-source:facebook -source:google",
            Some(&["bare", "zoe", "lines", "percent", "stars", "shout", "empty", "blank"]),
        ),
        ("source:facebook -display_name:grace", Some(&["mary"])),
        (r"+display_name:grace +tag_ids:t\-vip", Some(&["grace"])),
        ("display_name:grace NOT metadata.state:closed", Some(&["shout"])),
        ("display_name:(grace OR ada) AND NOT tag_ids:*", Some(&["shout"])),
        // Lucene: `x OR NOT y` is `x AND NOT y`, so the group is "facebook with unread messages".
        (
            "NOT (source:facebook OR NOT unread_count:0)",
            Some(&["grace", "ada", "bare", "zoe", "lines", "percent", "stars", "shout", "empty", "blank", "controls"]),
        ),
        (
            "unread_count:[1 TO *] AND display_name:*a* AND source:(facebook OR google OR whatsapp)",
            Some(&["ada", "zoe", "controls", "mary"]),
        ),
        ("source:google OR NOT unread_count:1", Some(&["ada"])),
        ("(NOT source:facebook) AND metadata.state:closed", Some(&["lines"])),
        ("a OR b", Some(&[])),
        ("display_name:grace^2 OR display_name:ada^0.5", Some(&["grace", "ada", "shout"])),
        ("*:* -unread_count:[1 TO *]", Some(&["grace", "bare", "stars", "empty"])),
    ]
}

/// One of the three engines.
enum Engine {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

fn schema(dialect: Dialect) -> Schema {
    let pg = dialect == Dialect::Postgres;
    let cast = |e: &str| if pg { format!("{e}::text") } else { e.to_string() };
    Schema {
        dialect,
        id: cast("c.id"),
        channel_id: cast("c.channel_id"),
        source: "c.source".into(),
        display_name: "c.display_name".into(),
        created_at_ms: "c.created_at_ms".into(),
        unread_count: "c.unread_count".into(),
        tags: TagSource {
            from_where: "conversation_tags ct WHERE ct.conversation_id = c.id".into(),
            tag_id: "ct.tag_id".into(),
        },
        metadata: "c.metadata".into(),
    }
}

fn metadata_text(doc: &Doc) -> Option<String> {
    (!doc.metadata.is_null()).then(|| doc.metadata.to_string())
}

impl Engine {
    async fn sqlite() -> Engine {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.expect("in-memory SQLite");
        for ddl in [
            "CREATE TABLE conversations (id TEXT PRIMARY KEY, channel_id TEXT, source TEXT, display_name TEXT, \
             created_at_ms INTEGER NOT NULL, unread_count INTEGER NOT NULL, metadata TEXT)",
            "CREATE TABLE conversation_tags (conversation_id TEXT NOT NULL, tag_id TEXT NOT NULL)",
        ] {
            sqlx::query(ddl).execute(&mut conn).await.expect("create tables");
        }
        for (_, d) in fixtures() {
            sqlx::query("INSERT INTO conversations VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&d.id)
                .bind(&d.channel_id)
                .bind(&d.source)
                .bind(&d.display_name)
                .bind(d.created_at_ms)
                .bind(d.unread_count)
                .bind(metadata_text(&d))
                .execute(&mut conn)
                .await
                .expect("insert a conversation");
            for t in &d.tag_ids {
                sqlx::query("INSERT INTO conversation_tags VALUES ($1, $2)")
                    .bind(&d.id)
                    .bind(t)
                    .execute(&mut conn)
                    .await
                    .expect("insert a tag");
            }
        }
        Engine::Sqlite(conn)
    }

    async fn postgres(url: &str) -> Engine {
        let mut conn = PgConnection::connect(url).await.expect("connect to the test database");
        for ddl in [
            "CREATE TABLE conversations (id UUID PRIMARY KEY, channel_id UUID, source TEXT, display_name TEXT, \
             created_at_ms BIGINT NOT NULL, unread_count BIGINT NOT NULL, metadata JSONB)",
            "CREATE TABLE conversation_tags (conversation_id UUID NOT NULL, tag_id TEXT NOT NULL)",
        ] {
            sqlx::query(ddl).execute(&mut conn).await.expect("create tables");
        }
        for (_, d) in fixtures() {
            sqlx::query("INSERT INTO conversations VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7::jsonb)")
                .bind(&d.id)
                .bind(&d.channel_id)
                .bind(&d.source)
                .bind(&d.display_name)
                .bind(d.created_at_ms)
                .bind(d.unread_count)
                .bind(metadata_text(&d))
                .execute(&mut conn)
                .await
                .expect("insert a conversation");
            for t in &d.tag_ids {
                sqlx::query("INSERT INTO conversation_tags VALUES ($1::uuid, $2)")
                    .bind(&d.id)
                    .bind(t)
                    .execute(&mut conn)
                    .await
                    .expect("insert a tag");
            }
        }
        Engine::Postgres(conn)
    }

    fn name(&self) -> &'static str {
        match self {
            Engine::Sqlite(_) => "SQLite",
            Engine::Postgres(_) => "PostgreSQL",
        }
    }

    /// The ids the engine's SQL selects, sorted. The statement already binds `$1`, as a store's would.
    async fn ids(&mut self, query: &Query) -> Result<Vec<String>, String> {
        macro_rules! run {
            ($conn:expr, $dialect:expr, $id:literal) => {{
                let frag = to_sql(query, &schema($dialect), 1);
                let sql =
                    format!("SELECT {} FROM conversations c WHERE {} <> $1 AND {} ORDER BY 1", $id, $id, frag.sql);
                let mut q = sqlx::query_scalar::<_, String>(&sql).bind("no such id");
                for b in &frag.binds {
                    q = match b {
                        Bind::Text(t) => q.bind(t.clone()),
                        Bind::Int(n) => q.bind(*n),
                    };
                }
                q.fetch_all($conn).await.map_err(|e| format!("{e}\n  SQL: {sql}\n  binds: {:?}", frag.binds))
            }};
        }
        let mut ids = match self {
            Engine::Sqlite(conn) => run!(&mut *conn, Dialect::Sqlite, "c.id")?,
            Engine::Postgres(conn) => run!(&mut *conn, Dialect::Postgres, "c.id::text")?,
        };
        ids.sort();
        Ok(ids)
    }
}

/// The labels of the conversations with these ids.
fn labels(ids: &[String]) -> Vec<&'static str> {
    let by_id: BTreeMap<String, &'static str> = fixtures().into_iter().map(|(l, d)| (d.id, l)).collect();
    let mut out: Vec<&'static str> = ids.iter().map(|id| by_id[id]).collect();
    let order: Vec<&'static str> = fixtures().into_iter().map(|(l, _)| l).collect();
    out.sort_by_key(|l| order.iter().position(|o| o == l));
    out
}

/// Runs `query` everywhere; returns a description of each disagreement.
async fn compare(engines: &mut [Engine], input: &str, expected: Option<&[&str]>) -> Vec<String> {
    let mut problems = Vec::new();
    let query = match parse(input) {
        Ok(q) => q,
        Err(e) => return vec![format!("{input:?} does not parse: {e}")],
    };
    let mut evaluated: Vec<String> =
        fixtures().into_iter().filter(|(_, d)| matches(&query, d)).map(|(_, d)| d.id).collect();
    evaluated.sort();
    let want = labels(&evaluated);
    if let Some(expected) = expected {
        if want != expected {
            problems.push(format!("{input:?}: the evaluator says {want:?}, the case says {expected:?}"));
        }
    }
    for engine in engines.iter_mut() {
        match engine.ids(&query).await {
            Ok(ids) if ids == evaluated => {}
            Ok(ids) => problems.push(format!(
                "{input:?} ({query}): {} says {:?}, the evaluator {want:?}",
                engine.name(),
                labels(&ids)
            )),
            Err(e) => problems.push(format!("{input:?}: {} failed: {e}", engine.name())),
        }
    }
    problems
}

// ---- generated queries ----

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

// The pools of the generated queries, kept compact on purpose.
#[rustfmt::skip]
const INT_VALUES: &[&str] = &["0", "1", "3", "10", "[1 TO *]", "{0 TO 5]", "[* TO 3}", "*", "[2 TO 7]", "(0 OR 5)"];
#[rustfmt::skip]
const TIME_VALUES: &[&str] =
    &["1600000000000", "[1600000000000 TO 1700000000000}", "{1690000000000 TO *]", "[* TO 0]", r"\-1000", "*"];
#[rustfmt::skip]
const TAG_VALUES: &[&str] =
    &[r"t\-vip", r"T\-NEW", "t*", "*x", r"(t\-vip AND t\-new)", r"(t\-x OR t\-new)", "*", r"[t\-o TO *]"];
#[rustfmt::skip]
const KEYWORD_VALUES: &[&str] =
    &["facebook", "Facebook", "google", "*oo*", "face*", "*", r#""""#, "[g TO w]", "twilio.sms", "*0001", "*00c"];
#[rustfmt::skip]
const TEXT_VALUES: &[&str] = &[
    "grace", "GRACE", "*race*", "ada", r#""grace hopper""#, "closed", "OPEN", "*", "abc", "l*e", "true", r#""""#,
    "[a TO m]", "{m TO *]", "*v*", "straße", "9", "1.5", "(grace OR ada)", "?oo", "b", r#""line break""#, "*_*",
    "100%", "real?name", r"\[br\]", "o'neil", r#"*\"*"#, r#""b c""#, "null", r#"["1" TO "9"]"#, "ÉCOLE",
    r#""v w\"}]""#, r"*\]", "(abc AND def)", "(NOT grace)", "deep", "0.5", r"\-3",
];
#[rustfmt::skip]
const FIELDS: &[&str] = &[
    "", "source", "channel_id", "display_name", "display_name", "unread_count", "created_at", "tag_ids",
    "metadata.state", "metadata.user_data.erp.id", "metadata.list", "metadata.flag", "metadata.score",
    "metadata.missing", "metadata.dotted.x.y", "metadata.nested_arr", r"metadata.odd\ key", "metadata.ratio",
    "metadata.x", "metadata.note", "metadata.dotted", "metadata.nothing", "metadata.n", "metadata.neg",
];

fn generated_value(rng: &mut Rng, field: &str) -> String {
    let pool = match field {
        "unread_count" => INT_VALUES,
        "created_at" => TIME_VALUES,
        "tag_ids" => TAG_VALUES,
        "source" | "channel_id" | "id" => KEYWORD_VALUES,
        _ => TEXT_VALUES,
    };
    rng.pick(pool).to_string()
}

fn generated_clause(rng: &mut Rng, depth: usize) -> String {
    if depth < 3 && rng.below(5) == 0 {
        return format!("({})", generated_query(rng, depth + 1));
    }
    match rng.pick(FIELDS) {
        "" => generated_value(rng, "id"),
        field => format!("{field}:{}", generated_value(rng, field)),
    }
}

fn generated_query(rng: &mut Rng, depth: usize) -> String {
    let n = 1 + rng.below(4);
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push_str(rng.pick(&[" ", " AND ", " OR ", " && ", " || "]));
        }
        out.push_str(rng.pick(&["", "", "", "+", "-", "NOT ", "!"]));
        out.push_str(&generated_clause(rng, depth));
    }
    out
}

/// Queries at the limits: 256 terms of every kind, flat and with `+`/`-`, and 32 nested groups.
fn largest_queries() -> Vec<String> {
    const LEAVES: &[&str] = &[
        "metadata.n:5",
        "display_name:a*",
        "tag_ids:t*",
        "unread_count:1",
        "source:f*",
        "metadata.x:*x*",
        r#"display_name:"b c""#,
        "created_at:*",
    ];
    let flat: Vec<&str> = (0..256).map(|i| LEAVES[i % LEAVES.len()]).collect();
    let signed: Vec<String> =
        flat.iter().enumerate().map(|(i, l)| format!("{}{l}", if i % 2 == 0 { "+" } else { "-" })).collect();
    let mut nested = "display_name:*e*".to_string();
    for d in 0..32 {
        nested = format!("(display_name:*a* AND NOT metadata.state:y{d} AND tag_ids:t\\-x{d} OR {nested})");
    }
    vec![flat.join(" "), signed.join(" "), nested]
}

// ---- the test ----

fn postgres_url() -> Option<String> {
    std::env::var("CONFAB_TEST_POSTGRES").ok().filter(|s| !s.trim().is_empty())
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
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

/// A database created for this run on the server of `CONFAB_TEST_POSTGRES`, dropped when the guard is,
/// also when the test panics halfway (on a thread of its own, since `Drop` cannot await).
struct TestDatabase {
    admin_url: String,
    name: String,
}

impl TestDatabase {
    async fn create(admin_url: String) -> TestDatabase {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("confab_q_{:x}{:x}", nanos, std::process::id());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("CONFAB_TEST_POSTGRES is set but PostgreSQL cannot be reached: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create the test database");
        let _ = admin.close().await;
        TestDatabase { admin_url, name }
    }

    fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await.map_err(|e| e.to_string())?;
                let result = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .map_err(|e| e.to_string());
                let _ = admin.close().await;
                result.map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}: {dropped:?}", self.name);
        }
    }
}

#[tokio::test]
async fn every_query_gets_the_same_answer_from_sqlite_postgres_and_the_evaluator() {
    let mut engines = vec![Engine::sqlite().await];
    let database = match postgres_url() {
        Some(admin_url) => Some(TestDatabase::create(admin_url).await),
        None => {
            eprintln!("CONFAB_TEST_POSTGRES is not set: comparing SQLite and the evaluator only");
            None
        }
    };
    if let Some(db) = &database {
        engines.push(Engine::postgres(&db.url()).await);
    }

    let mut problems = Vec::new();
    let cases = cases();
    for (input, expected) in &cases {
        problems.extend(compare(&mut engines, input, *expected).await);
    }
    for input in largest_queries() {
        problems.extend(compare(&mut engines, &input, None).await);
    }
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut generated = 0;
    for _ in 0..1000 {
        let input = generated_query(&mut rng, 0);
        if parse(&input).is_ok() {
            generated += 1;
            problems.extend(compare(&mut engines, &input, None).await);
        }
    }
    let engine_names: Vec<&str> = engines.iter().map(Engine::name).collect();
    eprintln!("{} fixed and {generated} generated queries on {engine_names:?} and the evaluator", cases.len());

    for engine in engines {
        match engine {
            Engine::Postgres(conn) => {
                let _ = conn.close().await;
            }
            Engine::Sqlite(conn) => {
                let _ = conn.close().await;
            }
        }
    }
    drop(database);
    assert!(generated > 900, "only {generated} generated queries parsed");
    assert!(problems.is_empty(), "{} disagreements:\n{}", problems.len(), problems.join("\n"));
}
