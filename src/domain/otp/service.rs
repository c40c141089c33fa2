//! One-time code use cases on [`Core`]: sending a code (stored under the
//! destination's lock, delivered after the answer), checking one, and
//! purging spent codes.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{
    Purpose, Sent, Target, code_hash, invalid_code, lock_destination, mask, new_code,
    registration_closed, replace_code, withdraw,
};
use crate::{
    delivery::messages,
    domain::{
        Core, TenantId,
        limits::Kind,
        participant::{self, ResolvedLogin},
        secrets,
        session::Device,
        settings::TenantSettings,
        tenant::Tenant,
    },
    error::{AppError, AppResult},
};

impl Core {
    /// Sends a one-time code. For a login code to an unknown or blocked
    /// account nothing is sent, but the answer is the same.
    pub async fn send_code(
        &self,
        tenant_slug: &str,
        purpose: Purpose,
        target: Target,
        from: &Device,
    ) -> AppResult<Sent> {
        let tenant = self.active_tenant(tenant_slug, from).await?;
        let settings = self.settings_of(tenant.id).await?;
        let login = target.resolve(&tenant)?;
        let ip = from.ip.as_deref().unwrap_or("unknown");
        self.limits()
            .check(tenant.id, Kind::OtpSendPerIp, settings.otp_send_per_ip, ip)
            .await?;
        if purpose == Purpose::Register && !settings.allow_self_registration {
            return Err(registration_closed());
        }
        let code = new_code();
        let stored = match self
            .store_code(&tenant, &settings, purpose, &login, &code, ip)
            .await
        {
            Err(err) if err.is_deadlock() => {
                self.store_code(&tenant, &settings, purpose, &login, &code, ip)
                    .await
            }
            other => other,
        }?;
        if let Some(code_id) = stored {
            self.deliver_later(
                tenant,
                settings.otp_ttl_secs,
                purpose,
                code_id,
                login.clone(),
                code,
            );
        }
        Ok(Sent {
            channel: match login {
                ResolvedLogin::Phone(_) => "sms",
                ResolvedLogin::Email(_) => "email",
            },
            masked: mask(&login),
            expires_in_secs: settings.otp_ttl_secs.into(),
            resend_in_secs: settings.otp_resend_cooldown_secs.into(),
        })
    }

    /// Records a code under the destination's lock: checks the cooldown,
    /// then the destination's limits (so waiting out a cooldown costs
    /// nothing), and returns the code's id when it is to be delivered.
    async fn store_code(
        &self,
        tenant: &Tenant,
        settings: &TenantSettings,
        purpose: Purpose,
        login: &ResolvedLogin,
        code: &str,
        ip: &str,
    ) -> AppResult<Option<uuid::Uuid>> {
        let dest = login.as_str();
        let mut tx = self.pool().begin().await?;
        let last_sent = lock_destination(&mut tx, tenant.id, dest, purpose).await?;
        let ready = last_sent + chrono::Duration::seconds(settings.otp_resend_cooldown_secs.into());
        let wait = (ready - crate::domain::now()).num_seconds();
        if wait > 0 {
            return Err(AppError::TooManyRequests {
                retry_after_secs: wait as u64,
            });
        }
        self.limits()
            .check_identifier(
                tenant.id,
                Kind::OtpSendPerDestination,
                settings.otp_send_per_destination,
                dest,
                ip,
            )
            .await?;
        let account = participant::find_for_login(&mut tx, tenant.id, login)
            .await?
            .map(|(p, _)| p);
        let deliver = match purpose {
            Purpose::Register => true,
            Purpose::Login => account.as_ref().is_some_and(|p| !p.blocked),
        };
        // A code nobody receives keeps the answer and the cooldown the same.
        let kept = if deliver {
            code.to_owned()
        } else {
            secrets::random()
        };
        let expires_at =
            crate::domain::now() + chrono::Duration::seconds(settings.otp_ttl_secs.into());
        let hash = code_hash(&self.config().otp_key, tenant.id, purpose, dest, &kept);
        let id = replace_code(&mut tx, tenant.id, purpose, dest, hash, expires_at).await?;
        tx.commit().await?;
        Ok(deliver.then_some(id))
    }

    /// Delivers a code after the answer has gone out. A failed delivery
    /// withdraws the code and lifts the cooldown, so asking again works.
    fn deliver_later(
        &self,
        tenant: Tenant,
        ttl_secs: u32,
        purpose: Purpose,
        code_id: uuid::Uuid,
        to: ResolvedLogin,
        code: String,
    ) {
        let core = self.clone();
        tokio::spawn(async move {
            let minutes = ttl_secs.div_ceil(60);
            let delivered = match &to {
                ResolvedLogin::Phone(phone) => {
                    core.delivery()
                        .sms(
                            &tenant.slug,
                            phone,
                            messages::otp_sms(&tenant.name, &code, minutes),
                        )
                        .await
                }
                ResolvedLogin::Email(email) => {
                    match messages::otp_email(&tenant.name, &code, minutes) {
                        Ok(message) => core.delivery().email(email, message).await,
                        Err(err) => Err(err),
                    }
                }
            };
            if delivered.is_err() {
                let withdrawn = async {
                    let mut conn = core.pool().acquire().await?;
                    withdraw(&mut conn, tenant.id, code_id, to.as_str(), purpose).await
                };
                if let Err(err) = withdrawn.await {
                    tracing::error!(error = %err, "withdrawing an undelivered code failed");
                }
            }
        });
    }

    /// Checks a code and spends it when right. A wrong code costs one of the
    /// code's attempts; the last one spends it. Malformed codes are refused
    /// before they count against anyone's limits.
    pub(super) async fn check_code(
        &self,
        tenant: &Tenant,
        purpose: Purpose,
        login: &ResolvedLogin,
        code: &str,
        ip: Option<&str>,
    ) -> AppResult<()> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_code());
        }
        let settings = self.settings_of(tenant.id).await?;
        let dest = login.as_str();
        let ip = ip.unwrap_or("unknown");
        self.limits()
            .check(
                tenant.id,
                Kind::OtpVerifyPerIp,
                settings.otp_verify_per_ip,
                ip,
            )
            .await?;
        self.limits()
            .check_identifier(
                tenant.id,
                Kind::OtpVerifyPerDestination,
                settings.otp_verify_per_destination,
                dest,
                ip,
            )
            .await?;
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "SELECT id, code_hash, attempts, expires_at FROM otp_codes
             WHERE tenant_id = ? AND destination = ? AND purpose = ? AND consumed_at IS NULL
             ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
        )
        .bind(tenant.id)
        .bind(dest)
        .bind(purpose)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(invalid_code)?;
        let id: uuid::Uuid = row.try_get("id")?;
        let stored: Vec<u8> = row.try_get("code_hash")?;
        let attempts: u8 = row.try_get("attempts")?;
        let expires_at: DateTime<Utc> = row.try_get("expires_at")?;
        let now = crate::domain::now();
        let right = secrets::same(
            &stored,
            &code_hash(&self.config().otp_key, tenant.id, purpose, dest, code),
        );
        let ok = right && expires_at > now && attempts < settings.otp_max_attempts;
        let attempts = if ok {
            attempts
        } else {
            attempts.saturating_add(1)
        };
        let spent = ok || expires_at <= now || attempts >= settings.otp_max_attempts;
        sqlx::query("UPDATE otp_codes SET attempts = ?, consumed_at = IF(?, ?, NULL) WHERE tenant_id = ? AND id = ?")
            .bind(attempts)
            .bind(spent)
            .bind(now)
            .bind(tenant.id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if ok { Ok(()) } else { Err(invalid_code()) }
    }
}

impl Core {
    /// Deletes codes and link tokens that can no longer be used (a day after
    /// they expired), keeping the tables small. Cooldowns are unaffected:
    /// they live in `otp_throttle`.
    pub async fn purge_spent(&self) -> AppResult<()> {
        let horizon = crate::domain::now() - chrono::Duration::days(1);
        let tenants: Vec<TenantId> = sqlx::query_scalar("SELECT id FROM tenants")
            .fetch_all(self.pool())
            .await?;
        for tenant in tenants {
            for table in ["otp_codes", "account_tokens"] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE tenant_id = ? AND expires_at < ? LIMIT 10000"
                ))
                .bind(tenant)
                .bind(horizon)
                .execute(self.pool())
                .await?;
            }
        }
        Ok(())
    }
}
