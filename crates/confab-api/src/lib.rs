//! Confab's HTTP server.
//!
//! Each face (one module under [`faces`]) parses its platform's requests, authenticates them its way,
//! calls the store's use-case operations and renders the results in its platform's dialect. Nothing
//! here decides a rule: rules live in `confab-core`, transactions in the store.
//!
//! Shared across faces: API keys ([`auth`]), request ids ([`request_id`]), idempotency keys
//! ([`idempotency`]), query-string and body parsing ([`faces::params`]), and the service routes
//! (`/healthz`, `/readyz`, `/openapi.json`, `/docs`).

#![forbid(unsafe_code)]

pub mod auth;
pub mod error;
pub mod faces;
pub mod idempotency;
pub mod request_id;
mod service;

use auth::SecurityAddon;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use confab_store::DynStore;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// The largest request body accepted (413 beyond it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: DynStore,
    pub keys: Arc<auth::KeyCache>,
    /// Signs the Protocol face's attachment download URLs.
    pub url_signer: Arc<faces::protocol::UrlSigner>,
    /// Wakes the realtime event streams (advanced by the position relay).
    pub events: confab_events::EventNotifier,
    /// Sends test deliveries and knows the webhook formats and settings (`--allow-insecure-webhooks`).
    pub webhooks: confab_events::webhooks::WebhookSender,
}

impl AppState {
    pub fn new(store: DynStore) -> Self {
        Self {
            store,
            keys: Arc::new(auth::KeyCache::default()),
            url_signer: Arc::new(faces::protocol::UrlSigner::new(None)),
            events: confab_events::EventNotifier::default(),
            webhooks: webhook_sender(confab_events::webhooks::WebhookConfig::default()),
        }
    }

    /// Streams wake on `notifier`, the one the position relay advances.
    pub fn with_event_notifier(mut self, notifier: confab_events::EventNotifier) -> Self {
        self.events = notifier;
        self
    }

    /// Signs download URLs with `key` (`--url-signing-key`) instead of a random key drawn at start,
    /// so that they survive restarts and hold on every node.
    /// Sends webhooks with `sender` (the worker's: same settings and formats).
    pub fn with_webhooks(mut self, sender: confab_events::webhooks::WebhookSender) -> Self {
        self.webhooks = sender;
        self
    }

    pub fn with_url_signing_key(mut self, key: Option<&str>) -> Self {
        self.url_signer = Arc::new(faces::protocol::UrlSigner::new(key.map(str::as_bytes)));
        self
    }
}

/// A webhook sender with `config` and every face's format.
pub fn webhook_sender(config: confab_events::webhooks::WebhookConfig) -> confab_events::webhooks::WebhookSender {
    confab_events::webhooks::WebhookSender::new(config, faces::webhooks::webhook_formats())
        .expect("the HTTP client of webhooks can be built")
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Confab",
        description = "A conversations server speaking the Linktor (/v1), Airy Core, Protocol and G-Tateth APIs.",
        license(name = "Apache-2.0")
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "conversations", description = "Linktor conversations: lifecycle, assignment, tags, notes, timeline"),
        (name = "channels", description = "Linktor channels"),
        (name = "contacts", description = "Contacts (Linktor SDK resource)"),
        (name = "users", description = "Users of the organisation (admin)"),
        (name = "bots", description = "Linktor bots"),
        (name = "tags", description = "Tags of the organisation"),
        (name = "webhooks", description = "Linktor webhook subscriptions and their deliveries"),
        (name = "messages", description = "Linktor messages: send, list, read, delete, delivery reports"),
        (name = "airy", description = "The Airy Core face at the root: dotted RPC endpoints (POST), snake_case JSON"),
        (name = "gtateth", description = "The G-Tateth helpdesk face at /api/v1: conversations, customers, inboxes; {success, data} envelopes"),
        (name = "protocol", description = "The Protocol face at /protocol/v1: conversations, contacts, groups, messages, attachments; bare snake_case objects, form-encoded or JSON bodies"),
        (name = "service", description = "Health and documentation"),
    )
)]
struct ApiDoc;

/// The whole application: every face, the service routes, and the layers around them.
pub fn app(state: AppState) -> Router {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/v1", faces::linktor::router(state.clone()))
        .merge(faces::airy::router(state.clone()))
        .nest("/api/v1", faces::gtateth::router(state.clone()))
        .nest("/protocol/v1", faces::protocol::router(state.clone()))
        .split_for_parts();
    router
        .merge(service::router(openapi))
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(request_id::layer))
        .layer(TraceLayer::new_for_http().make_span_with(request_id::make_span))
        .layer(CatchPanicLayer::custom(error::panic_response))
}

/// The OpenAPI document of every route (also served at `/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let state_free = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .nest("/v1", faces::linktor::routes())
        .merge(faces::airy::routes())
        .nest("/api/v1", faces::gtateth::routes())
        .nest("/protocol/v1", faces::protocol::routes());
    state_free.into_openapi()
}

/// Serves `app` on `listener` until `shutdown` completes; requests in flight then finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}
