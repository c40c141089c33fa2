//! `/api/contacts/*`: which address-book numbers belong to participants,
//! and opening the direct conversation with one.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json};

use crate::{
    api::{Reply, Tag, conversations, ok},
    auth::BearerAuth,
    domain::{ParticipantId, conversation::DirectKey},
    error::AppError,
    state::AppState,
    wire::{conversation::ConversationDto, participant::ParticipantView},
};

#[derive(Default)]
pub struct ContactsApi;

#[derive(Debug, Object)]
pub struct SyncRequest {
    /// Phone numbers from the address book (E.164 or national format).
    pub phones: Vec<String>,
}

/// A number of the address book that belongs to a participant.
#[derive(Debug, Object)]
pub struct ContactMatch {
    /// As it was sent.
    pub phone: String,
    pub participant: ParticipantView,
}

/// Start chatting with someone by `participantId` or `phone`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct StartChatRequest {
    pub participant_id: Option<uuid::Uuid>,
    pub phone: Option<String>,
}

#[OpenApi(tag = "Tag::Relationships")]
impl ContactsApi {
    /// Which address-book numbers belong to participants the caller may see
    #[oai(path = "/api/contacts/sync", method = "post")]
    async fn sync(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<SyncRequest>,
    ) -> Reply<Vec<ContactMatch>> {
        state.auth.authorize(&auth.0, "directory", "read").await?;
        let found = state
            .core
            .participants_by_phones(&auth.0, &body.0.phones)
            .await?;
        ok(found
            .into_iter()
            .map(|(phone, p)| ContactMatch {
                phone,
                participant: p.into(),
            })
            .collect())
    }

    /// Open the direct conversation with a participant (by id or phone)
    #[oai(path = "/api/contacts/start-chat", method = "post")]
    async fn start_chat(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<StartChatRequest>,
    ) -> Reply<ConversationDto> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let other = match (body.0.participant_id, body.0.phone) {
            (Some(id), None) => ParticipantId(id),
            (None, Some(phone)) => {
                let found = state
                    .core
                    .participants_by_phones(&auth.0, std::slice::from_ref(&phone))
                    .await?;
                found
                    .into_iter()
                    .next()
                    .map(|(_, p)| p.id)
                    .ok_or(AppError::NotFound("participant"))?
            }
            _ => {
                return Err(AppError::validation(
                    "give exactly one of `participantId` and `phone`",
                ));
            }
        };
        let conversation = state
            .core
            .open_direct(&auth.0, DirectKey::general(other))
            .await?;
        conversations::conversation(state, &auth.0, conversation.id).await
    }
}
