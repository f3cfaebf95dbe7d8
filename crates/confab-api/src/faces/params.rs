//! Parsing shared by the faces: query strings into typed values with every problem named by field,
//! and JSON bodies with the path of the offending field.

use crate::error::ApiError;
use confab_core::model::{normalize_tag_name, JsonMap, TAG_NAME_MAX};
use confab_core::rules::contact::{normalize_email, normalize_phone};
use confab_core::{time, FieldError, Time};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// The longest query string value accepted (longer is a validation error, not a slow query).
pub const MAX_PARAM_LEN: usize = 1000;

/// A query string being read. Each accessor records what is wrong; [`Params::finish`] turns the
/// record into one 400 naming every field at fault.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl Params {
    pub fn from_query(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
            .unwrap_or_default();
        Params { pairs, errors: Vec::new() }
    }

    /// Records a problem with `field`.
    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// The value of `name` (the last one if repeated), trimmed; empty counts as absent.
    pub fn str(&mut self, name: &str) -> Option<String> {
        let v = self.pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string())?;
        if v.is_empty() {
            return None;
        }
        if v.contains('\0') {
            // PostgreSQL cannot store or compare text holding NUL: refused here, not a 500 there.
            self.error(name, "must not contain the NUL character");
            return None;
        }
        if v.chars().count() > MAX_PARAM_LEN {
            self.error(name, format!("must be at most {MAX_PARAM_LEN} characters"));
            return None;
        }
        Some(v)
    }

    /// Every value of `name` and of `name[]`, comma-separated values split.
    pub fn list(&mut self, name: &str) -> Vec<String> {
        let bracket = format!("{name}[]");
        let values: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| k == name || *k == bracket)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect();
        if values.iter().any(|v| v.contains('\0')) {
            self.error(name, "must not contain the NUL character");
            return Vec::new();
        }
        values
    }

    /// An integer within `min..=max`, `default` when absent.
    pub fn int(&mut self, name: &str, default: u32, min: u32, max: u32) -> u32 {
        let Some(v) = self.str(name) else { return default };
        match v.parse::<u64>() {
            Ok(n) if n >= u64::from(min) && n <= u64::from(max) => n as u32,
            Ok(_) => {
                self.error(name, format!("must be between {min} and {max}"));
                default
            }
            Err(_) => {
                self.error(name, "must be a whole number");
                default
            }
        }
    }

    /// `true`/`false` (also `1`/`0`), `default` when absent.
    pub fn bool(&mut self, name: &str, default: bool) -> bool {
        match self.str(name).as_deref() {
            None => default,
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(_) => {
                self.error(name, "must be true or false");
                default
            }
        }
    }

    /// A UUID.
    pub fn uuid(&mut self, name: &str) -> Option<Uuid> {
        let v = self.str(name)?;
        match Uuid::parse_str(&v) {
            Ok(u) => Some(u),
            Err(_) => {
                self.error(name, "must be an id (a UUID)");
                None
            }
        }
    }

    /// An ISO 8601 instant or date; with `end_of_day` a date means its last instant.
    pub fn time(&mut self, name: &str, end_of_day: bool) -> Option<Time> {
        let v = self.str(name)?;
        let t = time::parse_iso(&v, end_of_day);
        if t.is_none() {
            self.error(name, "must be an ISO 8601 date or date-time (2024-01-15 or 2024-01-15T10:00:00Z)");
        }
        t
    }

    /// One of a closed set of words, parsed by `parse`; `allowed` lists them for the message.
    pub fn one_of<T>(&mut self, name: &str, parse: impl Fn(&str) -> Option<T>, allowed: &str) -> Option<T> {
        let v = self.str(name)?;
        let t = parse(&v);
        if t.is_none() {
            self.error(name, format!("must be one of: {allowed}"));
        }
        t
    }

    /// 400 `VALIDATION_ERROR` naming every field at fault, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.errors))
        }
    }
}

/// Parses a JSON body. An empty body is `{}` (actions such as `/reopen` send none). A syntax error or
/// a wrong type is 400 naming the field path (`contact.phone`).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    // A NUL character can only be written `\u0000` in JSON; PostgreSQL stores it in neither text
    // nor JSONB, so a string holding one is refused (400 naming where), not a 500 later. The slow
    // look only runs when the escape appears at all.
    if body.windows(6).any(|w| w == b"\\u0000") {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
            if let Some(path) = nul_path(&value, String::new()) {
                let field = if path.is_empty() { "body".to_string() } else { path };
                return Err(ApiError::invalid(field, "must not contain the NUL character (\\u0000)"));
            }
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let syntax = inner.is_syntax() || inner.is_eof();
        let field = if syntax || path == "." || path.is_empty() { "body".to_string() } else { path };
        let message = if syntax {
            format!("is not valid JSON ({inner})")
        } else {
            inner.to_string().split(" at line ").next().unwrap_or_default().to_string()
        };
        ApiError::invalid(field, message)
    })
}

/// Where in `value` a string or key holds a NUL character, as serde_path_to_error spells paths
/// (`contact.name`, `tags[1]`); a key's own NUL is reported at the object holding it.
fn nul_path(value: &serde_json::Value, at: String) -> Option<String> {
    match value {
        serde_json::Value::String(s) => s.contains('\0').then_some(at),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, v)| nul_path(v, format!("{at}[{i}]")))
        }
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                return Some(at.clone());
            }
            nul_path(v, if at.is_empty() { k.clone() } else { format!("{at}.{k}") })
        }),
        _ => None,
    }
}

/// Reads a request body up to the body limit: 413 beyond it.
pub async fn read_body(req: axum::extract::Request) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::too_large(crate::MAX_BODY_BYTES))
}

/// A text field: trimmed, `None` when empty, 400 when longer than `max` characters.
pub fn text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    let Some(v) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(ApiError::invalid(field, format!("must be at most {max} characters")));
    }
    Ok(Some(v))
}

/// A JSON object field bounded in depth and size (metadata, config).
pub fn json_object(
    field: &str,
    value: Option<serde_json::Map<String, serde_json::Value>>,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, ApiError> {
    let Some(map) = value else { return Ok(None) };
    let v = serde_json::Value::Object(map);
    if confab_core::rules::metadata::depth(&v) > confab_core::rules::metadata::MAX_DEPTH {
        return Err(ApiError::invalid(
            field,
            format!("must be nested at most {} levels deep", confab_core::rules::metadata::MAX_DEPTH),
        ));
    }
    match v {
        serde_json::Value::Object(m) => Ok(Some(m)),
        _ => unreachable!("built from an object"),
    }
}

/// For `Option<Option<T>>` fields with `#[serde(default)]`: absent is `None`, `null` is
/// `Some(None)` (clear it), a value is `Some(Some(v))`.
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Most tags a contact-like body may carry.
pub const TAGS_MAX: usize = 50;
/// Longest URL accepted.
pub const URL_MAX: usize = 2048;

/// Collects every problem of a request body, to report them all in one 400 naming each field.
/// Shared by the faces that validate contact-like bodies field by field.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn add(&mut self, e: ApiError) {
        self.0.extend(e.details);
    }

    /// A trimmed text of at most `max` characters; empty is absent.
    pub fn text(&mut self, field: &str, value: Option<String>, max: usize) -> Option<String> {
        text(field, value, max).unwrap_or_else(|e| {
            self.add(e);
            None
        })
    }

    pub fn phone(&mut self, field: &str, value: Option<String>) -> Option<String> {
        let raw = self.text(field, value, 64)?;
        let phone = normalize_phone(&raw);
        if phone.is_none() {
            self.0.push(FieldError::new(
                field,
                "must be a phone number in E.164 format: + and 8 to 15 digits, e.g. +5511999999999",
            ));
        }
        phone
    }

    pub fn email(&mut self, field: &str, value: Option<String>) -> Option<String> {
        let raw = self.text(field, value, 254)?;
        let email = normalize_email(&raw);
        if email.is_none() {
            self.0.push(FieldError::new(field, "must be an email address such as jane@example.com"));
        }
        email
    }

    pub fn url(&mut self, field: &str, value: Option<String>) -> Option<String> {
        let url = self.text(field, value, URL_MAX)?;
        let lower = url.to_ascii_lowercase();
        let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
        if rest.is_none_or(str::is_empty) || url.chars().any(char::is_whitespace) {
            self.0.push(FieldError::new(field, "must be an http or https URL"));
            return None;
        }
        Some(url)
    }

    /// Tag names: trimmed, each valid, duplicates dropped, at most [`TAGS_MAX`].
    pub fn tags(&mut self, field: &str, value: Vec<String>) -> Vec<String> {
        if value.len() > TAGS_MAX {
            self.0.push(FieldError::new(field, format!("must hold at most {TAGS_MAX} tags")));
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::with_capacity(value.len());
        for (i, raw) in value.iter().enumerate() {
            match normalize_tag_name(raw) {
                Some(t) if !out.contains(&t) => out.push(t),
                Some(_) => {}
                None => self.0.push(FieldError::new(
                    format!("{field}[{i}]"),
                    format!("must be 1 to {TAG_NAME_MAX} characters without control characters"),
                )),
            }
        }
        out
    }

    /// A JSON object bounded in depth (metadata, custom fields).
    pub fn json(&mut self, field: &str, value: Option<JsonMap>) -> Option<JsonMap> {
        json_object(field, value).unwrap_or_else(|e| {
            self.add(e);
            None
        })
    }

    /// A PATCH field: absent stays absent, `null` or empty clears, a value is checked by `check`.
    pub fn clearable(
        &mut self,
        value: Option<Option<String>>,
        check: impl FnOnce(&mut Self, Option<String>) -> Option<String>,
    ) -> Option<Option<String>> {
        match value {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) if v.trim().is_empty() => Some(None),
            Some(v) => {
                let before = self.0.len();
                let checked = check(self, v);
                (self.0.len() == before).then_some(checked)
            }
        }
    }

    /// One of a closed set of words.
    pub fn word(&mut self, field: &str, value: Option<String>, allowed: &[&str]) -> Option<String> {
        let v = self.text(field, value, 50)?;
        if !allowed.contains(&v.as_str()) {
            self.0.push(FieldError::new(field, format!("must be one of: {}", allowed.join(", "))));
            return None;
        }
        Some(v)
    }

    /// Whether no problem has been recorded so far.
    pub fn is_clean(&self) -> bool {
        self.0.is_empty()
    }

    /// Records a problem.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// 400 `VALIDATION_ERROR` naming every field at fault, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        contact: Option<Inner>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        phone: Option<String>,
    }

    #[test]
    fn a_wrong_type_names_the_field_path() {
        let e = parse_json::<Body>(br#"{"contact":{"phone":5}}"#).unwrap_err();
        assert_eq!(e.details[0].field, "contact.phone");
        assert_eq!(e.code, "VALIDATION_ERROR");
        assert!(parse_json::<Body>(b"  ").is_ok());
        assert_eq!(parse_json::<Body>(b"{").unwrap_err().details[0].field, "body");
    }

    #[test]
    fn a_nul_character_anywhere_is_refused_naming_where() {
        let e = parse_json::<Body>(br#"{"contact":{"phone":"+1\u0000"}}"#).unwrap_err();
        assert_eq!(e.details[0].field, "contact.phone");
        let e = parse_json::<serde_json::Value>(br#"{"tags":["ok","a\u0000"]}"#).unwrap_err();
        assert_eq!(e.details[0].field, "tags[1]");
        let e = parse_json::<serde_json::Value>(br#"{"meta\u0000":1}"#).unwrap_err();
        assert_eq!(e.details[0].field, "body");
        // An escaped backslash followed by "u0000" is no NUL.
        assert!(parse_json::<serde_json::Value>(br#"{"a":"\\u0000"}"#).is_ok());
        let mut p = Params::from_query(Some("search=a%00b"));
        assert_eq!(p.str("search"), None);
        assert_eq!(p.finish().unwrap_err().details[0].field, "search");
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        let mut p = Params::from_query(Some("perPage=500&page=x&status=open&status=closed&ok=1"));
        assert_eq!(p.int("perPage", 20, 1, 100), 20);
        assert_eq!(p.int("page", 1, 1, u32::MAX), 1);
        assert_eq!(p.str("status").as_deref(), Some("closed"));
        let e = p.finish().unwrap_err();
        assert_eq!(e.details.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(), ["perPage", "page"]);
    }
}
