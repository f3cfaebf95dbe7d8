//! Messages (being written: every method answers an internal error until the implementation lands).

use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::*;
use confab_core::{ConversationId, Error, MessageId, Result};
use confab_store::MessageStore;

fn pending() -> Error {
    Error::internal("messages are not implemented yet")
}

#[async_trait]
impl MessageStore for SqlStore {
    async fn send_message(&self, _: &Ctx, _: SendMessage) -> Result<Message> {
        Err(pending())
    }
    async fn ingest_inbound(&self, _: &Ctx, _: InboundMessage) -> Result<Ingested> {
        Err(pending())
    }
    async fn get_message(&self, _: &Ctx, _: MessageId) -> Result<Message> {
        Err(pending())
    }
    async fn list_messages(&self, _: &Ctx, _: &MessageFilter, _: PageRequest) -> Result<Page<Message>> {
        Err(pending())
    }
    async fn conversation_messages(
        &self,
        _: &Ctx,
        _: ConversationId,
        _: Option<&str>,
        _: u32,
        _: CursorDirection,
    ) -> Result<CursorPage<Message>> {
        Err(pending())
    }
    async fn recent_messages(&self, _: &Ctx, _: ConversationId, _: u32) -> Result<Vec<Message>> {
        Err(pending())
    }
    async fn mark_message_read(&self, _: &Ctx, _: MessageId) -> Result<Message> {
        Err(pending())
    }
    async fn bulk_read(&self, _: &Ctx, _: BulkRead) -> Result<(u64, Option<ConversationId>)> {
        Err(pending())
    }
    async fn delete_message(&self, _: &Ctx, _: MessageId) -> Result<Message> {
        Err(pending())
    }
    async fn report_status(&self, _: &Ctx, _: MessageId, _: StatusReport) -> Result<Message> {
        Err(pending())
    }
}
