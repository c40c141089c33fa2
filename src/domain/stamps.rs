//! "Last used" (sessions) and "last seen" (participants) stamps, written in
//! batches.
//!
//! Every socket connect used to stamp both in transactions of their own:
//! two commits, each waiting for the redo log, for two timestamps. Here the
//! stamps wait up to [`EVERY`] and go out together in two statements,
//! however many connects they stand for. A participant is stamped with
//! their own time, a session with the latest of its batch. A stamp only
//! moves a column forward (`GREATEST`), so one written late never hides a
//! newer one written directly (going offline). Stamps are not user data: a
//! crash loses at most the last [`EVERY`] of them, and a stop writes what
//! is held.
//!
//! Each statement commits on its own and takes its rows in key order:
//! blocking a participant updates their row and then their sessions in one
//! transaction, so stamps that held sessions while waiting for that row
//! (one transaction for both tables, as first written) deadlocked with it,
//! and the block could be the one refused.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, QueryBuilder};
use tokio::{sync::watch, task::JoinHandle};

use super::{ParticipantId, SessionId, TenantId};
use crate::db::Pool;

/// How long a stamp may wait.
pub const EVERY: Duration = Duration::from_millis(250);

/// Rows per statement.
const CHUNK: usize = 1_000;

#[derive(Default)]
struct Pending {
    sessions: HashSet<SessionId>,
    /// The latest time among the sessions.
    at: Option<DateTime<Utc>>,
    seen: HashMap<(TenantId, ParticipantId), DateTime<Utc>>,
}

impl Pending {
    fn stamp(&mut self, at: DateTime<Utc>) {
        self.at = self.at.max(Some(at));
    }

    fn seen(&mut self, who: (TenantId, ParticipantId), at: DateTime<Utc>) {
        let stamp = self.seen.entry(who).or_insert(at);
        *stamp = (*stamp).max(at);
    }

    fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.seen.is_empty()
    }

    /// Takes back a batch that could not be written.
    fn merge(&mut self, batch: Pending) {
        self.sessions.extend(batch.sessions);
        if let Some(at) = batch.at {
            self.stamp(at);
        }
        for (who, at) in batch.seen {
            self.seen(who, at);
        }
    }
}

/// The stamps waiting, and the task that writes them.
pub struct Stamps {
    pending: Arc<Mutex<Pending>>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Stamps {
    /// Starts the writing task on the caller's runtime.
    pub fn start(pool: Pool) -> Self {
        let pending = Arc::new(Mutex::new(Pending::default()));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(pool, pending.clone(), stopped));
        Self {
            pending,
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `session` was used at `at`.
    pub fn session_used(&self, session: SessionId, at: DateTime<Utc>) {
        let mut pending = self.pending();
        pending.sessions.insert(session);
        pending.stamp(at);
    }

    /// `participant` was seen (came online) at `at`.
    pub fn participant_seen(
        &self,
        tenant: TenantId,
        participant: ParticipantId,
        at: DateTime<Utc>,
    ) {
        self.pending().seen((tenant, participant), at);
    }

    /// Writes what is held and stops.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

async fn run(pool: Pool, pending: Arc<Mutex<Pending>>, mut stopped: watch::Receiver<bool>) {
    let mut failing = false;
    loop {
        let stopping = tokio::time::timeout(EVERY, stopped.changed()).await.is_ok();
        let batch = std::mem::take(&mut *pending.lock().unwrap_or_else(|e| e.into_inner()));
        if !batch.is_empty() {
            match write(&pool, &batch).await {
                Ok(()) => {
                    if failing {
                        tracing::info!("last-seen stamps are written again");
                    }
                    failing = false;
                }
                Err(err) => {
                    if !failing {
                        tracing::warn!(error = %err, "writing last-seen stamps failed; they are kept and tried again");
                    }
                    failing = true;
                    if !stopping {
                        pending
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .merge(batch);
                    }
                }
            }
        }
        if stopping {
            return;
        }
    }
}

/// Two statements for the whole batch (per thousand rows).
async fn write(pool: &Pool, batch: &Pending) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    let mut sessions: Vec<SessionId> = batch.sessions.iter().copied().collect();
    sessions.sort_unstable();
    for chunk in sessions.chunks(CHUNK) {
        let mut query =
            QueryBuilder::new("UPDATE sessions SET last_used_at = GREATEST(last_used_at, ");
        query.push_bind(batch.at);
        query.push(") WHERE revoked_at IS NULL AND id IN (");
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(")");
        execute(&mut conn, query).await?;
    }
    let mut seen: Vec<_> = batch.seen.iter().map(|(&who, &at)| (who, at)).collect();
    seen.sort_unstable_by_key(|&(who, _)| who);
    for chunk in seen.chunks(CHUNK) {
        // Joined on the primary key to the stamps, each row its own time.
        let mut query = QueryBuilder::new("UPDATE participants p JOIN (");
        for (i, &((tenant, id), at)) in chunk.iter().enumerate() {
            query.push(if i == 0 {
                "SELECT "
            } else {
                " UNION ALL SELECT "
            });
            query
                .push_bind(tenant)
                .push(" AS t, ")
                .push_bind(id)
                .push(" AS i, ");
            query.push_bind(at).push(" AS at");
        }
        query.push(
            ") s ON p.tenant_id = s.t AND p.id = s.i
             SET p.last_seen_at = GREATEST(COALESCE(p.last_seen_at, s.at), s.at)",
        );
        execute(&mut conn, query).await?;
    }
    Ok(())
}

async fn execute(
    conn: &mut MySqlConnection,
    mut query: QueryBuilder<'_, sqlx::MySql>,
) -> sqlx::Result<()> {
    query.build().execute(conn).await.map(|_| ())
}
