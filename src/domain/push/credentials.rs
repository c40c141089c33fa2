//! Each tenant's push credentials: the FCM service account and the APNs
//! `.p8` key, set by its admins, sealed at rest under the data key (bound
//! to the tenant and provider, so a row copied elsewhere does not open),
//! never returned or logged. What is shown back are the ids that identify
//! them (project, client email, team, key, bundle).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{
    delivery::push::{ApnsCredentials, ApnsEnvironment, FcmCredentials},
    domain::{Actor, Core, TenantId, audit, device::Platform, sealed},
    error::{AppError, AppResult},
};

/// What is sealed.
#[derive(Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "camelCase")]
enum Stored {
    #[serde(rename = "fcm")]
    Fcm { service_account: String },
    #[serde(rename = "apns", rename_all = "camelCase")]
    Apns {
        team_id: String,
        key_id: String,
        bundle_id: String,
        key: String,
        environment: String,
    },
}

/// A tenant's FCM project, as shown (no key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcmInfo {
    pub project_id: String,
    pub client_email: String,
    pub updated_at: DateTime<Utc>,
}

/// A tenant's APNs key, as shown (no key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApnsInfo {
    pub team_id: String,
    pub key_id: String,
    pub bundle_id: String,
    pub environment: ApnsEnvironment,
    pub updated_at: DateTime<Utc>,
}

/// Which providers a tenant has set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushStatus {
    pub fcm: Option<FcmInfo>,
    pub apns: Option<ApnsInfo>,
}

/// A tenant's credentials, opened, for sending.
#[derive(Clone, Default)]
pub struct TenantPush {
    pub fcm: Option<FcmCredentials>,
    pub apns: Option<ApnsCredentials>,
}

/// The APNs fields an admin gives.
pub struct ApnsInput<'a> {
    pub team_id: &'a str,
    pub key_id: &'a str,
    pub bundle_id: &'a str,
    /// The `.p8` file's text.
    pub key: &'a str,
    pub environment: ApnsEnvironment,
}

/// Longest service account or key taken (a real one is 2-3 KB; the sealed
/// column holds 8 KiB).
const MAX_SECRET_BYTES: usize = 6 * 1024;

fn aad(tenant: TenantId, provider: Platform) -> Vec<u8> {
    [
        b"tenant_push:".as_slice(),
        provider.as_str().as_bytes(),
        b":",
        tenant.0.as_bytes(),
    ]
    .concat()
}

impl Core {
    /// Sets the actor's tenant's FCM service account (admins).
    pub async fn set_fcm(&self, actor: &Actor, service_account: &str) -> AppResult<PushStatus> {
        if service_account.len() > MAX_SECRET_BYTES {
            return Err(AppError::validation(format!(
                "serviceAccount must be at most {MAX_SECRET_BYTES} bytes"
            )));
        }
        let credentials =
            FcmCredentials::from_service_account(service_account).map_err(AppError::validation)?;
        self.delivery()
            .push()
            .check_fcm(&credentials)
            .map_err(AppError::validation)?;
        let stored = Stored::Fcm {
            service_account: service_account.trim().to_owned(),
        };
        self.store_push(actor, Platform::Fcm, &stored).await
    }

    /// Sets the actor's tenant's APNs key (admins).
    pub async fn set_apns(&self, actor: &Actor, input: ApnsInput<'_>) -> AppResult<PushStatus> {
        if input.key.len() > MAX_SECRET_BYTES {
            return Err(AppError::validation(format!(
                "key must be at most {MAX_SECRET_BYTES} bytes"
            )));
        }
        let (team, key_id, bundle) = (
            input.team_id.trim(),
            input.key_id.trim(),
            input.bundle_id.trim(),
        );
        ApnsCredentials::new(team, key_id, bundle, input.key, input.environment)
            .map_err(AppError::validation)?;
        let stored = Stored::Apns {
            team_id: team.into(),
            key_id: key_id.into(),
            bundle_id: bundle.into(),
            key: input.key.trim().into(),
            environment: input.environment.as_str().into(),
        };
        self.store_push(actor, Platform::Apns, &stored).await
    }

    async fn store_push(
        &self,
        actor: &Actor,
        provider: Platform,
        stored: &Stored,
    ) -> AppResult<PushStatus> {
        let tenant = actor.tenant()?;
        let plain = serde_json::to_vec(stored).map_err(|err| AppError::Internal(err.into()))?;
        let sealed = sealed::seal_with_aad(&self.config().data_key, &plain, &aad(tenant, provider));
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO tenant_push (tenant_id, provider, sealed, updated_at) VALUES (?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE sealed = VALUES(sealed), updated_at = VALUES(updated_at)",
        )
        .bind(tenant)
        .bind(provider)
        .bind(sealed)
        .bind(crate::domain::now())
        .execute(&mut *tx)
        .await?;
        let action = match provider {
            Platform::Fcm => "push.fcm.set",
            Platform::Apns => "push.apns.set",
        };
        audit::record(&mut tx, audit::Entry::new(Some(actor), action)).await?;
        tx.commit().await?;
        self.push_status(tenant).await
    }

    /// Removes one provider's credentials; its pushes stop.
    pub async fn clear_push(&self, actor: &Actor, provider: Platform) -> AppResult<()> {
        let tenant = actor.tenant()?;
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM tenant_push WHERE tenant_id = ? AND provider = ?")
            .bind(tenant)
            .bind(provider)
            .execute(&mut *tx)
            .await?;
        let action = match provider {
            Platform::Fcm => "push.fcm.clear",
            Platform::Apns => "push.apns.clear",
        };
        audit::record(&mut tx, audit::Entry::new(Some(actor), action)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Which providers the tenant has set, and their ids.
    pub async fn push_status(&self, tenant: TenantId) -> AppResult<PushStatus> {
        let mut status = PushStatus::default();
        for (stored, updated_at) in self.stored_push(tenant).await? {
            match stored {
                Stored::Fcm { service_account } => {
                    let c = FcmCredentials::from_service_account(&service_account)
                        .map_err(|err| AppError::Internal(anyhow::anyhow!(err)))?;
                    status.fcm = Some(FcmInfo {
                        project_id: c.project_id,
                        client_email: c.client_email,
                        updated_at,
                    });
                }
                Stored::Apns {
                    team_id,
                    key_id,
                    bundle_id,
                    environment,
                    ..
                } => {
                    status.apns = Some(ApnsInfo {
                        team_id,
                        key_id,
                        bundle_id,
                        environment: ApnsEnvironment::from_str_opt(&environment)
                            .unwrap_or(ApnsEnvironment::Production),
                        updated_at,
                    });
                }
            }
        }
        Ok(status)
    }

    /// The tenant's credentials, opened, for sending.
    pub(super) async fn tenant_push(&self, tenant: TenantId) -> AppResult<TenantPush> {
        let mut push = TenantPush::default();
        let internal = |err: String| AppError::Internal(anyhow::anyhow!(err));
        for (stored, _) in self.stored_push(tenant).await? {
            match stored {
                Stored::Fcm { service_account } => {
                    push.fcm = Some(
                        FcmCredentials::from_service_account(&service_account).map_err(internal)?,
                    );
                }
                Stored::Apns {
                    team_id,
                    key_id,
                    bundle_id,
                    key,
                    environment,
                } => {
                    let environment = ApnsEnvironment::from_str_opt(&environment)
                        .unwrap_or(ApnsEnvironment::Production);
                    push.apns = Some(
                        ApnsCredentials::new(&team_id, &key_id, &bundle_id, &key, environment)
                            .map_err(internal)?,
                    );
                }
            }
        }
        Ok(push)
    }

    /// The tenant's stored credentials with when each was set. One that
    /// does not open (the data key changed) is left out, as if not set, so
    /// the admin sets it again; the error is logged.
    async fn stored_push(&self, tenant: TenantId) -> AppResult<Vec<(Stored, DateTime<Utc>)>> {
        let rows =
            sqlx::query("SELECT provider, sealed, updated_at FROM tenant_push WHERE tenant_id = ?")
                .bind(tenant)
                .fetch_all(self.pool())
                .await?;
        let mut stored = Vec::with_capacity(rows.len());
        for row in rows {
            let provider: Platform = row.try_get("provider")?;
            let bytes: Vec<u8> = row.try_get("sealed")?;
            let key = &self.config().data_key;
            let opened = sealed::open_with_aad(key, &bytes, &aad(tenant, provider))
                .ok()
                .and_then(|plain| serde_json::from_slice::<Stored>(&plain).ok());
            match opened {
                Some(s) => stored.push((s, row.try_get("updated_at")?)),
                None => {
                    tracing::error!(%tenant, ?provider, "push credentials do not open under the data key")
                }
            }
        }
        Ok(stored)
    }
}
