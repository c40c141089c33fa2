//! Per-tenant settings: OTP behaviour, rate limits, self-registration, the
//! phone region, the web origins the tenant's apps run on. Stored as JSON
//! in `tenant_settings` (missing fields take their defaults, so adding a
//! setting needs no migration), validated on every change, and cached in
//! the core. What the allowed origins admit is decided in `origins`.

use std::{collections::HashSet, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use sqlx::{MySqlConnection, Row};

use super::{
    Actor, Core, TenantId, audit,
    values::{Origin, Region},
};
use crate::error::{AppError, AppResult};

pub use super::notification::DigestDelays;
pub use super::privacy::{ErasedMessages, Retention};

/// A rate: at most `max` events per `per_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub max: u32,
    pub per_secs: u32,
}

impl Rate {
    pub const fn new(max: u32, per_secs: u32) -> Self {
        Self { max, per_secs }
    }

    fn validate(&self, name: &str) -> AppResult<()> {
        if !(1..=100_000).contains(&self.max) || !(1..=86_400).contains(&self.per_secs) {
            return Err(AppError::validation(format!(
                "{name}: max must be 1-100000 and perSeconds 1-86400"
            )));
        }
        Ok(())
    }
}

/// The tunables of one tenant. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TenantSettings {
    /// Seconds a one-time code stays valid.
    pub otp_ttl_secs: u32,
    /// Wrong codes allowed before a code is spent.
    pub otp_max_attempts: u8,
    /// Seconds before another code may be sent to the same destination.
    pub otp_resend_cooldown_secs: u32,
    /// Whether people may create their own accounts (register, OTP register).
    pub allow_self_registration: bool,
    pub login_per_ip: Rate,
    pub login_per_account: Rate,
    pub otp_send_per_ip: Rate,
    pub otp_send_per_destination: Rate,
    pub otp_verify_per_ip: Rate,
    pub otp_verify_per_destination: Rate,
    /// Longest message, in characters.
    pub max_message_chars: u32,
    /// Seconds after sending during which a message may be edited.
    pub message_edit_window_secs: u32,
    /// Messages one participant may send (seed 004 suggests 10 a minute; the
    /// default allows the bursts people type in a chat).
    pub messages_per_participant: Rate,
    /// Seconds a call rings before it is missed (seed 004: 60).
    pub ring_timeout_secs: u32,
    /// Calls one participant may start (seed 004: 5 an hour).
    pub calls_per_participant: Rate,
    /// Lifetime of the Agora tokens issued for calls, in seconds.
    pub call_token_ttl_secs: u32,
    /// Web origins (`https://app.example`) from which browsers may act for
    /// this tenant. Empty: any origin the server's CORS list lets in.
    /// Requests without an `Origin` header (mobile and desktop apps,
    /// servers) are never affected.
    pub allowed_origins: Vec<String>,
    /// Files: kinds, sizes, voice-note length, storage quota.
    pub media: super::file::MediaRules,
    /// Days notifications are kept (read or not).
    pub notification_retention_days: u32,
    /// Pushes say "New message" instead of the text.
    pub push_hide_text: bool,
    /// Minutes of unread messages before an email digest, per kind of
    /// participant (0: none).
    pub email_digest: DigestDelays,
    /// The off-platform contact guard for users' and astrologers'
    /// conversations (`domain::guard`).
    pub contact_guard: super::guard::GuardRules,
    /// How long messages (with their files), call history and the audit
    /// log are kept; 0 keeps them (notifications: `notification_retention_days`).
    pub retention: Retention,
    /// What an erased participant's messages become.
    pub erased_messages: ErasedMessages,
}

/// Most origins one tenant may list.
pub const MAX_ALLOWED_ORIGINS: usize = 50;

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            otp_ttl_secs: 300,
            otp_max_attempts: 5,
            otp_resend_cooldown_secs: 30,
            allow_self_registration: true,
            login_per_ip: Rate::new(30, 60),
            login_per_account: Rate::new(10, 60),
            otp_send_per_ip: Rate::new(20, 3600),
            otp_send_per_destination: Rate::new(5, 900),
            otp_verify_per_ip: Rate::new(60, 60),
            otp_verify_per_destination: Rate::new(10, 60),
            max_message_chars: 4000,
            message_edit_window_secs: 15 * 60,
            messages_per_participant: Rate::new(30, 60),
            ring_timeout_secs: 60,
            calls_per_participant: Rate::new(5, 3600),
            call_token_ttl_secs: 3600,
            allowed_origins: Vec::new(),
            media: super::file::MediaRules::default(),
            notification_retention_days: 90,
            push_hide_text: false,
            email_digest: DigestDelays::default(),
            contact_guard: super::guard::GuardRules::default(),
            retention: Retention::default(),
            erased_messages: ErasedMessages::default(),
        }
    }
}

impl TenantSettings {
    /// Refuses values outside sane bounds.
    pub fn validate(&self) -> AppResult<()> {
        self.contact_guard.validate()?;
        self.retention.validate()?;
        if !(60..=3600).contains(&self.otp_ttl_secs) {
            return Err(AppError::validation("otpTtlSeconds must be 60-3600"));
        }
        if !(1..=10).contains(&self.otp_max_attempts) {
            return Err(AppError::validation("otpMaxAttempts must be 1-10"));
        }
        if self.otp_resend_cooldown_secs > 3600 {
            return Err(AppError::validation(
                "otpResendCooldownSeconds must be 0-3600",
            ));
        }
        if !(1..=20_000).contains(&self.max_message_chars) {
            return Err(AppError::validation("maxMessageChars must be 1-20000"));
        }
        if self.message_edit_window_secs > 7 * 24 * 3600 {
            return Err(AppError::validation(
                "messageEditWindowSeconds must be at most a week",
            ));
        }
        if !(1..=600).contains(&self.ring_timeout_secs) {
            return Err(AppError::validation("ringTimeoutSeconds must be 1-600"));
        }
        if !(60..=86_400).contains(&self.call_token_ttl_secs) {
            return Err(AppError::validation("callTokenTtlSeconds must be 60-86400"));
        }
        if self.allowed_origins.len() > MAX_ALLOWED_ORIGINS {
            return Err(AppError::validation(format!(
                "allowedOrigins lists at most {MAX_ALLOWED_ORIGINS} origins"
            )));
        }
        for origin in &self.allowed_origins {
            if Origin::parse(origin)?.as_str() != origin {
                return Err(AppError::validation(format!(
                    "allowedOrigins: write `{origin}` as scheme://host[:port], lower case"
                )));
            }
        }
        for (name, rate) in [
            ("loginPerIp", self.login_per_ip),
            ("loginPerAccount", self.login_per_account),
            ("otpSendPerIp", self.otp_send_per_ip),
            ("otpSendPerDestination", self.otp_send_per_destination),
            ("otpVerifyPerIp", self.otp_verify_per_ip),
            ("otpVerifyPerDestination", self.otp_verify_per_destination),
            ("messagesPerParticipant", self.messages_per_participant),
            ("callsPerParticipant", self.calls_per_participant),
        ] {
            rate.validate(name)?;
        }
        if !(1..=3650).contains(&self.notification_retention_days) {
            return Err(AppError::validation(
                "notificationRetentionDays must be 1-3650",
            ));
        }
        let d = self.email_digest;
        if [d.users, d.astrologers, d.admins]
            .iter()
            .any(|m| *m > 7 * 24 * 60)
        {
            return Err(AppError::validation(
                "emailDigestMinutes: each is 0 (none) to 10080 (a week)",
            ));
        }
        self.media.validate()
    }

    /// Parses, normalises and de-duplicates `allowed_origins` (keeping
    /// their order), so `https://App.example/` is stored as a browser sends it.
    fn normalise(&mut self) -> AppResult<()> {
        let mut seen = HashSet::new();
        let mut origins = Vec::with_capacity(self.allowed_origins.len());
        for raw in &self.allowed_origins {
            let origin = Origin::parse(raw)?.into_inner();
            if seen.insert(origin.clone()) {
                origins.push(origin);
            }
        }
        self.allowed_origins = origins;
        Ok(())
    }

    /// Whether this tenant's list names `origin` (an `Origin` header).
    pub fn lists_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }

    pub fn ring_timeout(&self) -> Duration {
        Duration::from_secs(self.ring_timeout_secs.into())
    }

    pub fn otp_ttl(&self) -> Duration {
        Duration::from_secs(self.otp_ttl_secs.into())
    }
}

async fn load(conn: &mut MySqlConnection, tenant: TenantId) -> AppResult<TenantSettings> {
    let row = sqlx::query("SELECT settings FROM tenant_settings WHERE tenant_id = ?")
        .bind(tenant)
        .fetch_optional(conn)
        .await?;
    match row {
        None => Ok(TenantSettings::default()),
        Some(row) => {
            let json: String = row.try_get("settings")?;
            serde_json::from_str(&json).map_err(|err| {
                AppError::Internal(anyhow::anyhow!(
                    "tenant {tenant} has unreadable settings: {err}"
                ))
            })
        }
    }
}

async fn store(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    settings: &TenantSettings,
) -> AppResult<()> {
    let json = serde_json::to_string(settings).map_err(|err| AppError::Internal(err.into()))?;
    sqlx::query(
        "INSERT INTO tenant_settings (tenant_id, settings, updated_at) VALUES (?, ?, ?)
         ON DUPLICATE KEY UPDATE settings = VALUES(settings), updated_at = VALUES(updated_at)",
    )
    .bind(tenant)
    .bind(json)
    .bind(super::now())
    .execute(conn)
    .await?;
    Ok(())
}

impl Core {
    /// Forgets the cached settings of `tenant` and re-reads the origins
    /// (another node changed them).
    pub async fn forget_settings(&self, tenant: TenantId) {
        self.caches().settings.invalidate(&tenant);
        if let Err(err) = self.reload_known_origins().await {
            tracing::warn!(error = %err, "reloading allowed origins failed");
        }
    }

    /// The tenant's settings (cached; a change shows at once, on every node
    /// with the relay).
    pub async fn settings_of(&self, tenant: TenantId) -> AppResult<Arc<TenantSettings>> {
        if let Some(settings) = self.caches().settings.get(&tenant) {
            return Ok(settings);
        }
        let settings = Arc::new(load(&mut *self.pool().acquire().await?, tenant).await?);
        self.caches().settings.insert(tenant, settings.clone());
        Ok(settings)
    }

    /// Replaces the actor's tenant settings after validating them, and the
    /// tenant's phone region when given.
    pub async fn update_settings(
        &self,
        actor: &Actor,
        mut settings: TenantSettings,
        region: Option<Region>,
    ) -> AppResult<TenantSettings> {
        let tenant = actor.tenant()?;
        settings.normalise()?;
        settings.validate()?;
        let mut tx = self.pool().begin().await?;
        let before = load(&mut tx, tenant).await?;
        store(&mut tx, tenant, &settings).await?;
        if let Some(region) = &region {
            sqlx::query("UPDATE tenants SET default_region = ?, updated_at = ? WHERE id = ?")
                .bind(region.as_str())
                .bind(super::now())
                .bind(tenant)
                .execute(&mut *tx)
                .await?;
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "settings.update").detail(serde_json::json!({
                "before": before,
                "after": settings,
                "defaultRegion": region.as_ref().map(Region::as_str),
            })),
        )
        .await?;
        tx.commit().await?;
        self.caches().settings.invalidate(&tenant);
        if before.allowed_origins != settings.allowed_origins
            && let Err(err) = self.reload_known_origins().await
        {
            // Saved all the same; the next upkeep round reads them again.
            tracing::warn!(error = %err, "reloading allowed origins failed");
        }
        self.events()
            .publish(super::events::DomainEvent::SettingsChanged { tenant })
            .await;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_missing_fields_take_them() {
        TenantSettings::default().validate().unwrap();
        let partial: TenantSettings = serde_json::from_str(r#"{"otpTtlSecs": 120}"#).unwrap();
        assert_eq!(partial.otp_ttl_secs, 120);
        assert_eq!(partial.otp_max_attempts, 5);
    }

    #[test]
    fn out_of_bounds_values_are_refused() {
        let mut s = TenantSettings {
            otp_max_attempts: 0,
            ..Default::default()
        };
        assert!(s.validate().is_err());
        s = TenantSettings {
            login_per_ip: Rate::new(0, 60),
            ..Default::default()
        };
        assert!(s.validate().is_err());
    }

    #[test]
    fn origins_are_normalised_and_checked() {
        let mut s = TenantSettings {
            allowed_origins: vec![
                "https://App.example/".into(),
                "https://app.example".into(),
                "http://localhost:3000".into(),
            ],
            ..Default::default()
        };
        s.normalise().unwrap();
        assert_eq!(
            s.allowed_origins,
            ["https://app.example", "http://localhost:3000"]
        );
        s.validate().unwrap();
        assert!(s.lists_origin("https://app.example"));
        assert!(!s.lists_origin("https://evil.example"));
        assert!(!s.lists_origin("null"));

        s.allowed_origins = vec!["https://App.example".into()];
        assert!(s.validate().is_err(), "stored origins must be normalised");
        s.allowed_origins = vec!["*".into()];
        assert!(s.normalise().is_err());
        s.allowed_origins = (0..=MAX_ALLOWED_ORIGINS)
            .map(|i| format!("https://a{i}.example"))
            .collect();
        s.normalise().unwrap();
        assert!(s.validate().is_err());
    }
}
