//! Push notifications, the tenant's side (issue 15): its FCM and APNs
//! credentials (`/api/settings/push`: write-only, only the ids that name
//! them are shown), the log of recent deliveries (`/api/push/deliveries`),
//! and broadcasts to the tenant's users, astrologers or one participant
//! (`POST /api/notifications/broadcast`).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};

use super::{Done, Reply, Tag, done, ok};
use crate::{
    auth::Caller,
    delivery::push::ApnsEnvironment,
    domain::{
        ParticipantId,
        device::Platform,
        notification::broadcast::{Audience, Broadcast},
        push::{self, ApnsInput, DeliveryState, PushStatus},
    },
    error::AppError,
    state::AppState,
};

#[derive(Default)]
pub struct PushApi;

/// A Firebase service account.
/// Not `Debug`: it holds a private key.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct FcmRequest {
    /// The service account's JSON key file, as text (Firebase console,
    /// Project settings, Service accounts, Generate new private key).
    pub service_account: String,
}

/// An APNs auth key.
/// Not `Debug`: it holds a private key.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct ApnsRequest {
    /// The Apple developer team id (10 characters).
    pub team_id: String,
    /// The key's id (10 characters).
    pub key_id: String,
    /// The app's bundle id (the push topic; `.voip` is added for VoIP pushes).
    pub bundle_id: String,
    /// The `.p8` file's text.
    pub key: String,
    /// `production` (default) or `sandbox` (apps built for development).
    pub environment: Option<String>,
}

/// The tenant's FCM project (never the key).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct FcmView {
    pub project_id: String,
    pub client_email: String,
    pub updated_at: DateTime<Utc>,
}

/// The tenant's APNs key (never the key itself).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApnsView {
    pub team_id: String,
    pub key_id: String,
    pub bundle_id: String,
    pub environment: String,
    pub updated_at: DateTime<Utc>,
}

/// Which push providers the tenant has set.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PushSettingsView {
    pub fcm: Option<FcmView>,
    pub apns: Option<ApnsView>,
}

impl From<PushStatus> for PushSettingsView {
    fn from(s: PushStatus) -> Self {
        Self {
            fcm: s.fcm.map(|f| FcmView {
                project_id: f.project_id,
                client_email: f.client_email,
                updated_at: f.updated_at,
            }),
            apns: s.apns.map(|a| ApnsView {
                team_id: a.team_id,
                key_id: a.key_id,
                bundle_id: a.bundle_id,
                environment: a.environment.as_str().to_owned(),
                updated_at: a.updated_at,
            }),
        }
    }
}

/// One push to one device.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: uuid::Uuid,
    pub participant_id: uuid::Uuid,
    pub device_id: uuid::Uuid,
    /// `fcm` or `apns`.
    pub provider: String,
    /// `alert`, `call` or `call_cancel`.
    pub kind: String,
    /// `pending`, `sending`, `sent`, `failed` or `dropped`.
    pub state: String,
    pub attempts: u16,
    /// The provider's HTTP status of the last attempt.
    pub status_code: Option<u16>,
    /// Why the last attempt failed (or why it was dropped).
    pub error: Option<String>,
    pub latency_ms: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// When a pending delivery is tried next.
    pub next_at: DateTime<Utc>,
}

impl From<push::Delivery> for DeliveryView {
    fn from(d: push::Delivery) -> Self {
        Self {
            id: d.id,
            participant_id: d.participant_id.0,
            device_id: d.device_id,
            provider: d.provider.as_str().to_owned(),
            kind: d.kind.as_str().to_owned(),
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            status_code: d.status_code,
            error: d.error,
            latency_ms: d.latency_ms,
            created_at: d.created_at,
            sent_at: d.sent_at,
            next_at: d.next_at,
        }
    }
}

/// An announcement.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct BroadcastRequest {
    /// `users`, `astrologers` or `participant`.
    pub audience: String,
    /// The one participant, for the audience `participant`.
    pub participant_id: Option<uuid::Uuid>,
    /// Defaults to the tenant's name (at most 120 characters).
    pub title: Option<String>,
    /// 1-255 characters.
    pub body: String,
}

/// A broadcast sent: its recipients' inbox entries and pushes follow.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct BroadcastView {
    pub id: uuid::Uuid,
    pub audience: String,
    pub participant_id: Option<uuid::Uuid>,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl From<Broadcast> for BroadcastView {
    fn from(b: Broadcast) -> Self {
        Self {
            id: b.id,
            audience: b.audience.as_str().to_owned(),
            participant_id: b.participant_id.map(|p| p.0),
            title: b.title,
            body: b.body,
            created_at: b.created_at,
        }
    }
}

async fn clear(state: &AppState, auth: &Caller, provider: Platform) -> Reply<Done> {
    state.auth.authorize(&auth.0, "settings", "write").await?;
    state.core.clear_push(&auth.0, provider).await?;
    done()
}

#[OpenApi(tag = "Tag::Notifications")]
impl PushApi {
    /// The tenant's push providers (never their keys)
    #[oai(path = "/api/settings/push", method = "get", tag = "Tag::Settings")]
    async fn status(&self, Data(state): Data<&AppState>, auth: Caller) -> Reply<PushSettingsView> {
        state.auth.authorize(&auth.0, "settings", "read").await?;
        ok(state.core.push_status(auth.0.tenant()?).await?.into())
    }

    /// Set the tenant's FCM service account (write-only)
    #[oai(path = "/api/settings/push/fcm", method = "put", tag = "Tag::Settings")]
    async fn set_fcm(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<FcmRequest>,
    ) -> Reply<PushSettingsView> {
        state.auth.authorize(&auth.0, "settings", "write").await?;
        ok(state
            .core
            .set_fcm(&auth.0, &body.0.service_account)
            .await?
            .into())
    }

    /// Set the tenant's APNs auth key (write-only)
    #[oai(
        path = "/api/settings/push/apns",
        method = "put",
        tag = "Tag::Settings"
    )]
    async fn set_apns(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<ApnsRequest>,
    ) -> Reply<PushSettingsView> {
        state.auth.authorize(&auth.0, "settings", "write").await?;
        let b = body.0;
        let environment = match b.environment.as_deref().map(str::trim) {
            None | Some("") => ApnsEnvironment::Production,
            Some(raw) => ApnsEnvironment::from_str_opt(raw)
                .ok_or_else(|| AppError::validation("environment must be production or sandbox"))?,
        };
        let input = ApnsInput {
            team_id: &b.team_id,
            key_id: &b.key_id,
            bundle_id: &b.bundle_id,
            key: &b.key,
            environment,
        };
        ok(state.core.set_apns(&auth.0, input).await?.into())
    }

    /// Remove the tenant's FCM credentials (its Android pushes stop)
    #[oai(
        path = "/api/settings/push/fcm",
        method = "delete",
        tag = "Tag::Settings"
    )]
    async fn clear_fcm(&self, Data(state): Data<&AppState>, auth: Caller) -> Reply<Done> {
        clear(state, &auth, Platform::Fcm).await
    }

    /// Remove the tenant's APNs key (its iOS pushes stop)
    #[oai(
        path = "/api/settings/push/apns",
        method = "delete",
        tag = "Tag::Settings"
    )]
    async fn clear_apns(&self, Data(state): Data<&AppState>, auth: Caller) -> Reply<Done> {
        clear(state, &auth, Platform::Apns).await
    }

    /// The tenant's newest push deliveries (newest first)
    #[oai(path = "/api/push/deliveries", method = "get")]
    async fn deliveries(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        /// Only those in this state: pending, sending, sent, failed, dropped.
        #[oai(name = "state")]
        state_filter: Query<Option<String>>,
        /// At most this many (1-200; default 50).
        limit: Query<Option<u32>>,
    ) -> Reply<Vec<DeliveryView>> {
        state.auth.authorize(&auth.0, "settings", "read").await?;
        let only = match state_filter.0.as_deref() {
            None => None,
            Some(raw) => Some(DeliveryState::from_str_opt(raw).ok_or_else(|| {
                AppError::validation("state must be pending, sending, sent, failed or dropped")
            })?),
        };
        let limit = limit.0.unwrap_or(50).clamp(1, 200);
        let list = state.core.push_deliveries(&auth.0, only, limit).await?;
        ok(list.into_iter().map(Into::into).collect())
    }

    /// Send an announcement to the tenant's users, astrologers or one participant
    #[oai(path = "/api/notifications/broadcast", method = "post")]
    async fn broadcast(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<BroadcastRequest>,
    ) -> Reply<BroadcastView> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        let b = body.0;
        let audience = Audience::from_str_opt(b.audience.trim()).ok_or_else(|| {
            AppError::validation("audience must be users, astrologers or participant")
        })?;
        let sent = state
            .core
            .broadcast(
                &auth.0,
                audience,
                b.participant_id.map(ParticipantId),
                b.title.as_deref(),
                &b.body,
            )
            .await?;
        ok(sent.into())
    }
}
