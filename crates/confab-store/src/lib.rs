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
    ApiKeyId, AttachmentId, BotId, ChannelId, ContactId, ConversationId, GroupId, InboxId, MessageId, Result, TagId,
    TenantId, Time, UserId,
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
    + ConversationDeleteStore
    + ProtocolStore
    + InboxStore
    + MessageStore
    + IdempotencyStore
    + EventStore
    + WebhookStore
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
        + ConversationDeleteStore
        + ProtocolStore
        + InboxStore
        + MessageStore
        + IdempotencyStore
        + EventStore
        + WebhookStore
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
    /// 404 `CHANNEL_NOT_FOUND`/`CONTACT_NOT_FOUND`/`ASSIGNEE_NOT_FOUND`/`BOT_NOT_FOUND`/`INBOX_NOT_FOUND`
    /// (naming `inboxId`; the inbox row is locked so that a concurrent delete of it waits); 409
    /// `CONVERSATION_EXISTS` when the contact has an active conversation on the channel. Without a
    /// channel, `channel_type` is stored as given and the one-active rule does not apply.
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

/// Deleting a conversation (Protocol and G-Tateth).
#[async_trait]
pub trait ConversationDeleteStore {
    /// Removes the conversation and its messages (with their attachments), and appends
    /// `conversation.deleted` with the last snapshot and data `{reason}`. Its events stay (they
    /// still feed webhooks and the stream); its timeline is then 404. 404 `CONVERSATION_NOT_FOUND`.
    async fn delete_conversation(&self, ctx: &Ctx, id: ConversationId, reason: Option<String>) -> Result<()>;
}

/// A G-Tateth inbox: a named queue conversations belong to (not a channel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbox {
    pub id: InboxId,
    pub tenant_id: TenantId,
    /// Unique per tenant, case-insensitively.
    pub name: String,
    pub description: Option<String>,
    /// The channel type its conversations default to (a Confab channel type: `email`, `webchat`, …).
    pub channel: Option<String>,
    pub is_active: bool,
    pub created_at: Time,
    pub updated_at: Time,
}

/// Fields of a new inbox.
#[derive(Clone, Debug)]
pub struct NewInbox {
    pub name: String,
    pub description: Option<String>,
    pub channel: Option<String>,
    pub is_active: bool,
}

/// A partial update of an inbox: `None` leaves a field, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct InboxPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub channel: Option<Option<String>>,
    pub is_active: Option<bool>,
}

/// Inboxes (G-Tateth). They append no events: no face documents inbox events.
#[async_trait]
pub trait InboxStore {
    /// 409 `INBOX_EXISTS` (naming `name`) when the tenant has an inbox of that name (any case).
    async fn create_inbox(&self, ctx: &Ctx, inbox: NewInbox) -> Result<Inbox>;
    /// Oldest first (created time, then id).
    async fn list_inboxes(&self, ctx: &Ctx, page: PageRequest) -> Result<Page<Inbox>>;
    /// 404 `INBOX_NOT_FOUND`.
    async fn get_inbox(&self, ctx: &Ctx, id: InboxId) -> Result<Inbox>;
    /// 404 `INBOX_NOT_FOUND`; 409 `INBOX_EXISTS` when the new name is taken.
    async fn update_inbox(&self, ctx: &Ctx, id: InboxId, patch: InboxPatch) -> Result<Inbox>;
    /// 404 `INBOX_NOT_FOUND`; 409 `INBOX_NOT_EMPTY` while conversations belong to it.
    async fn delete_inbox(&self, ctx: &Ctx, id: InboxId) -> Result<()>;
}

/// A cursor page request of the Protocol face: at most `limit` items, newest first (created time,
/// then id), after the item `after` or before the item `before` (at most one of them).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cursor {
    pub limit: u32,
    /// `starting_after`: the items older than this one.
    pub after: Option<Uuid>,
    /// `ending_before`: the items newer than this one (the page just before it).
    pub before: Option<Uuid>,
}

/// A page by cursor, newest first; `has_more` says whether more items lie beyond it in the
/// direction the page was read (older for `after` or no cursor, newer for `before`).
#[derive(Clone, Debug)]
pub struct CursorList<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

/// Filters of the Protocol conversation list: `None` is no filter, `Some(true)` only those,
/// `Some(false)` only the others.
#[derive(Clone, Debug, Default)]
pub struct ProtocolConversationFilter {
    pub muted: Option<bool>,
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    pub group_id: Option<GroupId>,
}

/// Who a Protocol conversation is with.
#[derive(Clone, Copy, Debug)]
pub enum ProtocolTarget {
    Contact(ContactId),
    Group(GroupId),
}

/// Protocol's `PUT /conversations/:id`: `None` leaves a field, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct ProtocolConversationPatch {
    /// Must be a message of this conversation (404 naming `pinned_message_id`).
    pub pinned_message_id: Option<Option<MessageId>>,
    pub is_pinned: Option<bool>,
    pub is_muted: Option<bool>,
    pub archived_at: Option<Option<Time>>,
}

/// A contact as Protocol shows it: with its Protocol conversation and last activity.
#[derive(Clone, Debug)]
pub struct ProtocolContact {
    pub contact: Contact,
    /// The contact's channel-less Protocol conversation, once created.
    pub conversation_id: Option<ConversationId>,
    /// The newest message time of the contact's conversations.
    pub last_active_at: Option<Time>,
}

/// A group of contacts with its conversation.
#[derive(Clone, Debug)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    pub conversation_id: Option<ConversationId>,
    /// In the order they were added.
    pub contacts: Vec<ProtocolContact>,
    pub archived_at: Option<Time>,
    pub created_at: Time,
    pub updated_at: Time,
}

/// Fields of a new group.
#[derive(Clone, Debug, Default)]
pub struct NewGroup {
    pub name: String,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    /// Each must exist (404 naming `contacts`).
    pub contacts: Vec<ContactId>,
}

/// A partial update of a group: `None` leaves a field, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    /// Replaces the members.
    pub contacts: Option<Vec<ContactId>>,
    pub archived_at: Option<Option<Time>>,
}

/// A stored file (without its bytes).
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub message_id: Option<MessageId>,
    pub conversation_id: Option<ConversationId>,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: Time,
}

/// A new file.
#[derive(Clone, Debug)]
pub struct NewAttachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A message as Protocol shows it: with its reactions, attachments and edit time.
#[derive(Clone, Debug)]
pub struct ProtocolMessage {
    pub message: Message,
    /// `{emoji: [usernames]}`, keys sorted.
    pub reactions: std::collections::BTreeMap<String, Vec<String>>,
    pub attachments: Vec<Attachment>,
    /// The last `PUT` that changed it.
    pub updated_at: Option<Time>,
}

/// Protocol's `PUT /messages/:id`.
#[derive(Clone, Debug, Default)]
pub struct ProtocolMessagePatch {
    pub text: Option<String>,
    /// Replaces the reactions.
    pub reactions: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// Replaces the attachments (ids of unattached attachments, or of this message's).
    pub attachments: Option<Vec<AttachmentId>>,
}

/// What the Protocol face needs beyond the shared operations: cursor lists, one conversation per
/// contact or group, per-user last-opened times, groups, reactions and attachments.
#[async_trait]
pub trait ProtocolStore {
    /// Every conversation of the tenant (any face), newest created first. 400 naming
    /// `starting_after`/`ending_before` for a cursor that is not a conversation of the tenant.
    async fn protocol_conversations(
        &self,
        ctx: &Ctx,
        filter: &ProtocolConversationFilter,
        cursor: Cursor,
    ) -> Result<CursorList<ConversationView>>;
    /// The contact's (channel-less) or the group's conversation: the existing one (`false`) or a new
    /// one (`true`, `conversation.created`). 404 naming `contact_id`/`group_id`.
    async fn protocol_open_conversation(&self, ctx: &Ctx, target: ProtocolTarget) -> Result<(ConversationView, bool)>;
    /// One `conversation.updated` when something changed.
    async fn protocol_update_conversation(
        &self,
        ctx: &Ctx,
        id: ConversationId,
        patch: ProtocolConversationPatch,
    ) -> Result<ConversationView>;
    /// When `user` last opened each of `ids`.
    async fn last_opened(
        &self,
        user: UserId,
        ids: &[ConversationId],
    ) -> Result<std::collections::HashMap<ConversationId, Time>>;
    /// Records that `user` opened the conversations at `at` (a later time wins; no event).
    async fn record_opened(&self, user: UserId, opened: &[(ConversationId, Time)]) -> Result<()>;

    async fn protocol_contacts(&self, ctx: &Ctx, cursor: Cursor) -> Result<CursorList<ProtocolContact>>;
    async fn protocol_contact(&self, ctx: &Ctx, id: ContactId) -> Result<ProtocolContact>;
    /// Deletes the contact and its Protocol conversation (with its messages); its conversations on
    /// channels remain, without a contact.
    async fn protocol_delete_contact(&self, ctx: &Ctx, id: ContactId) -> Result<()>;

    async fn protocol_messages(
        &self,
        ctx: &Ctx,
        conversation: Option<ConversationId>,
        cursor: Cursor,
    ) -> Result<CursorList<ProtocolMessage>>;
    async fn protocol_message(&self, ctx: &Ctx, id: MessageId) -> Result<ProtocolMessage>;
    /// An outbound text message from the context's actor, with `attachments` (each not yet on a
    /// message: 404 naming `attachments` otherwise), in one transaction (`message.sent`). 404 naming
    /// `conversation_id`; `CHANNEL_NOT_CONNECTED` when the conversation's channel is inactive.
    async fn protocol_send_message(
        &self,
        ctx: &Ctx,
        conversation: ConversationId,
        text: String,
        attachments: &[AttachmentId],
    ) -> Result<ProtocolMessage>;
    /// Changes a message's text, reactions or attachments (`message.updated`).
    async fn protocol_update_message(
        &self,
        ctx: &Ctx,
        id: MessageId,
        patch: ProtocolMessagePatch,
    ) -> Result<ProtocolMessage>;

    async fn list_groups(&self, ctx: &Ctx, archived: Option<bool>, cursor: Cursor) -> Result<CursorList<Group>>;
    /// Creates the group and its conversation (`conversation.created`).
    async fn create_group(&self, ctx: &Ctx, group: NewGroup) -> Result<Group>;
    async fn get_group(&self, ctx: &Ctx, id: GroupId) -> Result<Group>;
    async fn update_group(&self, ctx: &Ctx, id: GroupId, patch: GroupPatch) -> Result<Group>;
    /// Deletes the group, its conversation and the conversation's messages.
    async fn delete_group(&self, ctx: &Ctx, id: GroupId) -> Result<()>;

    async fn create_attachment(&self, ctx: &Ctx, new: NewAttachment) -> Result<Attachment>;
    async fn list_attachments(
        &self,
        ctx: &Ctx,
        conversation: Option<ConversationId>,
        cursor: Cursor,
    ) -> Result<CursorList<Attachment>>;
    async fn get_attachment(&self, ctx: &Ctx, id: AttachmentId) -> Result<Attachment>;
    async fn rename_attachment(&self, ctx: &Ctx, id: AttachmentId, filename: String) -> Result<Attachment>;
    async fn delete_attachment(&self, ctx: &Ctx, id: AttachmentId) -> Result<()>;
    /// The file and its bytes, by id alone (a signed URL has already proven access).
    async fn attachment_data(&self, id: AttachmentId) -> Result<(Attachment, Vec<u8>)>;
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
    /// The highest position given to any event of any tenant (0 when none): what the realtime
    /// notifier compares to wake streams (one lookup in the position index).
    async fn latest_event_position(&self) -> Result<i64>;
    /// Calls `on_event` whenever another connection (of any node) has positioned events, until the
    /// connection fails (an error: the caller retries). PostgreSQL: `LISTEN confab_events` on one
    /// connection of the pool, which [`EventStore::assign_event_positions`] notifies; `on_event` is
    /// also called once listening has started, as a notification may have been missed before.
    /// Returns `Ok` at once when the engine has no such channel (SQLite: one process writes).
    async fn listen_for_events(&self, on_event: &(dyn Fn() + Send + Sync)) -> Result<()>;
}

/// A webhook subscription (its `secret` signs the deliveries; faces show it only at creation).
#[derive(Clone, Debug)]
pub struct Webhook {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub url: String,
    /// Event types, `*` for all.
    pub events: Vec<String>,
    pub description: Option<String>,
    /// A display name (G-Tateth `name`, Airy `name`).
    pub name: Option<String>,
    pub headers: JsonMap,
    /// Signs the deliveries; empty for unsigned ones (Airy without `signature_key`).
    pub secret: String,
    /// `active` or `inactive`.
    pub status: String,
    /// Attempts in all (the first one included).
    pub max_retries: i64,
    pub timeout_secs: i64,
    /// The waits between attempts: `schedule` (server-wide), `exponential` or `linear`.
    pub backoff: String,
    /// Payload and signature scheme: `linktor`, `airy`, `protocol` or `gtateth`.
    pub format: String,
    /// The last event position turned into deliveries.
    pub cursor_position: i64,
    pub created_at: Time,
    pub updated_at: Time,
}

impl Webhook {
    /// Whether events of type `event_type` go to this subscription.
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.iter().any(|e| e == "*" || e == event_type)
    }
}

/// A new subscription (the store draws id and cursor: it starts after the newest event).
#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub name: Option<String>,
    pub headers: JsonMap,
    pub secret: String,
    pub max_retries: i64,
    pub timeout_secs: i64,
    pub backoff: String,
    pub format: String,
}

/// Which subscriptions a list holds: of one format (a face sees its own), active or not.
#[derive(Clone, Debug, Default)]
pub struct WebhookFilter {
    pub format: Option<String>,
    /// `Some(true)`: `active` ones only; `Some(false)`: `inactive` ones only.
    pub active: Option<bool>,
}

/// A change to a subscription: `None` leaves a field as it is (`Some(None)` clears an optional one).
#[derive(Clone, Debug, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub headers: Option<JsonMap>,
    pub secret: Option<String>,
    pub status: Option<String>,
    pub max_retries: Option<i64>,
    pub timeout_secs: Option<i64>,
    pub backoff: Option<String>,
}

/// One event to deliver to one subscription.
#[derive(Clone, Debug)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub event_id: Uuid,
    pub event_position: i64,
    pub event_type: String,
    pub conversation_id: Option<Uuid>,
    pub attempts: i64,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub next_attempt_at: Time,
    pub last_response_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: Time,
    pub updated_at: Time,
}

/// The outcome of one delivery attempt.
#[derive(Clone, Debug)]
pub struct DeliveryAttempt {
    pub status: String,
    pub next_attempt_at: Time,
    pub response_status: Option<i64>,
    pub error: Option<String>,
}

/// Webhook subscriptions and their delivery outbox.
#[async_trait]
pub trait WebhookStore {
    async fn create_webhook(&self, ctx: &Ctx, new: NewWebhook) -> Result<Webhook>;
    /// The subscriptions matching `filter`, newest first.
    async fn list_webhooks(&self, ctx: &Ctx, filter: &WebhookFilter, page: PageRequest) -> Result<Page<Webhook>>;
    async fn get_webhook(&self, ctx: &Ctx, id: Uuid) -> Result<Webhook>;
    /// Applies `patch`; a subscription set active again resumes after the newest event (what
    /// happened while it was inactive is not delivered).
    async fn update_webhook(&self, ctx: &Ctx, id: Uuid, patch: WebhookPatch) -> Result<Webhook>;
    /// Deletes the subscription and its deliveries.
    async fn delete_webhook(&self, ctx: &Ctx, id: Uuid) -> Result<()>;
    /// A subscription's deliveries, newest first.
    async fn list_webhook_deliveries(
        &self,
        ctx: &Ctx,
        id: Uuid,
        status: Option<String>,
        event: Option<String>,
        page: PageRequest,
    ) -> Result<Page<WebhookDelivery>>;
    /// One delivery of a subscription.
    async fn get_webhook_delivery(&self, ctx: &Ctx, id: Uuid, delivery: Uuid) -> Result<WebhookDelivery>;
    /// Makes a `failed` or `succeeded` delivery pending again, due at `now`, with a fresh round of
    /// attempts (its attempt count starts again from 0); a pending one is a conflict.
    async fn retry_webhook_delivery(&self, ctx: &Ctx, id: Uuid, delivery: Uuid, now: Time) -> Result<WebhookDelivery>;
    /// Records a test delivery (`POST …/test`), already attempted once, in the delivery log.
    async fn record_test_delivery(
        &self,
        ctx: &Ctx,
        id: Uuid,
        event: &Event,
        event_name: &str,
        attempt: DeliveryAttempt,
    ) -> Result<WebhookDelivery>;
    /// Every active subscription of every tenant (the dispatcher's work list).
    async fn active_webhooks(&self) -> Result<Vec<Webhook>>;
    /// Records `events` (already filtered) as pending deliveries due at `now` and moves the
    /// subscription's cursor from `from` to `to`, in one transaction; does nothing (false) when the
    /// cursor is no longer at `from` (another node moved it).
    /// Each event comes with the subscription format's name for it (the delivery's `event_type`).
    async fn enqueue_deliveries(
        &self,
        sub: &Webhook,
        from: i64,
        to: i64,
        events: &[(&Event, &str)],
        now: Time,
    ) -> Result<bool>;
    /// Claims up to `limit` due pending deliveries, each the earliest pending one of its
    /// (subscription, conversation) — (subscription, subject) for an event of no conversation —,
    /// by leasing them: their `next_attempt_at` moves to `now` + their
    /// subscription's `timeout_secs` (1 to 300) + `lease_margin`, so a delivery whose
    /// sender died is claimed again soon after its attempt would have timed out. Returns them with
    /// their subscription and event. A delivery whose event or subscription no longer exists (a test
    /// delivery retried, a purged event) is marked failed instead.
    /// `in_flight` counts the caller's attempts in flight per subscription: no subscription gets
    /// more than `per_subscription` in all (those at the cap are not even read, so a dead receiver
    /// with a long queue cannot crowd the others out of the `limit`).
    async fn claim_deliveries(
        &self,
        now: Time,
        lease_margin: std::time::Duration,
        limit: u32,
        in_flight: &std::collections::HashMap<Uuid, usize>,
        per_subscription: usize,
    ) -> Result<Vec<(WebhookDelivery, Webhook, Event)>>;
    /// Records an attempt's outcome (attempts + 1) if the delivery is still the pending one with
    /// `attempts_before` attempts that was claimed: a sender that outlived its lease (and whose
    /// delivery another sender took over and recorded meanwhile) changes nothing. Returns whether
    /// it was recorded.
    async fn record_delivery_attempt(
        &self,
        id: Uuid,
        attempts_before: i64,
        attempt: DeliveryAttempt,
        now: Time,
    ) -> Result<bool>;
}

/// Ids of things the store can look up by raw UUID (assignee detection).
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok()
}
