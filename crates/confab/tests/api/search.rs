//! Full-text search (`search` of the conversation, message and contact lists), the same on both
//! engines: one corpus of names and messages with accents, capitals, hyphens, e-mails, URLs,
//! numbers, emoji, Greek and Chinese, and a table of searches with the exact conversations each must
//! find, run over HTTP on whichever engine the suite runs on. Then index maintenance (updates,
//! deletes), tenant isolation, validation, and a check that the engine's own words (SQLite FTS5, the
//! PostgreSQL functions) are, for every Unicode code point, the ones the store's tables were
//! generated for (semantics: `confab-store/sql/search.rs`).

use crate::support::{postgres_url, Resp, TestApp};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Creates a conversation on `channel` with a new contact (`phone`, `name`), sends `messages` into
/// it, and returns its id.
async fn conversation_with(app: &TestApp, channel: &str, phone: &str, name: &str, messages: &[&str]) -> String {
    let r = app
        .api()
        .post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": phone, "name": name}}))
        .await;
    let id = r.expect(201).id();
    for text in messages {
        send(app, &id, text).await;
    }
    id
}

/// Sends a text message into a conversation; returns the message id.
async fn send(app: &TestApp, conversation: &str, text: &str) -> String {
    let body = json!({"conversationId": conversation, "content": {"type": "text", "text": text}});
    app.api().post("/v1/messages", body).await.expect(201).id()
}

/// The ids of a list response, sorted.
fn ids(r: &Resp) -> Vec<String> {
    r.expect(200);
    let mut v: Vec<String> =
        r.body["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

fn total(r: &Resp) -> u64 {
    r.body["meta"]["pagination"]["totalCount"].as_u64().unwrap()
}

/// `s` percent-encoded for a query string.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The conversations `search` finds (sorted ids), checking that the total agrees.
async fn search_conversations(app: &TestApp, q: &str) -> Vec<String> {
    let r = app.api().get(&format!("/v1/conversations?perPage=100&search={}", encode(q))).await;
    let found = ids(&r);
    assert_eq!(total(&r), found.len() as u64, "total of {q:?}");
    found
}

// ---------------------------------------------------------------------------------------------
// The corpus and the table

#[tokio::test]
async fn conversation_search_finds_exactly_the_expected_conversations() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let mut c: BTreeMap<&str, String> = BTreeMap::new();
    c.insert(
        "A",
        conversation_with(
            &app,
            &channel,
            "+15550000001",
            "Élodie Dupont",
            &["Bonjour, ma commande 12345 n'est pas arrivée", "Merci!"],
        )
        .await,
    );
    c.insert(
        "B",
        conversation_with(
            &app,
            &channel,
            "+15550000002",
            "ÉLODIE MARTIN",
            &["Refunded yesterday, order #98765", "see https://shop.example.com/orders/98765?ref=mail"],
        )
        .await,
    );
    c.insert(
        "C",
        conversation_with(
            &app,
            &channel,
            "+15550000003",
            "Hans Straße",
            &["Die STRASSE ist gesperrt", "Version v2.5 released; upgrade to 2.5.1"],
        )
        .await,
    );
    c.insert(
        "D",
        conversation_with(
            &app,
            &channel,
            "+15550000004",
            "Zoë O'Brien-Smith",
            &["Contact me at zoe.obrien@example.org or +44 20 7946 0958"],
        )
        .await,
    );
    c.insert(
        "E",
        conversation_with(&app, &channel, "+15550000005", "李小龍", &["我想退款 thanks 🙂 😀 party🎉time"]).await,
    );
    c.insert("F", conversation_with(&app, &channel, "+15550000006", "Σωκράτης", &["ΚΑΛΗΜΕΡΑ φίλε μου"]).await);
    c.insert(
        "G",
        conversation_with(
            &app,
            &channel,
            "+15550000007",
            "Bob",
            &["well-known e-mail issue; <b>bold</b> &amp; co.", "café—bar l’été"],
        )
        .await,
    );
    c.insert("H", conversation_with(&app, &channel, "+15550000008", "Ana Silva", &[]).await);
    // A name written with a combining accent (NFD): the accent is part of the word.
    c.insert("I", conversation_with(&app, &channel, "+15550000009", "Rene\u{301}e", &[]).await);

    let cases: &[(&str, &[&str])] = &[
        // Case-insensitive, accents significant, every word a prefix.
        ("élodie", &["A", "B"]),
        ("ÉLODIE", &["A", "B"]),
        ("ÉlOdIe", &["A", "B"]),
        ("elodie", &[]),
        ("élo", &["A", "B"]),
        ("lodie", &[]),
        // Every word, each in the name or in any message.
        ("élodie dupont", &["A"]),
        ("élodie refund", &["B"]),
        ("élodie ana", &[]),
        ("refund", &["B"]),
        ("REFUNDED", &["B"]),
        ("refunds", &[]),
        ("merci", &["A"]),
        // Numbers: prefixes of the digits, punctuation separates.
        ("12345", &["A"]),
        ("1234", &["A"]),
        ("2345", &[]),
        ("#98765", &["B"]),
        ("v2.5", &["C"]),
        ("2.5.1", &["C"]),
        // URLs and e-mails are words like any other text.
        ("shop", &["B"]),
        ("example", &["B", "D"]),
        ("example.com", &["B"]),
        ("obrien@example.org", &["D"]),
        ("zoe", &["D"]),
        ("zoë", &["D"]),
        ("44 20", &["D"]),
        // Hyphens, apostrophes, dashes, tags and entities separate words.
        ("o'brien", &["D"]),
        ("smith", &["D"]),
        ("known", &["G"]),
        ("e-mail", &["B", "G"]),
        ("bold", &["G"]),
        ("amp", &["G"]),
        ("bar", &["G"]),
        ("café", &["G"]),
        ("été", &["G"]),
        // No folding of ß, in either direction.
        ("straße", &["C"]),
        ("STRAẞE", &["C"]),
        ("strasse", &["C"]),
        ("hans strasse", &["C"]),
        ("stras", &["C"]),
        ("straß", &["C"]),
        ("straßen", &[]),
        // Greek: case folding includes the final sigma.
        ("καλημερα", &["F"]),
        ("καλημέρα", &[]),
        ("ΦΊΛΕ", &["F"]),
        ("σωκράτης", &["F"]),
        ("ΣΩΚΡΆΤΗΣ", &["F"]),
        ("σωκρατης", &[]),
        // Chinese without spaces is one word per run: a prefix of the run matches.
        ("李小龍", &["E"]),
        ("李", &["E"]),
        ("小龍", &[]),
        ("我想", &["E"]),
        ("退款", &[]),
        // Emoji separate words (🎉), except those newer than the tokenizer's tables (🙂), which are
        // letters for both engines.
        ("party", &["E"]),
        ("time", &["E"]),
        ("🙂", &["E"]),
        ("thanks 😀", &["E"]),
        // Combining accents continue a word: the decomposed name is found by its prefix only.
        ("rene", &["I"]),
        ("Rene\u{301}e", &["I"]),
        ("ren\u{e9}e", &[]),
        ("silva", &["H"]),
        // Punctuation around words is ignored.
        ("  «Élodie», (dupont)!  ", &["A"]),
    ];
    let mut failures = Vec::new();
    for (q, expected) in cases {
        let mut want: Vec<String> = expected.iter().map(|k| c[k].clone()).collect();
        want.sort();
        let got = search_conversations(&app, q).await;
        if got != want {
            let name = |id: &String| c.iter().find(|(_, v)| *v == id).map(|(k, _)| *k).unwrap_or("?");
            failures.push(format!(
                "{q:?}: expected {:?}, got {:?}",
                expected,
                got.iter().map(name).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{} searches differ:\n{}", failures.len(), failures.join("\n"));

    // A blank search is no filter; other filters combine with search.
    assert_eq!(search_conversations(&app, "   ").await.len(), c.len());
    let r = app.api().get(&format!("/v1/conversations?status=closed&search={}", encode("élodie"))).await;
    assert!(ids(&r).is_empty());
    // Pages of a search: the total counts every match.
    let r = app.api().get(&format!("/v1/conversations?perPage=1&search={}", encode("élodie"))).await;
    assert_eq!((ids(&r).len(), total(&r)), (1, 2));
}

#[tokio::test]
async fn bad_searches_are_400_naming_search() {
    let app = TestApp::spawn().await;
    for path in ["/v1/conversations", "/v1/messages", "/v1/contacts"] {
        for (q, message) in [
            ("%_-", "must contain a letter or a digit"),
            ("😀 !", "must contain a letter or a digit"),
            ("1 2 3 4 5 6 7 8 9", "must have at most 8 words"),
            ("a-b-c-d-e-f-g-h-i", "must have at most 8 words"),
        ] {
            let r = app.api().get(&format!("{path}?search={}", encode(q))).await;
            r.expect_error(400, "VALIDATION_ERROR");
            assert_eq!(r.error_fields(), ["search"], "{path} {q}");
            assert_eq!(r.body["error"]["details"][0]["message"], message, "{path} {q}");
        }
        // Eight words are fine, and so is a very long word.
        app.api().get(&format!("{path}?search={}", encode("1 2 3 4 5 6 7 8"))).await.expect(200);
        app.api().get(&format!("{path}?search={}", "é".repeat(400))).await.expect(200);
        // Quotes and FTS5 or tsquery syntax are plain separators.
        for q in ["\"a\" OR b*", "a:* & !b | (c)", "NEAR(a b)", "'); DROP TABLE messages; --"] {
            app.api().get(&format!("{path}?search={}", encode(q))).await.expect(200);
        }
    }
}

#[tokio::test]
async fn a_word_longer_than_255_characters_is_compared_on_its_first_255() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let long = format!("{}x", "é".repeat(299));
    let id = conversation_with(&app, &channel, "+15550000001", "Long", &[&long]).await;
    let other = conversation_with(&app, &channel, "+15550000002", "Other", &[&"é".repeat(300)]).await;
    let mut both = vec![id.clone(), other.clone()];
    both.sort();
    // The first 255 characters are the same in both: beyond them, words are not told apart.
    assert_eq!(search_conversations(&app, &long).await, both);
    assert_eq!(search_conversations(&app, &"É".repeat(254)).await, both);
    assert_eq!(search_conversations(&app, &format!("{}x", "é".repeat(254))).await, Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Messages and contacts lists

#[tokio::test]
async fn message_search_matches_every_word_of_the_message_itself() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let a = conversation_with(&app, &channel, "+15550000001", "Maria Refund", &[]).await;
    let b = conversation_with(&app, &channel, "+15550000002", "Joe", &[]).await;
    let m1 = send(&app, &a, "Your refund for order 12345 was sent").await;
    let m2 = send(&app, &a, "Order 12346 shipped").await;
    let m3 = send(&app, &b, "REFUNDS take 3-5 days; see https://help.example.com").await;
    let m4 = send(&app, &b, "Merci, ÉLODIE").await;
    let search = |q: &str| {
        let (api, q) = (app.api(), encode(q));
        async move {
            let r = api.get(&format!("/v1/messages?perPage=100&search={q}")).await;
            let found = ids(&r);
            assert_eq!(total(&r), found.len() as u64);
            found
        }
    };
    let sorted = |xs: &[&String]| {
        let mut v: Vec<String> = xs.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(search("refund").await, sorted(&[&m1, &m3]));
    assert_eq!(search("order 1234").await, sorted(&[&m1, &m2]));
    assert_eq!(search("order 12345").await, sorted(&[&m1]));
    // Words of the message's own text only: the contact's name does not count here.
    assert_eq!(search("maria").await, Vec::<String>::new());
    assert_eq!(search("refund order").await, sorted(&[&m1]));
    assert_eq!(search("example.com").await, sorted(&[&m3]));
    assert_eq!(search("élodie").await, sorted(&[&m4]));
    assert_eq!(search("elodie").await, Vec::<String>::new());
    // With other filters.
    let r = app.api().get(&format!("/v1/messages?conversationId={b}&search=refund")).await;
    assert_eq!(ids(&r), sorted(&[&m3]));
}

#[tokio::test]
async fn contact_search_matches_name_or_display_name_words_or_part_of_email_or_phone() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let mut ids_of = BTreeMap::new();
    for (key, body) in [
        ("jane", json!({"name": "Jane Doe", "phone": "+5511999990001", "email": "jane@acme.io"})),
        ("elodie", json!({"name": "Élodie Dupont-Moreau", "displayName": "Lolo", "email": "e.dupont@globex.fr"})),
        ("hans", json!({"firstName": "Hans", "lastName": "Straße", "phone": "+4930123456"})),
        ("display", json!({"name": "Support Bot", "displayName": "Zoë Helper", "email": "bot@acme.io"})),
    ] {
        ids_of.insert(key, api.post("/v1/contacts", body).await.expect(201).id());
    }
    let search = |q: &str| {
        let (api, q) = (app.api(), encode(q));
        async move { ids(&api.get(&format!("/v1/contacts?search={q}")).await) }
    };
    let want = |keys: &[&str]| {
        let mut v: Vec<String> = keys.iter().map(|k| ids_of[k].clone()).collect();
        v.sort();
        v
    };
    assert_eq!(search("JANE").await, want(&["jane"]));
    assert_eq!(search("élodie moreau").await, want(&["elodie"]));
    assert_eq!(search("lolo").await, want(&["elodie"]), "display name");
    assert_eq!(search("zoë").await, want(&["display"]), "display name");
    assert_eq!(search("support zoë").await, want(&["display"]), "name and display name words together");
    assert_eq!(search("straße").await, want(&["hans"]), "the derived name");
    assert_eq!(search("oe").await, Vec::<String>::new(), "names match by word prefixes");
    // E-mail and phone: the whole search as typed, anywhere inside.
    assert_eq!(search("acme.io").await, want(&["jane", "display"]));
    assert_eq!(search("dupont@globex").await, want(&["elodie"]));
    assert_eq!(search("+4930").await, want(&["hans"]));
    assert_eq!(search("99990001").await, want(&["jane"]));
    assert_eq!(search("jane bot").await, Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Index maintenance and tenants

#[tokio::test]
async fn the_index_follows_contact_updates_new_and_deleted_messages() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let conv = conversation_with(&app, &channel, "+15550000001", "Old Name", &["first alpha"]).await;
    let contact = app.api().get(&format!("/v1/conversations/{conv}")).await.attrs()["contact"]["id"]
        .as_str()
        .expect("the conversation's contact")
        .to_string();
    let found = |q: &'static str| {
        let app = &app;
        async move { search_conversations(app, q).await }
    };
    let just = vec![conv.clone()];
    assert_eq!(found("old").await, just);
    assert_eq!(found("alpha").await, just);

    // A renamed contact is found by its new name only.
    app.api().patch(&format!("/v1/contacts/{contact}"), json!({"name": "Nouveau Nom"})).await.expect(200);
    assert!(found("old").await.is_empty());
    assert_eq!(found("nouveau nom").await, just);
    // Another update leaving the name alone keeps it found.
    app.api().patch(&format!("/v1/contacts/{contact}"), json!({"company": "Acme"})).await.expect(200);
    assert_eq!(found("nouveau").await, just);

    // Messages added after the update are found; a deleted one no longer matches.
    let beta = send(&app, &conv, "then beta").await;
    assert_eq!(found("beta").await, just);
    assert_eq!(found("nouveau beta alpha").await, just);
    app.api().delete(&format!("/v1/messages/{beta}")).await.expect(200);
    assert!(found("beta").await.is_empty());
    let r = app.api().get("/v1/messages?search=beta").await;
    assert!(ids(&r).is_empty());
    assert_eq!(found("alpha").await, just);

    // A deleted contact takes its name out of the conversation's search; the messages stay.
    app.api().delete(&format!("/v1/contacts/{contact}")).await.expect(204);
    assert!(found("nouveau").await.is_empty());
    assert_eq!(found("alpha").await, just);

    // A message with the same rowid/ctid as a deleted one must not inherit its words.
    let gamma = send(&app, &conv, "gamma").await;
    assert!(found("beta").await.is_empty());
    assert_eq!(found("gamma").await, just);
    app.api().delete(&format!("/v1/messages/{gamma}")).await.expect(200);
    assert!(found("gamma").await.is_empty());

    check_sqlite_index_integrity(&app).await;
}

/// On SQLite, FTS5's own check that each external-content index holds exactly its table's words.
async fn check_sqlite_index_integrity(app: &TestApp) {
    if postgres_url().is_some() {
        return;
    }
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&app.url).await.expect("open the test database");
    for table in ["contacts_fts", "messages_fts"] {
        sqlx::query(&format!("INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
    }
    let _ = conn.close().await;
}

#[tokio::test]
async fn search_never_crosses_tenants() {
    let app = TestApp::spawn().await;
    let globex = app.as_key(&app.new_key("globex", "Gus", "admin").await);
    let channel = app.channel("SMS", "sms").await;
    let acme_conv = conversation_with(&app, &channel, "+15550000001", "Élodie Acme", &["refund please"]).await;
    let g_channel = globex.post("/v1/channels", json!({"name": "SMS", "type": "sms"})).await.expect(201).id();
    let body = json!({"channelId": g_channel, "contact": {"phone": "+15550000001", "name": "Élodie Globex"}});
    let g_conv = globex.post("/v1/conversations", body).await.expect(201).id();
    let body = json!({"conversationId": g_conv, "content": {"type": "text", "text": "refund now"}});
    let g_message = globex.post("/v1/messages", body).await.expect(201).id();

    assert_eq!(search_conversations(&app, "élodie refund").await, vec![acme_conv.clone()]);
    assert!(search_conversations(&app, "globex").await.is_empty());
    assert!(search_conversations(&app, "now").await.is_empty());
    let g = |path: String| {
        let globex = globex.clone();
        async move { ids(&globex.get(&path).await) }
    };
    assert_eq!(g(format!("/v1/conversations?search={}", encode("élodie refund"))).await, vec![g_conv.clone()]);
    assert!(g("/v1/conversations?search=acme".into()).await.is_empty());
    assert!(g("/v1/conversations?search=please".into()).await.is_empty());
    assert_eq!(g("/v1/messages?search=refund".into()).await, vec![g_message]);
    assert_eq!(g("/v1/contacts?search=elodie%20globex".into()).await.len(), 0);
    assert_eq!(g(format!("/v1/contacts?search={}", encode("élodie"))).await.len(), 1);
    let r = app.api().get(&format!("/v1/contacts?search={}", encode("élodie"))).await;
    assert_eq!(ids(&r).len(), 1);
    assert_eq!(r.body["data"][0]["attributes"]["name"], Value::from("Élodie Acme"));
}

// ---------------------------------------------------------------------------------------------
// The engine's words, for every code point

/// The digest of every code point's probe as the engine indexes it: see `SPLIT_DIGEST` in
/// `confab-store/sql/search.rs` for the probes and the digest; here the words are the engine's own
/// (folded), and the value was computed from the tokenizer's tables when the store's tables were
/// generated from them. A different value means that this engine no longer splits or folds like
/// the other one (or like the store's query splitting).
const FOLDED_DIGEST: u64 = 0xcbc9_070d_041f_d93b;

/// The probe text of each batch of 4096 code points (no 0, no surrogates).
fn probe_batches() -> Vec<String> {
    (0..0x11_0000 / 4096)
        .map(|batch| {
            let mut text = String::new();
            for n in (batch * 4096).max(1)..(batch + 1) * 4096 {
                if let Some(x) = char::from_u32(n) {
                    text.push_str(&format!("{n}a{x}b{n} {x}{n}c "));
                }
            }
            text
        })
        .collect()
}

fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn digest(batches: impl IntoIterator<Item = BTreeSet<String>>) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325;
    for words in batches {
        for w in words {
            hash = fnv1a(hash, w.as_bytes());
            hash = fnv1a(hash, b"\n");
        }
        hash = fnv1a(hash, b"\0");
    }
    hash
}

#[tokio::test]
async fn the_engine_splits_and_folds_every_code_point_as_the_tables_say() {
    let app = TestApp::spawn().await;
    let batches = probe_batches();
    let words: Vec<BTreeSet<String>> = if postgres_url().is_some() {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&app.url).await.expect("open the test database");
        let mut out = Vec::new();
        for text in &batches {
            let (words,): (Vec<String>,) = sqlx::query_as("SELECT tsvector_to_array(confab_search_vector($1))")
                .bind(text)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            out.push(words.into_iter().collect());
        }
        // Queries fold like the index.
        let (q,): (String,) = sqlx::query_as("SELECT confab_search_prefix($1)::text")
            .bind("ΣΩΚΡΆΤΗΣ")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(q, "'σωκράτησ':*");
        let _ = conn.close().await;
        out
    } else {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&app.url).await.expect("open the test database");
        // The tokenizer exactly as the migration declares it, for both indexes.
        let mut tokenizers = BTreeSet::new();
        for table in ["contacts_fts", "messages_fts"] {
            let (sql,): (String,) = sqlx::query_as("SELECT sql FROM sqlite_master WHERE name = $1")
                .bind(table)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            let tokenize = &sql[sql.find("tokenize").expect("a tokenize option")..];
            let tokenize = &tokenize[..tokenize.find(')').unwrap_or(tokenize.len())];
            tokenizers.insert(tokenize.trim().to_string());
        }
        assert_eq!(tokenizers.len(), 1, "both indexes split alike: {tokenizers:?}");
        let tokenize = tokenizers.into_iter().next().unwrap();
        sqlx::query(&format!("CREATE VIRTUAL TABLE temp.probe USING fts5(x, {tokenize})"))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("CREATE VIRTUAL TABLE temp.probe_words USING fts5vocab(temp, probe, instance)")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        for (i, text) in batches.iter().enumerate() {
            sqlx::query("INSERT INTO temp.probe(rowid, x) VALUES ($1, $2)")
                .bind(i as i64)
                .bind(text)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT doc, term FROM temp.probe_words").fetch_all(&mut conn).await.unwrap();
        let mut out = vec![BTreeSet::new(); batches.len()];
        for (doc, term) in rows {
            out[doc as usize].insert(term);
        }
        let _ = conn.close().await;
        out
    };
    assert_eq!(words.len(), batches.len());
    let got = digest(words);
    assert_eq!(got, FOLDED_DIGEST, "{got:#x}");
}
