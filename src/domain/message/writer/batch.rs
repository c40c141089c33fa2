//! One batch's transaction: the reads, each send's checks, the writes,
//! the commit.

use super::*;
use crate::domain::{guard::NewFlag, limits::Count};

/// How long a batch waits for a pooled connection before the database
/// counts as lost (a healthy pool answers at once: the writers are few).
const ACQUIRE_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

impl Task {
    /// Checks and writes a batch in one transaction, reading the senders'
    /// client ids first if `read_ids` (`memory.rs`). Refused at once while
    /// the database is known not to answer.
    pub(super) async fn commit(
        &self,
        batch: &mut [Job],
        read_ids: bool,
    ) -> Result<Verdicts, Failure> {
        if !self.db.is_up() {
            return Err(Failure::Down);
        }
        let statement = |err: sqlx::Error| {
            if is_connection_lost(&err) {
                self.db.lost();
            } else if matches!(err, sqlx::Error::PoolTimedOut) {
                self.db.doubt();
            }
            Failure::Statement(err)
        };
        let waited = std::time::Instant::now();
        let waiting = metrics::gauge!("samvad_db_pool_waiting");
        waiting.increment(1.0);
        let acquired = tokio::time::timeout(ACQUIRE_WAIT, self.pool.acquire()).await;
        waiting.decrement(1.0);
        metrics::histogram!("samvad_db_acquire_seconds").record(waited.elapsed().as_secs_f64());
        let mut conn = acquired
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
            .map_err(statement)?;
        let mut tx = conn.begin().await.map_err(statement)?;
        let verdicts = self
            .write(&mut tx, batch, read_ids)
            .await
            .map_err(statement)?;
        tx.commit().await.map_err(|err| {
            if is_connection_lost(&err) {
                self.db.lost();
            }
            Failure::Commit(err)
        })?;
        Ok(verdicts)
    }

    /// Several nodes: counts the batch's sends against their senders'
    /// message rate in Redis, in one call, before the transaction (which
    /// must not wait on Redis while it holds the conversations' rows). A
    /// resent `clientMsgId` is counted too: which sends are resent is known
    /// only inside the transaction. One node counts in the checks instead,
    /// in memory, where a resend is not counted.
    pub(super) async fn count_shared(&self, batch: &mut [Job]) {
        let senders: Vec<(usize, Rate, String)> = batch
            .iter()
            .enumerate()
            .filter_map(
                |(i, job)| match (job.draft.check, job.draft.message.sender_id) {
                    (Check::Sender { rate, .. }, Some(sender)) if job.rate.is_none() => {
                        Some((i, rate, sender.to_string()))
                    }
                    _ => None,
                },
            )
            .collect();
        let counts: Vec<Count> = senders
            .iter()
            .map(|(i, rate, sender)| Count {
                tenant: batch[*i].draft.message.tenant_id,
                kind: Kind::MessagesPerParticipant,
                rate: *rate,
                key: sender,
            })
            .collect();
        let answers = self.limits.check_many(&counts).await;
        for ((i, _, _), answer) in senders.iter().zip(answers) {
            batch[*i].rate = Some(rate_answer(answer));
        }
    }

    async fn write(
        &self,
        tx: &mut MySqlConnection,
        batch: &mut [Job],
        read_ids: bool,
    ) -> sqlx::Result<Verdicts> {
        let now = crate::domain::now();
        let keys: Vec<Key> = batch
            .iter()
            .map(|j| (j.draft.message.tenant_id, j.draft.message.conversation_id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let locked = sql::lock_conversations(tx, &keys).await?;
        let members = self.memory.members(tx, &locked).await?;
        let mut facts = Facts::read(tx, batch, &locked, &members, read_ids).await?;
        let (mut verdicts, mut fresh) = self.decide(batch, &facts, &locked, &members, now);
        // A refused send may be a resend, whose first message is its answer.
        if !read_ids {
            let refused = Facts::client_ids(
                batch
                    .iter()
                    .zip(&verdicts)
                    .filter(|(_, (verdict, _))| matches!(verdict, Verdict::Refused(_)))
                    .map(|(job, _)| job),
            );
            if !refused.is_empty() {
                facts.stored = sql::by_client_ids(tx, &refused).await?;
                if !facts.stored.is_empty() {
                    (verdicts, fresh) = self.decide(batch, &facts, &locked, &members, now);
                }
            }
        }
        let flags: Vec<NewFlag> = batch
            .iter()
            .zip(&verdicts)
            .filter_map(|(job, (verdict, _))| {
                let m = &job.draft.message;
                Some(NewFlag {
                    tenant_id: m.tenant_id,
                    conversation_id: m.conversation_id,
                    sender_id: m.sender_id?,
                    message_id: match verdict {
                        Verdict::New(new) => Some(new.id),
                        _ => None,
                    },
                    hit: job.flag.clone()?,
                })
            })
            .collect();
        crate::domain::guard::record(tx, &flags).await?;
        if fresh.is_empty() {
            return Ok(verdicts);
        }

        sql::insert_all(tx, &fresh).await?;
        let files: Vec<_> = fresh
            .iter()
            .filter(|m| !m.attachments.is_empty())
            .map(|m| {
                let ids = m.attachments.iter().map(|a| a.file.id).collect();
                (m.tenant_id, m.id, ids)
            })
            .collect();
        crate::domain::file::link(tx, &files, now).await?;
        let mut newest: BTreeMap<Key, (&Message, ConversationType)> = BTreeMap::new();
        for m in &fresh {
            let key = (m.tenant_id, m.conversation_id);
            newest.insert(key, (m, locked[&key].kind));
        }
        sql::advance_conversations(tx, &newest.into_values().collect::<Vec<_>>()).await?;
        let mut cursors = BTreeMap::new();
        for (job, (verdict, _)) in batch.iter().zip(&verdicts) {
            if let (Check::Sender { .. }, Verdict::New(m)) = (job.draft.check, verdict)
                && let Some(sender) = m.sender_id
            {
                cursors.insert((m.tenant_id, m.conversation_id, sender), m.seq);
            }
        }
        sql::sent_up_to(tx, &cursors, now).await?;
        let entries: Vec<NewEntry> = fresh
            .iter()
            .map(|m| NewEntry::of_message(LogKind::MessageCreated, m))
            .collect();
        log::append(tx, &entries).await?;
        Ok(verdicts)
    }

    /// Each send's verdict, in arrival order, against what the batch read:
    /// the new messages get their seqs from the locked rows.
    fn decide(
        &self,
        batch: &mut [Job],
        facts: &Facts,
        locked: &HashMap<Key, sql::Locked>,
        members: &HashMap<Key, Arc<[ParticipantId]>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (Verdicts, Vec<Message>) {
        let mut next_seq: HashMap<Key, u64> =
            locked.iter().map(|(key, c)| (*key, c.last_seq)).collect();
        let mut verdicts = Vec::with_capacity(batch.len());
        let mut fresh: Vec<Message> = Vec::new();
        let mut by_client: HashMap<(TenantId, ParticipantId, String), usize> = HashMap::new();
        for job in batch.iter_mut() {
            let key = (
                job.draft.message.tenant_id,
                job.draft.message.conversation_id,
            );
            let verdict = match self.check(job, facts, locked, members, &fresh, &by_client) {
                Some(verdict) => verdict,
                None => {
                    let seq = next_seq.get_mut(&key).expect("locked");
                    *seq += 1;
                    let mut message = job.draft.message.clone();
                    message.seq = *seq;
                    message.created_at = now;
                    for a in &mut message.attachments {
                        a.file.sent_at.get_or_insert(now);
                    }
                    if let (Some(sender), Some(client_id)) =
                        (message.sender_id, &message.client_msg_id)
                    {
                        by_client.insert((key.0, sender, client_id.clone()), fresh.len());
                    }
                    fresh.push(message.clone());
                    Verdict::New(message)
                }
            };
            verdicts.push((verdict, members.get(&key).cloned()));
        }
        (verdicts, fresh)
    }
}
