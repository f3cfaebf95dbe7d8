//! Bots. An update that changes nothing writes nothing and emits no event. Deleting a bot takes it
//! off its conversations (as their bot and as their assignee), each with a `conversation.updated`
//! event.

use super::events::append;
use super::util::{at, db, like_pattern, limit_offset, us, Tx};
use crate::dialect::{Db, FOR_UPDATE};
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::*;
use confab_core::rules::metadata::deep_merge;
use confab_core::{time, BotId, ConversationId, Error, Resource, Result, TenantId, Time};
use confab_store::BotStore;
use serde_json::json;
use sqlx::types::Json;
use sqlx::QueryBuilder;
use uuid::Uuid;

const COLUMNS: &str = "id, tenant_id, name, provider, model, active, config, metadata, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct BotRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    provider: String,
    model: String,
    active: bool,
    config: Json<JsonMap>,
    metadata: Json<JsonMap>,
    created_at: i64,
    updated_at: i64,
}

impl From<BotRow> for Bot {
    fn from(r: BotRow) -> Self {
        Bot {
            id: BotId(r.id),
            tenant_id: TenantId(r.tenant_id),
            name: r.name,
            provider: BotProvider::parse(&r.provider).unwrap_or(BotProvider::Custom),
            model: r.model,
            active: r.active,
            config: r.config.0,
            metadata: r.metadata.0,
            created_at: at(r.created_at),
            updated_at: at(r.updated_at),
        }
    }
}

async fn emit(tx: &mut Tx, ctx: &Ctx, b: &Bot, event_type: EventType, now: Time) -> Result<()> {
    let event = NewEvent {
        event_type,
        subject_id: b.id.0,
        conversation_id: None,
        snapshot: serde_json::to_value(b).map_err(Error::internal)?,
        data: serde_json::Value::Null,
    };
    append(tx, ctx.tenant, &ctx.actor, event, now).await
}

async fn load_for_update(tx: &mut Tx, tenant: TenantId, id: BotId) -> Result<Bot> {
    let row: Option<BotRow> = sqlx::query_as::<Db, BotRow>(&format!(
        "SELECT {COLUMNS} FROM bots WHERE tenant_id = $1 AND id = $2{FOR_UPDATE}"
    ))
    .bind(tenant.0)
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    row.map(Into::into).ok_or_else(|| Error::not_found(Resource::Bot))
}

#[async_trait]
impl BotStore for SqlStore {
    async fn create_bot(&self, ctx: &Ctx, new: NewBot) -> Result<Bot> {
        let now = time::now();
        let bot = Bot {
            id: BotId::new(),
            tenant_id: ctx.tenant,
            name: new.name,
            provider: new.provider,
            model: new.model,
            active: true,
            config: new.config,
            metadata: new.metadata,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.write.begin().await.map_err(db)?;
        sqlx::query(&format!("INSERT INTO bots ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
            .bind(bot.id.0)
            .bind(bot.tenant_id.0)
            .bind(&bot.name)
            .bind(bot.provider.as_str())
            .bind(&bot.model)
            .bind(bot.active)
            .bind(Json(&bot.config))
            .bind(Json(&bot.metadata))
            .bind(us(now))
            .bind(us(now))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        emit(&mut tx, ctx, &bot, EventType::BotCreated, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(bot)
    }

    async fn list_bots(&self, ctx: &Ctx, f: &BotFilter, page: PageRequest) -> Result<Page<Bot>> {
        let mut rows_q = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM bots WHERE tenant_id = "));
        let mut count_q = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM bots WHERE tenant_id = ");
        for q in [&mut rows_q, &mut count_q] {
            q.push_bind(ctx.tenant.0);
            if let Some(active) = f.active {
                q.push(" AND active = ").push_bind(active);
            }
            if let Some(p) = f.provider {
                q.push(" AND provider = ").push_bind(p.as_str());
            }
            if let Some(search) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                q.push(" AND lower(name) LIKE ").push_bind(like_pattern(search)).push(" ESCAPE '\\'");
            }
        }
        let (limit, offset) = limit_offset(page);
        rows_q.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
        let rows: Vec<BotRow> = rows_q.build_query_as().fetch_all(&self.read).await.map_err(db)?;
        let (total,): (i64,) = count_q.build_query_as().fetch_one(&self.read).await.map_err(db)?;
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), total: total as u64 })
    }

    async fn get_bot(&self, ctx: &Ctx, id: BotId) -> Result<Bot> {
        let row: Option<BotRow> =
            sqlx::query_as::<Db, BotRow>(&format!("SELECT {COLUMNS} FROM bots WHERE tenant_id = $1 AND id = $2"))
                .bind(ctx.tenant.0)
                .bind(id.0)
                .fetch_optional(&self.read)
                .await
                .map_err(db)?;
        row.map(Into::into).ok_or_else(|| Error::not_found(Resource::Bot))
    }

    async fn update_bot(&self, ctx: &Ctx, id: BotId, p: BotPatch) -> Result<Bot> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut bot = load_for_update(&mut tx, ctx.tenant, id).await?;
        let before = bot.clone();
        let was_active = bot.active;
        if let Some(v) = p.name {
            bot.name = v;
        }
        if let Some(v) = p.provider {
            bot.provider = v;
        }
        if let Some(v) = p.model {
            bot.model = v;
        }
        if let Some(v) = &p.config {
            deep_merge(&mut bot.config, v);
        }
        if let Some(v) = &p.metadata {
            deep_merge(&mut bot.metadata, v);
        }
        if let Some(v) = p.active {
            bot.active = v;
        }
        let unchanged = bot.name == before.name
            && bot.provider == before.provider
            && bot.model == before.model
            && bot.active == before.active
            && bot.config == before.config
            && bot.metadata == before.metadata;
        if unchanged {
            // Nothing to write and nothing to tell (`/activate` of an active bot, …).
            return Ok(before);
        }
        bot.updated_at = now;
        sqlx::query(
            "UPDATE bots SET name = $3, provider = $4, model = $5, active = $6, config = $7, metadata = $8, updated_at = $9
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(ctx.tenant.0)
        .bind(id.0)
        .bind(&bot.name)
        .bind(bot.provider.as_str())
        .bind(&bot.model)
        .bind(bot.active)
        .bind(Json(&bot.config))
        .bind(Json(&bot.metadata))
        .bind(us(now))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let event = match (was_active, bot.active) {
            (false, true) => EventType::BotActivated,
            (true, false) => EventType::BotDeactivated,
            _ => EventType::BotUpdated,
        };
        emit(&mut tx, ctx, &bot, event, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(bot)
    }

    async fn delete_bot(&self, ctx: &Ctx, id: BotId) -> Result<()> {
        let now = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let bot = load_for_update(&mut tx, ctx.tenant, id).await?;
        if bot.active {
            return Err(Error::Refused {
                code: "BOT_IS_ACTIVE",
                message: "The bot is active; deactivate it before deleting it.".into(),
            });
        }
        // The conversations it is the bot or the assignee of are locked first (in id order), then
        // lose it (the assignee here, the bot by foreign key), each with its own event.
        let touched: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(&format!(
            "SELECT id, bot_id FROM conversations
             WHERE tenant_id = $1 AND (bot_id = $2 OR (assignee_type = 'bot' AND assignee_id = $2))
             ORDER BY id{FOR_UPDATE}"
        ))
        .bind(ctx.tenant.0)
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let unassigned: Vec<(Uuid,)> = sqlx::query_as(
            "UPDATE conversations SET assignee_type = NULL, assignee_id = NULL
             WHERE tenant_id = $1 AND assignee_type = 'bot' AND assignee_id = $2 RETURNING id",
        )
        .bind(ctx.tenant.0)
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("DELETE FROM bots WHERE tenant_id = $1 AND id = $2")
            .bind(ctx.tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        emit(&mut tx, ctx, &bot, EventType::BotDeleted, now).await?;
        for (conversation, bot_id) in touched {
            let mut changed = Vec::new();
            if bot_id == Some(id.0) {
                changed.push("bot");
            }
            if unassigned.iter().any(|(u,)| *u == conversation) {
                changed.push("assignee");
            }
            let data = json!({ "changed": changed, "previousBotId": id });
            super::contacts::touch_conversation(&mut tx, ctx, ConversationId(conversation), data, now).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }
}
