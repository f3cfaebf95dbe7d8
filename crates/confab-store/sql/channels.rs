//! Channels.

use super::events::append;
use super::util::{at, db, like_pattern, limit_offset, us, Tx};
use crate::dialect::{Db, FOR_UPDATE};
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::*;
use confab_core::rules::metadata::deep_merge;
use confab_core::{time, BotId, ChannelId, Error, Resource, Result, TenantId, Time};
use confab_store::ChannelStore;
use sqlx::types::Json;
use sqlx::QueryBuilder;
use uuid::Uuid;

const COLUMNS: &str =
    "id, tenant_id, name, channel_type, status, config, default_bot_id, metadata, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    channel_type: String,
    status: String,
    config: Json<JsonMap>,
    default_bot_id: Option<Uuid>,
    metadata: Json<JsonMap>,
    created_at: i64,
    updated_at: i64,
}

impl From<ChannelRow> for Channel {
    fn from(r: ChannelRow) -> Self {
        Channel {
            id: ChannelId(r.id),
            tenant_id: TenantId(r.tenant_id),
            name: r.name,
            channel_type: ChannelType::parse(&r.channel_type).unwrap_or(ChannelType::Api),
            status: ChannelStatus::parse(&r.status).unwrap_or(ChannelStatus::Inactive),
            config: r.config.0,
            default_bot_id: r.default_bot_id.map(BotId),
            metadata: r.metadata.0,
            created_at: at(r.created_at),
            updated_at: at(r.updated_at),
        }
    }
}

/// Loads a channel of the tenant inside a write transaction, locked on PostgreSQL when `lock` (a
/// change of the channel itself); a conversation create only reads it, so creates on one channel do
/// not queue behind each other.
pub(crate) async fn load_in_tx(tx: &mut Tx, tenant: TenantId, id: ChannelId, lock: bool) -> Result<Option<Channel>> {
    let row: Option<ChannelRow> = sqlx::query_as::<Db, ChannelRow>(&format!(
        "SELECT {COLUMNS} FROM channels WHERE tenant_id = $1 AND id = $2{}",
        if lock { FOR_UPDATE } else { "" }
    ))
    .bind(tenant.0)
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    Ok(row.map(Into::into))
}

async fn load_for_update(tx: &mut Tx, tenant: TenantId, id: ChannelId) -> Result<Option<Channel>> {
    load_in_tx(tx, tenant, id, true).await
}

/// Checks that a bot of the tenant exists (for `defaultBotId`).
async fn check_bot(tx: &mut Tx, tenant: TenantId, bot: BotId, field: &str) -> Result<()> {
    let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM bots WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(bot.0)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    found.map(|_| ()).ok_or_else(|| Error::not_found_field(Resource::Bot, field))
}

async fn save(tx: &mut Tx, c: &Channel) -> Result<()> {
    sqlx::query(
        "UPDATE channels SET name = $3, status = $4, config = $5, default_bot_id = $6, metadata = $7, updated_at = $8
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(c.tenant_id.0)
    .bind(c.id.0)
    .bind(&c.name)
    .bind(c.status.as_str())
    .bind(Json(&c.config))
    .bind(c.default_bot_id.map(|b| b.0))
    .bind(Json(&c.metadata))
    .bind(us(c.updated_at))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

async fn emit(tx: &mut Tx, ctx: &Ctx, c: &Channel, event_type: EventType, now: Time) -> Result<()> {
    let event = NewEvent {
        event_type,
        subject_id: c.id.0,
        conversation_id: None,
        snapshot: serde_json::to_value(c).map_err(Error::internal)?,
        data: serde_json::Value::Null,
    };
    append(tx, ctx.tenant, &ctx.actor, event, now).await
}

#[async_trait]
impl ChannelStore for SqlStore {
    async fn create_channel(&self, ctx: &Ctx, new: NewChannel) -> Result<Channel> {
        let now = time::now();
        let channel = Channel {
            id: ChannelId::new(),
            tenant_id: ctx.tenant,
            name: new.name,
            channel_type: new.channel_type,
            // Connectors live outside Confab: a channel created through the API takes traffic at once.
            status: ChannelStatus::Active,
            config: new.config,
            default_bot_id: new.default_bot_id,
            metadata: new.metadata,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.write.begin().await.map_err(db)?;
        if let Some(bot) = channel.default_bot_id {
            check_bot(&mut tx, ctx.tenant, bot, "defaultBotId").await?;
        }
        sqlx::query(&format!("INSERT INTO channels ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
            .bind(channel.id.0)
            .bind(channel.tenant_id.0)
            .bind(&channel.name)
            .bind(channel.channel_type.as_str())
            .bind(channel.status.as_str())
            .bind(Json(&channel.config))
            .bind(channel.default_bot_id.map(|b| b.0))
            .bind(Json(&channel.metadata))
            .bind(us(now))
            .bind(us(now))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        emit(&mut tx, ctx, &channel, EventType::ChannelCreated, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(channel)
    }

    async fn list_channels(&self, ctx: &Ctx, filter: &ChannelFilter, page: PageRequest) -> Result<Page<Channel>> {
        let mut rows_q = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM channels WHERE tenant_id = "));
        let mut count_q = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM channels WHERE tenant_id = ");
        for q in [&mut rows_q, &mut count_q] {
            q.push_bind(ctx.tenant.0);
            if let Some(t) = filter.channel_type {
                q.push(" AND channel_type = ").push_bind(t.as_str());
            }
            if let Some(s) = filter.status {
                q.push(" AND status = ").push_bind(s.as_str());
            }
            if let Some(search) = &filter.search {
                q.push(" AND lower(name) LIKE ").push_bind(like_pattern(search)).push(" ESCAPE '\\'");
            }
        }
        let (limit, offset) = limit_offset(page);
        rows_q.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
        let rows: Vec<ChannelRow> = rows_q.build_query_as().fetch_all(&self.read).await.map_err(db)?;
        let (total,): (i64,) = count_q.build_query_as().fetch_one(&self.read).await.map_err(db)?;
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), total: total as u64 })
    }

    async fn get_channel(&self, ctx: &Ctx, id: ChannelId) -> Result<Channel> {
        let row: Option<ChannelRow> = sqlx::query_as::<Db, ChannelRow>(&format!(
            "SELECT {COLUMNS} FROM channels WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(ctx.tenant.0)
        .bind(id.0)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        row.map(Into::into).ok_or_else(|| Error::not_found(Resource::Channel))
    }

    async fn update_channel(&self, ctx: &Ctx, id: ChannelId, patch: ChannelPatch) -> Result<Channel> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut channel =
            load_for_update(&mut tx, ctx.tenant, id).await?.ok_or_else(|| Error::not_found(Resource::Channel))?;
        if let Some(name) = patch.name {
            channel.name = name;
        }
        if let Some(config) = &patch.config {
            deep_merge(&mut channel.config, config);
        }
        if let Some(meta) = &patch.metadata {
            deep_merge(&mut channel.metadata, meta);
        }
        if let Some(bot) = patch.default_bot_id {
            if let Some(b) = bot {
                check_bot(&mut tx, ctx.tenant, b, "defaultBotId").await?;
            }
            channel.default_bot_id = bot;
        }
        channel.updated_at = now;
        save(&mut tx, &channel).await?;
        emit(&mut tx, ctx, &channel, EventType::ChannelUpdated, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(channel)
    }

    async fn set_channel_status(&self, ctx: &Ctx, id: ChannelId, status: ChannelStatus) -> Result<Channel> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut channel =
            load_for_update(&mut tx, ctx.tenant, id).await?.ok_or_else(|| Error::not_found(Resource::Channel))?;
        if channel.status == status {
            return Ok(channel);
        }
        channel.status = status;
        channel.updated_at = now;
        save(&mut tx, &channel).await?;
        let event = match status {
            ChannelStatus::Active => EventType::ChannelActivated,
            ChannelStatus::Inactive => EventType::ChannelDeactivated,
        };
        emit(&mut tx, ctx, &channel, event, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(channel)
    }

    async fn delete_channel(&self, ctx: &Ctx, id: ChannelId, force: bool) -> Result<()> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let channel =
            load_for_update(&mut tx, ctx.tenant, id).await?.ok_or_else(|| Error::not_found(Resource::Channel))?;
        let active = super::conversations::active_on_channel(&mut tx, ctx.tenant, id).await?;
        if !active.is_empty() && !force {
            return Err(Error::Refused {
                code: "ACTIVE_CONVERSATIONS_EXIST",
                message: format!(
                    "The channel has {} active conversation(s); close them first or delete with force=true.",
                    active.len()
                ),
            });
        }
        for conversation in active {
            super::conversations::close_in_tx(&mut tx, ctx, conversation, &CloseInput::default(), now).await?;
        }
        sqlx::query("DELETE FROM channels WHERE tenant_id = $1 AND id = $2")
            .bind(ctx.tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        emit(&mut tx, ctx, &channel, EventType::ChannelDeleted, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }
}
