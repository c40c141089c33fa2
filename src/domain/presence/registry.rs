//! This node's connection counts: who is online here, per tenant and role.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
};

use super::shared;
use crate::domain::{ParticipantId, TenantId, actor::Role};

/// One participant's connections on this node.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Whose they are, for the per-tenant counts.
    tenant: TenantId,
    role: Role,
    sockets: u32,
    /// Bumped whenever the count falls to zero, so that a grace timer
    /// started before a reconnect does not take the participant offline.
    generation: u64,
}

/// Connection counts per participant; a participant with an entry is online.
#[derive(Default)]
pub struct Registry {
    entries: Mutex<Entries>,
    /// Presence across nodes, with Redis.
    pub(super) shared: OnceLock<shared::Shared>,
}

/// The entries, and how many of them each tenant has per role (kept with
/// them, so that counting a tenant's online participants does not walk
/// everyone connected to this node).
#[derive(Default)]
struct Entries {
    by_participant: HashMap<ParticipantId, Entry>,
    by_role: HashMap<(TenantId, Role), u32>,
}

impl Entries {
    fn remove(&mut self, who: ParticipantId) {
        if let Some(entry) = self.by_participant.remove(&who)
            && let Some(count) = self.by_role.get_mut(&(entry.tenant, entry.role))
        {
            *count -= 1;
            if *count == 0 {
                self.by_role.remove(&(entry.tenant, entry.role));
            }
        }
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("shared", &self.shared.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Counts a new connection; `true` when the participant came online.
    pub(super) fn connect(&self, who: ParticipantId, tenant: TenantId, role: Role) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.by_participant.get_mut(&who) {
            Some(entry) => {
                entry.sockets += 1;
                false
            }
            None => {
                entries.by_participant.insert(
                    who,
                    Entry {
                        tenant,
                        role,
                        sockets: 1,
                        generation: 0,
                    },
                );
                *entries.by_role.entry((tenant, role)).or_default() += 1;
                true
            }
        }
    }

    /// Counts a closed connection; the generation to expire when it was the
    /// last one.
    pub(super) fn disconnect(&self, who: ParticipantId) -> Option<u64> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.by_participant.get_mut(&who)?;
        entry.sockets = entry.sockets.saturating_sub(1);
        (entry.sockets == 0).then(|| {
            entry.generation += 1;
            entry.generation
        })
    }

    /// Whether `who` would go offline now: no connection here, and nothing
    /// reconnected since `generation`.
    pub(super) fn expiring(&self, who: ParticipantId, generation: u64) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        matches!(entries.by_participant.get(&who), Some(entry) if entry.sockets == 0 && entry.generation == generation)
    }

    /// Takes the participant offline if nothing reconnected since
    /// `generation`; `true` when they went offline.
    pub(super) fn expire(&self, who: ParticipantId, generation: u64) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.by_participant.get(&who) {
            Some(entry) if entry.sockets == 0 && entry.generation == generation => {
                entries.remove(who);
                true
            }
            _ => false,
        }
    }

    /// Whether `who` has a connection on this node.
    pub fn is_online_here(&self, who: ParticipantId) -> bool {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_participant
            .contains_key(&who)
    }

    /// How many participants are online on this node.
    pub fn online_count(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_participant
            .len()
    }

    /// How many of the tenant's participants are online on this node, per
    /// role (`user`, `astrologer`, `admin`).
    pub fn online_by_role(&self, tenant: TenantId) -> HashMap<Role, u32> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .by_role
            .iter()
            .filter(|((of, _), _)| *of == tenant)
            .map(|((_, role), count)| (*role, *count))
            .collect()
    }

    /// Who is online on this node (connected, or in the grace after their
    /// last connection), with their tenants and roles.
    pub(super) fn online_here(&self) -> Vec<shared::Here> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_participant
            .iter()
            .map(|(who, e)| (e.tenant, *who, e.role))
            .collect()
    }
}
