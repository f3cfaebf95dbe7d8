//! Airy's `conversations.list` (`reference/airy.md` §4, DESIGN.md "Faces" and "Query language"):
//! the Lucene filters, checked against the in-memory evaluator (`confab_query::matches`) over each
//! conversation's Airy JSON, so that SQL on the real server (SQLite or PostgreSQL) and the evaluator
//! agree; the cursor and `pagination_data` semantics; the order; the bounds of `page_size`.

use crate::support::{Resp, TestApp};
use confab_query::Doc;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------------------------
// Helpers

#[track_caller]
fn empty(r: &Resp, status: u16) {
    assert_eq!((r.status, r.text.as_str()), (status, ""), "expected an empty {status}");
}

/// Asserts a status with `{"message": …}` (only that key) and returns the message.
#[track_caller]
fn message(r: &Resp, status: u16) -> String {
    assert_eq!(r.status, status, "body: {}", r.text);
    let obj = r.body.as_object().unwrap_or_else(|| panic!("not a JSON object: {}", r.text));
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["message"], "body: {}", r.text);
    obj["message"].as_str().expect("a string message").to_string()
}

async fn list(app: &TestApp, body: Value) -> Resp {
    app.api().post("/conversations.list", body).await
}

/// The ids of a 200 list, in order.
#[track_caller]
fn ids(r: &Resp) -> Vec<String> {
    assert_eq!(r.status, 200, "body: {}", r.text);
    r.body["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

/// An inbound text on `channel` from `phone` (named `name`); returns the conversation id.
async fn inbound(app: &TestApp, channel: &str, phone: &str, name: &str, text: &str) -> String {
    let r = app
        .api()
        .post(
            &format!("/v1/channels/{channel}/inbound"),
            json!({"sender": {"phone": phone, "name": name}, "content": {"type": "text", "text": text}}),
        )
        .await;
    r.expect(201);
    r.attrs()["conversationId"].as_str().unwrap().to_string()
}

/// A conversation without messages, created through /v1 on `channel` with a new contact.
async fn created(app: &TestApp, channel: &str, contact: Value) -> String {
    app.api().post("/v1/conversations", json!({"channelId": channel, "contact": contact})).await.expect(201).id()
}

async fn tag(app: &TestApp, name: &str) -> String {
    let r = app.api().post("/tags.create", json!({"name": name, "color": "tag-blue"})).await;
    r.expect(201);
    r.body["id"].as_str().unwrap().to_string()
}

async fn tag_conversation(app: &TestApp, conversation: &str, tag: &str) {
    empty(&app.api().post("/conversations.tag", json!({"conversation_id": conversation, "tag_id": tag})).await, 204);
}

async fn set_state(app: &TestApp, conversation: &str, state: &str) {
    let r = app.api().post("/conversations.set-state", json!({"conversation_id": conversation, "state": state})).await;
    empty(&r, 204);
}

async fn user_data(app: &TestApp, conversation: &str, data: Value) {
    app.api().patch(&format!("/v1/conversations/{conversation}"), json!({"metadata": data})).await.expect(200);
}

/// The query language's view of a conversation, read from its Airy JSON only.
fn doc(c: &Value) -> Doc {
    let created = chrono::DateTime::parse_from_rfc3339(c["created_at"].as_str().unwrap()).unwrap();
    let m = &c["metadata"];
    Doc {
        id: c["id"].as_str().unwrap().to_string(),
        channel_id: c["channel"]["id"].as_str().map(str::to_string),
        source: c["channel"]["source"].as_str().map(str::to_string),
        display_name: m["contact"]["display_name"].as_str().map(str::to_string),
        created_at_ms: created.timestamp_millis(),
        unread_count: m["unread_count"].as_i64().unwrap(),
        tag_ids: m["tags"].as_object().unwrap().keys().cloned().collect(),
        metadata: m.clone(),
    }
}

/// Every conversation of the key's tenant as Airy JSON, by id.
async fn all(app: &TestApp) -> BTreeMap<String, Value> {
    let r = list(app, json!({"page_size": 1000})).await;
    assert_eq!(r.body["pagination_data"]["next_cursor"], Value::Null);
    r.body["data"].as_array().unwrap().iter().map(|c| (c["id"].as_str().unwrap().to_string(), c.clone())).collect()
}

/// Asserts that `filters` selects through the API exactly what the evaluator selects from the
/// conversations' JSON, with `total` agreeing; returns that set.
async fn agree(app: &TestApp, docs: &[Doc], filters: &str) -> BTreeSet<String> {
    let query = confab_query::parse(filters).unwrap_or_else(|e| panic!("{filters}: {e}"));
    let want: BTreeSet<String> =
        docs.iter().filter(|d| confab_query::matches(&query, d)).map(|d| d.id.clone()).collect();
    let r = list(app, json!({"filters": filters, "page_size": 1000})).await;
    let got: BTreeSet<String> = ids(&r).into_iter().collect();
    assert_eq!(got, want, "{filters}: the server and the evaluator disagree");
    assert_eq!(r.body["pagination_data"]["total"], want.len(), "{filters}");
    got
}

// ---------------------------------------------------------------------------------------------
// The query language through the API

/// The conversations the filter table runs over, by name.
struct Fixture {
    app: TestApp,
    c: BTreeMap<&'static str, String>,
    vip: String,
    billing: String,
    wa: String,
    sms: String,
    web: String,
}

impl Fixture {
    fn set(&self, names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| self.c[n].clone()).collect()
    }
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    let wa = app.channel("Support WA", "whatsapp").await;
    let sms = app.channel("SMS", "sms").await;
    let web = app.channel("Web", "webchat").await;
    let email = app.channel("Mail", "email").await;
    let gone = app.channel("Old page", "facebook").await;
    let vip = tag(&app, "vip").await;
    let billing = tag(&app, "billing").await;
    let mut c = BTreeMap::new();

    // Grace Hopper on WhatsApp: two unread messages, tagged vip and billing, with ERP data.
    let grace = inbound(&app, &wa, "+15550003001", "Grace Hopper", "Hello").await;
    inbound(&app, &wa, "+15550003001", "Grace Hopper", "Anyone?").await;
    tag_conversation(&app, &grace, &vip).await;
    tag_conversation(&app, &grace, &billing).await;
    user_data(&app, &grace, json!({"erp": {"id": "abc"}, "score": 7, "list": ["vip", "beta"]})).await;
    c.insert("grace", grace);
    // Ada Lovelace on SMS: one unread message, closed.
    let ada = inbound(&app, &sms, "+15550003002", "Ada Lovelace", "Hi").await;
    set_state(&app, &ada, "CLOSED").await;
    c.insert("ada", ada);
    // Grace Kelly on the web chat: no messages, tagged vip.
    let kelly = created(&app, &web, json!({"name": "Grace Kelly", "phone": "+15550003003"})).await;
    tag_conversation(&app, &kelly, &vip).await;
    c.insert("kelly", kelly);
    // A contact without a name on SMS, no messages: Airy's default name "Sms xxxxx".
    c.insert("nameless", created(&app, &sms, json!({"phone": "+15550003004"})).await);
    // Escalated (a custom state) on WhatsApp, all read, other ERP data.
    let escalated = inbound(&app, &wa, "+15550003005", "Linus", "Help").await;
    set_state(&app, &escalated, "ESCALATED").await;
    empty(&app.api().post("/conversations.mark-read", json!({"conversation_id": escalated})).await, 204);
    user_data(&app, &escalated, json!({"erp": {"id": "XYZ"}, "vip": true})).await;
    c.insert("escalated", escalated);
    // A conversation whose channel was deleted (closed with it): no channel, no source.
    let orphan = inbound(&app, &gone, "+15550003006", "Orphan Annie", "Hey").await;
    let r = app.api().delete(&format!("/v1/channels/{gone}?force=true")).await;
    assert!(r.status == 200 || r.status == 204, "{}", r.text);
    c.insert("orphan", orphan);
    // A conversation whose contact was deleted: the default name again.
    let contactless = inbound(&app, &web, "+15550003007", "Temp", "Bye").await;
    let contact = app.api().get(&format!("/v1/conversations/{contactless}")).await.attrs()["contact"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.api().delete(&format!("/v1/contacts/{contact}")).await.expect(204);
    c.insert("contactless", contactless);
    // Started by an outbound message to an email address: nothing unread.
    let r = app
        .api()
        .post(
            "/messages.send",
            json!({"channel_id": email, "source_recipient_id": "ops@example.com", "message": {"text": "Welcome"}}),
        )
        .await;
    r.expect(200);
    let outbound = app.api().get(&format!("/v1/messages/{}", r.body["id"].as_str().unwrap())).await.attrs()
        ["conversationId"]
        .as_str()
        .unwrap()
        .to_string();
    c.insert("outbound", outbound);
    // Another tenant's conversation, named like ours: never listed.
    let other = app.as_key(&app.new_key("globex", "Gil", "admin").await);
    let other_wa = other.post("/v1/channels", json!({"name": "WA", "type": "whatsapp"})).await.expect(201).id();
    other
        .post(
            &format!("/v1/channels/{other_wa}/inbound"),
            json!({"sender": {"phone": "+15550003001", "name": "Grace Hopper"}, "content": {"type": "text", "text": "x"}}),
        )
        .await
        .expect(201);
    Fixture { app, c, vip, billing, wa, sms, web }
}

#[tokio::test]
async fn every_filter_of_the_table_selects_what_the_evaluator_selects_from_the_airy_json() {
    let f = fixture().await;
    let app = &f.app;
    let all = all(app).await;
    assert_eq!(all.keys().cloned().collect::<BTreeSet<_>>(), f.set(&f.c.keys().copied().collect::<Vec<_>>()));
    let docs: Vec<Doc> = all.values().map(doc).collect();
    let by_age: Vec<&Doc> = {
        let mut d: Vec<&Doc> = docs.iter().collect();
        d.sort_by_key(|d| d.created_at_ms);
        d
    };
    let (first, middle, last) = (by_age[0].created_at_ms, by_age[3].created_at_ms, by_age[7].created_at_ms);
    let grace = &f.c["grace"];
    let escaped = grace.replace('-', "\\-");
    let (vip, billing) = (&f.vip, &f.billing);
    let (wa, sms, web) = (&f.wa, &f.sms, &f.web);

    // (filter, the conversations it must select: the evaluator is checked too)
    let table: Vec<(String, Option<&[&str]>)> = vec![
        ("display_name:*grace*".into(), Some(&["grace", "kelly"])),
        ("display_name:GRACE".into(), Some(&["grace", "kelly"])),
        ("display_name:\"grace hopper\"".into(), Some(&["grace"])),
        ("display_name:*ace AND unread_count:[1 TO *]".into(), Some(&["grace", "ada"])),
        ("display_name:sms*".into(), Some(&["nameless"])),
        ("display_name:webchat*".into(), Some(&["contactless"])),
        ("unread_count:[1 TO *]".into(), Some(&["grace", "ada", "orphan", "contactless"])),
        ("unread_count:0".into(), Some(&["kelly", "nameless", "escalated", "outbound"])),
        ("unread_count:{1 TO 2]".into(), Some(&["grace"])),
        ("unread_count:[* TO 1]".into(), None),
        (format!("tag_ids:({vip} AND {billing})"), Some(&["grace"])),
        (format!("tag_ids:{vip}"), Some(&["grace", "kelly"])),
        ("tag_ids:*".into(), Some(&["grace", "kelly"])),
        (format!("channel_id:({wa} OR {sms})"), Some(&["grace", "ada", "nameless", "escalated"])),
        (format!("channel_id:{web}"), Some(&["kelly", "contactless"])),
        ("channel_id:*".into(), None),
        ("source:(whatsapp OR sms)".into(), Some(&["grace", "ada", "nameless", "escalated"])),
        ("source:email".into(), Some(&["outbound"])),
        ("NOT source:*".into(), Some(&["orphan"])),
        ("-source:sms".into(), None),
        ("id:* AND NOT metadata.state:CLOSED".into(), None),
        ("NOT metadata.state:CLOSED".into(), None),
        ("metadata.state:CLOSED".into(), Some(&["ada", "orphan"])),
        ("metadata.state:escalated".into(), Some(&["escalated"])),
        ("metadata.state:OPEN".into(), Some(&["grace", "kelly", "nameless", "contactless", "outbound"])),
        ("metadata.user_data.erp.id:abc".into(), Some(&["grace"])),
        ("metadata.user_data.erp.id:*".into(), Some(&["grace", "escalated"])),
        ("metadata.user_data.score:7".into(), Some(&["grace"])),
        ("metadata.user_data.list:*vip*".into(), Some(&["grace"])),
        ("metadata.user_data.vip:true".into(), Some(&["escalated"])),
        ("metadata.contact.display_name:grace".into(), Some(&["grace", "kelly"])),
        ("metadata.unread_count:2".into(), Some(&["grace"])),
        (format!("metadata.tags.{vip}:*"), None),
        ("metadata.contact.avatar_url:null".into(), None),
        (format!("created_at:[{first} TO {middle}]"), None),
        (format!("created_at:{{{first} TO {last}}}"), None),
        (format!("created_at:[{middle} TO *]"), None),
        (format!("created_at:{middle}"), None),
        (format!("id:\"{escaped}\""), Some(&["grace"])),
        (format!("id:{escaped}"), Some(&["grace"])),
        (escaped.clone(), Some(&["grace"])),
        (format!("display_name:Lovelace OR id:\"{escaped}\""), Some(&["grace", "ada"])),
        (format!("id:{}*", &grace[..8]), None),
        ("*:*".into(), None),
        ("*".into(), None),
        ("(source:whatsapp OR source:webchat) AND -tag_ids:*".into(), Some(&["escalated", "contactless"])),
    ];
    for (filters, want) in &table {
        let got = agree(app, &docs, filters).await;
        if let Some(want) = want {
            assert_eq!(got, f.set(want), "{filters}");
        }
    }
    // Ranges over the creation time select what the times say, with real bounds at both ends.
    let between = agree(app, &docs, &format!("created_at:[{first} TO {middle}]")).await;
    let want: BTreeSet<String> =
        docs.iter().filter(|d| (first..=middle).contains(&d.created_at_ms)).map(|d| d.id.clone()).collect();
    assert_eq!(between, want);
    assert!(between.len() >= 4 && between.len() < docs.len());
}

#[tokio::test]
async fn generated_filters_never_fail_the_server_and_agree_with_the_evaluator() {
    let f = fixture().await;
    let app = &f.app;
    let docs: Vec<Doc> = all(app).await.values().map(doc).collect();
    let grace = f.c["grace"].replace('-', "\\-");
    let fields = [
        "",
        "id:",
        "channel_id:",
        "source:",
        "display_name:",
        "created_at:",
        "unread_count:",
        "tag_ids:",
        "metadata.state:",
        "metadata.user_data.erp.id:",
        "metadata.contact.display_name:",
        "metadata.tags:",
        "foo:",
    ];
    let values = [
        "grace",
        "GRACE",
        "*ace*",
        "gr?ce",
        "\"grace hopper\"",
        "whatsapp",
        "sms",
        "CLOSED",
        "open",
        "abc",
        "*",
        "[1 TO *]",
        "{0 TO 2]",
        "[* TO 5}",
        "[a TO z]",
        "0",
        "2",
        "-1",
        "abc*",
        "\\*",
        "\"\"",
        "x~",
        "/re/",
        "[1 TO",
        grace.as_str(),
        "ü",
        "1700000000000",
    ];
    let joins = [" ", " AND ", " OR ", " AND NOT ", " -", " +", " && ", " || ", " ) ", " ( "];
    // A small deterministic generator (xorshift).
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let (mut parsed, mut refused) = (0, 0);
    for _ in 0..250 {
        let mut q = String::new();
        for i in 0..=next(3) {
            if i > 0 {
                q.push_str(joins[next(joins.len())]);
            }
            if next(5) == 0 {
                q.push('(');
            }
            q.push_str(fields[next(fields.len())]);
            q.push_str(values[next(values.len())]);
        }
        match confab_query::parse(&q) {
            Ok(_) => {
                agree(app, &docs, &q).await;
                parsed += 1;
            }
            Err(e) => {
                let r = list(app, json!({"filters": q})).await;
                assert_eq!(message(&r, 400), format!("Failed to parse Lucene query: {e}"), "{q}");
                refused += 1;
            }
        }
    }
    assert!(parsed > 50 && refused > 50, "{parsed} parsed, {refused} refused");
}

#[tokio::test]
async fn a_filter_that_does_not_parse_is_400_with_the_position_never_500() {
    let app = TestApp::spawn().await;
    // The crate's sentence, its position, behind Airy's prefix.
    let cases: &[(&str, usize)] = &[("display_name:(grace", 19), ("unread_count:abc", 13), ("", 0)];
    for (filters, position) in cases {
        let err = confab_query::parse(filters).unwrap_err();
        assert_eq!(err.position(), *position, "{filters}");
        let m = message(&list(&app, json!({ "filters": filters })).await, 400);
        assert_eq!(m, format!("Failed to parse Lucene query: {err}"), "{filters}");
        assert!(m.ends_with(&format!(" at position {position}")), "{m}");
    }
    let deep = format!("{}a{}", "(".repeat(40), ")".repeat(40));
    for filters in [
        "foo:bar",
        "display_name:gr~",
        "display_name:/gr.*/",
        "created_at:[x TO 5]",
        "unread_count:1*",
        "unread_count:99999999999999999999",
        "a AND",
        "   ",
        deep.as_str(),
        "metadata:x",
        "metadata.a..b:x",
        "\\",
    ] {
        let m = message(&list(&app, json!({ "filters": filters })).await, 400);
        assert!(m.starts_with("Failed to parse Lucene query: ") && m.contains(" at position "), "{filters}: {m}");
    }
    let long = vec!["a"; 2100].join(" ");
    let m = message(&list(&app, json!({ "filters": long })).await, 400);
    assert!(m.contains("at position"), "{m}");
    // Not a string at all: a request error naming the field.
    let m = message(&list(&app, json!({"filters": 5})).await, 400);
    assert!(m.contains("filters"), "{m}");
    // null is no filter.
    list(&app, json!({"filters": null})).await.expect(200);
}

// ---------------------------------------------------------------------------------------------
// Paging, order, bounds

/// Five conversations with messages (a to e, e the newest message) and two without (x, then y).
async fn ordered(app: &TestApp) -> Vec<String> {
    let wa = app.channel("WA", "whatsapp").await;
    let mut with = Vec::new();
    for (i, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        with.push(inbound(app, &wa, &format!("+1555000400{i}"), name, "hi").await);
    }
    let x = created(app, &wa, json!({"phone": "+15550004010"})).await;
    let y = created(app, &wa, json!({"phone": "+15550004011"})).await;
    let mut want: Vec<String> = with.into_iter().rev().collect();
    want.push(y);
    want.push(x);
    want
}

#[tokio::test]
async fn the_newest_last_message_comes_first_and_conversations_without_messages_last_newest_created_first() {
    let app = TestApp::spawn().await;
    let mut want = ordered(&app).await;
    assert_eq!(ids(&list(&app, json!({})).await), want);
    // A new message moves its conversation to the top; an outbound one too.
    let oldest = want[4].clone();
    let r = app.api().post("/messages.send", json!({"conversation_id": oldest, "message": {"text": "back"}})).await;
    r.expect(200);
    want.retain(|id| *id != oldest);
    want.insert(0, oldest);
    assert_eq!(ids(&list(&app, json!({})).await), want);
    // The first message of a conversation without any moves it among the others.
    let y = want[5].clone();
    app.api().post("/messages.send", json!({"conversation_id": y, "message": {"text": "first"}})).await.expect(200);
    want.retain(|id| *id != y);
    want.insert(0, y);
    assert_eq!(ids(&list(&app, json!({})).await), want);
    // Filtered lists keep the order.
    let r = list(&app, json!({"filters": "unread_count:1"})).await;
    let filtered: Vec<String> = want.iter().filter(|id| ids(&r).contains(id)).cloned().collect();
    assert_eq!(ids(&r), filtered);
}

#[tokio::test]
async fn pagination_data_follows_airys_cursor_semantics() {
    let app = TestApp::spawn().await;
    let want = ordered(&app).await;
    let page = |cursor: Value, size: Value| {
        let app = &app;
        async move { list(app, json!({"cursor": cursor, "page_size": size})).await }
    };
    let r = page(Value::Null, json!(3)).await;
    assert_eq!(ids(&r), want[..3]);
    assert_eq!(r.body["pagination_data"], json!({"previous_cursor": "0", "next_cursor": "3", "total": 7}));
    let r = page(json!("3"), json!(3)).await;
    assert_eq!(ids(&r), want[3..6]);
    assert_eq!(r.body["pagination_data"], json!({"previous_cursor": "3", "next_cursor": "6", "total": 7}));
    let r = page(json!("6"), json!(3)).await;
    assert_eq!(ids(&r), want[6..]);
    assert_eq!(r.body["pagination_data"], json!({"previous_cursor": "6", "next_cursor": null, "total": 7}));
    // A number is a cursor too; the exact end has no next page; past the end is an empty page.
    let r = page(json!(4), json!(3)).await;
    assert_eq!(ids(&r), want[4..]);
    assert_eq!(r.body["pagination_data"], json!({"previous_cursor": "4", "next_cursor": null, "total": 7}));
    let r = page(json!("10"), json!(3)).await;
    assert_eq!(ids(&r), Vec::<String>::new());
    assert_eq!(r.body["pagination_data"], json!({"previous_cursor": "10", "next_cursor": null, "total": 7}));
    // Following next_cursor visits every conversation once, in order.
    let (mut seen, mut cursor) = (Vec::new(), Value::Null);
    loop {
        let r = page(cursor.clone(), json!(2)).await;
        seen.extend(ids(&r));
        match r.body["pagination_data"]["next_cursor"].clone() {
            Value::Null => break,
            next => cursor = next,
        }
    }
    assert_eq!(seen, want);
    // A filter pages its matches, and total counts them.
    let r = list(&app, json!({"filters": "unread_count:1", "page_size": 2})).await;
    assert_eq!(r.body["pagination_data"], json!({"previous_cursor": "0", "next_cursor": "2", "total": 5}));
    // The defaults: cursor 0, page_size 20.
    let r = list(&app, json!({})).await;
    assert_eq!(ids(&r), want);
    assert_eq!(r.body["pagination_data"], json!({"previous_cursor": "0", "next_cursor": null, "total": 7}));
}

#[tokio::test]
async fn cursor_and_page_size_out_of_bounds_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    ordered(&app).await;
    for cursor in [json!("-1"), json!(-1), json!("1.5"), json!(2.5), json!("abc"), json!(true), json!({"o": 1})] {
        let m = message(&list(&app, json!({ "cursor": cursor })).await, 400);
        assert!(m.contains("cursor"), "{cursor}: {m}");
    }
    for size in [json!(0), json!(-1), json!(1001), json!("abc"), json!(1.5), json!([20])] {
        let m = message(&list(&app, json!({ "page_size": size })).await, 400);
        assert!(m.contains("page_size"), "{size}: {m}");
    }
    // The bounds themselves, and numbers sent as strings.
    assert_eq!(ids(&list(&app, json!({"page_size": 1})).await).len(), 1);
    assert_eq!(ids(&list(&app, json!({"page_size": 1000})).await).len(), 7);
    assert_eq!(ids(&list(&app, json!({"page_size": "2", "cursor": "  1 "})).await).len(), 2);
    assert_eq!(ids(&list(&app, json!({"cursor": ""})).await).len(), 7);
}

#[tokio::test]
async fn an_empty_body_lists_with_the_defaults_and_extra_fields_are_ignored() {
    let app = TestApp::spawn().await;
    let want = ordered(&app).await;
    let r = app.api().post_empty("/conversations.list").await;
    assert_eq!(ids(&r), want);
    // Airy's JS client: a JSON content type, no body.
    let r = app.api().send_raw(Method::POST, "/conversations.list", "application/json", Vec::new()).await;
    assert_eq!(ids(&r), want);
    assert_eq!(r.body["pagination_data"], json!({"previous_cursor": "0", "next_cursor": null, "total": 7}));
    // camelCase extras are not the snake_case fields.
    let r = list(&app, json!({"pageSize": 1, "nextCursor": "5", "filter": "nothing"})).await;
    assert_eq!(ids(&r), want);
    // Each item is the conversation JSON of conversations.info.
    let r = list(&app, json!({"page_size": 1})).await;
    let info = app.api().post("/conversations.info", json!({"conversation_id": want[0]})).await;
    assert_eq!(r.body["data"][0], info.body);
}

#[tokio::test]
async fn listing_needs_conversations_read_and_sees_only_the_keys_tenant() {
    let app = TestApp::spawn().await;
    ordered(&app).await;
    let reader = app.new_key("acme", "Reader", "conversations:read").await;
    let messages = app.new_key("acme", "Messages", "messages:read").await;
    assert_eq!(ids(&app.as_key(&reader).post("/conversations.list", json!({})).await).len(), 7);
    empty(&app.as_key(&messages).post("/conversations.list", json!({})).await, 403);
    empty(&app.anonymous().post("/conversations.list", json!({})).await, 403);
    let cookie = app.anonymous().with_header("Cookie", &format!("airy_auth_token={reader}"));
    assert_eq!(ids(&cookie.post("/conversations.list", json!({})).await).len(), 7);
    // The scope is checked before the body is read.
    empty(&app.as_key(&messages).post("/conversations.list", json!({"filters": "(("})).await, 403);
    let other = app.as_key(&app.new_key("globex", "Gil", "admin").await);
    let r = other.post("/conversations.list", json!({"filters": "*:*"})).await;
    assert_eq!(
        r.body,
        json!({"data": [], "pagination_data": {"previous_cursor": "0", "next_cursor": null, "total": 0}})
    );
}
