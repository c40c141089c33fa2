//! Webhook use cases for a tenant's admins: endpoints (the secret shown
//! once, sealed at rest under the data key, bound to its tenant and
//! endpoint), their delivery log, and sending one again. Every change is
//! audited. The caller has authorized the actor (`settings`).

use sqlx::{Connection, types::Json};
use uuid::Uuid;

use super::{
    DeliveryState, Endpoint,
    input::{description, event_types},
};
use crate::{
    delivery::webhook::new_secret,
    domain::{Actor, Core, TenantId, audit},
    error::{AppError, AppResult},
};

/// Endpoints a tenant may have.
const MAX_ENDPOINTS: usize = 20;

/// A new endpoint.
#[derive(Debug)]
pub struct EndpointInput {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub enabled: bool,
}

/// Changes to an endpoint: what is `None` stays.
#[derive(Debug, Default)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    /// `Some("")` clears it.
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// An endpoint just made (or its secret just replaced), with its secret:
/// the only time the secret is shown. Its `Debug` leaves the secret out.
pub struct NewEndpoint {
    pub endpoint: Endpoint,
    pub secret: String,
}

impl std::fmt::Debug for NewEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEndpoint")
            .field("endpoint", &self.endpoint)
            .field("secret", &"<hidden>")
            .finish()
    }
}

impl Core {
    /// The tenant's endpoints, newest first.
    pub async fn webhook_endpoints(&self, actor: &Actor) -> AppResult<Vec<Endpoint>> {
        let tenant = actor.tenant()?;
        Ok(super::endpoints(&mut *self.pool().acquire().await?, tenant).await?)
    }

    /// One of the tenant's endpoints (another tenant's is not found).
    pub async fn webhook_endpoint(&self, actor: &Actor, id: Uuid) -> AppResult<Endpoint> {
        let tenant = actor.tenant()?;
        super::endpoint(&mut *self.pool().acquire().await?, tenant, id)
            .await?
            .ok_or(AppError::NotFound("webhook"))
    }

    /// Registers an endpoint; its secret is in the answer, and only there.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        input: EndpointInput,
    ) -> AppResult<NewEndpoint> {
        let tenant = actor.tenant()?;
        let url = self.webhook_url(&input.url)?;
        let types = event_types(&input.event_types)?;
        let description = description(input.description)?;
        let id = Uuid::now_v7();
        let secret = new_secret();
        let now = crate::domain::now();
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        // The tenant's row queues concurrent creations (a range lock on
        // the endpoints would let two deadlock instead).
        sqlx::query("SELECT id FROM tenants WHERE id = ? FOR UPDATE")
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM webhook_endpoints WHERE tenant_id = ?")
                .bind(tenant)
                .fetch_one(&mut *tx)
                .await?;
        if count as usize >= MAX_ENDPOINTS {
            return Err(AppError::validation(format!(
                "a tenant has at most {MAX_ENDPOINTS} webhook endpoints"
            )));
        }
        sqlx::query(
            "INSERT INTO webhook_endpoints (tenant_id, id, url, description, event_types,
                 enabled, sealed_secret, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant)
        .bind(id)
        .bind(&url)
        .bind(&description)
        .bind(Json(&types))
        .bind(input.enabled)
        .bind(self.seal_secret(tenant, id, &secret))
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let entry = audit::Entry::new(Some(actor), "webhook.create")
            .detail(serde_json::json!({ "url": url, "eventTypes": types }));
        let endpoint = settle(tx, tenant, id, entry).await?;
        Ok(NewEndpoint { endpoint, secret })
    }

    /// Changes an endpoint. Turning it on again clears what turned it off;
    /// turning it off gives up its waiting deliveries.
    pub async fn update_webhook(
        &self,
        actor: &Actor,
        id: Uuid,
        update: EndpointUpdate,
    ) -> AppResult<Endpoint> {
        let tenant = actor.tenant()?;
        let url = update
            .url
            .as_deref()
            .map(|u| self.webhook_url(u))
            .transpose()?;
        let types = update.event_types.as_deref().map(event_types).transpose()?;
        let description = update
            .description
            .map(|d| description(Some(d)))
            .transpose()?;
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        // Locked, so two changes at once do not undo each other.
        sqlx::query("SELECT id FROM webhook_endpoints WHERE tenant_id = ? AND id = ? FOR UPDATE")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let current = super::endpoint(&mut tx, tenant, id)
            .await?
            .ok_or(AppError::NotFound("webhook"))?;
        let now = crate::domain::now();
        sqlx::query(
            "UPDATE webhook_endpoints SET url = ?, description = ?, event_types = ?, updated_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(url.as_deref().unwrap_or(&current.url))
        .bind(description.unwrap_or(current.description))
        .bind(Json(types.clone().unwrap_or(current.event_types.0)))
        .bind(now)
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        match update.enabled {
            Some(true) if !current.enabled => {
                sqlx::query(
                    "UPDATE webhook_endpoints SET enabled = TRUE, disabled_reason = NULL,
                         failing_since = NULL
                     WHERE tenant_id = ? AND id = ?",
                )
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            Some(false) => {
                super::disable(&mut tx, tenant, id, None).await?;
            }
            _ => {}
        }
        let entry = audit::Entry::new(Some(actor), "webhook.update").detail(serde_json::json!({
            "url": url, "eventTypes": types, "enabled": update.enabled,
        }));
        settle(tx, tenant, id, entry).await
    }

    /// Deletes an endpoint and its delivery log.
    pub async fn delete_webhook(&self, actor: &Actor, id: Uuid) -> AppResult<()> {
        let tenant = actor.tenant()?;
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(AppError::NotFound("webhook"));
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "webhook.delete").target("webhook", id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces an endpoint's secret at once; the new one is in the answer,
    /// and only there.
    pub async fn rotate_webhook_secret(&self, actor: &Actor, id: Uuid) -> AppResult<NewEndpoint> {
        let tenant = actor.tenant()?;
        let secret = new_secret();
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let changed = sqlx::query(
            "UPDATE webhook_endpoints SET sealed_secret = ?, updated_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(self.seal_secret(tenant, id, &secret))
        .bind(crate::domain::now())
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(AppError::NotFound("webhook"));
        }
        let entry = audit::Entry::new(Some(actor), "webhook.rotate_secret");
        let endpoint = settle(tx, tenant, id, entry).await?;
        Ok(NewEndpoint { endpoint, secret })
    }

    /// An endpoint's newest deliveries (newest first).
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        endpoint: Uuid,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> AppResult<Vec<super::Delivery>> {
        let tenant = actor.tenant()?;
        let mut conn = self.pool().acquire().await?;
        super::endpoint(&mut conn, tenant, endpoint)
            .await?
            .ok_or(AppError::NotFound("webhook"))?;
        Ok(super::deliveries(&mut conn, tenant, endpoint, state, limit).await?)
    }

    /// Sends a delivery again, now, with the same id and body (one more
    /// attempt; a failure is not retried on the schedule again once it
    /// has run out).
    pub async fn resend_webhook(
        &self,
        actor: &Actor,
        endpoint: Uuid,
        delivery: Uuid,
    ) -> AppResult<()> {
        let tenant = actor.tenant()?;
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let found = super::endpoint(&mut tx, tenant, endpoint)
            .await?
            .ok_or(AppError::NotFound("webhook"))?;
        if !found.enabled {
            return Err(AppError::conflict(
                "webhook_disabled",
                "the endpoint is turned off; turn it on to send again",
            ));
        }
        let state: Option<(DeliveryState,)> = sqlx::query_as(
            "SELECT state FROM webhook_deliveries
             WHERE tenant_id = ? AND endpoint_id = ? AND id = ? FOR UPDATE",
        )
        .bind(tenant)
        .bind(endpoint)
        .bind(delivery)
        .fetch_optional(&mut *tx)
        .await?;
        match state {
            None => return Err(AppError::NotFound("delivery")),
            Some((DeliveryState::Sending,)) => {
                return Err(AppError::conflict(
                    "delivery_in_flight",
                    "the delivery is being sent right now",
                ));
            }
            Some(_) => {}
        }
        let now = crate::domain::now();
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', next_at = ?, updated_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(now)
        .bind(now)
        .bind(tenant)
        .bind(delivery)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "webhook.resend")
                .target("webhook", endpoint)
                .detail(serde_json::json!({ "delivery": super::webhook_id(delivery) })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Ends a change to endpoint `id`: audits it (`entry`, targeted at the
/// endpoint), reads the endpoint as changed, commits.
async fn settle(
    mut tx: sqlx::Transaction<'_, sqlx::MySql>,
    tenant: TenantId,
    id: Uuid,
    entry: audit::Entry,
) -> AppResult<Endpoint> {
    audit::record(&mut tx, entry.target("webhook", id)).await?;
    let endpoint = super::endpoint(&mut tx, tenant, id)
        .await?
        .ok_or(AppError::NotFound("webhook"))?;
    tx.commit().await?;
    Ok(endpoint)
}
