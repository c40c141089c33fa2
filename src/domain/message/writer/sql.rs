//! The writer's statements: each reads or writes a whole batch at once, so
//! a batch costs about the same number of statements whatever its size.
//! Every read is scoped by tenant (a batch may mix tenants, and a key of
//! another tenant simply finds nothing), in one of two forms ([`Rows`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{MySqlConnection, QueryBuilder, Row};

use super::scope::Rows;
use crate::domain::{
    ConversationId, MessageId, ParticipantId, TenantId,
    conversation::ConversationType,
    lists::{ROWS_PER_INSERT, padded},
    message::{COLUMNS, Message},
};

/// A conversation and one of its tenant's ids.
pub type Key = (TenantId, ConversationId);

/// A conversation row as the writer locked it.
pub struct Locked {
    pub kind: ConversationType,
    pub is_active: bool,
    pub last_seq: u64,
    /// Bumped by every change to the current members (the key the
    /// writer's members are kept under).
    pub members_rev: u64,
}

/// Locks the conversations' rows in key order (so two writers never lock
/// the same rows in opposite orders) and reads what the checks need.
///
/// Only those rows: a locking read locks every row it examines, so the
/// primary key is forced and each row looked up on its own. (Left to
/// itself, MariaDB scanned the tenant when the asked rows were a good
/// part of its rows (measured: 33 asked, 64 examined and locked), which
/// locked the other writer's conversations too and made the two writers
/// wait for each other's whole batch.)
pub async fn lock_conversations(
    conn: &mut MySqlConnection,
    keys: &[Key],
) -> sqlx::Result<HashMap<Key, Locked>> {
    let keys = Rows::new(keys.iter().copied());
    let mut query = QueryBuilder::new(
        "SELECT STRAIGHT_JOIN c.tenant_id, c.id, c.type, c.is_active, c.last_seq, c.members_rev",
    );
    keys.push_from(
        &mut query,
        "conversations c FORCE INDEX (PRIMARY)",
        "c",
        &["id"],
    );
    query.push(" FOR UPDATE");
    let rows = query.build().fetch_all(conn).await?;
    rows.iter()
        .map(|row| {
            Ok((
                (row.try_get("tenant_id")?, row.try_get("id")?),
                Locked {
                    kind: row.try_get("type")?,
                    is_active: row.try_get("is_active")?,
                    last_seq: row.try_get("last_seq")?,
                    members_rev: row.try_get("members_rev")?,
                },
            ))
        })
        .collect()
}

/// The current members of the conversations.
pub async fn members(
    conn: &mut MySqlConnection,
    keys: &[Key],
) -> sqlx::Result<HashMap<Key, Vec<ParticipantId>>> {
    let keys = Rows::new(keys.iter().copied());
    let mut query =
        QueryBuilder::new("SELECT STRAIGHT_JOIN m.tenant_id, m.conversation_id, m.participant_id");
    keys.push_from(
        &mut query,
        "conversation_members m FORCE INDEX (PRIMARY)",
        "m",
        &["conversation_id"],
    );
    query.push(" AND m.left_at IS NULL");
    let mut members: HashMap<Key, Vec<ParticipantId>> = HashMap::new();
    for row in query.build().fetch_all(conn).await? {
        members
            .entry((row.try_get("tenant_id")?, row.try_get("conversation_id")?))
            .or_default()
            .push(row.try_get("participant_id")?);
    }
    Ok(members)
}

/// Which of the pairs have a block between them (either way), as
/// `(tenant, blocker, blocked)`: both ways of each pair, each looked up on
/// the primary key.
pub async fn blocks(
    conn: &mut MySqlConnection,
    pairs: &[(TenantId, ParticipantId, ParticipantId)],
) -> sqlx::Result<HashSet<(TenantId, ParticipantId, ParticipantId)>> {
    if pairs.is_empty() {
        return Ok(HashSet::new());
    }
    let ways = Rows::new(
        pairs
            .iter()
            .flat_map(|(t, a, b)| [(*t, (*a, *b)), (*t, (*b, *a))]),
    );
    let mut query =
        QueryBuilder::new("SELECT STRAIGHT_JOIN b.tenant_id, b.blocker_id, b.blocked_id");
    ways.push_from(
        &mut query,
        "blocks b FORCE INDEX (PRIMARY)",
        "b",
        &["blocker_id", "blocked_id"],
    );
    query
        .build()
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("tenant_id")?,
                row.try_get("blocker_id")?,
                row.try_get("blocked_id")?,
            ))
        })
        .collect()
}

/// The messages already stored under the senders' client ids, by
/// `(tenant, sender, client id)`, each looked up on the unique key.
pub async fn by_client_ids(
    conn: &mut MySqlConnection,
    keys: &[(TenantId, ParticipantId, String)],
) -> sqlx::Result<HashMap<(TenantId, ParticipantId, String), Message>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let keys = Rows::new(
        keys.iter()
            .map(|(tenant, sender, client_id)| (*tenant, (*sender, client_id.clone()))),
    );
    let mut query = QueryBuilder::new(format!("SELECT STRAIGHT_JOIN {COLUMNS}"));
    keys.push_from(
        &mut query,
        "messages x FORCE INDEX (uq_messages_client)",
        "x",
        &["sender_id", "client_msg_id"],
    );
    let found: Vec<Message> = query.build_query_as().fetch_all(conn).await?;
    Ok(found
        .into_iter()
        .filter_map(|m| {
            let key = (m.tenant_id, m.sender_id?, m.client_msg_id.clone()?);
            Some((key, m))
        })
        .collect())
}

/// The conversations of the messages that sends reply to.
pub async fn reply_targets(
    conn: &mut MySqlConnection,
    ids: &[(TenantId, MessageId)],
) -> sqlx::Result<HashMap<(TenantId, MessageId), ConversationId>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = Rows::new(ids.iter().copied());
    let mut query = QueryBuilder::new("SELECT STRAIGHT_JOIN m.tenant_id, m.id, m.conversation_id");
    ids.push_from(
        &mut query,
        "messages m FORCE INDEX (uq_messages_id)",
        "m",
        &["id"],
    );
    query
        .build()
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| {
            Ok((
                (row.try_get("tenant_id")?, row.try_get("id")?),
                row.try_get("conversation_id")?,
            ))
        })
        .collect()
}

/// Inserts the batch's messages, [`ROWS_PER_INSERT`] to a statement.
pub async fn insert_all(conn: &mut MySqlConnection, messages: &[Message]) -> sqlx::Result<()> {
    for chunk in messages.chunks(ROWS_PER_INSERT) {
        insert(&mut *conn, chunk).await?;
    }
    Ok(())
}

async fn insert(conn: &mut MySqlConnection, messages: &[Message]) -> sqlx::Result<()> {
    let mut query = QueryBuilder::new(
        "INSERT INTO messages (tenant_id, conversation_id, seq, id, sender_id, type, content, media_url, metadata,
                               reply_to_id, forwarded_from_id, client_msg_id, created_at) ",
    );
    query.push_values(messages, |mut row, m| {
        row.push_bind(m.tenant_id)
            .push_bind(m.conversation_id)
            .push_bind(m.seq)
            .push_bind(m.id)
            .push_bind(m.sender_id)
            .push_bind(m.kind)
            .push_bind(m.content.clone())
            .push_bind(m.media_url.clone())
            .push_bind(m.metadata.clone())
            .push_bind(m.reply_to_id)
            .push_bind(m.forwarded_from_id)
            .push_bind(m.client_msg_id.clone())
            .push_bind(m.created_at);
    });
    query.build().execute(conn).await?;
    Ok(())
}

/// Moves each conversation's `last_seq` and last-message summary to its
/// newest message of the batch, in one statement: an upsert whose rows
/// all exist (they are locked by this transaction), so each becomes an
/// update by primary key (the padding's repeats write the same again).
/// (An `UPDATE ... SET c = CASE id WHEN ...` would compare every row with
/// every conversation of the batch, per column.)
pub async fn advance_conversations(
    conn: &mut MySqlConnection,
    newest: &[(&Message, ConversationType)],
) -> sqlx::Result<()> {
    let mut query = QueryBuilder::new(
        "INSERT INTO conversations (tenant_id, id, type, last_seq, last_message_id, last_message_at,
                                    last_message_sender, last_message_type, last_message_preview,
                                    activity_at, created_at, updated_at) ",
    );
    query.push_values(padded(newest), |mut row, (m, kind)| {
        row.push_bind(m.tenant_id)
            .push_bind(m.conversation_id)
            .push_bind(*kind)
            .push_bind(m.seq)
            .push_bind(m.id)
            .push_bind(m.created_at)
            .push_bind(m.sender_id)
            .push_bind(m.kind.as_str())
            .push_bind(m.preview())
            .push_bind(m.created_at)
            .push_bind(m.created_at)
            .push_bind(m.created_at);
    });
    query.push(
        " ON DUPLICATE KEY UPDATE last_seq = VALUES(last_seq), last_message_id = VALUES(last_message_id),
          last_message_at = VALUES(last_message_at), last_message_sender = VALUES(last_message_sender),
          last_message_type = VALUES(last_message_type), last_message_preview = VALUES(last_message_preview),
          activity_at = VALUES(activity_at), updated_at = VALUES(updated_at)",
    );
    query.build().execute(conn).await?;
    Ok(())
}

/// Moves each sender's read and delivered cursors up to the newest message
/// they sent in the batch, in one statement. The senders are current
/// members (checked in the same transaction), so every row exists (and
/// the padding's repeats change nothing).
pub async fn sent_up_to(
    conn: &mut MySqlConnection,
    cursors: &BTreeMap<(TenantId, ConversationId, ParticipantId), u64>,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    if cursors.is_empty() {
        return Ok(());
    }
    let mut query = QueryBuilder::new(
        "INSERT INTO conversation_members (tenant_id, conversation_id, participant_id, read_seq, delivered_seq, joined_at) ",
    );
    let cursors: Vec<_> = cursors.iter().collect();
    query.push_values(
        padded(&cursors),
        |mut row, ((tenant, conversation, sender), seq)| {
            row.push_bind(*tenant)
                .push_bind(*conversation)
                .push_bind(*sender)
                .push_bind(*seq)
                .push_bind(*seq)
                .push_bind(at);
        },
    );
    query.push(
        " ON DUPLICATE KEY UPDATE read_seq = GREATEST(read_seq, VALUES(read_seq)),
          delivered_seq = GREATEST(delivered_seq, VALUES(delivered_seq))",
    );
    query.build().execute(conn).await?;
    Ok(())
}
