//! Presence: who is online. A participant is online from their first
//! connection until their last one closes and a grace period passes without
//! a new one (a reconnect, a network blip, a page reload is not an
//! offline-online flap). The counts live in this process's memory: each
//! node knows its own connections (see `docs/ARCHITECTURE.md`).

use std::{collections::HashMap, sync::Mutex};

use chrono::{DateTime, Utc};

use super::{
    Core, ParticipantId, TenantId,
    actor::{Actor, Role},
    events::DomainEvent,
    participant::{self, Participant, ParticipantType, as_seen_by, visible_kinds},
};
use crate::error::AppResult;

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
#[derive(Debug, Default)]
pub struct Registry {
    entries: Mutex<HashMap<ParticipantId, Entry>>,
}

impl Registry {
    /// Counts a new connection; `true` when the participant came online.
    fn connect(&self, who: ParticipantId, tenant: TenantId, role: Role) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get_mut(&who) {
            Some(entry) => {
                entry.sockets += 1;
                false
            }
            None => {
                entries.insert(
                    who,
                    Entry {
                        tenant,
                        role,
                        sockets: 1,
                        generation: 0,
                    },
                );
                true
            }
        }
    }

    /// Counts a closed connection; the generation to expire when it was the
    /// last one.
    fn disconnect(&self, who: ParticipantId) -> Option<u64> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get_mut(&who)?;
        entry.sockets = entry.sockets.saturating_sub(1);
        (entry.sockets == 0).then(|| {
            entry.generation += 1;
            entry.generation
        })
    }

    /// Takes the participant offline if nothing reconnected since
    /// `generation`; `true` when they went offline.
    fn expire(&self, who: ParticipantId, generation: u64) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&who) {
            Some(entry) if entry.sockets == 0 && entry.generation == generation => {
                entries.remove(&who);
                true
            }
            _ => false,
        }
    }

    pub fn is_online(&self, who: ParticipantId) -> bool {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&who)
    }

    /// How many participants are online on this node.
    pub fn online_count(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// How many of the tenant's participants are online on this node, per
    /// role (`user`, `astrologer`, `admin`).
    pub fn online_by_role(&self, tenant: TenantId) -> HashMap<Role, u32> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut counts = HashMap::new();
        for entry in entries.values().filter(|e| e.tenant == tenant) {
            *counts.entry(entry.role).or_default() += 1;
        }
        counts
    }

    /// Who is online on this node (every tenant).
    pub fn online(&self) -> Vec<ParticipantId> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }
}

/// A participant's presence as another participant may see it.
#[derive(Debug, Clone)]
pub struct PresenceOf {
    pub participant: Participant,
    pub online: bool,
}

impl Core {
    pub fn presence_registry(&self) -> &Registry {
        &self.presence
    }

    /// How many of the actor's tenant's participants are online now, per
    /// type, for the types the actor's directory shows (admins see all
    /// three; others astrologers and admins). Counts this node's
    /// connections, like the rest of presence.
    pub fn online_by_type(&self, actor: &Actor) -> AppResult<Vec<(ParticipantType, u32)>> {
        let tenant = actor.tenant()?;
        let counts = self.presence.online_by_role(tenant);
        Ok(visible_kinds(actor)
            .iter()
            .map(|&kind| (kind, counts.get(&Role::from(kind)).copied().unwrap_or(0)))
            .collect())
    }

    /// A connection of `actor` opened (a socket). The first one brings them
    /// online: `last_seen_at` is stamped and `PresenceChanged` published.
    pub async fn connection_opened(&self, actor: &Actor) -> AppResult<()> {
        let (tenant, me) = actor.participant()?;
        if self.presence.connect(me, tenant, actor.role) {
            self.presence_changed(tenant, me, true).await?;
        }
        Ok(())
    }

    /// A connection of `actor` closed. After the last one, the participant
    /// goes offline once the grace period passes without a new connection.
    pub fn connection_closed(&self, actor: &Actor) {
        let Ok((tenant, me)) = actor.participant() else {
            return;
        };
        let Some(generation) = self.presence.disconnect(me) else {
            return;
        };
        let core = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(core.config().presence_grace).await;
            if core.presence.expire(me, generation) {
                if let Err(err) = core.presence_changed(tenant, me, false).await {
                    tracing::warn!(error = %err, participant = %me, "recording last seen failed");
                }
                // Calls do not outlive a party's last connection.
                core.participant_gone(tenant, me).await;
            }
        });
    }

    async fn presence_changed(
        &self,
        tenant: TenantId,
        participant: ParticipantId,
        online: bool,
    ) -> AppResult<()> {
        let at = super::now();
        sqlx::query("UPDATE participants SET last_seen_at = ? WHERE tenant_id = ? AND id = ?")
            .bind(at)
            .bind(tenant)
            .bind(participant)
            .execute(self.pool())
            .await?;
        self.events()
            .publish(DomainEvent::PresenceChanged {
                tenant,
                participant,
                online,
                at,
            })
            .await;
        Ok(())
    }

    /// The presence of the given participants that the actor may see: those
    /// the directory shows them, and anyone they share a conversation with.
    /// Unknown and invisible ids are left out.
    pub async fn presence(
        &self,
        actor: &Actor,
        ids: &[ParticipantId],
    ) -> AppResult<Vec<PresenceOf>> {
        let tenant = actor.tenant()?;
        let mut conn = self.pool().acquire().await?;
        let found = participant::get_many(&mut conn, tenant, ids).await?;
        let kinds = visible_kinds(actor);
        let shared = match actor.participant() {
            Ok((_, me)) => {
                super::conversation::co_members(&mut conn, tenant, me, Some(ids)).await?
            }
            Err(_) => vec![],
        };
        Ok(found
            .into_iter()
            .filter(|p| p.id.0 == actor.id || kinds.contains(&p.kind) || shared.contains(&p.id))
            .map(|p| PresenceOf {
                online: self.presence.is_online(p.id),
                participant: as_seen_by(actor, p),
            })
            .collect())
    }

    /// Everyone who shares a current conversation with `participant`: the
    /// audience of their presence and profile changes.
    pub async fn audience_of(
        &self,
        tenant: TenantId,
        participant: ParticipantId,
    ) -> AppResult<Vec<ParticipantId>> {
        let mut conn = self.pool().acquire().await?;
        super::conversation::co_members(&mut conn, tenant, participant, None).await
    }

    /// A participant's type (cached: types never change).
    pub async fn participant_kind(
        &self,
        tenant: TenantId,
        id: ParticipantId,
    ) -> AppResult<Option<participant::ParticipantType>> {
        if let Some(kind) = self.caches().kinds.get(&id) {
            return Ok(Some(kind));
        }
        let found = participant::get(&mut *self.pool().acquire().await?, tenant, id).await?;
        Ok(found.map(|p| {
            self.caches().kinds.insert(id, p.kind);
            p.kind
        }))
    }
}

/// When a participant was last online, for clients: now if they are.
pub fn last_seen(presence: &PresenceOf) -> Option<DateTime<Utc>> {
    if presence.online {
        Some(super::now())
    } else {
        presence.participant.last_seen_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: TenantId = TenantId(uuid::Uuid::nil());

    fn someone() -> ParticipantId {
        ParticipantId(uuid::Uuid::now_v7())
    }

    #[test]
    fn online_from_the_first_connection_to_the_expiry_of_the_last() {
        let registry = Registry::default();
        let p = someone();
        assert!(
            registry.connect(p, TENANT, Role::User),
            "first connection: online"
        );
        assert!(
            !registry.connect(p, TENANT, Role::User),
            "second device: no change"
        );
        assert_eq!(registry.disconnect(p), None, "one device left");
        let generation = registry.disconnect(p).expect("the last one closed");
        assert!(registry.is_online(p), "online during the grace period");
        assert!(registry.expire(p, generation));
        assert!(!registry.is_online(p));
        assert!(!registry.expire(p, generation), "offline once");
    }

    #[test]
    fn a_reconnect_within_the_grace_period_keeps_them_online() {
        let registry = Registry::default();
        let p = someone();
        registry.connect(p, TENANT, Role::User);
        let generation = registry.disconnect(p).unwrap();
        assert!(
            !registry.connect(p, TENANT, Role::User),
            "back before the grace ran out: no change"
        );
        assert!(
            !registry.expire(p, generation),
            "the old timer does nothing"
        );
        assert!(registry.is_online(p));
        let later = registry.disconnect(p).unwrap();
        assert_ne!(later, generation);
        assert!(registry.expire(p, later));
    }

    #[test]
    fn closing_an_unknown_connection_changes_nothing() {
        let registry = Registry::default();
        assert_eq!(registry.disconnect(someone()), None);
        assert_eq!(registry.online_count(), 0);
    }

    #[test]
    fn online_counts_are_per_tenant_and_role_and_count_people_not_devices() {
        let registry = Registry::default();
        let other = TenantId(uuid::Uuid::max());
        let (a, b, c) = (someone(), someone(), someone());
        registry.connect(a, TENANT, Role::User);
        registry.connect(a, TENANT, Role::User);
        registry.connect(b, TENANT, Role::Astrologer);
        registry.connect(c, other, Role::User);
        let counts = registry.online_by_role(TENANT);
        assert_eq!(counts.get(&Role::User), Some(&1));
        assert_eq!(counts.get(&Role::Astrologer), Some(&1));
        assert_eq!(counts.get(&Role::Admin), None);
        assert_eq!(registry.online_by_role(other).get(&Role::User), Some(&1));
    }
}
