//! Message content: which types exist, what each needs, and the text that search indexes.
//!
//! The types are Linktor's: `text {text, quickReplies?}`, `image {url, caption?}`, `document {url,
//! filename?, caption?}`, `audio {url}`, `video {url, caption?}`, `location {latitude, longitude,
//! name?, address?}`, `buttons {text, buttons[…]}`, `template {template{name, language, …}}`. Other
//! faces map onto them; a payload no type fits is kept whole as `custom {payload}` (Airy's
//! source payloads), never dropped.

use crate::error::{Error, FieldError, Result};
use crate::model::JsonMap;
use serde_json::Value;

/// The content types, in Linktor's order, plus `custom`.
pub const CONTENT_TYPES: [&str; 9] =
    ["text", "image", "document", "audio", "video", "location", "buttons", "template", "custom"];

/// The longest text accepted in a message.
pub const MAX_TEXT: usize = 4096;

fn str_field<'a>(c: &'a JsonMap, key: &str, errors: &mut Vec<FieldError>, required: bool) -> Option<&'a str> {
    match c.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            if s.chars().count() > MAX_TEXT {
                errors
                    .push(FieldError::new(format!("content.{key}"), format!("must be at most {MAX_TEXT} characters")));
            }
            Some(s.as_str())
        }
        Some(Value::Null) | None if !required => None,
        Some(Value::String(_)) | Some(Value::Null) | None => {
            errors.push(FieldError::new(format!("content.{key}"), "is required"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(format!("content.{key}"), "must be a string"));
            None
        }
    }
}

fn number_in(c: &JsonMap, key: &str, min: f64, max: f64, errors: &mut Vec<FieldError>) {
    match c.get(key).and_then(Value::as_f64) {
        Some(v) if (min..=max).contains(&v) => {}
        Some(_) => errors.push(FieldError::new(format!("content.{key}"), format!("must be between {min} and {max}"))),
        None => errors.push(FieldError::new(format!("content.{key}"), "is required and must be a number")),
    }
}

/// Checks `content` and returns its type and its searchable text. Errors name `content.<field>`;
/// an unknown type is `UNSUPPORTED_CONTENT_TYPE` for the caller to map (`content.type`).
pub fn validate_content(content: &JsonMap) -> Result<(String, Option<String>)> {
    let kind = match content.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(_) => return Err(Error::invalid("content.type", "must be a string")),
        None => return Err(Error::invalid("content.type", "is required")),
    };
    let mut errors = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    match kind {
        "text" => {
            texts.extend(str_field(content, "text", &mut errors, true).map(str::to_string));
        }
        "image" | "video" => {
            str_field(content, "url", &mut errors, true);
            texts.extend(str_field(content, "caption", &mut errors, false).map(str::to_string));
        }
        "document" => {
            str_field(content, "url", &mut errors, true);
            texts.extend(str_field(content, "filename", &mut errors, false).map(str::to_string));
            texts.extend(str_field(content, "caption", &mut errors, false).map(str::to_string));
        }
        "audio" => {
            str_field(content, "url", &mut errors, true);
        }
        "location" => {
            number_in(content, "latitude", -90.0, 90.0, &mut errors);
            number_in(content, "longitude", -180.0, 180.0, &mut errors);
            texts.extend(str_field(content, "name", &mut errors, false).map(str::to_string));
            texts.extend(str_field(content, "address", &mut errors, false).map(str::to_string));
        }
        "buttons" => {
            texts.extend(str_field(content, "text", &mut errors, true).map(str::to_string));
            match content.get("buttons") {
                Some(Value::Array(items)) if !items.is_empty() && items.len() <= 10 => {
                    for (i, b) in items.iter().enumerate() {
                        match b.get("title").and_then(Value::as_str) {
                            Some(t) if !t.trim().is_empty() => texts.push(t.to_string()),
                            _ => errors.push(FieldError::new(format!("content.buttons[{i}].title"), "is required")),
                        }
                    }
                }
                _ => errors.push(FieldError::new("content.buttons", "must be a list of 1 to 10 buttons")),
            }
        }
        "template" => match content.get("template") {
            Some(Value::Object(t)) => {
                for key in ["name", "language"] {
                    if t.get(key).and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
                        errors.push(FieldError::new(format!("content.template.{key}"), "is required"));
                    }
                }
                texts.extend(t.get("name").and_then(Value::as_str).map(str::to_string));
            }
            _ => errors.push(FieldError::new("content.template", "is required and must be an object")),
        },
        "custom" => {
            if !content.contains_key("payload") {
                errors.push(FieldError::new("content.payload", "is required"));
            }
            texts
                .extend(content.get("payload").and_then(|p| p.get("text")).and_then(Value::as_str).map(str::to_string));
        }
        other => {
            return Err(Error::Conflict {
                code: "UNSUPPORTED_CONTENT_TYPE",
                message: format!(
                    "The content type '{other}' is not supported; use one of: {}.",
                    CONTENT_TYPES.join(", ")
                ),
                field: Some("content.type".into()),
            })
        }
    }
    if let Some(Value::Array(q)) = content.get("quickReplies") {
        texts.extend(q.iter().filter_map(|r| r.get("title").and_then(Value::as_str)).map(str::to_string));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let text = texts.join(" ");
    Ok((kind.to_string(), (!text.trim().is_empty()).then_some(text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(v: Value) -> JsonMap {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn each_type_checks_what_it_needs_and_yields_its_text() {
        assert_eq!(
            validate_content(&c(json!({"type":"text","text":"Hi there"}))).unwrap(),
            ("text".into(), Some("Hi there".into()))
        );
        let (_, t) = validate_content(&c(json!({"type":"image","url":"https://x/y.png","caption":"Receipt"}))).unwrap();
        assert_eq!(t.as_deref(), Some("Receipt"));
        let (_, t) = validate_content(&c(
            json!({"type":"buttons","text":"Pick","buttons":[{"type":"reply","id":"1","title":"Yes"}]}),
        ))
        .unwrap();
        assert_eq!(t.as_deref(), Some("Pick Yes"));
        assert!(validate_content(&c(json!({"type":"location","latitude":-23.5,"longitude":-46.6})))
            .unwrap()
            .1
            .is_none());
    }

    #[test]
    fn missing_and_wrong_fields_are_named() {
        let Err(Error::Validation(e)) = validate_content(&c(json!({"type":"location","latitude":91}))) else {
            panic!()
        };
        assert_eq!(e.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["content.latitude", "content.longitude"]);
        let Err(Error::Validation(e)) = validate_content(&c(json!({"type":"text","text":"  "}))) else { panic!() };
        assert_eq!(e[0].field, "content.text");
        assert!(matches!(
            validate_content(&c(json!({"type":"hologram"}))),
            Err(Error::Conflict { code: "UNSUPPORTED_CONTENT_TYPE", .. })
        ));
        assert!(matches!(validate_content(&c(json!({"text":"x"}))), Err(Error::Validation(_))));
    }
}
