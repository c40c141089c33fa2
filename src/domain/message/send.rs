//! Sending messages on [`Core`]. Every message, whoever sends it and
//! through whichever front door, is appended by the writer
//! (`message::writer`), which checks it and takes its `seq` in the
//! transaction that stores it, batched with the sends that arrive with it.
//! Also forwarding, Samvad's own messages, and the seeds'
//! send-to-a-participant.

use super::{
    Message, MessageType, SendInput,
    writer::{Check, Draft},
};
use crate::{
    domain::{
        Actor, ConversationId, Core, MessageId, ParticipantId, TenantId, conversation,
        participant::{self, ParticipantType},
    },
    error::{AppError, AppResult},
};

/// A message Samvad writes itself (a call's outcome).
pub struct SystemMessage {
    pub kind: MessageType,
    /// Whom it shows as from, if anyone.
    pub sender: Option<ParticipantId>,
    /// With a sender: written twice under one client id, it is written once.
    pub client_id: Option<String>,
    pub content: String,
    pub metadata: serde_json::Value,
}

impl Core {
    /// Sends a message as the actor, who must be a current member. Direct
    /// conversations also need the relationship to stand (no block between
    /// the two). A repeated `clientMsgId` returns the first message.
    pub async fn send_message(
        &self,
        actor: &Actor,
        id: ConversationId,
        input: SendInput,
    ) -> AppResult<Message> {
        self.send(actor, id, input, None).await
    }

    #[tracing::instrument(skip_all, fields(conversation = %id))]
    async fn send(
        &self,
        actor: &Actor,
        id: ConversationId,
        mut input: SendInput,
        forwarded_from: Option<MessageId>,
    ) -> AppResult<Message> {
        let (tenant, me) = actor.participant()?;
        // Held until the send is done: past the bound, refused at once.
        let _admitted = self.sends.admit()?;
        let settings = self.settings_of(tenant).await?;
        input.validate(settings.max_message_chars)?;
        let attachments = self.own_files(actor, &input.files).await?;
        if let (false, Some(first)) = (input.kind_given, attachments.first()) {
            input.kind = MessageType::of_file(first.file.kind);
        }
        // The writer checks membership, blocks, the reply target, the
        // client id and that the files are still there, in the transaction
        // that appends the message.
        let message = draft(tenant, id, Some(me), input.kind, input.content);
        let mut sent = self
            .writer()
            .write(Draft {
                message: Message {
                    media_url: input.media_url,
                    attachments,
                    metadata: input.metadata.map(|m| m.to_string()),
                    reply_to_id: input.reply_to,
                    forwarded_from_id: forwarded_from,
                    client_msg_id: input.client_msg_id,
                    ..message
                },
                check: Check::Sender {
                    admin: actor.is_admin(),
                    rate: settings.messages_per_participant,
                },
                sender_kind: actor.participant_type(),
                guard: guard_for(actor, &settings),
            })
            .await?;
        // A resend returns the first message as stored: its files too.
        self.attach(tenant, std::slice::from_mut(&mut sent)).await?;
        Ok(sent)
    }

    /// The sender's type, which the message's events carry (clients show it
    /// beside the message); `None` for Samvad's own messages. A failed
    /// lookup is logged and leaves it out.
    pub(super) async fn sender_kind(&self, message: &Message) -> Option<ParticipantType> {
        let sender = message.sender_id?;
        match self.participant_kind(message.tenant_id, sender).await {
            Ok(kind) => kind,
            Err(err) => {
                tracing::warn!(error = %err, "sender's type lookup failed; the event leaves it out");
                None
            }
        }
    }

    /// Writes a message as Samvad itself (system or call outcome) into a
    /// conversation, through the same writer as every other message.
    pub async fn post_system_message(
        &self,
        tenant: TenantId,
        id: ConversationId,
        new: SystemMessage,
    ) -> AppResult<Message> {
        let message = Message {
            metadata: Some(new.metadata.to_string()),
            client_msg_id: new.client_id,
            ..draft(tenant, id, new.sender, new.kind, Some(new.content))
        };
        let sender_kind = self.sender_kind(&message).await;
        self.writer()
            .write(Draft {
                message,
                check: Check::System,
                sender_kind,
                guard: None,
            })
            .await
    }

    /// Forwards a message the actor can see into another conversation of
    /// theirs, as a new message marked with where it came from.
    pub async fn forward_message(
        &self,
        actor: &Actor,
        id: MessageId,
        to: ConversationId,
    ) -> AppResult<Message> {
        let (message, _, _) = self.visible(actor, id).await?;
        if message.deleted_at.is_some()
            || !matches!(
                message.kind,
                MessageType::Text
                    | MessageType::Image
                    | MessageType::Audio
                    | MessageType::Video
                    | MessageType::File
            )
        {
            return Err(AppError::conflict(
                "not_forwardable",
                "only existing text and media messages are forwarded",
            ));
        }
        let mut message = message;
        self.attach(message.tenant_id, std::slice::from_mut(&mut message))
            .await?;
        let files: Vec<_> = message.attachments.iter().map(|a| a.file.id).collect();
        let input = SendInput {
            kind: message.kind,
            kind_given: true,
            media_url: if files.is_empty() {
                message.media_url.clone()
            } else {
                None
            },
            files,
            content: message.content.clone(),
            metadata: message
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
            reply_to: None,
            client_msg_id: None,
        };
        self.send(actor, to, input, Some(message.id)).await
    }

    /// The conversation a direct `to` participant implies: the seeds' `POST
    /// /api/messages {to}` sends into the general conversation with them.
    pub async fn direct_with(&self, actor: &Actor, to: ParticipantId) -> AppResult<ConversationId> {
        let tenant = actor.tenant()?;
        participant::get(&mut *self.pool().acquire().await?, tenant, to)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        Ok(self
            .open_direct(actor, conversation::DirectKey::general(to))
            .await?
            .id)
    }
}

/// A message before the writer gives it its seq and time.
fn draft(
    tenant: TenantId,
    conversation: ConversationId,
    sender: Option<ParticipantId>,
    kind: MessageType,
    content: Option<String>,
) -> Message {
    Message {
        tenant_id: tenant,
        conversation_id: conversation,
        seq: 0,
        id: MessageId::new(),
        sender_id: sender,
        kind,
        content,
        media_url: None,
        metadata: None,
        reply_to_id: None,
        forwarded_from_id: None,
        client_msg_id: None,
        created_at: crate::domain::now(),
        edited_at: None,
        deleted_at: None,
        attachments: Vec::new(),
    }
}

/// The contact guard a participant's send or edit goes through: the
/// tenant's, for users and astrologers (admins are never held back).
pub(super) fn guard_for(
    actor: &Actor,
    settings: &crate::domain::settings::TenantSettings,
) -> Option<std::sync::Arc<crate::domain::guard::Guard>> {
    match actor.participant_type() {
        Some(ParticipantType::User | ParticipantType::Astrologer) => {
            settings.contact_guard.compiled()
        }
        _ => None,
    }
}
