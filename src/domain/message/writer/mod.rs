//! The writer: every message, whoever sends it and through whichever front
//! door, is appended here, and sends that arrive together are committed
//! together (group commit).
//!
//! A writer task takes whatever sends are waiting (up to [`MAX_BATCH`]; one
//! alone when the server is quiet, so a quiet server adds no wait; when it
//! is busy and `SAMVAD_BATCH_WAIT_MS` is set, also the sends that arrive
//! within that time of the first: see [`waits`]) and writes them in one
//! transaction of about ten statements, whatever the batch's size
//! (`SAMVAD_WRITERS` tasks, 2 by default, each with its share of the
//! conversations), after (several nodes) one Redis call that counts
//! the batch's sends against their senders' message rate:
//! - the conversations' rows locked in key order (`SELECT ... FOR UPDATE`),
//!   their members (kept in memory under the row's `members_rev`:
//!   `memory.rs`), the blocks between direct partners and the reply
//!   targets, each read once for the batch; the client ids already stored
//!   only when the insert finds one (or a check refuses a send), since
//!   almost no send is a resend;
//! - the checks of each send, in arrival order, against what was read: a
//!   member removed or blocked before the send was submitted is refused,
//!   since the reads see every committed change and the rows stay locked;
//! - one multi-row insert, one update of the conversations, one upsert of
//!   the senders' cursors, the log entries (`domain::log`), one commit.
//!
//! Seqs are taken per conversation from its locked row, in arrival order, so
//! they stay gap-free and in commit order. A repeated `clientMsgId` returns
//! the first message, also when both copies are in the same batch. Only
//! after the commit are the events published (in seq order) and the sends
//! answered. If a statement fails, the batch is rolled back and each of its
//! sends is written again on its own, so one bad send cannot sink the
//! others; a failed commit answers every send of the batch with an error.
//! Nothing is acknowledged that is not committed.

mod batch;
mod check;
mod memory;
mod outcome;
mod scope;
mod sql;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use sqlx::{Connection, MySqlConnection};
use tokio::sync::{mpsc, oneshot};

use self::{check::Facts, sql::Key};
use super::Message;
use crate::{
    db::Pool,
    domain::{
        ParticipantId, TenantId,
        conversation::ConversationType,
        events::{DomainEvent, EventBus},
        limits::{Kind, Limits},
        log::{self, LogKind, NewEntry},
        participant::ParticipantType,
        settings::Rate,
    },
    error::{
        AppError, AppResult, is_connection_lost, is_deadlock, is_unique_violation, is_unreachable,
    },
};

/// Most sends in one transaction.
pub const MAX_BATCH: usize = 256;

/// What the writer checks before appending a message.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// A participant's send: the sender must be a current member, the
    /// conversation open (unless `admin`), no block between the two sides
    /// of a direct conversation, a reply target in the same conversation;
    /// each new message counts against `rate`.
    Sender { admin: bool, rate: Rate },
    /// Samvad's own message: the conversation must exist.
    System,
}

/// A message to append: `seq` and `created_at` are set by the writer.
pub struct Draft {
    pub message: Message,
    pub check: Check,
    /// The sender's type, which the event carries.
    pub sender_kind: Option<ParticipantType>,
    /// The tenant's contact guard, for a user's or an astrologer's send
    /// (applied in user–astrologer conversations).
    pub guard: Option<std::sync::Arc<crate::domain::guard::Guard>>,
}

struct Job {
    draft: Draft,
    /// What the contact guard found, if anything (kept across a batch
    /// written again: the text may already be masked then).
    flag: Option<crate::domain::guard::Hit>,
    /// The rate limit's answer, once asked (a batch written again after a
    /// failure does not count a send twice): `Some(Err(secs))` if refused.
    rate: Option<Result<(), u64>>,
    reply: oneshot::Sender<AppResult<Message>>,
}

enum Command {
    Write(Box<Job>),
    /// Write what is queued before this, refuse what comes after, answer.
    Stop(oneshot::Sender<()>),
}

/// A rate check's answer as a job keeps it: `Err(seconds to wait)` if
/// refused.
fn rate_answer(checked: AppResult<()>) -> Result<(), u64> {
    match checked {
        Ok(()) => Ok(()),
        Err(AppError::TooManyRequests { retry_after_secs }) => Err(retry_after_secs),
        Err(_) => Err(1),
    }
}

/// The handle on the writer tasks.
pub struct Writer {
    shards: Vec<mpsc::UnboundedSender<Command>>,
    queued: Arc<AtomicUsize>,
    /// The writers' own connections (`db::writers_pool`).
    pool: Pool,
}

/// The fate of one send in a committed batch.
enum Verdict {
    /// Appended: the message with its seq.
    New(Message),
    /// Its `clientMsgId` was already used: the first message.
    Resent(Message),
    Refused(AppError),
}

/// Each send's verdict, in the batch's order, with its conversation's
/// members (for the event).
type Verdicts = Vec<(Verdict, Option<Arc<[ParticipantId]>>)>;

/// Why a batch was not committed.
enum Failure {
    /// The database is known to be out of reach: nothing was tried.
    Down,
    /// A statement failed: rolled back, nothing stored.
    Statement(sqlx::Error),
    /// The commit itself failed: whether it happened is unknown.
    Commit(sqlx::Error),
}

impl Writer {
    /// Starts `writers` writer tasks on the current runtime.
    ///
    /// Each writer has the conversations whose id falls to it: MariaDB runs
    /// one connection's statements on one thread, so two writers keep two
    /// cores busy and one batch's commit overlaps the next one's work. A
    /// conversation always goes to the same writer, so its messages keep
    /// their order from arrival to seq to event, and writers never wait for
    /// each other's conversations (only briefly for `log_head`, at commit).
    /// More writers make smaller batches, each costing MariaDB more per
    /// message (BENCHMARKS.md, "where the 10,000 msgs/s limit really lies").
    /// `pool` is theirs alone, a connection each (`db::writers_pool`).
    /// A busy writer waits `wait` for more sends before it writes (see
    /// [`waits`]).
    pub fn start(
        pool: Pool,
        events: EventBus,
        limits: Arc<Limits>,
        writers: usize,
        wait: std::time::Duration,
    ) -> Self {
        let queued = Arc::new(AtomicUsize::new(0));
        let db = crate::db::Health::new(pool.clone());
        let memory = memory::Memory::new();
        let shards = (0..writers.max(1))
            .map(|_| {
                let (commands, receiver) = mpsc::unbounded_channel();
                let task = Task {
                    pool: pool.clone(),
                    db: db.clone(),
                    events: events.clone(),
                    limits: limits.clone(),
                    queued: queued.clone(),
                    memory: memory.clone(),
                    wait,
                };
                tokio::spawn(task.run(receiver));
                commands
            })
            .collect();
        Self {
            shards,
            queued,
            pool,
        }
    }

    /// Appends a message and answers once it is committed (or refused).
    pub async fn write(&self, draft: Draft) -> AppResult<Message> {
        // The id's last byte is random (UUIDv7): the conversation's writer.
        let shard = usize::from(draft.message.conversation_id.0.as_bytes()[15]) % self.shards.len();
        let (reply, answer) = oneshot::channel();
        let job = Job {
            draft,
            flag: None,
            rate: None,
            reply,
        };
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.shards[shard]
            .send(Command::Write(Box::new(job)))
            .is_err()
        {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(AppError::Overloaded);
        }
        // The writer stopped (shutdown) without answering: not written.
        answer.await.unwrap_or(Err(AppError::Overloaded))
    }

    /// Sends waiting for the writer.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Writes what is queued, then stops and closes the writers'
    /// connections; later sends are refused.
    pub async fn stop(&self) {
        let stops = self.shards.iter().filter_map(|shard| {
            let (done, stopped) = oneshot::channel();
            shard.send(Command::Stop(done)).ok().map(|()| stopped)
        });
        futures_util::future::join_all(stops).await;
        self.pool.close().await;
    }
}

struct Task {
    pool: Pool,
    /// Whether the database answers (shared by the writers).
    db: Arc<crate::db::Health>,
    events: EventBus,
    limits: Arc<Limits>,
    queued: Arc<AtomicUsize>,
    memory: memory::Memory,
    /// How long to wait for more sends when busy (see [`waits`]).
    wait: std::time::Duration,
}

/// Whether a writer, holding a first send, waits for more before writing:
/// only when told to (`SAMVAD_BATCH_WAIT_MS`) and busy, that is when its
/// last batch held more than one send. Every batch costs MariaDB about
/// 0.8 ms of CPU and Samvad 0.4 ms whatever its size, against about 0.1 ms
/// per message (BENCHMARKS.md, "a busy writer may wait for more"), so on a
/// machine at its CPU limit fewer, larger batches leave more CPU to the
/// rest; below the limit the wait costs latency, which is why it is off by
/// default. A quiet server, whose batches are of one send, never waits.
fn waits(wait: std::time::Duration, last_batch: usize) -> bool {
    !wait.is_zero() && last_batch > 1
}

impl Task {
    async fn run(self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut last_batch = 0;
        while let Some(command) = commands.recv().await {
            let mut batch = Vec::new();
            let mut stop = None;
            match command {
                Command::Write(job) => batch.push(*job),
                Command::Stop(done) => stop = Some(done),
            }
            if stop.is_none() && waits(self.wait, last_batch) {
                tokio::time::sleep(self.wait).await;
            }
            while stop.is_none() && batch.len() < MAX_BATCH {
                match commands.try_recv() {
                    Ok(Command::Write(job)) => batch.push(*job),
                    Ok(Command::Stop(done)) => stop = Some(done),
                    Err(_) => break,
                }
            }
            self.queued.fetch_sub(batch.len(), Ordering::Relaxed);
            last_batch = batch.len();
            if !batch.is_empty() {
                self.process(batch).await;
            }
            if let Some(done) = stop {
                commands.close();
                while let Ok(command) = commands.try_recv() {
                    match command {
                        Command::Write(job) => {
                            self.queued.fetch_sub(1, Ordering::Relaxed);
                            let _ = job.reply.send(Err(AppError::Overloaded));
                        }
                        Command::Stop(done) => {
                            let _ = done.send(());
                        }
                    }
                }
                let _ = done.send(());
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn a_writer_waits_for_more_sends_only_when_busy_and_told_to() {
        let wait = Duration::from_millis(1);
        assert!(!super::waits(wait, 0), "the first send of all");
        assert!(!super::waits(wait, 1), "a quiet server: batches of one");
        assert!(super::waits(wait, 2));
        assert!(super::waits(wait, super::MAX_BATCH));
        assert!(!super::waits(Duration::ZERO, 200), "SAMVAD_BATCH_WAIT_MS=0");
    }
}
