//! The writer's statements: each reads or writes a whole batch at once, so
//! a batch costs about the same number of statements whatever its size.
//! Every read is scoped by tenant: a batch may mix tenants, and a key of
//! another tenant simply finds nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{MySql, MySqlConnection, QueryBuilder, Row};

use crate::domain::{
    ConversationId, MessageId, ParticipantId, TenantId,
    conversation::ConversationType,
    lists::{ROWS_PER_INSERT, padded, push_list, push_pairs},
    message::{COLUMNS, Message},
};

/// A conversation and one of its tenant's ids.
pub type Key = (TenantId, ConversationId);

/// A conversation row as the writer locked it.
pub struct Locked {
    pub kind: ConversationType,
    pub is_active: bool,
    pub last_seq: u64,
}

/// Appends `(tenant_id = ? AND column IN (...)) OR ...` for each tenant's
/// values (the map must not be empty), each tenant's list padded
/// ([`padded`]): a batch of one tenant's sends is then one of a few
/// statements, which the writer's connection keeps prepared
/// (`db::WRITER_STATEMENTS`). (One list of `(tenant_id, id)` rows would
/// make the shape independent of the tenants, but MariaDB takes twice as
/// long to plan and check such a list: 1.3 against 0.6 ms for 256 rows.)
fn push_by_tenant<T>(
    query: &mut QueryBuilder<'_, MySql>,
    tenant_column: &str,
    column: &str,
    groups: &BTreeMap<TenantId, Vec<T>>,
) where
    T: Copy + for<'q> sqlx::Encode<'q, MySql> + sqlx::Type<MySql> + Send + 'static,
{
    query.push("(");
    for (i, (tenant, values)) in groups.iter().enumerate() {
        if i > 0 {
            query.push(" OR ");
        }
        query
            .push(format!("({tenant_column} = "))
            .push_bind(*tenant)
            .push(format!(" AND {column} IN "));
        push_list(query, padded(values).copied());
        query.push(")");
    }
    query.push(")");
}

fn by_tenant<T: Ord + Copy>(
    keys: impl IntoIterator<Item = (TenantId, T)>,
) -> BTreeMap<TenantId, Vec<T>> {
    let mut groups: BTreeMap<TenantId, Vec<T>> = BTreeMap::new();
    for (tenant, value) in keys {
        groups.entry(tenant).or_default().push(value);
    }
    for values in groups.values_mut() {
        values.sort();
        values.dedup();
    }
    groups
}

/// Locks the conversations' rows in key order (so two writers never lock
/// the same rows in opposite orders) and reads what the checks need.
///
/// Only those rows: a locking read locks every row it examines, and when
/// the asked rows are a good part of their tenant's, MariaDB prefers to
/// scan the tenant (measured: 33 asked, 64 examined and locked), which
/// locks the other writer's conversations too and makes the two writers
/// wait for each other's whole batch. The primary key is forced, so each
/// row is looked up on its own.
pub async fn lock_conversations(
    conn: &mut MySqlConnection,
    keys: &[Key],
) -> sqlx::Result<HashMap<Key, Locked>> {
    let mut query = QueryBuilder::new(
        "SELECT tenant_id, id, type, is_active, last_seq FROM conversations FORCE INDEX (PRIMARY)
         WHERE ",
    );
    push_by_tenant(
        &mut query,
        "tenant_id",
        "id",
        &by_tenant(keys.iter().copied()),
    );
    query.push(" ORDER BY tenant_id, id FOR UPDATE");
    let rows = query.build().fetch_all(conn).await?;
    rows.iter()
        .map(|row| {
            Ok((
                (row.try_get("tenant_id")?, row.try_get("id")?),
                Locked {
                    kind: row.try_get("type")?,
                    is_active: row.try_get("is_active")?,
                    last_seq: row.try_get("last_seq")?,
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
    let mut query = QueryBuilder::new(
        "SELECT tenant_id, conversation_id, participant_id FROM conversation_members WHERE ",
    );
    push_by_tenant(
        &mut query,
        "tenant_id",
        "conversation_id",
        &by_tenant(keys.iter().copied()),
    );
    query.push(" AND left_at IS NULL");
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
/// `(tenant, blocker, blocked)`: every block made or received by the
/// people of the pairs (two index ranges), filtered by the caller.
pub async fn blocks(
    conn: &mut MySqlConnection,
    pairs: &[(TenantId, ParticipantId, ParticipantId)],
) -> sqlx::Result<HashSet<(TenantId, ParticipantId, ParticipantId)>> {
    if pairs.is_empty() {
        return Ok(HashSet::new());
    }
    let people = by_tenant(pairs.iter().flat_map(|(t, a, b)| [(*t, *a), (*t, *b)]));
    let mut query =
        QueryBuilder::new("SELECT tenant_id, blocker_id, blocked_id FROM blocks WHERE ");
    push_by_tenant(&mut query, "tenant_id", "blocker_id", &people);
    query.push(" UNION SELECT tenant_id, blocker_id, blocked_id FROM blocks WHERE ");
    push_by_tenant(&mut query, "tenant_id", "blocked_id", &people);
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
/// `(tenant, sender, client id)`.
pub async fn by_client_ids(
    conn: &mut MySqlConnection,
    keys: &[(TenantId, ParticipantId, String)],
) -> sqlx::Result<HashMap<(TenantId, ParticipantId, String), Message>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    // Pairs on the unique key, `(sender_id, client_msg_id) IN ((?, ?), ...)`,
    // which MariaDB reads as one range per pair. (Separate IN lists on the
    // two columns would make it weigh their cross product and fall back
    // to reading all the tenant's messages.)
    let mut groups: BTreeMap<TenantId, Vec<(ParticipantId, &str)>> = BTreeMap::new();
    for (tenant, sender, client_id) in keys {
        groups
            .entry(*tenant)
            .or_default()
            .push((*sender, client_id));
    }
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM messages x FORCE INDEX (uq_messages_client) WHERE "
    ));
    for (i, (tenant, pairs)) in groups.iter().enumerate() {
        if i > 0 {
            query.push(" OR ");
        }
        query
            .push("(x.tenant_id = ")
            .push_bind(*tenant)
            .push(" AND (x.sender_id, x.client_msg_id) IN ");
        push_pairs(
            &mut query,
            padded(pairs).map(|(sender, client_id)| (*sender, client_id.to_string())),
        );
        query.push(")");
    }
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
    let mut query = QueryBuilder::new(
        "SELECT tenant_id, id, conversation_id FROM messages FORCE INDEX (uq_messages_id) WHERE ",
    );
    push_by_tenant(
        &mut query,
        "tenant_id",
        "id",
        &by_tenant(ids.iter().copied()),
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
