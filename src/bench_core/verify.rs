//! After the run: what MySQL holds against what was acknowledged.

use super::*;
use crate::domain::lists::push_list;

/// Conversations' ids in the order seeded, by index.
pub(super) fn index_of(conversations: &[Conversation]) -> HashMap<ConversationId, usize> {
    conversations
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id, i))
        .collect()
}

/// The conversations in chunks of at most [`VERIFY_CHUNK`], each of one
/// tenant, for queries scoped by that tenant.
fn tenant_chunks(conversations: &[Conversation]) -> Vec<(TenantId, Vec<&Conversation>)> {
    let mut by_tenant: BTreeMap<TenantId, Vec<&Conversation>> = BTreeMap::new();
    for c in conversations {
        by_tenant.entry(c.tenant).or_default().push(c);
    }
    by_tenant
        .into_iter()
        .flat_map(|(tenant, all)| {
            all.chunks(VERIFY_CHUNK)
                .map(|chunk| (tenant, chunk.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// How many messages each conversation holds, by index.
pub(super) async fn stored(pool: &Pool, conversations: &[Conversation]) -> AppResult<Vec<u64>> {
    let index = index_of(conversations);
    let mut counts = vec![0; conversations.len()];
    for (tenant, chunk) in tenant_chunks(conversations) {
        let mut query =
            QueryBuilder::new("SELECT conversation_id, COUNT(*) FROM messages WHERE tenant_id = ");
        query.push_bind(tenant).push(" AND conversation_id IN ");
        push_list(&mut query, chunk.iter().map(|c| c.id));
        query.push(" GROUP BY conversation_id");
        let rows: Vec<(ConversationId, i64)> = query.build_query_as().fetch_all(pool).await?;
        for (id, count) in rows {
            if let Some(&i) = index.get(&id) {
                counts[i] = u64::try_from(count).unwrap_or(0);
            }
        }
    }
    Ok(counts)
}

/// Reads every conversation back: seq 1..N without gaps, N its `last_seq`,
/// each acknowledged id at its seq, as many new messages as acknowledged.
pub(super) async fn verify(
    pool: &Pool,
    conversations: &[Conversation],
    before: &[u64],
    acks: &[Ack],
) -> AppResult<Value> {
    let index = index_of(conversations);
    // The acknowledged (seq, id) of each conversation.
    let mut acked: Vec<BTreeMap<u64, MessageId>> = vec![BTreeMap::new(); conversations.len()];
    let mut problems = Vec::new();
    for ack in acks {
        if acked[ack.conversation].insert(ack.seq, ack.id).is_some() {
            problems.push(format!(
                "{}: seq {} acknowledged twice",
                conversations[ack.conversation].id, ack.seq
            ));
        }
    }
    // The stored seqs and ids, and last_seq, of each conversation.
    let mut seqs: Vec<Vec<(u64, MessageId)>> = vec![Vec::new(); conversations.len()];
    let mut last_seq = vec![0u64; conversations.len()];
    for (tenant, chunk) in tenant_chunks(conversations) {
        let mut query =
            QueryBuilder::new("SELECT conversation_id, seq, id FROM messages WHERE tenant_id = ");
        query.push_bind(tenant).push(" AND conversation_id IN ");
        push_list(&mut query, chunk.iter().map(|c| c.id));
        query.push(" ORDER BY conversation_id, seq");
        let rows: Vec<(ConversationId, u64, MessageId)> =
            query.build_query_as().fetch_all(pool).await?;
        for (id, seq, message) in rows {
            if let Some(&i) = index.get(&id) {
                seqs[i].push((seq, message));
            }
        }
        let mut query =
            QueryBuilder::new("SELECT id, last_seq FROM conversations WHERE tenant_id = ");
        query.push_bind(tenant).push(" AND id IN ");
        push_list(&mut query, chunk.iter().map(|c| c.id));
        let rows: Vec<(ConversationId, u64)> = query.build_query_as().fetch_all(pool).await?;
        for (id, last) in rows {
            if let Some(&i) = index.get(&id) {
                last_seq[i] = last;
            }
        }
    }
    let (mut messages, mut new, mut unacknowledged, mut max_seq_sum) = (0u64, 0u64, 0u64, 0u64);
    let mut gap_free = true;
    for (i, conversation) in conversations.iter().enumerate() {
        let id = conversation.id;
        let stored = &seqs[i];
        let count = stored.len() as u64;
        let max_seq = stored.last().map_or(0, |(seq, _)| *seq);
        messages += count;
        max_seq_sum += max_seq;
        // Gap-free from 1: the k-th message has seq k, and the last is last_seq.
        if let Some((k, (seq, _))) = stored
            .iter()
            .enumerate()
            .find(|(k, (seq, _))| *seq != *k as u64 + 1)
        {
            gap_free = false;
            problems.push(format!("{id}: seq {seq} where {} belongs", k + 1));
        }
        if max_seq != last_seq[i] {
            gap_free = false;
            problems.push(format!(
                "{id}: MAX(seq) {max_seq}, last_seq {}",
                last_seq[i]
            ));
        }
        for (&seq, &message) in &acked[i] {
            match stored.get((seq as usize).wrapping_sub(1)) {
                Some(&(at, stored_id)) if at == seq && stored_id == message => {}
                Some(&(at, stored_id)) if at == seq => problems.push(format!(
                    "{id}: seq {seq} is {stored_id}, the send acknowledged {message}"
                )),
                _ => problems.push(format!("{id}: acknowledged seq {seq} is not stored")),
            }
        }
        let added = count.saturating_sub(before[i]);
        new += added;
        let acknowledged = acked[i].len() as u64;
        if added < acknowledged {
            problems.push(format!(
                "{id}: {added} new messages stored, {acknowledged} acknowledged"
            ));
        }
        unacknowledged += added.saturating_sub(acknowledged);
    }
    let acknowledged = acks.len() as u64;
    Ok(json!({
        "conversations": conversations.len(),
        "messages": messages,
        "sumOfMaxSeq": max_seq_sum,
        "newMessages": new,
        "acknowledged": acknowledged,
        "unacknowledged": unacknowledged,
        "countMatches": new == acknowledged,
        "gapFree": gap_free,
        "ok": problems.is_empty() && new == acknowledged,
        "problems": problems.into_iter().take(20).collect::<Vec<_>>(),
    }))
}
