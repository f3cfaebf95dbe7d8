//! Tags of a tenant.

use super::util::{at, db, unique_violation, us};
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::model::{Ctx, Tag};
use confab_core::{time, Error, Resource, Result, TagId, TenantId};
use confab_store::TagStore;
use uuid::Uuid;

type Row = (Uuid, Uuid, String, String, i64);

fn tag((id, tenant, name, color, created): Row) -> Tag {
    Tag { id: TagId(id), tenant_id: TenantId(tenant), name, color, created_at: at(created) }
}

#[async_trait]
impl TagStore for SqlStore {
    async fn list_tags(&self, ctx: &Ctx) -> Result<Vec<Tag>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, tenant_id, name, color, created_at FROM tags WHERE tenant_id = $1 ORDER BY name, id",
        )
        .bind(ctx.tenant.0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(tag).collect())
    }

    async fn create_tag(&self, ctx: &Ctx, name: String, color: Option<String>) -> Result<Tag> {
        let row: Row = sqlx::query_as(
            "INSERT INTO tags (id, tenant_id, name, color, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id, tenant_id, name, color, created_at",
        )
        .bind(Uuid::now_v7())
        .bind(ctx.tenant.0)
        .bind(&name)
        .bind(color.unwrap_or_else(|| "tag-blue".into()))
        .bind(us(time::now()))
        .fetch_one(&self.write)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => Error::Conflict {
                code: "TAG_EXISTS",
                message: format!("A tag named '{name}' already exists."),
                field: Some("name".into()),
            },
            None => db(e),
        })?;
        Ok(tag(row))
    }

    async fn delete_tag(&self, ctx: &Ctx, id: TagId) -> Result<()> {
        let done = sqlx::query("DELETE FROM tags WHERE tenant_id = $1 AND id = $2")
            .bind(ctx.tenant.0)
            .bind(id.0)
            .execute(&self.write)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(Resource::Tag));
        }
        Ok(())
    }

    async fn find_tag_by_name(&self, ctx: &Ctx, name: &str) -> Result<Option<Tag>> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, tenant_id, name, color, created_at FROM tags WHERE tenant_id = $1 AND name = $2",
        )
        .bind(ctx.tenant.0)
        .bind(name)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        Ok(row.map(tag))
    }
}
