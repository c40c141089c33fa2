//! `/api/conversations/{id}/members` and `/mute`: a conversation's
//! members, group membership and roles, and muting.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};

use super::ids;
use crate::{
    api::{Done, Reply, Tag, done, ok},
    auth::BearerAuth,
    domain::{ConversationId, ParticipantId, conversation::MemberRole},
    state::AppState,
    wire::conversation::MemberView,
};

#[derive(Default)]
pub struct ConversationMembersApi;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AddMembersRequest {
    pub member_ids: Vec<uuid::Uuid>,
}

#[derive(Debug, Object)]
pub struct RoleRequest {
    /// `owner` (hands the group over), `admin` or `member`.
    pub role: String,
}

#[derive(Debug, Object)]
pub struct MuteRequest {
    pub muted: bool,
}

#[OpenApi(prefix_path = "/api/conversations", tag = "Tag::Conversations")]
impl ConversationMembersApi {
    /// The conversation's members
    #[oai(path = "/:id/members", method = "get")]
    async fn members(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<Vec<MemberView>> {
        state
            .auth
            .authorize(&auth.0, "conversations", "read")
            .await?;
        let members = state
            .core
            .conversation_members(&auth.0, ConversationId(id.0))
            .await?;
        ok(members.iter().map(MemberView::from).collect())
    }

    /// Add members to a group (its owner and admins)
    #[oai(path = "/:id/members", method = "post")]
    async fn add_members(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        body: Json<AddMembersRequest>,
    ) -> Reply<Vec<MemberView>> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let id = ConversationId(id.0);
        state
            .core
            .add_members(&auth.0, id, &ids(Some(body.0.member_ids)))
            .await?;
        let members = state.core.conversation_members(&auth.0, id).await?;
        ok(members.iter().map(MemberView::from).collect())
    }

    /// Change a member's role in a group (its owner)
    #[oai(path = "/:id/members/:participantId", method = "patch")]
    async fn set_role(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        #[oai(name = "participantId")] participant_id: Path<uuid::Uuid>,
        body: Json<RoleRequest>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let role = MemberRole::parse(&body.0.role)?;
        state
            .core
            .set_member_role(
                &auth.0,
                ConversationId(id.0),
                ParticipantId(participant_id.0),
                role,
            )
            .await?;
        done()
    }

    /// Remove a member from a group, or leave it (your own id)
    #[oai(path = "/:id/members/:participantId", method = "delete")]
    async fn remove_member(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        #[oai(name = "participantId")] participant_id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        state
            .core
            .remove_member(
                &auth.0,
                ConversationId(id.0),
                ParticipantId(participant_id.0),
            )
            .await?;
        done()
    }

    /// Mute or unmute the conversation for the caller
    #[oai(path = "/:id/mute", method = "post")]
    async fn mute(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        body: Json<MuteRequest>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        state
            .core
            .set_muted(&auth.0, ConversationId(id.0), body.0.muted)
            .await?;
        done()
    }
}
