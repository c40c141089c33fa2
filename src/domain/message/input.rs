//! What a participant sends, and the checks it passes before it is stored
//! (length, control characters, media, metadata, client ids).

use super::MessageType;
use crate::{
    domain::{FileId, MessageId, values::parse_url},
    error::{AppError, AppResult},
};

/// What a participant sends.
#[derive(Debug, Clone)]
pub struct SendInput {
    pub kind: MessageType,
    /// Whether the client named the type (else it follows the files).
    pub kind_given: bool,
    /// Uploaded files to send (at most [`MAX_FILES`]).
    pub files: Vec<FileId>,
    pub content: Option<String>,
    pub media_url: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub reply_to: Option<MessageId>,
    /// The client's own id for the message: sending it again returns the
    /// first message instead of a duplicate.
    pub client_msg_id: Option<String>,
}

/// Most bytes of message metadata.
const MAX_METADATA: usize = 4096;

/// What the client ids of Samvad's own messages start with (a call's entry:
/// `samvad:call:<id>`); a participant's may not, so none can take one first.
pub const OWN_CLIENT_ID: &str = "samvad:";

/// Most files one message carries (an album).
pub const MAX_FILES: usize = 10;

/// A message's text (or a media message's caption) checked against the
/// tenant's length limit; blank is `None`.
pub(super) fn checked_text(content: Option<String>, max_chars: u32) -> AppResult<Option<String>> {
    let Some(content) = content else {
        return Ok(None);
    };
    if content.chars().count() > max_chars as usize {
        return Err(AppError::validation(format!(
            "messages are at most {max_chars} characters"
        )));
    }
    // Line breaks and tabs are text; NUL and the other control
    // characters are not (they break terminals, logs and exports).
    if content
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::validation(
            "messages cannot contain control characters other than line breaks and tabs",
        ));
    }
    Ok((!content.trim().is_empty()).then_some(content))
}

impl SendInput {
    /// Checks the input against the tenant's length limit.
    pub(super) fn validate(&mut self, max_chars: u32) -> AppResult<()> {
        self.content = checked_text(self.content.take(), max_chars)?;
        if self.kind == MessageType::Text && self.content.is_none() && self.files.is_empty() {
            return Err(AppError::validation("a text message needs some text"));
        }
        if self.files.len() > MAX_FILES {
            return Err(AppError::validation(format!(
                "a message carries at most {MAX_FILES} files"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        if !self.files.iter().all(|f| seen.insert(*f)) {
            return Err(AppError::validation("fileIds lists a file twice"));
        }
        if !self.files.is_empty() {
            if self.media_url.is_some() {
                return Err(AppError::validation("give fileId or mediaUrl, not both"));
            }
            if self.kind_given && !self.kind.has_media() {
                return Err(AppError::validation(
                    "files are sent as image, audio, video or file messages",
                ));
            }
        } else {
            match (&self.media_url, self.kind.has_media()) {
                (Some(url), true) => self.media_url = Some(parse_url(url, "mediaUrl")?),
                (None, true) => {
                    return Err(AppError::validation(
                        "image, audio, video and file messages need a fileId (or a mediaUrl)",
                    ));
                }
                (Some(_), false) => {
                    return Err(AppError::validation(
                        "only image, audio, video and file messages have a mediaUrl",
                    ));
                }
                (None, false) => {}
            }
        }
        if let Some(metadata) = &self.metadata
            && metadata.to_string().len() > MAX_METADATA
        {
            return Err(AppError::validation(format!(
                "metadata is at most {MAX_METADATA} bytes"
            )));
        }
        if let Some(id) = &self.client_msg_id
            && (id.is_empty() || id.len() > 64 || id.chars().any(char::is_control))
        {
            return Err(AppError::validation("clientMsgId must be 1-64 characters"));
        }
        if self
            .client_msg_id
            .as_ref()
            .is_some_and(|id| id.starts_with(OWN_CLIENT_ID))
        {
            return Err(AppError::validation(format!(
                "clientMsgId may not start with `{OWN_CLIENT_ID}` (Samvad's own messages use it)"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: MessageType, content: Option<&str>, media: Option<&str>) -> SendInput {
        SendInput {
            kind,
            kind_given: true,
            files: Vec::new(),
            content: content.map(str::to_owned),
            media_url: media.map(str::to_owned),
            metadata: None,
            reply_to: None,
            client_msg_id: None,
        }
    }

    #[test]
    fn text_needs_text_and_media_needs_a_url() {
        assert!(
            input(MessageType::Text, Some("  "), None)
                .validate(10)
                .is_err()
        );
        assert!(
            input(MessageType::Text, Some("hello"), None)
                .validate(10)
                .is_ok()
        );
        assert!(
            input(MessageType::Text, Some("hello world"), None)
                .validate(10)
                .is_err()
        );
        assert!(input(MessageType::Image, None, None).validate(10).is_err());
        assert!(
            input(MessageType::Image, None, Some("https://cdn.example/a.png"))
                .validate(10)
                .is_ok()
        );
        assert!(
            input(
                MessageType::Text,
                Some("hi"),
                Some("https://cdn.example/a.png")
            )
            .validate(10)
            .is_err()
        );
    }

    #[test]
    fn content_is_stored_exactly_as_sent() {
        let mut sent = input(MessageType::Text, Some("  <b>hi</b>\n"), None);
        sent.validate(100).unwrap();
        assert_eq!(sent.content.as_deref(), Some("  <b>hi</b>\n"));
    }
}
