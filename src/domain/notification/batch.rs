//! What one round of the inbox worker ([`super::from_log`]) has read, and
//! the notifications it makes, folded: a conversation's messages to one
//! participant become one entry that counts them. They are stored together:
//! one multi-row upsert and two reads back per [`CHUNK`], however many
//! participants and conversations the round touched.

use std::collections::{HashMap, HashSet};

use sqlx::{MySqlConnection, QueryBuilder};
use uuid::Uuid;

use super::{COLUMNS, NewNotification, Notification, NotificationKind};
use crate::domain::{
    ConversationId, MessageId, ParticipantId, TenantId, lists::push_pairs, message,
};

/// Notifications per statement.
const CHUNK: usize = 500;

/// What a batch of log entries has read, and the notifications it makes.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) messages: HashMap<MessageId, message::Message>,
    pub(super) recipients: HashMap<(TenantId, ConversationId), Vec<ParticipantId>>,
    pub(super) names: HashMap<(TenantId, ParticipantId), String>,
    /// Which of the recipients are connected nowhere (asked once for the
    /// whole batch: with several nodes, one Redis round trip).
    pub(super) offline: HashSet<ParticipantId>,
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

/// How a stored notification is found again.
enum Found {
    /// A message's, by its unique key: the participant's unread one of the
    /// conversation, made or collapsed into.
    Collapsed(String),
    /// Any other: a new row with this id.
    New(Uuid),
}

type Row<'a> = (Found, &'a NewNotification, u32);

/// Notifications read back: new ones by id, collapsed ones by whose and
/// which conversation.
#[derive(Default)]
struct Stored {
    by_id: HashMap<Uuid, Notification>,
    by_conversation: HashMap<(TenantId, ParticipantId, Option<ConversationId>), Notification>,
}

impl Batch {
    /// Stores the notifications, each standing for its count: a message's
    /// folds into the participant's unread notification of that
    /// conversation (count + n, the newest text). Returns them as they now
    /// stand, in order.
    pub(super) async fn store(
        &self,
        conn: &mut MySqlConnection,
    ) -> sqlx::Result<Vec<Notification>> {
        let rows: Vec<Row> = self
            .news
            .iter()
            .map(|(n, times)| {
                let found = match (n.kind, n.conversation_id) {
                    (NotificationKind::Message, Some(c)) => {
                        Found::Collapsed(format!("c:{}", c.0.simple()))
                    }
                    _ => Found::New(Uuid::now_v7()),
                };
                (found, n, *times)
            })
            .collect();
        // In key order, as marking read takes them: no deadlock between the
        // two.
        let mut order: Vec<&Row> = rows.iter().collect();
        order.sort_by_key(|(_, n, _)| (n.tenant_id, n.participant_id));
        let mut stored = Stored::default();
        for chunk in order.chunks(CHUNK) {
            insert(conn, chunk).await?;
            read_back(conn, chunk, &mut stored).await?;
        }
        rows.iter()
            .map(|(found, n, _)| {
                match found {
                    Found::New(id) => stored.by_id.get(id),
                    Found::Collapsed(_) => stored.by_conversation.get(&(
                        n.tenant_id,
                        n.participant_id,
                        n.conversation_id,
                    )),
                }
                .cloned()
                .ok_or(sqlx::Error::RowNotFound)
            })
            .collect()
    }
}

async fn insert(conn: &mut MySqlConnection, rows: &[&Row<'_>]) -> sqlx::Result<()> {
    let mut query = QueryBuilder::new(
        "INSERT INTO notifications (tenant_id, id, participant_id, kind, conversation_id,
             subject_id, seq, title, body, count, collapse_key, read_at, created_at, updated_at) ",
    );
    query.push_values(rows, |mut row, (found, n, times)| {
        let (id, collapse) = match found {
            Found::New(id) => (*id, None),
            Found::Collapsed(key) => (Uuid::now_v7(), Some(key.clone())),
        };
        row.push_bind(n.tenant_id)
            .push_bind(id)
            .push_bind(n.participant_id)
            .push_bind(n.kind)
            .push_bind(n.conversation_id)
            .push_bind(n.subject_id)
            .push_bind(n.seq)
            .push_bind(truncate(&n.title, 255))
            .push_bind(truncate(&n.body, 255))
            .push_bind(*times)
            .push_bind(collapse)
            .push("NULL")
            .push_bind(n.at)
            .push_bind(n.at);
    });
    query.push(
        " ON DUPLICATE KEY UPDATE count = count + VALUES(count), subject_id = VALUES(subject_id),
             seq = VALUES(seq), title = VALUES(title), body = VALUES(body),
             updated_at = VALUES(updated_at)",
    );
    query.build().execute(conn).await.map(|_| ())
}

/// Reads the rows just written: new ones by primary key, collapsed ones by
/// their unique key (one range each).
async fn read_back(
    conn: &mut MySqlConnection,
    rows: &[&Row<'_>],
    stored: &mut Stored,
) -> sqlx::Result<()> {
    let new: Vec<_> = rows
        .iter()
        .filter_map(|(found, n, _)| match found {
            Found::New(id) => Some((n.tenant_id, *id)),
            Found::Collapsed(_) => None,
        })
        .collect();
    if !new.is_empty() {
        let mut query = QueryBuilder::new(format!(
            "SELECT {COLUMNS} FROM notifications WHERE (tenant_id, id) IN "
        ));
        push_pairs(&mut query, new);
        let found: Vec<Notification> = query.build_query_as().fetch_all(&mut *conn).await?;
        stored.by_id.extend(found.into_iter().map(|n| (n.id, n)));
    }
    let collapsed: Vec<_> = rows
        .iter()
        .filter_map(|(found, n, _)| match found {
            Found::Collapsed(key) => Some((n.tenant_id, n.participant_id, key.clone())),
            Found::New(_) => None,
        })
        .collect();
    if !collapsed.is_empty() {
        let mut query = QueryBuilder::new(format!(
            "SELECT {COLUMNS} FROM notifications
             WHERE (tenant_id, participant_id, collapse_key) IN ("
        ));
        let mut list = query.separated(", ");
        for (tenant, who, key) in collapsed {
            list.push("(")
                .push_bind_unseparated(tenant)
                .push_unseparated(", ")
                .push_bind_unseparated(who)
                .push_unseparated(", ")
                .push_bind_unseparated(key)
                .push_unseparated(")");
        }
        query.push(")");
        let found: Vec<Notification> = query.build_query_as().fetch_all(&mut *conn).await?;
        stored.by_conversation.extend(
            found
                .into_iter()
                .map(|n| ((n.tenant_id, n.participant_id, n.conversation_id), n)),
        );
    }
    Ok(())
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
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
