//! `/v1/bots`: create, list, get, update, delete, activate, deactivate.
//!
//! Decisions where the seed's bots page is silent or beyond Confab:
//! - A bot is created `active`. `status` is `active` or `inactive`; Confab does not train bots, so the
//!   list filter `status=training` is accepted and matches none.
//! - `provider` is `openai`, `anthropic` or `custom`; anything else is 400 `INVALID_PROVIDER` naming
//!   `provider`. `model` is any name of 1 to 200 characters (Confab calls no model, so it cannot tell
//!   an invalid one: `INVALID_MODEL` is never returned).
//! - The seed's `behaviors`, `knowledgeBaseId`, `flowId`, `functions` and `channelIds` are not
//!   features of Confab and are ignored like any unknown field; keep such settings in `config`.
//! - PATCH changes what is sent: `name`, `provider`, `model`, `status`; `config` and `metadata` are
//!   deep-merged (a `null` value deletes the key). A PATCH that changes nothing writes nothing.
//! - `POST …/activate` and `…/deactivate` answer 200 with the bot; doing it to a bot already in that
//!   state changes nothing. Deactivate's `transferTo` and `reason` are not supported (ignored): the
//!   bot's conversations stay as they are.
//! - Deleting an active bot is 400 `BOT_IS_ACTIVE` (deactivate it first); deleting an inactive one
//!   takes it off its conversations (as their bot and as their assignee; each gets a
//!   `conversation.updated` event) and off channels' `defaultBotId`.
//! - The list is newest first; `search` matches part of the name, case-insensitively.

use super::envelope::{self, iso, page_request, Resource};
use super::extract::Path;
use super::extract::{no_content, Json, LinktorError};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::{json_object, text, Params};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::*;
use confab_core::{BotId, Error, FieldError, Resource as R};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The longest bot or model name.
const NAME_MAX: usize = 200;
const PROVIDERS: &str = "openai, anthropic, custom";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_bots, create_bot))
        .routes(routes!(get_bot, update_bot, delete_bot))
        .routes(routes!(activate_bot))
        .routes(routes!(deactivate_bot))
}

/// A bot's attributes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotAttributes {
    pub name: String,
    /// openai, anthropic or custom.
    pub provider: &'static str,
    pub model: String,
    /// active or inactive.
    pub status: &'static str,
    #[schema(value_type = Object)]
    pub config: JsonMap,
    #[schema(value_type = Object)]
    pub metadata: JsonMap,
    pub created_at: String,
    pub updated_at: String,
}

pub fn resource(b: Bot) -> Resource<BotAttributes> {
    Resource::new(
        "bot",
        b.id,
        BotAttributes {
            name: b.name,
            provider: b.provider.as_str(),
            model: b.model,
            status: status_word(b.active),
            config: b.config,
            metadata: b.metadata,
            created_at: iso(b.created_at),
            updated_at: iso(b.updated_at),
        },
    )
}

fn status_word(active: bool) -> &'static str {
    if active {
        "active"
    } else {
        "inactive"
    }
}

/// A path id; one that does not parse is simply not found.
fn bot_id(raw: &str) -> Result<BotId, LinktorError> {
    raw.parse().map_err(|_| Error::not_found(R::Bot).into())
}

/// 400 `INVALID_PROVIDER` naming `provider`.
fn invalid_provider() -> ApiError {
    let mut e = ApiError::invalid("provider", format!("must be one of: {PROVIDERS}"));
    e.code = "INVALID_PROVIDER";
    e
}

/// Request body of `POST /v1/bots`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateBot {
    /// Display name (1 to 200 characters).
    pub name: Option<String>,
    /// openai, anthropic or custom.
    pub provider: Option<String>,
    /// The provider's model name (1 to 200 characters), e.g. `gpt-4o`.
    pub model: Option<String>,
    /// Settings of the bot (prompt, temperature, …), kept as given.
    #[schema(value_type = Object)]
    pub config: Option<JsonMap>,
    #[schema(value_type = Object)]
    pub metadata: Option<JsonMap>,
}

/// Request body of `PATCH /v1/bots/{id}`; absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBot {
    pub name: Option<String>,
    /// openai, anthropic or custom.
    pub provider: Option<String>,
    pub model: Option<String>,
    /// active or inactive (the same as `/activate` and `/deactivate`).
    pub status: Option<String>,
    /// Deep-merged into the existing config; a `null` value deletes the key.
    #[schema(value_type = Object)]
    pub config: Option<JsonMap>,
    /// Deep-merged into the existing metadata; a `null` value deletes the key.
    #[schema(value_type = Object)]
    pub metadata: Option<JsonMap>,
}

/// Every problem of a bot body, then the provider's own error (it has its own code).
struct Checks {
    errors: Vec<FieldError>,
    bad_provider: bool,
}

impl Checks {
    fn new() -> Self {
        Checks { errors: Vec::new(), bad_provider: false }
    }

    /// A required-when-present name: trimmed, 1 to 200 characters.
    fn name(&mut self, field: &str, value: Option<String>, required: bool) -> Option<String> {
        match text(field, value.clone(), NAME_MAX) {
            Ok(Some(v)) => Some(v),
            Ok(None) => {
                if required {
                    self.errors.push(FieldError::new(field, "is required"));
                } else if value.is_some() {
                    self.errors.push(FieldError::new(field, "must not be empty"));
                }
                None
            }
            Err(e) => {
                self.errors.extend(e.details);
                None
            }
        }
    }

    fn provider(&mut self, value: Option<String>, required: bool) -> Option<BotProvider> {
        match value {
            None if required => {
                self.errors.push(FieldError::new("provider", format!("is required: one of {PROVIDERS}")));
                None
            }
            None => None,
            Some(v) => {
                let p = BotProvider::parse(v.trim());
                self.bad_provider |= p.is_none();
                p
            }
        }
    }

    fn object(&mut self, field: &str, value: Option<JsonMap>) -> Option<JsonMap> {
        json_object(field, value).unwrap_or_else(|e| {
            self.errors.extend(e.details);
            None
        })
    }

    /// Other problems first (400 `VALIDATION_ERROR` naming them), else a bad provider.
    fn finish(self) -> Result<(), ApiError> {
        if !self.errors.is_empty() {
            let mut errors = self.errors;
            if self.bad_provider {
                errors.push(FieldError::new("provider", format!("must be one of: {PROVIDERS}")));
            }
            return Err(ApiError::invalid_fields(errors));
        }
        if self.bad_provider {
            return Err(invalid_provider());
        }
        Ok(())
    }
}

/// List bots.
#[utoipa::path(get, path = "/bots", tag = "bots",
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("perPage" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
        ("status" = Option<String>, Query, description = "active, inactive or training (Confab never trains: none)"),
        ("provider" = Option<String>, Query, description = "openai, anthropic or custom"),
        ("search" = Option<String>, Query, description = "Case-insensitive part of the name"),
    ),
    responses((status = 200, body = envelope::Doc<Vec<Resource<BotAttributes>>>), (status = 400, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_bots(State(s): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Bots, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p);
    // Some(None): `training`, which no Confab bot ever is.
    let status = p.one_of(
        "status",
        |s| match s {
            "active" => Some(Some(true)),
            "inactive" => Some(Some(false)),
            "training" => Some(None),
            _ => None,
        },
        "active, inactive, training",
    );
    let filter = BotFilter {
        active: status.flatten(),
        provider: p.one_of("provider", BotProvider::parse, PROVIDERS),
        search: p.str("search"),
    };
    p.finish()?;
    if status == Some(None) {
        return Ok(envelope::page(Vec::<Resource<BotAttributes>>::new(), page, 0));
    }
    let bots = s.store.list_bots(&ctx, &filter, page).await?;
    Ok(envelope::page_of(bots, page, resource))
}

/// Create a bot (active).
#[utoipa::path(post, path = "/bots", tag = "bots", request_body = CreateBot,
    responses(
        (status = 201, body = envelope::Doc<Resource<BotAttributes>>),
        (status = 400, description = "VALIDATION_ERROR, or INVALID_PROVIDER", body = super::extract::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn create_bot(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateBot>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Bots, Access::Write)?;
    let mut c = Checks::new();
    let name = c.name("name", body.name, true);
    let provider = c.provider(body.provider, true);
    let model = c.name("model", body.model, true);
    let config = c.object("config", body.config);
    let metadata = c.object("metadata", body.metadata);
    c.finish()?;
    let (Some(name), Some(provider), Some(model)) = (name, provider, model) else {
        return Err(Error::internal("a checked bot lacks a required field").into());
    };
    let new =
        NewBot { name, provider, model, config: config.unwrap_or_default(), metadata: metadata.unwrap_or_default() };
    let bot = s.store.create_bot(&ctx, new).await?;
    Ok(envelope::one(StatusCode::CREATED, resource(bot)))
}

/// Get a bot.
#[utoipa::path(get, path = "/bots/{id}", tag = "bots", params(("id" = String, Path)),
    responses((status = 200, body = envelope::Doc<Resource<BotAttributes>>), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn get_bot(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Bots, Access::Read)?;
    let bot = s.store.get_bot(&ctx, bot_id(&id)?).await?;
    Ok(envelope::one(StatusCode::OK, resource(bot)))
}

/// Update a bot.
#[utoipa::path(patch, path = "/bots/{id}", tag = "bots", params(("id" = String, Path)), request_body = UpdateBot,
    responses(
        (status = 200, body = envelope::Doc<Resource<BotAttributes>>),
        (status = 400, description = "VALIDATION_ERROR, or INVALID_PROVIDER", body = super::extract::ErrorDoc),
        (status = 404, body = super::extract::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn update_bot(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateBot>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Bots, Access::Write)?;
    let id = bot_id(&id)?;
    let mut c = Checks::new();
    let active = match body.status.as_deref().map(str::trim) {
        None => None,
        Some("active") => Some(true),
        Some("inactive") => Some(false),
        Some(_) => {
            c.errors.push(FieldError::new("status", "must be one of: active, inactive"));
            None
        }
    };
    let patch = BotPatch {
        name: c.name("name", body.name, false),
        provider: c.provider(body.provider, false),
        model: c.name("model", body.model, false),
        config: c.object("config", body.config),
        metadata: c.object("metadata", body.metadata),
        active,
    };
    c.finish()?;
    let bot = s.store.update_bot(&ctx, id, patch).await?;
    Ok(envelope::one(StatusCode::OK, resource(bot)))
}

/// Delete a bot; an active bot must be deactivated first.
#[utoipa::path(delete, path = "/bots/{id}", tag = "bots", params(("id" = String, Path)),
    responses(
        (status = 204),
        (status = 400, description = "BOT_IS_ACTIVE: deactivate the bot first", body = super::extract::ErrorDoc),
        (status = 404, body = super::extract::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn delete_bot(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Bots, Access::Write)?;
    s.store.delete_bot(&ctx, bot_id(&id)?).await?;
    Ok(no_content())
}

/// Sets a bot's status: the same status again changes nothing.
async fn set_active(s: &AppState, auth: &Auth, raw: &str, active: bool) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Bots, Access::Write)?;
    let patch = BotPatch { active: Some(active), ..BotPatch::default() };
    let bot = s.store.update_bot(&ctx, bot_id(raw)?, patch).await?;
    Ok(envelope::one(StatusCode::OK, resource(bot)))
}

/// Activate a bot.
#[utoipa::path(post, path = "/bots/{id}/activate", tag = "bots", params(("id" = String, Path)),
    responses((status = 200, body = envelope::Doc<Resource<BotAttributes>>), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn activate_bot(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, LinktorError> {
    set_active(&s, &auth, &id, true).await
}

/// Deactivate a bot (so that it can be deleted).
#[utoipa::path(post, path = "/bots/{id}/deactivate", tag = "bots", params(("id" = String, Path)),
    responses((status = 200, body = envelope::Doc<Resource<BotAttributes>>), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn deactivate_bot(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, LinktorError> {
    set_active(&s, &auth, &id, false).await
}
