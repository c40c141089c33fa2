//! `/api/webhooks`: the tenant's webhook endpoints (issue 17): register
//! one (its signing secret is in that answer only), change, turn off or
//! on, delete, replace the secret; the delivery log of each, and sending
//! a delivery again. Admins (`settings`). Deliveries follow the Standard
//! Webhooks format: see `delivery::webhook` and the README.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{Done, Reply, Tag, done, ok};
use crate::{
    auth::Caller,
    domain::webhook::{
        self, DeliveryState, Endpoint, EndpointInput, EndpointUpdate, EventType, NewEndpoint,
    },
    error::AppError,
    state::AppState,
};

#[derive(Default)]
pub struct WebhooksApi;

/// A new endpoint.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateWebhookRequest {
    /// Where events are POSTed: `https://...` on a public address.
    pub url: String,
    /// The event types to send (at least one): `message.created`,
    /// `message.updated`, `message.deleted`, `conversation.created`,
    /// `member.added`, `member.removed`, `call.started`, `call.ended`,
    /// `call.missed`, `chat_request.created`, `chat_request.accepted`,
    /// `participant.created`, `consultation.updated`.
    pub event_types: Vec<String>,
    /// A note for the tenant's admins (at most 255 characters).
    pub description: Option<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

/// Changes to an endpoint; what is left out stays.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateWebhookRequest {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// An empty string clears it.
    pub description: Option<String>,
    /// `true` also clears why Samvad turned it off; `false` gives up its
    /// waiting deliveries.
    pub enabled: Option<bool>,
}

/// An endpoint (never its secret).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: uuid::Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why Samvad turned it off (a 410 answer, failing for 3 days).
    pub disabled_reason: Option<String>,
    /// Failing since (the first failure after the last success).
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Endpoint> for WebhookView {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types.0,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its signing secret: shown this once.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookWithSecret {
    pub endpoint: WebhookView,
    /// `whsec_...`: verify each delivery's `webhook-signature` with it
    /// (any Standard Webhooks library). Not shown again.
    pub secret: String,
}

impl From<NewEndpoint> for WebhookWithSecret {
    fn from(n: NewEndpoint) -> Self {
        Self {
            endpoint: n.endpoint.into(),
            secret: n.secret,
        }
    }
}

/// One event to one endpoint, as last tried.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookDeliveryView {
    pub id: uuid::Uuid,
    /// The `webhook-id` header of every attempt.
    pub webhook_id: String,
    pub event_type: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub state: String,
    pub attempts: u16,
    /// When a pending delivery is tried next.
    pub next_at: DateTime<Utc>,
    /// The receiver's HTTP status of the last attempt.
    pub status_code: Option<u16>,
    /// The first bytes of the receiver's last answer.
    pub response_body: Option<String>,
    /// Why the last attempt failed, when no status says.
    pub error: Option<String>,
    pub latency_ms: Option<u32>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The JSON body, exactly as signed and sent.
    pub body: String,
}

impl From<webhook::Delivery> for WebhookDeliveryView {
    fn from(d: webhook::Delivery) -> Self {
        Self {
            webhook_id: d.webhook_id(),
            id: d.id,
            event_type: d.event_type,
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            next_at: d.next_at,
            status_code: d.status_code,
            response_body: d.response_body,
            error: d.error,
            latency_ms: d.latency_ms,
            sent_at: d.sent_at,
            created_at: d.created_at,
            body: d.body,
        }
    }
}

#[OpenApi(tag = "Tag::Webhooks")]
impl WebhooksApi {
    /// The event types an endpoint can ask for
    #[oai(path = "/api/webhooks/event-types", method = "get")]
    async fn event_types(&self, Data(state): Data<&AppState>, auth: Caller) -> Reply<Vec<String>> {
        state.auth.authorize(&auth.0, "settings", "read").await?;
        ok(EventType::ALL
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect())
    }

    /// The tenant's webhook endpoints (newest first)
    #[oai(path = "/api/webhooks", method = "get")]
    async fn list(&self, Data(state): Data<&AppState>, auth: Caller) -> Reply<Vec<WebhookView>> {
        state.auth.authorize(&auth.0, "settings", "read").await?;
        let list = state.core.webhook_endpoints(&auth.0).await?;
        ok(list.into_iter().map(Into::into).collect())
    }

    /// Register a webhook endpoint (its secret is shown in this answer only)
    #[oai(path = "/api/webhooks", method = "post")]
    async fn create(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<CreateWebhookRequest>,
    ) -> Reply<WebhookWithSecret> {
        state.auth.authorize(&auth.0, "settings", "write").await?;
        let b = body.0;
        let input = EndpointInput {
            url: b.url,
            description: b.description,
            event_types: b.event_types,
            enabled: b.enabled.unwrap_or(true),
        };
        ok(state.core.create_webhook(&auth.0, input).await?.into())
    }

    /// One webhook endpoint
    #[oai(path = "/api/webhooks/:id", method = "get")]
    async fn get(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<WebhookView> {
        state.auth.authorize(&auth.0, "settings", "read").await?;
        ok(state.core.webhook_endpoint(&auth.0, id.0).await?.into())
    }

    /// Change a webhook endpoint, or turn it off or on
    #[oai(path = "/api/webhooks/:id", method = "patch")]
    async fn update(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
        body: Json<UpdateWebhookRequest>,
    ) -> Reply<WebhookView> {
        state.auth.authorize(&auth.0, "settings", "write").await?;
        let b = body.0;
        let update = EndpointUpdate {
            url: b.url,
            description: b.description,
            event_types: b.event_types,
            enabled: b.enabled,
        };
        ok(state
            .core
            .update_webhook(&auth.0, id.0, update)
            .await?
            .into())
    }

    /// Delete a webhook endpoint and its delivery log
    #[oai(path = "/api/webhooks/:id", method = "delete")]
    async fn delete(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state.auth.authorize(&auth.0, "settings", "write").await?;
        state.core.delete_webhook(&auth.0, id.0).await?;
        done()
    }

    /// Replace a webhook endpoint's secret (the new one is shown in this answer only)
    #[oai(path = "/api/webhooks/:id/secret", method = "post")]
    async fn rotate(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<WebhookWithSecret> {
        state.auth.authorize(&auth.0, "settings", "write").await?;
        ok(state
            .core
            .rotate_webhook_secret(&auth.0, id.0)
            .await?
            .into())
    }

    /// A webhook endpoint's newest deliveries (newest first)
    #[oai(path = "/api/webhooks/:id/deliveries", method = "get")]
    async fn deliveries(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
        /// Only those in this state: pending, sending, sent, failed.
        #[oai(name = "state")]
        state_filter: Query<Option<String>>,
        /// At most this many (1-200; default 50).
        limit: Query<Option<u32>>,
    ) -> Reply<Vec<WebhookDeliveryView>> {
        state.auth.authorize(&auth.0, "settings", "read").await?;
        let only = match state_filter.0.as_deref() {
            None => None,
            Some(raw) => Some(DeliveryState::from_str_opt(raw).ok_or_else(|| {
                AppError::validation("state must be pending, sending, sent or failed")
            })?),
        };
        let limit = limit.0.unwrap_or(50).clamp(1, 200);
        let list = state
            .core
            .webhook_deliveries(&auth.0, id.0, only, limit)
            .await?;
        ok(list.into_iter().map(Into::into).collect())
    }

    /// Send a delivery again now (same webhook-id and body)
    #[oai(
        path = "/api/webhooks/:id/deliveries/:delivery_id/resend",
        method = "post"
    )]
    async fn resend(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
        delivery_id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state.auth.authorize(&auth.0, "settings", "write").await?;
        state
            .core
            .resend_webhook(&auth.0, id.0, delivery_id.0)
            .await?;
        done()
    }
}
