//! `messages.list`, `messages.send`, `messages.resend` (`reference/airy.md` §6), and how Airy's
//! message payloads map onto Confab's content.
//!
//! **Content.** Airy's `message` is the source's payload, any JSON. Sent through this face it
//! becomes Confab content: `{"text": "…"}` (that one key, a string) is a text message (`{type: "text",
//! text}`, searchable, what /v1 and the other faces show as text); anything else is kept whole as
//! `{type: "custom", payload: <message>}`. This face renders content back as Airy's payload: a text
//! message as `{"text": …}`, a custom one as its payload exactly as sent, and the other Confab types
//! (image, document, location, buttons, template, text with quick replies, sent through /v1) as
//! Confab's content object, which has no Airy equivalent (`text` is still where Airy clients read
//! it). A text is 1 to 4096 characters (/v1's rule): a blank or longer one is 400 naming
//! `message.text`.
//!
//! **`messages.list`** `{conversation_id, cursor?, page_size?}` (scope `messages:read`): newest first
//! (created time, then id, both descending: the first message is the conversation's
//! `last_message`); `cursor` is the id of the message the page starts at (the previous page's
//! `next_cursor`); `page_size` 20 by default, 0 or less is 10 (Airy's rule), more than 1000 is 400.
//! `pagination_data`: `previous_cursor` = the request's cursor (`null` on the first page),
//! `next_cursor` = the id of the first message of the next page or `null`, `total` = the
//! conversation's messages. An unknown conversation is 404 (empty); a cursor that is not a message
//! of the conversation is 400 `{"message"}` (Airy answered 500, or ignored the cursor when the
//! conversation had one page).
//!
//! **`messages.send`** `{conversation_id | (source_recipient_id + channel_id), message}` (scope
//! `messages:write`) answers 200 with the message: `delivery_state` `pending` (Confab's `pending` is
//! Airy's `pending`, `failed` is `failed`, and `sent`, `delivered`, `read` are `delivered`),
//! `from_contact: false`, `source` the channel type, `sender` the key's user. With `conversation_id`
//! (which wins when both forms are given): an unknown conversation is 404 (empty; Confab is strongly
//! consistent, so Airy's 202-then-fail is not needed); a conversation whose channel is inactive or
//! gone is 403 (empty), as Airy's disconnected channel. With `source_recipient_id` + `channel_id`:
//! the recipient is a phone (E.164) or an email address — the contact with it (created when none
//! has it) and its active conversation on the channel (started when it has none) receive the
//! message; another address is 400 `{"message"}`; an unknown or inactive channel is 403 (empty), as
//! in Airy. Neither form, or a missing `message`, is 400 `{"message"}` naming the field (Airy: an
//! empty 400; this face's validation errors all name their field).
//!
//! **`messages.resend`** `{message_id}` (scope `messages:write`): a failed message goes back to
//! `pending` and is announced again as `message.sent` for connectors to deliver (see the store's
//! `resend_message`); 200 with an empty body. 404 (empty) for an unknown message, 409 `{"message":
//! "Message is not in a failed state"}` for any other.

use super::list::{whole_number, PaginationData};
use super::render::{message_json, MessageJson};
use super::{required_id, AiryAuth, AiryError, Body, ErrorMessage};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::model::*;
use confab_core::rules::message::validate_content;
use confab_core::{ChannelId, ConversationId, Error, FieldError, MessageId, Resource};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// `messages.list`'s page size without `page_size`.
const DEFAULT_PAGE_SIZE: u32 = 20;
/// `messages.list`'s page size for `page_size` of 0 or less (Airy's rule).
const NON_POSITIVE_PAGE_SIZE: u32 = 10;
/// The largest `page_size`.
const MAX_PAGE_SIZE: u32 = 1000;
/// The longest `source_recipient_id` accepted.
const RECIPIENT_MAX: usize = 320;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_messages)).routes(routes!(send_message)).routes(routes!(resend_message))
}

/// Confab content for Airy's `message` payload: `{"text": "…"}` is a text message, anything else a
/// custom one holding the payload.
pub fn content_from_airy(message: Value) -> JsonMap {
    let mut content = JsonMap::new();
    match message {
        Value::Object(o) if o.len() == 1 && o.get("text").is_some_and(Value::is_string) => {
            content.insert("type".into(), "text".into());
            content.extend(o);
        }
        payload => {
            content.insert("type".into(), "custom".into());
            content.insert("payload".into(), payload);
        }
    }
    content
}

/// Airy's payload for Confab content: the inverse of [`content_from_airy`]; content of other types
/// is rendered as it is.
pub fn airy_content(content: &JsonMap) -> Value {
    match content.get("type").and_then(Value::as_str) {
        Some("custom") if content.contains_key("payload") => content["payload"].clone(),
        Some("text") if content.len() == 2 && content.get("text").is_some_and(Value::is_string) => {
            serde_json::json!({ "text": content["text"] })
        }
        _ => Value::Object(content.clone()),
    }
}

/// `messages.list`.
#[derive(Deserialize, ToSchema)]
pub struct ListMessagesRequest {
    /// The conversation (a UUID).
    pub conversation_id: Option<String>,
    /// The id of the message the page starts at: a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 20 by default; 0 or less is 10; at most 1000.
    #[schema(value_type = Option<i64>, example = 20)]
    pub page_size: Option<Value>,
}

/// A page of messages.
#[derive(Serialize, ToSchema)]
pub struct MessageList {
    pub data: Vec<MessageJson>,
    pub pagination_data: PaginationData,
}

/// `messages.send`: `conversation_id`, or `source_recipient_id` and `channel_id`.
#[derive(Deserialize, ToSchema)]
pub struct SendMessageRequest {
    /// An existing conversation (a UUID).
    pub conversation_id: Option<String>,
    /// Without `conversation_id`: the recipient's phone (E.164) or email address on `channel_id`.
    pub source_recipient_id: Option<String>,
    /// Without `conversation_id`: the channel (a UUID) to reach `source_recipient_id` on.
    pub channel_id: Option<String>,
    /// The payload: `{"text": "…"}`, or any JSON a connector understands.
    #[schema(value_type = Object)]
    pub message: Option<Value>,
}

/// `messages.resend`.
#[derive(Deserialize, ToSchema)]
pub struct ResendRequest {
    /// The failed message (a UUID).
    pub message_id: Option<String>,
}

fn list_page_size(v: Option<&Value>) -> Result<u32, AiryError> {
    match v {
        None | Some(Value::Null) => Ok(DEFAULT_PAGE_SIZE),
        Some(v) => match whole_number(v) {
            Some(n) if n <= 0 => Ok(NON_POSITIVE_PAGE_SIZE),
            Some(n) if n <= i128::from(MAX_PAGE_SIZE) => Ok(n as u32),
            _ => Err(AiryError::invalid("page_size", &format!("must be a whole number, at most {MAX_PAGE_SIZE}"))),
        },
    }
}

/// A conversation's messages, newest first.
#[utoipa::path(post, path = "/messages.list", tag = "airy", request_body = ListMessagesRequest,
    responses(
        (status = 200, body = MessageList),
        (status = 400, description = "A missing or invalid conversation_id, a cursor that is not a message of the conversation, a page_size over 1000", body = ErrorMessage),
        (status = 403, description = "No key, an invalid key, or no messages:read (empty body)"),
        (status = 404, description = "No such conversation (empty body)"),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn list_messages(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Read)?;
    let req: ListMessagesRequest = body.parse()?;
    let id = ConversationId(required_id("conversation_id", req.conversation_id.as_deref())?);
    let cursor = match req.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(MessageId(
            uuid::Uuid::parse_str(c)
                .map_err(|_| AiryError::invalid("cursor", "must be a message id (a previous page's next_cursor)"))?,
        )),
    };
    let page_size = list_page_size(req.page_size.as_ref())?;
    let view = s.store.get_conversation(&ctx, id).await?;
    let page = s.store.messages_from(&ctx, id, cursor, page_size).await?;
    let source = view.conversation.channel_type.as_deref().unwrap_or("");
    let avatar = view.contact.as_ref().and_then(|c| c.avatar_url.as_deref());
    let data = page.items.iter().map(|m| message_json(m, source, avatar)).collect();
    let pagination_data = PaginationData {
        previous_cursor: cursor.map(|c| c.to_string()),
        next_cursor: page.next.map(|m| m.to_string()),
        total: page.total,
    };
    Ok(axum::Json(MessageList { data, pagination_data }).into_response())
}

/// Whom `req` sends to.
fn recipient(req: &SendMessageRequest) -> Result<Recipient, AiryError> {
    if let Some(raw) = req.conversation_id.as_deref() {
        return Ok(Recipient::Conversation(ConversationId(required_id("conversation_id", Some(raw))?)));
    }
    if req.source_recipient_id.is_none() && req.channel_id.is_none() {
        return Err(AiryError::invalid("conversation_id", "is required, or source_recipient_id and channel_id"));
    }
    let channel_id = ChannelId(required_id("channel_id", req.channel_id.as_deref())?);
    let to = req.source_recipient_id.as_deref().map(str::trim).unwrap_or_default();
    if to.is_empty() {
        return Err(AiryError::invalid("source_recipient_id", "is required with channel_id"));
    }
    if to.chars().count() > RECIPIENT_MAX {
        return Err(AiryError::invalid("source_recipient_id", &format!("must be at most {RECIPIENT_MAX} characters")));
    }
    Ok(Recipient::Address { channel_id, to: to.to_string() })
}

/// Errors of content validation name Airy's field (`message.text`), not Confab's (`content.text`).
fn content_error(e: Error) -> AiryError {
    match e {
        Error::Validation(fields) => Error::Validation(
            fields
                .into_iter()
                .map(|f| {
                    let field = match f.field.strip_prefix("content") {
                        Some(rest) => format!("message{rest}"),
                        None => f.field,
                    };
                    FieldError::new(field, f.message)
                })
                .collect(),
        )
        .into(),
        e => e.into(),
    }
}

/// Send a message to a conversation, or to a phone or email address on a channel.
#[utoipa::path(post, path = "/messages.send", tag = "airy", request_body = SendMessageRequest,
    responses(
        (status = 200, body = MessageJson),
        (status = 400, description = "No message, neither conversation_id nor source_recipient_id and channel_id, an invalid id, text or address", body = ErrorMessage),
        (status = 403, description = "No key, no messages:write, or the channel is inactive, unknown or gone (empty body)"),
        (status = 404, description = "No such conversation (empty body)"),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn send_message(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let req: SendMessageRequest = body.parse()?;
    let message = req.message.clone().ok_or_else(|| AiryError::invalid("message", "is required"))?;
    let recipient = recipient(&req)?;
    let content = content_from_airy(message);
    validate_content(&content).map_err(content_error)?;
    let forbidden = || AiryError::Empty(StatusCode::FORBIDDEN);
    if let Recipient::Conversation(id) = recipient {
        // No channel to deliver through: Airy's disconnected channel.
        if s.store.get_conversation(&ctx, id).await?.conversation.channel_id.is_none() {
            return Err(forbidden());
        }
    }
    let send = SendMessage { recipient, content, metadata: JsonMap::new(), external_id: None };
    let m = match s.store.send_message(&ctx, send).await {
        Ok(m) => m,
        Err(Error::NotFound { resource: Resource::Channel, .. }) => return Err(forbidden()),
        Err(Error::Refused { code: "CHANNEL_NOT_CONNECTED", .. }) => return Err(forbidden()),
        Err(Error::Refused { code: "INVALID_RECIPIENT", .. }) => {
            return Err(AiryError::invalid(
                "source_recipient_id",
                "must be a phone number in E.164 format (+15550001234) or an email address",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let view = s.store.get_conversation(&ctx, m.conversation_id).await?;
    let source = view.conversation.channel_type.as_deref().unwrap_or("");
    Ok(axum::Json(message_json(&m, source, None)).into_response())
}

/// Send a failed message again.
#[utoipa::path(post, path = "/messages.resend", tag = "airy", request_body = ResendRequest,
    responses(
        (status = 200, description = "The message is pending again (empty body)"),
        (status = 400, body = ErrorMessage),
        (status = 403, description = "No key, an invalid key, or no messages:write (empty body)"),
        (status = 404, description = "No such message (empty body)"),
        (status = 409, description = "The message has not failed", body = ErrorMessage),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn resend_message(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let req: ResendRequest = body.parse()?;
    let id = MessageId(required_id("message_id", req.message_id.as_deref())?);
    match s.store.resend_message(&ctx, id).await {
        Ok(_) => Ok(StatusCode::OK.into_response()),
        Err(Error::Conflict { .. }) => {
            Err(AiryError::Message(StatusCode::CONFLICT, "Message is not in a failed state".into()))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_text_payload_is_a_text_message_and_anything_else_a_custom_one_rendered_back_as_sent() {
        let text = content_from_airy(json!({"text": "Hello"}));
        assert_eq!(Value::Object(text.clone()), json!({"type": "text", "text": "Hello"}));
        assert_eq!(airy_content(&text), json!({"text": "Hello"}));
        for payload in [
            json!({"text": "Hi", "quick_replies": []}),
            json!({"text": 5}),
            json!({"attachment": {"type": "image", "payload": {"url": "https://x/y.png"}}}),
            json!("just a string"),
            json!([1, 2]),
            json!(42),
            json!({}),
        ] {
            let content = content_from_airy(payload.clone());
            assert_eq!(content["type"], "custom", "{payload}");
            assert!(validate_content(&content).is_ok(), "{payload}");
            assert_eq!(airy_content(&content), payload);
        }
        let image = json!({"type": "image", "url": "https://x/y.png"});
        assert_eq!(airy_content(image.as_object().unwrap()), image);
        let quick = json!({"type": "text", "text": "Pick", "quickReplies": [{"title": "Yes"}]});
        assert_eq!(airy_content(quick.as_object().unwrap()), quick);
    }

    #[test]
    fn message_page_sizes_default_to_20_and_non_positive_is_10() {
        assert_eq!(list_page_size(None).unwrap(), 20);
        assert_eq!(list_page_size(Some(&json!(0))).unwrap(), 10);
        assert_eq!(list_page_size(Some(&json!(-5))).unwrap(), 10);
        assert_eq!(list_page_size(Some(&json!("7"))).unwrap(), 7);
        assert!(list_page_size(Some(&json!(1001))).is_err());
        assert!(list_page_size(Some(&json!("x"))).is_err());
    }
}
