//! `/api/consultations`: consultations between a user and an astrologer,
//! recorded by the tenant's backend (admins or keys with `write`).

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use crate::{
    api::{PageOf, Reply, Tag, ok},
    auth::Caller,
    domain::{
        ConsultationId, ParticipantId, page_limit,
        relationship::{ConsultationFilter, ConsultationStatus},
        values::optional_text,
    },
    state::AppState,
    wire::consultation::ConsultationView,
};

#[derive(Default)]
pub struct ConsultationsApi;

/// Record a consultation; with a known `externalId` it is updated instead.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct RecordConsultationRequest {
    pub user_id: uuid::Uuid,
    pub astrologer_id: uuid::Uuid,
    /// `requested`, `active` (default), `completed` or `cancelled`.
    pub status: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Debug, Object)]
pub struct StatusRequest {
    pub status: String,
}

#[OpenApi(tag = "Tag::Relationships")]
impl ConsultationsApi {
    /// Record a consultation (the tenant's backend: admins or keys with `write`)
    #[oai(path = "/api/consultations", method = "post")]
    async fn record(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<RecordConsultationRequest>,
    ) -> Reply<ConsultationView> {
        state
            .auth
            .authorize(&auth.0, "consultations", "write")
            .await?;
        let body = body.0;
        let status = body
            .status
            .as_deref()
            .map(ConsultationStatus::parse)
            .transpose()?
            .unwrap_or(ConsultationStatus::Active);
        let external = optional_text(body.external_id.as_deref(), "externalId", 64)?;
        let recorded = state
            .core
            .record_consultation(
                &auth.0,
                ParticipantId(body.user_id),
                ParticipantId(body.astrologer_id),
                status,
                external,
            )
            .await?;
        ok(recorded.into())
    }

    /// Consultations: every one for admins and keys, one's own otherwise
    #[oai(path = "/api/consultations", method = "get")]
    async fn consultations(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        #[oai(name = "userId")] user_id: Query<Option<uuid::Uuid>>,
        #[oai(name = "astrologerId")] astrologer_id: Query<Option<uuid::Uuid>>,
        status: Query<Option<String>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u32>>,
    ) -> Reply<PageOf<ConsultationView>> {
        state
            .auth
            .authorize(&auth.0, "consultations", "read")
            .await?;
        let filter = ConsultationFilter {
            user: user_id.0.map(ParticipantId),
            astrologer: astrologer_id.0.map(ParticipantId),
            status: status
                .0
                .as_deref()
                .map(ConsultationStatus::parse)
                .transpose()?,
        };
        let page = state
            .core
            .consultations(&auth.0, &filter, cursor.0.as_deref(), page_limit(limit.0))
            .await?;
        ok(PageOf::from_page(page, ConsultationView::from))
    }

    /// Change a consultation's status
    #[oai(path = "/api/consultations/:id", method = "patch")]
    async fn set_status(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
        body: Json<StatusRequest>,
    ) -> Reply<ConsultationView> {
        state
            .auth
            .authorize(&auth.0, "consultations", "write")
            .await?;
        let status = ConsultationStatus::parse(&body.0.status)?;
        ok(state
            .core
            .set_consultation_status(&auth.0, ConsultationId(id.0), status)
            .await?
            .into())
    }
}
