//! Each tenant's Agora app id and certificate: set by its admins, sealed at
//! rest under the data key (the tenant id bound as associated data, so a
//! row copied to another tenant does not open), never returned or logged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::agora::{AgoraCredentials, RtcRole, rtc_token_with_uid};
use crate::domain::{Actor, Core, TenantId, audit, sealed};
use crate::error::{AppError, AppResult};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    app_id: String,
    certificate: String,
}

/// Binds a sealed value to its tenant's row.
fn aad(tenant: TenantId) -> Vec<u8> {
    [b"tenant_agora:".as_slice(), tenant.0.as_bytes()].concat()
}

fn not_configured() -> AppError {
    AppError::conflict(
        "agora_not_configured",
        "calls need the tenant's Agora app id and certificate (PUT /api/settings/agora)",
    )
}

/// An RTC publisher token for `uid` in `channel`, valid `ttl_secs`.
pub fn rtc_token(
    credentials: &AgoraCredentials,
    channel: &str,
    uid: u32,
    ttl_secs: u32,
) -> AppResult<String> {
    rtc_token_with_uid(
        credentials,
        channel,
        uid,
        RtcRole::Publisher,
        ttl_secs,
        ttl_secs,
    )
    .map_err(|err| AppError::validation(err.to_string()))
}

impl Core {
    /// Sets the actor's tenant's Agora credentials (admins).
    pub async fn set_agora(
        &self,
        actor: &Actor,
        app_id: &str,
        certificate: &str,
    ) -> AppResult<DateTime<Utc>> {
        let tenant = actor.tenant()?;
        let credentials = AgoraCredentials::new(app_id.trim(), certificate.trim())
            .map_err(|err| AppError::validation(err.to_string()))?;
        let plain = serde_json::to_vec(&Stored {
            app_id: credentials.app_id().to_owned(),
            certificate: credentials.expose_certificate().to_owned(),
        })
        .map_err(|err| AppError::Internal(err.into()))?;
        let sealed = sealed::seal_with_aad(&self.config().data_key, &plain, &aad(tenant));
        let now = crate::domain::now();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO tenant_agora (tenant_id, sealed, updated_at) VALUES (?, ?, ?)
             ON DUPLICATE KEY UPDATE sealed = VALUES(sealed), updated_at = VALUES(updated_at)",
        )
        .bind(tenant)
        .bind(sealed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, audit::Entry::new(Some(actor), "agora.set")).await?;
        tx.commit().await?;
        Ok(now)
    }

    /// Removes the tenant's Agora credentials; calls through Agora stop.
    pub async fn clear_agora(&self, actor: &Actor) -> AppResult<()> {
        let tenant = actor.tenant()?;
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM tenant_agora WHERE tenant_id = ?")
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, audit::Entry::new(Some(actor), "agora.clear")).await?;
        tx.commit().await?;
        Ok(())
    }

    /// When the tenant's credentials were set (`None`: not configured).
    pub async fn agora_updated_at(&self, tenant: TenantId) -> AppResult<Option<DateTime<Utc>>> {
        Ok(
            sqlx::query_scalar("SELECT updated_at FROM tenant_agora WHERE tenant_id = ?")
                .bind(tenant)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// The tenant's credentials, or 409 `agora_not_configured`.
    pub async fn agora_of(&self, tenant: TenantId) -> AppResult<AgoraCredentials> {
        let row = sqlx::query("SELECT sealed FROM tenant_agora WHERE tenant_id = ?")
            .bind(tenant)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(not_configured)?;
        let sealed_bytes: Vec<u8> = row.try_get("sealed")?;
        let plain = sealed::open_with_aad(&self.config().data_key, &sealed_bytes, &aad(tenant))
            .map_err(|_| {
                AppError::Internal(anyhow::anyhow!(
                    "the Agora credentials of tenant {tenant} do not open under the data key"
                ))
            })?;
        let stored: Stored =
            serde_json::from_slice(&plain).map_err(|err| AppError::Internal(err.into()))?;
        AgoraCredentials::new(stored.app_id, stored.certificate)
            .map_err(|err| AppError::Internal(err.into()))
    }
}
