//! What a node's writers remember between batches, so that a batch reads
//! less:
//! - each conversation's current members, kept under the `members_rev` of
//!   its row. A batch reads the revision with the row it locks and reads
//!   the members again only if it moved. Every change to the members, on
//!   any node, bumps it in the change's own transaction, before the change
//!   (`conversation::members_changing`), so a batch holding the row never
//!   uses members older than the ones it would read;
//! - whether to read the senders' client ids before the insert. A batch
//!   does not, normally: the insert's unique key finds a client id already
//!   stored, the batch is rolled back and written again reading them (and
//!   a send refused by a check is looked up, since a resend must get its
//!   first message back however it would fare today). Resends come in
//!   bursts, after reconnections, so for [`CAREFUL`] after one every batch
//!   reads them first.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use moka::sync::Cache;
use sqlx::MySqlConnection;

use super::sql::{self, Key, Locked};
use crate::domain::ParticipantId;

/// Conversations whose members a node keeps (about 100 bytes each, with
/// two members).
const MEMBERS_KEPT: u64 = 100_000;
/// How long batches read client ids first after a resend was found.
const CAREFUL: Duration = Duration::from_secs(2);

/// Shared by a node's writers (each writes its own conversations).
#[derive(Clone)]
pub(super) struct Memory {
    members: Cache<Key, (u64, Arc<[ParticipantId]>)>,
    careful_until: Arc<Mutex<Option<Instant>>>,
}

impl Memory {
    pub(super) fn new() -> Self {
        Self {
            members: Cache::new(MEMBERS_KEPT),
            careful_until: Arc::default(),
        }
    }

    /// The current members of the locked conversations: those kept under
    /// the revision just locked, and the rest read (and kept).
    pub(super) async fn members(
        &self,
        tx: &mut MySqlConnection,
        locked: &HashMap<Key, Locked>,
    ) -> sqlx::Result<HashMap<Key, Arc<[ParticipantId]>>> {
        let mut members = HashMap::with_capacity(locked.len());
        let mut missing = Vec::new();
        for (key, row) in locked {
            match self.members.get(key) {
                Some((rev, ids)) if rev == row.members_rev => {
                    members.insert(*key, ids);
                }
                _ => missing.push(*key),
            }
        }
        if missing.is_empty() {
            return Ok(members);
        }
        missing.sort_unstable();
        let mut read = sql::members(tx, &missing).await?;
        for key in missing {
            let ids: Arc<[ParticipantId]> = Arc::from(read.remove(&key).unwrap_or_default());
            self.members
                .insert(key, (locked[&key].members_rev, ids.clone()));
            members.insert(key, ids);
        }
        Ok(members)
    }

    /// Whether a batch reads client ids before its insert.
    pub(super) fn reads_client_ids(&self) -> bool {
        self.careful_until
            .lock()
            .expect("not poisoned")
            .is_some_and(|until| Instant::now() < until)
    }

    /// A batch's insert found a client id already stored.
    pub(super) fn resend_found(&self) {
        *self.careful_until.lock().expect("not poisoned") = Some(Instant::now() + CAREFUL);
    }
}
