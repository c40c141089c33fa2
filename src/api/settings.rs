//! `/api/settings`: the tenant's tunables (OTP behaviour, rate limits,
//! self-registration, allowed origins), read and changed by its admins.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json};

use super::{Reply, Tag, ok};
use crate::{
    auth::Caller,
    domain::{
        file::{FileKind, MediaRules},
        guard::{GuardMode, GuardRules},
        settings::{ErasedMessages, Rate, TenantSettings},
        values::Region,
    },
    error::{AppError, AppResult},
    state::AppState,
};

#[derive(Default)]
pub struct SettingsApi;

/// At most `max` events per `perSeconds` seconds.
#[derive(Object, Clone, Copy)]
#[oai(rename_all = "camelCase")]
pub struct RateView {
    pub max: u32,
    pub per_seconds: u32,
}

impl From<Rate> for RateView {
    fn from(r: Rate) -> Self {
        Self {
            max: r.max,
            per_seconds: r.per_secs,
        }
    }
}

impl From<RateView> for Rate {
    fn from(r: RateView) -> Self {
        Rate::new(r.max, r.per_seconds)
    }
}

/// The tenant's settings. In a `PATCH`, absent fields stay as they are.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct SettingsView {
    /// Seconds a one-time code stays valid (60-3600; default 300).
    pub otp_ttl_seconds: Option<u32>,
    /// Wrong codes allowed before a code is spent (1-10; default 5).
    pub otp_max_attempts: Option<u8>,
    /// Seconds before another code may go to the same destination (default 30).
    pub otp_resend_cooldown_seconds: Option<u32>,
    /// Whether people may create their own accounts (default true).
    pub allow_self_registration: Option<bool>,
    /// ISO 3166 region in which phone numbers without `+` are read (default `IN`).
    pub default_region: Option<String>,
    pub login_per_ip: Option<RateView>,
    pub login_per_account: Option<RateView>,
    pub otp_send_per_ip: Option<RateView>,
    pub otp_send_per_destination: Option<RateView>,
    pub otp_verify_per_ip: Option<RateView>,
    pub otp_verify_per_destination: Option<RateView>,
    /// Longest message in characters (1-20000; default 4000).
    pub max_message_chars: Option<u32>,
    /// Seconds after sending during which a message may be edited (default 900).
    pub message_edit_window_seconds: Option<u32>,
    /// Messages one participant may send (default 30 per 60 s).
    pub messages_per_participant: Option<RateView>,
    /// Seconds a call rings before it is missed (1-600; default 60).
    pub ring_timeout_seconds: Option<u32>,
    /// Calls one participant may start (default 5 per 3600 s).
    pub calls_per_participant: Option<RateView>,
    /// Lifetime of the Agora tokens issued for calls (60-86400; default 3600).
    pub call_token_ttl_seconds: Option<u32>,
    /// Web origins (`https://app.example`, at most 50) from which browsers may
    /// act for this tenant: login, codes, API calls, Socket.IO. Others get 403
    /// `origin_not_allowed`. Empty (the default): no restriction beyond the
    /// server's CORS list. Requests without an `Origin` header (mobile and
    /// desktop apps, servers) are never affected. Stored lower-case, without
    /// a trailing slash.
    pub allowed_origins: Option<Vec<String>>,
    /// Files: which kinds may be sent, their sizes, the storage quota.
    pub media: Option<MediaView>,
    /// Days notifications are kept, read or not (1-3650; default 90).
    pub notification_retention_days: Option<u32>,
    /// Pushes say "New message" instead of the message's text (default false).
    pub push_hide_text: Option<bool>,
    /// Minutes messages stay unread before an email digest, per kind of
    /// participant (0: no digests; default users 0, astrologers and admins 30).
    pub email_digest_minutes: Option<DigestView>,
    /// The off-platform contact guard: what happens to a user's or an
    /// astrologer's message (in their conversations) that carries a phone
    /// number, an email, a link or a handle.
    pub contact_guard: Option<GuardView>,
    /// Days messages (with their files), call history and the audit log
    /// are kept (0, the default: for ever). Older ones are deleted by a
    /// background worker in small batches.
    pub retention: Option<RetentionView>,
    /// What erasing a participant does to the messages they sent:
    /// `tombstone` (default: deleted for everyone, their place kept) or
    /// `keep` (kept, under "Deleted user").
    pub erased_messages: Option<String>,
}

/// Retention in days (0: keep; at most 36500). In a `PATCH`, absent
/// fields stay as they are.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct RetentionView {
    pub messages_days: Option<u32>,
    pub calls_days: Option<u32>,
    pub audit_days: Option<u32>,
}

/// The contact guard. In a `PATCH`, absent fields stay as they are.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct GuardView {
    /// `off` (default), `mask` (delivered with each match replaced by
    /// `•••`) or `block` (refused: 422 `contact_details`).
    pub mode: Option<String>,
    /// Look for phone numbers (ten or more digits; default true).
    pub phones: Option<bool>,
    /// Look for email addresses, spelt out too (default true).
    pub emails: Option<bool>,
    /// Look for links and domain names (default true).
    pub links: Option<bool>,
    /// Look for `@handles` and messaging apps' names (default true).
    pub handles: Option<bool>,
    /// Regular expressions of the tenant's own, case-insensitive (at most 20).
    pub patterns: Option<Vec<String>>,
}

impl GuardView {
    fn of(g: &GuardRules) -> Self {
        Self {
            mode: Some(g.mode.as_str().to_owned()),
            phones: Some(g.phones),
            emails: Some(g.emails),
            links: Some(g.links),
            handles: Some(g.handles),
            patterns: Some(g.patterns.clone()),
        }
    }

    fn apply_to(self, g: &mut GuardRules) -> AppResult<()> {
        if let Some(mode) = self.mode {
            g.mode = GuardMode::from_str_opt(mode.trim()).ok_or_else(|| {
                AppError::validation("contactGuard.mode must be off, mask or block")
            })?;
        }
        g.phones = self.phones.unwrap_or(g.phones);
        g.emails = self.emails.unwrap_or(g.emails);
        g.links = self.links.unwrap_or(g.links);
        g.handles = self.handles.unwrap_or(g.handles);
        if let Some(patterns) = self.patterns {
            g.patterns = patterns;
        }
        Ok(())
    }
}

/// Email digest delays in minutes (0-10080; 0 sends none). In a `PATCH`,
/// absent fields stay as they are.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct DigestView {
    pub users: Option<u32>,
    pub astrologers: Option<u32>,
    pub admins: Option<u32>,
}

/// The tenant's rules for files. In a `PATCH`, absent fields stay as they are.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct MediaView {
    /// `image`, `audio`, `video`, `file` (default all four). Programs are never taken.
    pub allowed_kinds: Option<Vec<String>>,
    /// Largest image in bytes (1 KiB-2 GiB; default 10 MiB).
    pub image_max_bytes: Option<u64>,
    /// Largest audio file in bytes (default 10 MiB).
    pub audio_max_bytes: Option<u64>,
    /// Longest audio in seconds (1-3600; default 600).
    pub audio_max_seconds: Option<u32>,
    /// Largest video in bytes (default 50 MiB).
    pub video_max_bytes: Option<u64>,
    /// Largest other file in bytes (default 25 MiB).
    pub file_max_bytes: Option<u64>,
    /// Bytes the tenant may store in all (default 10 GiB).
    pub storage_quota_bytes: Option<u64>,
}

impl MediaView {
    fn of(m: &MediaRules) -> Self {
        Self {
            allowed_kinds: Some(
                m.allowed_kinds
                    .iter()
                    .map(|k| k.as_str().to_owned())
                    .collect(),
            ),
            image_max_bytes: Some(m.image_max_bytes),
            audio_max_bytes: Some(m.audio_max_bytes),
            audio_max_seconds: Some(m.audio_max_secs),
            video_max_bytes: Some(m.video_max_bytes),
            file_max_bytes: Some(m.file_max_bytes),
            storage_quota_bytes: Some(m.storage_quota_bytes),
        }
    }

    fn apply_to(self, m: &mut MediaRules) -> AppResult<()> {
        if let Some(kinds) = self.allowed_kinds {
            m.allowed_kinds = kinds
                .iter()
                .map(|k| {
                    FileKind::from_str_opt(k.trim()).ok_or_else(|| {
                        AppError::validation("media.allowedKinds lists image, audio, video or file")
                    })
                })
                .collect::<AppResult<_>>()?;
        }
        m.image_max_bytes = self.image_max_bytes.unwrap_or(m.image_max_bytes);
        m.audio_max_bytes = self.audio_max_bytes.unwrap_or(m.audio_max_bytes);
        m.audio_max_secs = self.audio_max_seconds.unwrap_or(m.audio_max_secs);
        m.video_max_bytes = self.video_max_bytes.unwrap_or(m.video_max_bytes);
        m.file_max_bytes = self.file_max_bytes.unwrap_or(m.file_max_bytes);
        m.storage_quota_bytes = self.storage_quota_bytes.unwrap_or(m.storage_quota_bytes);
        Ok(())
    }
}

impl SettingsView {
    fn of(s: &TenantSettings, region: String) -> Self {
        Self {
            default_region: Some(region),
            otp_ttl_seconds: Some(s.otp_ttl_secs),
            otp_max_attempts: Some(s.otp_max_attempts),
            otp_resend_cooldown_seconds: Some(s.otp_resend_cooldown_secs),
            allow_self_registration: Some(s.allow_self_registration),
            login_per_ip: Some(s.login_per_ip.into()),
            login_per_account: Some(s.login_per_account.into()),
            otp_send_per_ip: Some(s.otp_send_per_ip.into()),
            otp_send_per_destination: Some(s.otp_send_per_destination.into()),
            otp_verify_per_ip: Some(s.otp_verify_per_ip.into()),
            otp_verify_per_destination: Some(s.otp_verify_per_destination.into()),
            max_message_chars: Some(s.max_message_chars),
            message_edit_window_seconds: Some(s.message_edit_window_secs),
            messages_per_participant: Some(s.messages_per_participant.into()),
            ring_timeout_seconds: Some(s.ring_timeout_secs),
            calls_per_participant: Some(s.calls_per_participant.into()),
            call_token_ttl_seconds: Some(s.call_token_ttl_secs),
            allowed_origins: Some(s.allowed_origins.clone()),
            media: Some(MediaView::of(&s.media)),
            notification_retention_days: Some(s.notification_retention_days),
            push_hide_text: Some(s.push_hide_text),
            email_digest_minutes: Some(DigestView {
                users: Some(s.email_digest.users),
                astrologers: Some(s.email_digest.astrologers),
                admins: Some(s.email_digest.admins),
            }),
            contact_guard: Some(GuardView::of(&s.contact_guard)),
            retention: Some(RetentionView {
                messages_days: Some(s.retention.messages_days),
                calls_days: Some(s.retention.calls_days),
                audit_days: Some(s.retention.audit_days),
            }),
            erased_messages: Some(s.erased_messages.as_str().to_owned()),
        }
    }
}

impl SettingsView {
    /// `current` with the fields this view sets.
    fn apply_to(self, current: &TenantSettings) -> AppResult<TenantSettings> {
        let mut s = current.clone();
        if let Some(media) = self.media {
            media.apply_to(&mut s.media)?;
        }
        let rate = |new: Option<RateView>, old: Rate| new.map_or(old, Rate::from);
        s.otp_ttl_secs = self.otp_ttl_seconds.unwrap_or(s.otp_ttl_secs);
        s.otp_max_attempts = self.otp_max_attempts.unwrap_or(s.otp_max_attempts);
        s.otp_resend_cooldown_secs = self
            .otp_resend_cooldown_seconds
            .unwrap_or(s.otp_resend_cooldown_secs);
        s.allow_self_registration = self
            .allow_self_registration
            .unwrap_or(s.allow_self_registration);
        s.login_per_ip = rate(self.login_per_ip, s.login_per_ip);
        s.login_per_account = rate(self.login_per_account, s.login_per_account);
        s.otp_send_per_ip = rate(self.otp_send_per_ip, s.otp_send_per_ip);
        s.otp_send_per_destination =
            rate(self.otp_send_per_destination, s.otp_send_per_destination);
        s.otp_verify_per_ip = rate(self.otp_verify_per_ip, s.otp_verify_per_ip);
        s.otp_verify_per_destination = rate(
            self.otp_verify_per_destination,
            s.otp_verify_per_destination,
        );
        s.max_message_chars = self.max_message_chars.unwrap_or(s.max_message_chars);
        s.message_edit_window_secs = self
            .message_edit_window_seconds
            .unwrap_or(s.message_edit_window_secs);
        s.messages_per_participant =
            rate(self.messages_per_participant, s.messages_per_participant);
        s.ring_timeout_secs = self.ring_timeout_seconds.unwrap_or(s.ring_timeout_secs);
        s.calls_per_participant = rate(self.calls_per_participant, s.calls_per_participant);
        s.call_token_ttl_secs = self.call_token_ttl_seconds.unwrap_or(s.call_token_ttl_secs);
        if let Some(origins) = self.allowed_origins {
            s.allowed_origins = origins;
        }
        s.notification_retention_days = self
            .notification_retention_days
            .unwrap_or(s.notification_retention_days);
        s.push_hide_text = self.push_hide_text.unwrap_or(s.push_hide_text);
        if let Some(d) = self.email_digest_minutes {
            let e = &mut s.email_digest;
            e.users = d.users.unwrap_or(e.users);
            e.astrologers = d.astrologers.unwrap_or(e.astrologers);
            e.admins = d.admins.unwrap_or(e.admins);
        }
        if let Some(g) = self.contact_guard {
            g.apply_to(&mut s.contact_guard)?;
        }
        if let Some(r) = self.retention {
            let k = &mut s.retention;
            k.messages_days = r.messages_days.unwrap_or(k.messages_days);
            k.calls_days = r.calls_days.unwrap_or(k.calls_days);
            k.audit_days = r.audit_days.unwrap_or(k.audit_days);
        }
        if let Some(raw) = self.erased_messages {
            s.erased_messages = ErasedMessages::from_str_opt(raw.trim())
                .ok_or_else(|| AppError::validation("erasedMessages must be tombstone or keep"))?;
        }
        Ok(s)
    }
}

#[OpenApi(prefix_path = "/api/settings", tag = "Tag::Settings")]
impl SettingsApi {
    /// The tenant's settings
    #[oai(path = "/", method = "get")]
    async fn get(&self, Data(state): Data<&AppState>, auth: Caller) -> Reply<SettingsView> {
        state.auth.authorize(&auth.0, "settings", "read").await?;
        let tenant = state.core.tenant(auth.0.tenant()?).await?;
        let settings = state.core.settings_of(tenant.id).await?;
        ok(SettingsView::of(&settings, tenant.default_region))
    }

    /// Change some settings; values out of bounds are refused (422)
    #[oai(path = "/", method = "patch")]
    async fn update(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<SettingsView>,
    ) -> Reply<SettingsView> {
        state.auth.authorize(&auth.0, "settings", "write").await?;
        let tenant = auth.0.tenant()?;
        let region = body
            .0
            .default_region
            .as_deref()
            .map(Region::parse)
            .transpose()?;
        let current = state.core.settings_of(tenant).await?;
        let updated = state
            .core
            .update_settings(&auth.0, body.0.apply_to(&current)?, region)
            .await?;
        let region = state.core.tenant(tenant).await?.default_region;
        ok(SettingsView::of(&updated, region))
    }
}
