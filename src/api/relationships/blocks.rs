//! `/api/blocks`: blocking a participant (neither may message or call the
//! other), the caller's blocks, and lifting one.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};

use crate::{
    api::{Done, Reply, Tag, done, ok},
    auth::BearerAuth,
    domain::ParticipantId,
    state::AppState,
};

#[derive(Default)]
pub struct BlocksApi;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct BlockRequest {
    pub participant_id: uuid::Uuid,
}

#[OpenApi(tag = "Tag::Relationships")]
impl BlocksApi {
    /// Block a participant: neither may message or call the other
    #[oai(path = "/api/blocks", method = "post")]
    async fn block(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<BlockRequest>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        state
            .core
            .block(&auth.0, ParticipantId(body.0.participant_id))
            .await?;
        done()
    }

    /// The participants the caller blocked
    #[oai(path = "/api/blocks", method = "get")]
    async fn blocks(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
    ) -> Reply<Vec<uuid::Uuid>> {
        state
            .auth
            .authorize(&auth.0, "conversations", "read")
            .await?;
        ok(state
            .core
            .blocked_by(&auth.0)
            .await?
            .into_iter()
            .map(|p| p.0)
            .collect())
    }

    /// Lift a block
    #[oai(path = "/api/blocks/:participantId", method = "delete")]
    async fn unblock(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        #[oai(name = "participantId")] participant_id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        state
            .core
            .unblock(&auth.0, ParticipantId(participant_id.0))
            .await?;
        done()
    }
}
