//! Calls (seed 004): initiate, accept, reject, end, tokens, history; and the
//! tenant's Agora credentials (write-only).

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{Done, PageOf, Reply, Tag, done, ok};
use crate::{
    auth::{BearerAuth, Caller},
    domain::{
        CallId, ParticipantId,
        call::{CallFilter, CallStatus, CallType, Transport},
    },
    error::AppError,
    state::AppState,
    wire::call::{CallJoinView, CallView, InitiateRequest, JoinView},
};

#[derive(Default)]
pub struct CallsApi;

/// Set the tenant's Agora project.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AgoraRequest {
    /// 32 hex characters.
    pub app_id: String,
    /// 32 hex characters; stored sealed, never returned.
    pub app_certificate: String,
}

/// Whether Agora is configured (the credentials themselves are never shown).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AgoraStatus {
    pub configured: bool,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn parse_time(
    raw: Option<String>,
    name: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
    raw.map(|t| {
        chrono::DateTime::parse_from_rfc3339(t.trim())
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| AppError::validation(format!("{name} must be an RFC 3339 time")))
    })
    .transpose()
}

async fn initiate(
    state: &AppState,
    auth: &BearerAuth,
    body: InitiateRequest,
) -> Reply<CallJoinView> {
    state.auth.authorize(&auth.0, "calls", "write").await?;
    let new = body.into_new(Transport::Agora)?;
    let (call, join) = state.core.initiate_call(&auth.0, new).await?;
    ok(CallJoinView::of(&call, &join))
}

#[OpenApi(tag = "Tag::Calls")]
impl CallsApi {
    /// Place a call (Agora); the callee's devices get `call:incoming`
    ///
    /// The relationship rules of messages apply. 409 `busy` when either
    /// party is in a live call (a `busy` call is recorded); 409
    /// `agora_not_configured` until an admin sets the tenant's Agora project.
    #[oai(path = "/api/calls/initiate", method = "post")]
    async fn initiate(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<InitiateRequest>,
    ) -> Reply<CallJoinView> {
        initiate(state, &auth, body.0).await
    }

    /// An admin calls an astrologer (seed 004)
    #[oai(path = "/api/admin/calls/initiate", method = "post")]
    async fn admin_initiate(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<InitiateRequest>,
    ) -> Reply<CallJoinView> {
        if !auth.0.is_admin() {
            return Err(AppError::forbidden(
                "only admins use the admin call endpoint",
            ));
        }
        initiate(state, &auth, body.0).await
    }

    /// The callee picks up; returns the callee's join
    #[oai(path = "/api/calls/:id/accept", method = "post")]
    async fn accept(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<CallJoinView> {
        state.auth.authorize(&auth.0, "calls", "write").await?;
        let (call, join) = state.core.accept_call(&auth.0, CallId(id.0)).await?;
        ok(CallJoinView::of(&call, &join))
    }

    /// The callee declines
    #[oai(path = "/api/calls/:id/reject", method = "post")]
    async fn reject(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<CallView> {
        state.auth.authorize(&auth.0, "calls", "write").await?;
        let call = state.core.reject_call(&auth.0, CallId(id.0)).await?;
        ok((&call).into())
    }

    /// Hang up: ends an answered call, cancels a ringing one (caller) or
    /// declines it (callee)
    ///
    /// The server computes the duration from the answered and ended times; a
    /// body (seed clients send `{duration}`) is ignored.
    #[oai(path = "/api/calls/:id/end", method = "post")]
    async fn end(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<CallView> {
        state.auth.authorize(&auth.0, "calls", "write").await?;
        let call = state.core.hang_up(&auth.0, CallId(id.0)).await?;
        ok((&call).into())
    }

    /// A fresh token for a party of a live call (renewal, rejoin)
    #[oai(path = "/api/calls/:id/token", method = "post")]
    async fn token(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<JoinView> {
        state.auth.authorize(&auth.0, "calls", "write").await?;
        let join = state.core.call_token(&auth.0, CallId(id.0)).await?;
        ok((&join).into())
    }

    /// An admin's channel and token (seed 004): for a live call of the
    /// tenant (`callId`), or a new channel
    #[oai(path = "/api/calls/admin/token", method = "post")]
    async fn admin_token(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        /// A live call of the tenant to join.
        #[oai(name = "callId")]
        call_id: Query<Option<uuid::Uuid>>,
    ) -> Reply<JoinView> {
        state.auth.authorize(&auth.0, "calls", "write").await?;
        let call = call_id.0.map(CallId);
        let join = state.core.admin_call_token(&auth.0, call).await?;
        ok((&join).into())
    }

    /// Call history, newest first: one's own calls (admins and API keys:
    /// the tenant's)
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/api/calls/history", method = "get")]
    async fn history(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        /// Calls with this participant as caller or callee.
        #[oai(name = "participantId")]
        participant_id: Query<Option<uuid::Uuid>>,
        /// `voice` or `video`.
        #[oai(name = "type")]
        kind: Query<Option<String>>,
        /// Same as `type`.
        #[oai(name = "callType")]
        call_type: Query<Option<String>>,
        status: Query<Option<String>>,
        /// Calls placed at or after this time (RFC 3339).
        from: Query<Option<String>>,
        /// Calls placed before this time (RFC 3339).
        to: Query<Option<String>>,
        cursor: Query<Option<String>>,
        /// 1-100, default 20.
        limit: Query<Option<u32>>,
    ) -> Reply<PageOf<CallView>> {
        state.auth.authorize(&auth.0, "calls", "read").await?;
        let filter = CallFilter {
            participant: participant_id.0.map(ParticipantId),
            call_type: kind
                .0
                .or(call_type.0)
                .as_deref()
                .map(CallType::parse)
                .transpose()?,
            status: status.0.as_deref().map(CallStatus::parse).transpose()?,
            from: parse_time(from.0, "from")?,
            to: parse_time(to.0, "to")?,
            cursor: cursor.0,
            limit: limit.0,
        };
        let page = state.core.call_history(&auth.0, filter).await?;
        ok(PageOf::from_page(page, |c| CallView::from(&c)))
    }

    /// One call (its parties and the tenant's admins)
    #[oai(path = "/api/calls/:id", method = "get")]
    async fn get(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<CallView> {
        state.auth.authorize(&auth.0, "calls", "read").await?;
        let call = state.core.call(&auth.0, CallId(id.0)).await?;
        ok((&call).into())
    }

    /// Whether the tenant's Agora project is set (never the credentials)
    #[oai(path = "/api/settings/agora", method = "get", tag = "Tag::Settings")]
    async fn agora(&self, Data(state): Data<&AppState>, auth: Caller) -> Reply<AgoraStatus> {
        state.auth.authorize(&auth.0, "settings", "read").await?;
        let updated_at = state.core.agora_updated_at(auth.0.tenant()?).await?;
        ok(AgoraStatus {
            configured: updated_at.is_some(),
            updated_at,
        })
    }

    /// Set the tenant's Agora app id and certificate (write-only)
    #[oai(path = "/api/settings/agora", method = "put", tag = "Tag::Settings")]
    async fn set_agora(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<AgoraRequest>,
    ) -> Reply<AgoraStatus> {
        state.auth.authorize(&auth.0, "settings", "write").await?;
        let updated_at = state
            .core
            .set_agora(&auth.0, &body.0.app_id, &body.0.app_certificate)
            .await?;
        ok(AgoraStatus {
            configured: true,
            updated_at: Some(updated_at),
        })
    }

    /// Remove the tenant's Agora credentials (Agora calls stop)
    #[oai(path = "/api/settings/agora", method = "delete", tag = "Tag::Settings")]
    async fn clear_agora(&self, Data(state): Data<&AppState>, auth: Caller) -> Reply<Done> {
        state.auth.authorize(&auth.0, "settings", "write").await?;
        state.core.clear_agora(&auth.0).await?;
        done()
    }
}
