//! The one error type of the core and the store. Each variant carries what a face needs to render
//! it in its own envelope; the codes (`CONVERSATION_NOT_FOUND`, …) are public API: add, never rename.

use serde::Serialize;

/// What a fallible Confab operation returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A kind of thing that can be missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Resource {
    Conversation,
    Channel,
    Contact,
    User,
    Bot,
    Assignee,
    Tag,
    Note,
    ApiKey,
    Tenant,
    Message,
    Inbox,
    Group,
    Attachment,
    Webhook,
    WebhookDelivery,
}

impl Resource {
    /// The Linktor-style code of the not-found error (`CONVERSATION_NOT_FOUND`).
    pub fn not_found_code(self) -> &'static str {
        match self {
            Resource::Conversation => "CONVERSATION_NOT_FOUND",
            Resource::Channel => "CHANNEL_NOT_FOUND",
            Resource::Contact => "CONTACT_NOT_FOUND",
            Resource::User => "USER_NOT_FOUND",
            Resource::Bot => "BOT_NOT_FOUND",
            Resource::Assignee => "ASSIGNEE_NOT_FOUND",
            Resource::Tag => "TAG_NOT_FOUND",
            Resource::Note => "NOTE_NOT_FOUND",
            Resource::ApiKey => "API_KEY_NOT_FOUND",
            Resource::Tenant => "TENANT_NOT_FOUND",
            Resource::Message => "MESSAGE_NOT_FOUND",
            Resource::Inbox => "INBOX_NOT_FOUND",
            Resource::Group => "GROUP_NOT_FOUND",
            Resource::Attachment => "ATTACHMENT_NOT_FOUND",
            Resource::Webhook => "WEBHOOK_NOT_FOUND",
            Resource::WebhookDelivery => "DELIVERY_NOT_FOUND",
        }
    }

    /// The name in a sentence ("conversation").
    pub fn noun(self) -> &'static str {
        match self {
            Resource::Conversation => "conversation",
            Resource::Channel => "channel",
            Resource::Contact => "contact",
            Resource::User => "user",
            Resource::Bot => "bot",
            Resource::Assignee => "assignee",
            Resource::Tag => "tag",
            Resource::Note => "note",
            Resource::ApiKey => "API key",
            Resource::Tenant => "tenant",
            Resource::Message => "message",
            Resource::Inbox => "inbox",
            Resource::Group => "group",
            Resource::Attachment => "attachment",
            Resource::Webhook => "webhook",
            Resource::WebhookDelivery => "webhook delivery",
        }
    }
}

/// One invalid input: which field, and what is wrong with it, as a sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Everything that can go wrong in the core or the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is invalid; each entry names a field.
    #[error("invalid request: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldError>),

    /// The thing does not exist in the caller's tenant (or its id does not parse). `field` names the
    /// request field that referred to it, when there is one (`channelId`).
    #[error("{} not found", .resource.noun())]
    NotFound { resource: Resource, field: Option<String> },

    /// The change conflicts with the current state; `code` is the public code
    /// (`CONVERSATION_EXISTS`, `CONTACT_EXISTS`, `CONVERSATION_ALREADY_CLOSED`, …).
    #[error("{message}")]
    Conflict { code: &'static str, message: String, field: Option<String> },

    /// The request is understood but refused by a rule (`ACTIVE_CONVERSATIONS_EXIST`, `BOT_IS_ACTIVE`).
    #[error("{message}")]
    Refused { code: &'static str, message: String },

    /// A fault of Confab or its database: logged, never shown to a client in detail.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A single-field validation error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    /// A not-found error with no request field.
    pub fn not_found(resource: Resource) -> Self {
        Error::NotFound { resource, field: None }
    }

    /// A not-found error for the thing a request field referred to.
    pub fn not_found_field(resource: Resource, field: impl Into<String>) -> Self {
        Error::NotFound { resource, field: Some(field.into()) }
    }

    /// A conflict with its public code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict { code, message: message.into(), field: None }
    }

    /// An internal fault, from any displayable cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Error::Internal(cause.to_string())
    }
}
