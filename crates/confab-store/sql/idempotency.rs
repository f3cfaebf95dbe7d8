//! Idempotency keys: reserved before the work (so a concurrent duplicate sees `InProgress`),
//! completed with the response, released when the work failed.

use super::util::{db, us};
use crate::SqlStore;
use async_trait::async_trait;
use confab_core::{ApiKeyId, Result, Time};
use confab_store::{IdempotencyStore, Reservation};

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn reserve_idempotency(
        &self,
        api_key: ApiKeyId,
        key: &str,
        fingerprint: &[u8],
        since: Time,
    ) -> Result<Reservation> {
        let now = us(confab_core::time::now());
        let mut tx = self.write.begin().await.map_err(db)?;
        // An expired key is gone: the request runs again as new.
        sqlx::query("DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND created_at < $3")
            .bind(api_key.0)
            .bind(key)
            .bind(us(since))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (api_key_id, key, fingerprint, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (api_key_id, key) DO NOTHING",
            )
            .bind(api_key.0)
            .bind(key)
            .bind(fingerprint)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
            if inserted == 1 {
                break Reservation::Reserved;
            }
            type Row = (Vec<u8>, bool, Option<i32>, Option<Vec<u8>>, Option<String>);
            let row: Option<Row> = sqlx::query_as(
                "SELECT fingerprint, completed, response_status, response_body, content_type FROM idempotency_keys
                 WHERE api_key_id = $1 AND key = $2",
            )
            .bind(api_key.0)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            let Some((stored, completed, status, body, content_type)) = row else {
                // Released by its holder between our insert and our read (PostgreSQL, read committed):
                // the key is free again, try to take it. A key that keeps flapping is reported busy.
                if attempts < 3 {
                    continue;
                }
                break Reservation::InProgress;
            };
            break if stored != fingerprint {
                Reservation::Mismatch
            } else if !completed {
                Reservation::InProgress
            } else {
                Reservation::Completed {
                    status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(200),
                    body: body.unwrap_or_default(),
                    content_type,
                }
            };
        };
        tx.commit().await.map_err(db)?;
        Ok(outcome)
    }

    async fn complete_idempotency(
        &self,
        api_key: ApiKeyId,
        key: &str,
        status: u16,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET completed = TRUE, response_status = $3, response_body = $4, content_type = $5
             WHERE api_key_id = $1 AND key = $2",
        )
        .bind(api_key.0)
        .bind(key)
        .bind(i32::from(status))
        .bind(body)
        .bind(content_type)
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn release_idempotency(&self, api_key: ApiKeyId, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND completed = FALSE")
            .bind(api_key.0)
            .bind(key)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn purge_idempotency(&self, before: Time) -> Result<u64> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(us(before))
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}
