//! A batch's checks: what they read once for the whole batch ([`Facts`]),
//! and each send's checks against it, in the order a single send makes
//! them.

use std::{collections::HashMap, sync::Arc};

use sqlx::MySqlConnection;

use super::{
    Check, Job, Task, Verdict,
    sql::{self, Key},
};
use crate::{
    domain::{
        FileId, ParticipantId, TenantId,
        conversation::ConversationType,
        file,
        guard::Hit,
        limits::{Count, Kind},
        message::{Message, MessageId},
    },
    error::AppError,
};

impl Task {
    /// A send's checks, in the order a single send makes them: `None` if it
    /// is to be appended.
    pub(super) fn check(
        &self,
        job: &mut Job,
        facts: &Facts,
        locked: &HashMap<Key, sql::Locked>,
        members: &HashMap<Key, Arc<[ParticipantId]>>,
        fresh: &[Message],
        by_client: &HashMap<(TenantId, ParticipantId, String), usize>,
    ) -> Option<Verdict> {
        let m = &job.draft.message;
        let key = (m.tenant_id, m.conversation_id);
        let not_found = || Some(Verdict::Refused(AppError::NotFound("conversation")));
        // The message already stored (or earlier in this batch) under the
        // sender's client id: a resend.
        let first = match (m.sender_id, &m.client_msg_id) {
            (Some(sender), Some(client_id)) => {
                let client_key = (key.0, sender, client_id.clone());
                facts
                    .stored
                    .get(&client_key)
                    .or_else(|| by_client.get(&client_key).map(|i| &fresh[*i]))
            }
            _ => None,
        };
        let reused = || {
            Some(Verdict::Refused(AppError::conflict(
                "client_msg_id_reused",
                "this clientMsgId was used in another conversation",
            )))
        };
        let Check::Sender { admin, rate } = job.draft.check else {
            return match first {
                _ if !locked.contains_key(&key) => not_found(),
                Some(first) if first.conversation_id != m.conversation_id => reused(),
                Some(first) => Some(Verdict::Resent(first.clone())),
                None => None,
            };
        };
        let sender = m.sender_id.expect("a participant's send has a sender");
        let is_member = members.get(&key).is_some_and(|ids| ids.contains(&sender));
        if let Some(first) = first {
            return if first.conversation_id != m.conversation_id {
                reused()
            } else if !is_member {
                not_found()
            } else {
                Some(Verdict::Resent(first.clone()))
            };
        }
        let rate_answer = *job.rate.get_or_insert_with(|| {
            super::rate_answer(self.limits.check_local(Count {
                tenant: key.0,
                kind: Kind::MessagesPerParticipant,
                rate,
                key: &sender.to_string(),
            }))
        });
        if let Err(retry_after_secs) = rate_answer {
            return Some(Verdict::Refused(AppError::TooManyRequests {
                retry_after_secs,
            }));
        }
        let (Some(conversation), true) = (locked.get(&key), is_member) else {
            return not_found();
        };
        if !conversation.is_active && !admin {
            return Some(Verdict::Refused(AppError::conflict(
                "conversation_closed",
                "this conversation is closed",
            )));
        }
        if conversation.kind != ConversationType::Group
            && let Some(other) = members[&key].iter().find(|p| **p != sender)
            && facts.blocked(key.0, sender, *other)
        {
            return Some(Verdict::Refused(AppError::Forbidden {
                code: "blocked",
                message: "one of you has blocked the other".into(),
            }));
        }
        if let Some(reply) = m.reply_to_id
            && facts.replies.get(&(key.0, reply)) != Some(&m.conversation_id)
        {
            return Some(Verdict::Refused(AppError::validation(
                "replyTo must be a message of the same conversation",
            )));
        }
        if m.attachments
            .iter()
            .any(|a| !facts.files.contains(&(key.0, a.file.id)))
        {
            return Some(Verdict::Refused(AppError::NotFound("file")));
        }
        if conversation.kind == ConversationType::UserAstrologer
            && let (Some(guard), Some(text)) = (&job.draft.guard, &m.content)
            && let Some((hit, masked)) = Hit::of(guard, text)
        {
            if masked.is_none() {
                let refusal = hit.refusal();
                job.flag = Some(hit);
                return Some(Verdict::Refused(refusal));
            }
            job.draft.message.content = masked;
            job.flag = Some(hit);
        }
        None
    }
}

/// What the batch's checks read, once for the whole batch.
pub(super) struct Facts {
    pub(super) stored: HashMap<(TenantId, ParticipantId, String), Message>,
    pub(super) blocks: std::collections::HashSet<(TenantId, ParticipantId, ParticipantId)>,
    pub(super) replies: HashMap<(TenantId, MessageId), crate::domain::ConversationId>,
    /// The batch's files still there, locked against deletion.
    pub(super) files: std::collections::HashSet<(TenantId, FileId)>,
}

impl Facts {
    /// Reads what the checks need; the messages stored under the senders'
    /// client ids only if `read_ids`.
    pub(super) async fn read(
        tx: &mut MySqlConnection,
        batch: &[Job],
        locked: &HashMap<Key, sql::Locked>,
        members: &HashMap<Key, Arc<[ParticipantId]>>,
        read_ids: bool,
    ) -> sqlx::Result<Self> {
        let mut pairs = Vec::new();
        let mut replies = Vec::new();
        let mut files = Vec::new();
        for job in batch {
            let m = &job.draft.message;
            files.extend(m.attachments.iter().map(|a| (m.tenant_id, a.file.id)));
            let Some(sender) = m.sender_id else {
                continue;
            };
            let key = (m.tenant_id, m.conversation_id);
            let Check::Sender { .. } = job.draft.check else {
                continue;
            };
            if let Some(reply) = m.reply_to_id {
                replies.push((key.0, reply));
            }
            if locked
                .get(&key)
                .is_some_and(|c| c.kind != ConversationType::Group)
                && let Some(other) = members
                    .get(&key)
                    .and_then(|ids| ids.iter().find(|p| **p != sender))
            {
                pairs.push((key.0, sender, *other));
            }
        }
        let stored = if read_ids {
            sql::by_client_ids(tx, &Self::client_ids(batch)).await?
        } else {
            HashMap::new()
        };
        Ok(Self {
            stored,
            blocks: sql::blocks(tx, &pairs).await?,
            replies: sql::reply_targets(tx, &replies).await?,
            files: file::lock_ready(tx, &files).await?,
        })
    }

    /// The `(tenant, sender, client id)` of the sends that have one.
    pub(super) fn client_ids<'a>(
        jobs: impl IntoIterator<Item = &'a Job>,
    ) -> Vec<(TenantId, ParticipantId, String)> {
        jobs.into_iter()
            .filter_map(|job| {
                let m = &job.draft.message;
                Some((m.tenant_id, m.sender_id?, m.client_msg_id.clone()?))
            })
            .collect()
    }

    fn blocked(&self, tenant: TenantId, a: ParticipantId, b: ParticipantId) -> bool {
        self.blocks.contains(&(tenant, a, b)) || self.blocks.contains(&(tenant, b, a))
    }
}
