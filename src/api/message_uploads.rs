//! Seed 000's upload-and-send operations: `POST /api/messages/upload` (a
//! photo, video or document with an optional caption) and `POST
//! /api/messages/voice` (a voice note with its waveform). The file is
//! stored as `POST /api/files/upload` stores it, then sent like any
//! message with its `fileId`.

use poem::web::Data;
use poem_openapi::OpenApi;

use super::{
    Reply, Tag, conversations,
    files::store,
    upload::{FieldDoc, Form, FormDoc, Received},
};
use crate::{
    auth::BearerAuth,
    domain::{Actor, ConversationId, ParticipantId, file::UploadMeta},
    error::{AppError, AppResult},
    state::AppState,
    wire::{message::MessageDto, send::SendMessageRequest},
};

#[derive(Default)]
pub struct MessageUploadsApi;

const WHERE: [FieldDoc; 2] = [
    FieldDoc {
        name: "conversationId",
        ty: "string",
        required: false,
        description: "The conversation to send into (or give `to`).",
    },
    FieldDoc {
        name: "to",
        ty: "string",
        required: false,
        description: "A participant: sent into the general direct conversation with them.",
    },
];

const AFTER: [FieldDoc; 3] = [
    FieldDoc {
        name: "content",
        ty: "string",
        required: false,
        description: "A caption.",
    },
    FieldDoc {
        name: "replyTo",
        ty: "string",
        required: false,
        description: "A message of the same conversation this one answers.",
    },
    FieldDoc {
        name: "clientMsgId",
        ty: "string",
        required: false,
        description: "The client's id: sending it again returns the first message.",
    },
];

/// `POST /api/messages/upload`.
pub struct MessageUploadForm;

impl FormDoc for MessageUploadForm {
    const FIELDS: &'static [FieldDoc] = &[
        FieldDoc {
            name: "file",
            ty: "binary",
            required: true,
            description: "The file; the message's type follows its bytes (image, audio, video or file).",
        },
        WHERE[0],
        WHERE[1],
        AFTER[0],
        AFTER[1],
        AFTER[2],
    ];
}

/// `POST /api/messages/voice`.
pub struct VoiceForm;

impl FormDoc for VoiceForm {
    const FIELDS: &'static [FieldDoc] = &[
        FieldDoc {
            name: "audio",
            ty: "binary",
            required: true,
            description: "The recording: AAC/M4A, Opus/Ogg, MP3, WebM or WAV. Its duration is read from it.",
        },
        FieldDoc {
            name: "durationMs",
            ty: "integer",
            required: false,
            description: "The length the app measured (checked to be a number; the length read from the recording is what the message carries).",
        },
        FieldDoc {
            name: "waveform",
            ty: "string",
            required: false,
            description: "JSON array of at most 100 numbers, 0-1 (or 0-255, scaled).",
        },
        WHERE[0],
        WHERE[1],
        AFTER[0],
        AFTER[1],
        AFTER[2],
    ];
}

/// Most points of a waveform.
const MAX_WAVEFORM: usize = 100;

/// A waveform as clients send it: 0-1 floats, or bytes 0-255 (scaled).
fn waveform(raw: Option<&str>) -> AppResult<Option<Vec<f32>>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let bad = || {
        AppError::validation("waveform must be a JSON array of at most 100 numbers, 0-1 or 0-255")
    };
    let points: Vec<f64> = serde_json::from_str(raw).map_err(|_| bad())?;
    if points.len() > MAX_WAVEFORM || points.iter().any(|p| !p.is_finite() || *p < 0.0) {
        return Err(bad());
    }
    let bytes = points.iter().any(|p| *p > 1.0);
    if bytes && points.iter().any(|p| *p > 255.0) {
        return Err(bad());
    }
    let scale = if bytes { 255.0 } else { 1.0 };
    Ok(Some(
        points
            .iter()
            .map(|p| ((p / scale) * 1000.0).round() as f32 / 1000.0)
            .collect(),
    ))
}

/// Where the message goes: a conversation, or the direct one with `to`.
async fn destination(
    state: &AppState,
    actor: &Actor,
    form: &Received,
) -> AppResult<ConversationId> {
    if let Some(id) = form.parsed::<uuid::Uuid>("conversationId")? {
        return Ok(ConversationId(id));
    }
    match form.parsed::<uuid::Uuid>("to")? {
        Some(to) => state.core.direct_with(actor, ParticipantId(to)).await,
        None => Err(AppError::validation(
            "give conversationId, or `to` for a direct message",
        )),
    }
}

/// Stores the form's file, then sends it with the form's caption.
async fn upload_and_send(
    state: &AppState,
    actor: &Actor,
    received: Received,
    voice: bool,
) -> Reply<MessageDto> {
    let to = destination(state, actor, &received).await?;
    let request = SendMessageRequest {
        content: received.text("content").map(str::to_owned),
        reply_to: received.parsed("replyTo")?,
        client_msg_id: received.text("clientMsgId").map(str::to_owned),
        ..SendMessageRequest::default()
    };
    let meta = UploadMeta {
        conversation: Some(to),
        voice,
        waveform: waveform(received.text("waveform"))?,
        ..UploadMeta::default()
    };
    if voice {
        received.parsed::<u32>("durationMs")?;
    }
    let file = store(state, actor, received, meta).await?;
    conversations::messages::send(
        state,
        actor,
        to,
        SendMessageRequest {
            file_id: Some(file.file.id.0),
            ..request
        },
    )
    .await
}

#[OpenApi(prefix_path = "/api/messages", tag = "Tag::Messages")]
impl MessageUploadsApi {
    /// Upload a file and send it as a message (the type follows the file)
    #[oai(path = "/upload", method = "post")]
    async fn upload(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        form: Form<MessageUploadForm>,
    ) -> Reply<MessageDto> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let received = form.read(state, &auth.0, "file").await?;
        upload_and_send(state, &auth.0, received, false).await
    }

    /// Send a voice message (its duration read from the recording)
    #[oai(path = "/voice", method = "post")]
    async fn voice(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        form: Form<VoiceForm>,
    ) -> Reply<MessageDto> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let received = form.read(state, &auth.0, "audio").await?;
        upload_and_send(state, &auth.0, received, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::waveform;

    #[test]
    fn waveforms_are_0_to_1_or_scaled_bytes_and_at_most_100_points() {
        assert_eq!(
            waveform(Some("[0, 0.5, 1]")).unwrap(),
            Some(vec![0.0, 0.5, 1.0])
        );
        assert_eq!(waveform(Some("[0, 255]")).unwrap(), Some(vec![0.0, 1.0]));
        assert!(waveform(Some("[-1]")).is_err());
        assert!(waveform(Some("[300]")).is_err());
        assert!(waveform(Some(&format!("[{}]", vec!["0.1"; 101].join(",")))).is_err());
        assert!(waveform(Some("nope")).is_err());
        assert_eq!(waveform(None).unwrap(), None);
    }
}
