//! What one round of the inbox worker ([`super::from_log`]) has read, and
//! the notifications it makes, folded: a conversation's messages to one
//! participant become one entry that counts them.

use std::collections::HashMap;

use super::{NewNotification, NotificationKind};
use crate::domain::{ConversationId, MessageId, ParticipantId, TenantId, message};

/// What a batch of log entries has read, and the notifications it makes.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) messages: HashMap<MessageId, message::Message>,
    pub(super) recipients: HashMap<(TenantId, ConversationId), Vec<ParticipantId>>,
    pub(super) names: HashMap<(TenantId, ParticipantId), String>,
    /// In order; each with how many notifications it stands for.
    pub(super) news: Vec<(NewNotification, u32)>,
    /// Where a conversation's message notification to someone is in `news`.
    folded: HashMap<(TenantId, ParticipantId, ConversationId), usize>,
}

impl Batch {
    /// Adds `new`; a message notification of a conversation already there
    /// for the same participant replaces it (the newer text) and counts.
    pub(super) fn fold(&mut self, new: NewNotification) {
        let key = match (new.kind, new.conversation_id) {
            (NotificationKind::Message, Some(c)) => Some((new.tenant_id, new.participant_id, c)),
            _ => None,
        };
        if let Some(&at) = key.as_ref().and_then(|k| self.folded.get(k)) {
            let (stored, times) = &mut self.news[at];
            *stored = new;
            *times += 1;
            return;
        }
        if let Some(key) = key {
            self.folded.insert(key, self.news.len());
        }
        self.news.push((new, 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(
        participant: ParticipantId,
        kind: NotificationKind,
        conversation: Option<ConversationId>,
        body: &str,
    ) -> NewNotification {
        NewNotification {
            tenant_id: TenantId(uuid::Uuid::nil()),
            participant_id: participant,
            kind,
            conversation_id: conversation,
            subject_id: uuid::Uuid::now_v7(),
            seq: None,
            title: "t".into(),
            body: body.into(),
            at: crate::domain::now(),
        }
    }

    #[test]
    fn a_conversations_messages_to_one_participant_fold_into_one_with_the_newest_text() {
        let (a, b) = (
            ParticipantId(uuid::Uuid::now_v7()),
            ParticipantId(uuid::Uuid::now_v7()),
        );
        let (one, two) = (
            ConversationId(uuid::Uuid::now_v7()),
            ConversationId(uuid::Uuid::now_v7()),
        );
        let mut batch = Batch::default();
        batch.fold(new(a, NotificationKind::Message, Some(one), "first"));
        batch.fold(new(b, NotificationKind::Message, Some(one), "to b"));
        batch.fold(new(
            a,
            NotificationKind::Message,
            Some(two),
            "other conversation",
        ));
        batch.fold(new(a, NotificationKind::ChatRequest, None, "request"));
        batch.fold(new(
            a,
            NotificationKind::ChatRequest,
            None,
            "another request",
        ));
        batch.fold(new(a, NotificationKind::Message, Some(one), "third"));
        let folded: Vec<(&str, u32)> = batch
            .news
            .iter()
            .map(|(n, times)| (n.body.as_str(), *times))
            .collect();
        assert_eq!(
            folded,
            [
                ("third", 2),
                ("to b", 1),
                ("other conversation", 1),
                ("request", 1),
                ("another request", 1)
            ]
        );
    }
}
