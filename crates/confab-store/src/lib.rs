//! The storage interface of Confab.
//!
//! Every method is one use case and owns its transaction: the change, the rules of
//! [`confab_core::rules`] applied to the state read inside that transaction, and the event(s) the
//! change emits, committed together (a transactional outbox). Faces call these methods and nothing
//! else; no face writes SQL.
//!
//! Two implementations exist, `confab-store-sqlite` and `confab-store-postgres`. They share one SQL
//! implementation, `sql/` beside this crate's `src/`, which each backend compiles against its own
//! `sqlx` driver (`#[path]` module) with its dialect's few differences in its own `dialect.rs`, so the
//! two cannot drift; the API test suite runs against both.

#![forbid(unsafe_code)]

use async_trait::async_trait;
use confab_core::model::*;
use confab_core::{
    ApiKeyId, BotId, ChannelId, ContactId, ConversationId, MessageId, Result, TagId, TenantId, Time, UserId,
};
use std::sync::Arc;
use uuid::Uuid;

/// The whole store, as the server holds it.
pub trait Store:
    AuthStore
    + ChannelStore
    + ContactStore
    + BotStore
    + TagStore
    + ConversationStore
    + MessageStore
    + IdempotencyStore
    + EventStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: AuthStore
        + ChannelStore
        + ContactStore
        + BotStore
        + TagStore
        + ConversationStore
        + MessageStore
        + IdempotencyStore
        + EventStore
        + Send
        + Sync
        + 'static
{
}

/// A shared handle to a store.
pub type DynStore = Arc<dyn Store>;

/// Fields of a new user.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub name: String,
    pub email: Option<String>,
    pub role: UserRole,
}

/// A freshly created API key: its listing and the row the clear key hashes to.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub tenant_slug: String,
    pub user_name: String,
    pub user_email: Option<String>,
    pub scopes: Vec<Scope>,
    /// SHA-256 of the clear key.
    pub hash: Vec<u8>,
    pub prefix: String,
}

/// Tenants, users and API keys.
#[async_trait]
pub trait AuthStore {
    /// Creates the tenant and the user if missing (by slug, and by name within the tenant), then the
    /// key. The user is an admin when it is created by this call.
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey>;
    /// Every key of every tenant, newest first (the CLI's `keys list`).
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>>;
    /// Revokes a key; revoking twice is not an error. 404 when it does not exist.
    async fn revoke_api_key(&self, id: ApiKeyId) -> Result<ApiKey>;
    /// The principal of a live (not revoked) key, by the SHA-256 of the clear key.
    async fn principal_by_key_hash(&self, hash: &[u8]) -> Result<Option<Principal>>;

    async fn create_user(&self, ctx: &Ctx, user: NewUser) -> Result<User>;
    async fn list_users(&self, ctx: &Ctx, page: PageRequest) -> Result<Page<User>>;
    async fn get_user(&self, ctx: &Ctx, id: UserId) -> Result<User>;
}

/// Channels.
#[async_trait]
pub trait ChannelStore {
    async fn create_channel(&self, ctx: &Ctx, channel: NewChannel) -> Result<Channel>;
    async fn list_channels(&self, ctx: &Ctx, filter: &ChannelFilter, page: PageRequest) -> Result<Page<Channel>>;
    async fn get_channel(&self, ctx: &Ctx, id: ChannelId) -> Result<Channel>;
    async fn update_channel(&self, ctx: &Ctx, id: ChannelId, patch: ChannelPatch) -> Result<Channel>;
    /// Activates or deactivates; the same status again is a no-op.
    async fn set_channel_status(&self, ctx: &Ctx, id: ChannelId, status: ChannelStatus) -> Result<Channel>;
    /// Deletes a channel. With active conversations it is refused (`ACTIVE_CONVERSATIONS_EXIST`)
    /// unless `force`, which closes them first. Conversations keep existing without a channel.
    async fn delete_channel(&self, ctx: &Ctx, id: ChannelId, force: bool) -> Result<()>;
}

/// Contacts.
#[async_trait]
pub trait ContactStore {
    /// 409 `CONTACT_EXISTS` (naming `phone` or `email`) when the phone or email is taken.
    async fn create_contact(&self, ctx: &Ctx, contact: NewContact) -> Result<Contact>;
    async fn list_contacts(&self, ctx: &Ctx, filter: &ContactFilter, page: PageRequest) -> Result<Page<Contact>>;
    async fn get_contact(&self, ctx: &Ctx, id: ContactId) -> Result<Contact>;
    async fn update_contact(&self, ctx: &Ctx, id: ContactId, patch: ContactPatch) -> Result<Contact>;
    /// Deletes the contact; its conversations remain, without a contact.
    async fn delete_contact(&self, ctx: &Ctx, id: ContactId) -> Result<()>;
}

/// Bots.
#[async_trait]
pub trait BotStore {
    async fn create_bot(&self, ctx: &Ctx, bot: NewBot) -> Result<Bot>;
    async fn list_bots(&self, ctx: &Ctx, filter: &BotFilter, page: PageRequest) -> Result<Page<Bot>>;
    async fn get_bot(&self, ctx: &Ctx, id: BotId) -> Result<Bot>;
    async fn update_bot(&self, ctx: &Ctx, id: BotId, patch: BotPatch) -> Result<Bot>;
    /// 400 `BOT_IS_ACTIVE` while the bot is active.
    async fn delete_bot(&self, ctx: &Ctx, id: BotId) -> Result<()>;
}

/// Tags.
#[async_trait]
pub trait TagStore {
    async fn list_tags(&self, ctx: &Ctx) -> Result<Vec<Tag>>;
    /// 409 `TAG_EXISTS` when the name is taken.
    async fn create_tag(&self, ctx: &Ctx, name: String, color: Option<String>) -> Result<Tag>;
    /// Removes the tag from every conversation too.
    async fn delete_tag(&self, ctx: &Ctx, id: TagId) -> Result<()>;
    async fn find_tag_by_name(&self, ctx: &Ctx, name: &str) -> Result<Option<Tag>>;
    /// Renames and/or recolours a tag. 404 `TAG_NOT_FOUND`; 409 `TAG_EXISTS` when the new name is
    /// taken. A rename touches every conversation carrying the tag (`conversation.updated`: their
    /// views show tag names); a colour change touches none.
    async fn update_tag(&self, ctx: &Ctx, id: TagId, patch: TagPatch) -> Result<Tag>;
}

/// Conversations: the lifecycle operations. Each returns the conversation after the change.
#[async_trait]
pub trait ConversationStore {
    /// 404 `CHANNEL_NOT_FOUND`/`CONTACT_NOT_FOUND`/`ASSIGNEE_NOT_FOUND`/`BOT_NOT_FOUND`; 409
    /// `CONVERSATION_EXISTS` when the contact has an active conversation on the channel.
    async fn create_conversation(&self, ctx: &Ctx, new: NewConversation) -> Result<ConversationView>;
    async fn get_conversation(&self, ctx: &Ctx, id: ConversationId) -> Result<ConversationView>;
    async fn list_conversations(
        &self,
        ctx: &Ctx,
        filter: &ConversationFilter,
        page: PageRequest,
    ) -> Result<Page<ConversationView>>;
    async fn update_conversation(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        patch: ConversationPatch,
    ) -> Result<ConversationView>;
    async fn close_conversation(&self, ctx: &Ctx, id: ConversationId, input: CloseInput) -> Result<ConversationView>;
    async fn reopen_conversation(&self, ctx: &Ctx, id: ConversationId) -> Result<ConversationView>;
    async fn assign_conversation(&self, ctx: &Ctx, id: ConversationId, input: AssignInput) -> Result<ConversationView>;
    async fn unassign_conversation(&self, ctx: &Ctx, id: ConversationId) -> Result<ConversationView>;
    async fn transfer_conversation(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        input: TransferInput,
    ) -> Result<ConversationView>;
    /// Adds tags by name (created on first use), keeping the existing ones.
    async fn add_conversation_tags(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        names: Vec<String>,
    ) -> Result<ConversationView>;
    /// Removes tags by name, in one change (one event); names the conversation lacks are ignored,
    /// and removing none is a no-op without an event.
    async fn remove_conversation_tags(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        names: Vec<String>,
    ) -> Result<ConversationView>;
    /// Removes one tag by name; removing a tag the conversation lacks is a no-op.
    async fn remove_conversation_tag(&self, ctx: &Ctx, id: ConversationId, name: &str) -> Result<ConversationView> {
        self.remove_conversation_tags(ctx, id, vec![name.to_string()]).await
    }
    /// Adds one tag, by id, after the existing ones; a tag the conversation has is a no-op (no
    /// event). 404 `CONVERSATION_NOT_FOUND`, then `TAG_NOT_FOUND` when the tenant has no such tag.
    async fn add_conversation_tag_by_id(&self, ctx: &Ctx, id: ConversationId, tag: TagId) -> Result<ConversationView>;
    /// Removes one tag, by id; a tag the conversation lacks (or that does not exist) is a no-op.
    async fn remove_conversation_tag_by_id(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        tag: TagId,
    ) -> Result<ConversationView>;
    /// Airy's state (`confab_core::rules::conversation::set_state`): `OPEN`/`CLOSED` are the
    /// reopen/close every face shares, other states a label beside the status. One transaction, one
    /// event (none when nothing changed); 409 `CONVERSATION_EXISTS` when reopening while the contact
    /// has another active conversation on the channel.
    async fn set_conversation_state(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        change: StateChange,
    ) -> Result<ConversationView>;
    /// Names the conversation's contact (`contact.updated`; the contact is shared, so its other
    /// conversations show the new name too). A conversation without a contact gets a new contact
    /// of that name (`contact.created`, then `conversation.updated`).
    async fn set_conversation_contact_name(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        name: String,
    ) -> Result<ConversationView>;
    /// Asks connectors to re-fetch the profile of the conversation's contact: appends
    /// `contact.refetch_requested` (subject and snapshot the contact; data `{conversationId,
    /// channelId}`). Returns `false`, appending nothing, when the conversation has no contact.
    async fn request_contact_refetch(&self, ctx: &Ctx, id: ConversationId) -> Result<bool>;
    async fn list_participants(&self, ctx: &Ctx, id: ConversationId) -> Result<Vec<Participant>>;
    async fn list_notes(&self, ctx: &Ctx, id: ConversationId) -> Result<Vec<Note>>;
    async fn add_note(&self, ctx: &Ctx, id: ConversationId, body: String) -> Result<Note>;
    /// The conversation's events, oldest first. 404 when the conversation does not exist (also
    /// after it was deleted).
    async fn conversation_events(&self, ctx: &Ctx, id: ConversationId, page: PageRequest) -> Result<Page<Event>>;
    /// Opens every snoozed conversation (of any tenant) due at `now`, at most `limit`, each with its
    /// `conversation.updated` event; claimed so that two nodes never wake the same one. Returns how
    /// many were woken.
    async fn wake_snoozed(&self, now: Time, limit: u32) -> Result<u32>;
    /// The earliest `snoozedUntil` of any snoozed conversation.
    async fn next_snooze_due(&self) -> Result<Option<Time>>;
    /// Airy's `conversations.list`: the conversations `query` matches (every one without a query),
    /// the newest last message first, then those without messages, the newest created first (ties
    /// by id, descending); `limit` of them from `offset` on, and `total` = how many match. The
    /// query's fields read the conversation as the Airy face renders it (`sql/conversations/airy.rs`).
    /// A filter that runs longer than the store's time limit is refused (`FILTER_TOO_SLOW`).
    async fn airy_list_conversations(
        &self,
        ctx: &Ctx,
        query: Option<&confab_query::Query>,
        offset: u64,
        limit: u32,
    ) -> Result<Page<ConversationView>>;
}

/// Messages. Each write updates the conversation's counters, first/last message times and last
/// message in the same transaction, and appends its event (`message.received` for inbound,
/// `message.sent` for outbound, `message.delivered|read|failed` for status changes).
#[async_trait]
pub trait MessageStore {
    /// An outbound message from the context's actor. With an address, finds the contact by phone or
    /// email (creating it) and its active conversation on the channel (creating it). 404
    /// `CONVERSATION_NOT_FOUND`/`CHANNEL_NOT_FOUND`; 400 `INVALID_RECIPIENT` for an address that is
    /// neither an E.164 phone nor an email; `CHANNEL_NOT_CONNECTED` (refused) when the channel is
    /// inactive.
    async fn send_message(&self, ctx: &Ctx, send: SendMessage) -> Result<Message>;
    /// An inbound message from a connector: finds or creates the contact and its active conversation
    /// on the channel (a closed one is not reused; a snoozed or pending one is opened), then appends
    /// the message — unless the channel already has a message with this external id, which is
    /// returned with `created: false`. Safe under concurrent calls for one new contact. 404
    /// `CHANNEL_NOT_FOUND`; `CHANNEL_NOT_CONNECTED` (refused) when the channel is inactive.
    async fn ingest_inbound(&self, ctx: &Ctx, inbound: InboundMessage) -> Result<Ingested>;
    async fn get_message(&self, ctx: &Ctx, id: MessageId) -> Result<Message>;
    async fn list_messages(&self, ctx: &Ctx, filter: &MessageFilter, page: PageRequest) -> Result<Page<Message>>;
    /// A conversation's messages by cursor (an opaque string from a previous page's `next`).
    async fn conversation_messages(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        cursor: Option<&str>,
        limit: u32,
        direction: CursorDirection,
    ) -> Result<CursorPage<Message>>;
    /// The newest `limit` messages of a conversation, oldest first (`includeMessages`).
    async fn recent_messages(&self, ctx: &Ctx, id: ConversationId, limit: u32) -> Result<Vec<Message>>;
    /// Marks one inbound message read (status `read`, `readAt`), decrementing the unread count.
    async fn mark_message_read(&self, ctx: &Ctx, id: MessageId) -> Result<Message>;
    /// Marks several messages, or a whole conversation up to an instant, read. Returns how many
    /// changed and the conversation (when one conversation was concerned).
    async fn bulk_read(&self, ctx: &Ctx, read: BulkRead) -> Result<(u64, Option<ConversationId>)>;
    /// Deletes a message; the conversation's counters and last message follow.
    async fn delete_message(&self, ctx: &Ctx, id: MessageId) -> Result<Message>;
    /// A connector's delivery report. Statuses only move forward (`failed` from anything but
    /// `read`); a report that changes nothing is a no-op.
    async fn report_status(&self, ctx: &Ctx, id: MessageId, report: StatusReport) -> Result<Message>;
    /// Deep-merges `patch` into a message's metadata (a `null` value deletes the key) and appends
    /// `message.updated`; a patch that changes nothing appends nothing. 404 `MESSAGE_NOT_FOUND`.
    async fn update_message_metadata(&self, ctx: &Ctx, id: MessageId, patch: JsonMap) -> Result<Message>;
    /// A conversation's messages, newest first (created time, then id, both descending), from the
    /// message `from` on (included; from the newest without it), at most `limit`, with the message
    /// that starts the next page and the conversation's message count (Airy's `messages.list`). 404
    /// `CONVERSATION_NOT_FOUND`; 400 naming `cursor` when `from` is not a message of the conversation.
    async fn messages_from(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        from: Option<MessageId>,
        limit: u32,
    ) -> Result<MessagesFrom>;
    /// Sends a failed outbound message again (Airy's `messages.resend`): it is `pending` once more
    /// (history gains `pending`, the error is cleared) and `message.sent` is appended again, data
    /// `{conversationId, resent: true}`, so connectors deliver it as a new send. 404
    /// `MESSAGE_NOT_FOUND`; 409 `MESSAGE_NOT_FAILED` unless its status is `failed`.
    async fn resend_message(&self, ctx: &Ctx, id: MessageId) -> Result<Message>;
}

/// A page of [`MessageStore::messages_from`].
#[derive(Clone, Debug)]
pub struct MessagesFrom {
    /// Newest first.
    pub items: Vec<Message>,
    /// The first message of the next page, when there is one.
    pub next: Option<MessageId>,
    /// How many messages the conversation has.
    pub total: u64,
}

/// How a reservation of an idempotency key turned out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new: do the work, then [`IdempotencyStore::complete_idempotency`].
    Reserved,
    /// The same request ran before: replay its response.
    Completed { status: u16, body: Vec<u8>, content_type: Option<String> },
    /// The same key is being processed right now.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}

/// Idempotency keys, per API key, kept 24 hours.
#[async_trait]
pub trait IdempotencyStore {
    /// Reserves `key` for the request fingerprinted by `fingerprint` (method, path and body hash).
    /// Keys older than `since` count as absent.
    async fn reserve_idempotency(
        &self,
        api_key: ApiKeyId,
        key: &str,
        fingerprint: &[u8],
        since: Time,
    ) -> Result<Reservation>;
    async fn complete_idempotency(
        &self,
        api_key: ApiKeyId,
        key: &str,
        status: u16,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<()>;
    /// Drops a reservation whose request failed (5xx), so a retry can run it.
    async fn release_idempotency(&self, api_key: ApiKeyId, key: &str) -> Result<()>;
    /// Deletes keys created before `before`; returns how many.
    async fn purge_idempotency(&self, before: Time) -> Result<u64>;
}

/// The event log beyond what the lifecycle methods append.
#[async_trait]
pub trait EventStore {
    /// Gives stream positions to committed events that have none, in commit order (PostgreSQL's
    /// relay; SQLite assigns them at insert and returns 0). Returns how many were positioned.
    async fn assign_event_positions(&self) -> Result<u64>;
    /// Events of a tenant with a position greater than `after`, in position order, at most `limit`.
    async fn events_after(&self, tenant: TenantId, after: i64, limit: u32) -> Result<Vec<Event>>;
}

/// Ids of things the store can look up by raw UUID (assignee detection).
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok()
}
