//! `application/x-www-form-urlencoded` bodies (what Protocol's curl examples send) into JSON, so
//! that one reading serves both encodings:
//!
//! - `key=value` → `{"key": "value"}` (repeated: the last wins);
//! - `key[]=a&key[]=b` → `{"key": ["a", "b"]}`;
//! - `key[sub]=v` → `{"key": {"sub": "v"}}`, nesting as deep as [`MAX_DEPTH`]:
//!   `reactions[red_angry_face][]=Kate` → `{"reactions": {"red_angry_face": ["Kate"]}}`;
//! - the strings `true` and `false` → booleans; everything else stays a string (the fields that
//!   are numbers accept their decimal string).
//!
//! A key that is both a value and a map or list (`a=1&a[b]=2`), a malformed key (`a[b`, `[x]`), a
//! NUL character, or more than [`MAX_PAIRS`] pairs is 400 naming the key.

use crate::error::ApiError;
use serde_json::{Map, Value};

/// The deepest nesting accepted (`a[b][c][]` is depth 3).
pub const MAX_DEPTH: usize = 5;
/// The most pairs a body may hold.
pub const MAX_PAIRS: usize = 1000;

#[derive(Debug, PartialEq)]
enum Seg {
    Key(String),
    Push,
}

/// Splits `a[b][]` into `a`, `[Key(b), Push]`.
fn split_key(raw: &str) -> Option<(String, Vec<Seg>)> {
    let (name, mut rest) = match raw.find('[') {
        Some(i) => (&raw[..i], &raw[i..]),
        None => (raw, ""),
    };
    if name.is_empty() {
        return None;
    }
    let mut segs = Vec::new();
    while !rest.is_empty() {
        let inner_end = rest.strip_prefix('[')?.find(']')?;
        let inner = &rest[1..1 + inner_end];
        if inner.contains('[') {
            return None;
        }
        segs.push(if inner.is_empty() { Seg::Push } else { Seg::Key(inner.to_string()) });
        rest = &rest[inner_end + 2..];
    }
    Some((name.to_string(), segs))
}

fn scalar(v: String) -> Value {
    match v.as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(v),
    }
}

/// Places `value` at `segs` under `slot`; `false` when the shapes clash.
fn place(slot: &mut Value, segs: &[Seg], value: Value) -> bool {
    let Some((first, rest)) = segs.split_first() else {
        if slot.is_object() || slot.is_array() {
            return false;
        }
        *slot = value;
        return true;
    };
    match first {
        Seg::Push => {
            if slot.is_null() {
                *slot = Value::Array(Vec::new());
            }
            let Value::Array(items) = slot else { return false };
            if rest.is_empty() {
                items.push(value);
                return true;
            }
            // `a[][b]=…`: each pair starts a new element.
            let mut item = Value::Null;
            if !place(&mut item, rest, value) {
                return false;
            }
            items.push(item);
            true
        }
        Seg::Key(k) => {
            if slot.is_null() {
                *slot = Value::Object(Map::new());
            }
            let Value::Object(map) = slot else { return false };
            place(map.entry(k.clone()).or_insert(Value::Null), rest, value)
        }
    }
}

/// Parses a form body into a JSON object.
pub fn parse(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut root = Value::Object(Map::new());
    for (n, (k, v)) in form_urlencoded::parse(body).enumerate() {
        if n >= MAX_PAIRS {
            return Err(ApiError::invalid("body", format!("must hold at most {MAX_PAIRS} fields")));
        }
        let key = k.trim();
        if key.contains('\0') || v.contains('\0') {
            return Err(ApiError::invalid(key.replace('\0', ""), "must not contain the NUL character"));
        }
        let Some((name, segs)) = split_key(key) else {
            return Err(ApiError::invalid(key, "is not a valid form key (name, name[], or name[key])"));
        };
        if segs.len() > MAX_DEPTH {
            return Err(ApiError::invalid(name, format!("must be nested at most {MAX_DEPTH} levels deep")));
        }
        let mut path = vec![Seg::Key(name.clone())];
        path.extend(segs);
        if !place(&mut root, &path, scalar(v.into_owned())) {
            return Err(ApiError::invalid(name, "is given both as a value and as a list or map"));
        }
    }
    match root {
        Value::Object(m) => Ok(m),
        _ => unreachable!("the root is an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Value {
        Value::Object(parse(s.as_bytes()).unwrap())
    }

    #[test]
    fn plain_pairs_booleans_and_escapes() {
        assert_eq!(
            p("contact_id=abc&is_muted=true&is_pinned=false&name=Ana+Lima&x=%C3%A9&n=12"),
            json!({"contact_id": "abc", "is_muted": true, "is_pinned": false, "name": "Ana Lima", "x": "é", "n": "12"})
        );
        assert_eq!(p("a=1&a=2"), json!({"a": "2"}));
        assert_eq!(p(""), json!({}));
        assert_eq!(p("empty="), json!({"empty": ""}));
    }

    #[test]
    fn arrays_maps_and_nested_reactions() {
        assert_eq!(p("contacts[]=a&contacts[]=b"), json!({"contacts": ["a", "b"]}));
        assert_eq!(p("meta[k]=v&meta[j]=true"), json!({"meta": {"k": "v", "j": true}}));
        assert_eq!(
            p("reactions[red_angry_face][]=Kate&reactions[red_angry_face][]=Kevin&reactions[tada][]=Ana"),
            json!({"reactions": {"red_angry_face": ["Kate", "Kevin"], "tada": ["Ana"]}})
        );
        assert_eq!(
            p("reactions%5Bsmile%5D%5B%5D=Kate"),
            json!({"reactions": {"smile": ["Kate"]}}),
            "percent-encoded brackets are brackets"
        );
        assert_eq!(p("a[][b]=1&a[][b]=2"), json!({"a": [{"b": "1"}, {"b": "2"}]}));
        assert_eq!(p("a[b][c][d]=1"), json!({"a": {"b": {"c": {"d": "1"}}}}));
    }

    #[test]
    fn clashes_malformed_keys_depth_and_nul_are_refused_naming_the_key() {
        for (body, field) in [
            ("a=1&a[b]=2", "a"),
            ("a[b]=2&a=1", "a"),
            ("a[]=1&a[b]=2", "a"),
            ("a[b=1", "a[b"),
            ("[x]=1", "[x]"),
            ("a]=1&a[b]c]=2", "a[b]c]"),
            ("a[b][c][d][e][f][g]=1", "a"),
            ("a=x%00y", "a"),
        ] {
            let e = parse(body.as_bytes()).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(e.details[0].field, field, "{body}");
        }
        let many = (0..=MAX_PAIRS).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join("&");
        assert_eq!(parse(many.as_bytes()).unwrap_err().details[0].field, "body");
    }
}
