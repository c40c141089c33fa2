//! Presence: who is online. A participant is online from their first
//! connection until their last one closes and a grace period passes without
//! a new one (a reconnect, a network blip, a page reload is not an
//! offline-online flap). Each node counts its own connections in memory;
//! with several nodes, [`shared`] says in Redis which nodes a participant
//! is connected to, so online means online on any node.

mod registry;
mod shared;

pub use registry::Registry;

use std::{collections::HashSet, sync::Arc};

use chrono::{DateTime, Utc};

use super::{
    ConversationId, Core, ParticipantId, TenantId,
    actor::{Actor, Role},
    events::DomainEvent,
    participant::{self, Participant, ParticipantType, as_seen_by, visible_kinds},
};
use crate::error::AppResult;

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

    /// Shares presence through Redis from now on (several nodes); `node` is
    /// this process's id among them.
    pub fn share_presence(
        &self,
        redis: super::redis_link::RedisLink,
        prefix: &str,
        node: uuid::Uuid,
    ) {
        let _ = self
            .presence
            .shared
            .set(shared::Shared::new(redis, prefix, node));
    }

    /// Whether this node is one of several (presence shared through Redis).
    pub fn is_clustered(&self) -> bool {
        self.presence.shared.get().is_some()
    }

    /// Whether `who` is connected, to this node or (several nodes) any.
    pub async fn is_online(&self, who: ParticipantId) -> bool {
        self.offline_among(&[who]).await.is_empty()
    }

    /// Which of `who` are not connected to this node or (several nodes)
    /// any: one Redis round trip for them all.
    pub async fn offline_among(&self, who: &[ParticipantId]) -> Vec<ParticipantId> {
        let elsewhere: Vec<ParticipantId> = who
            .iter()
            .copied()
            .filter(|&p| !self.presence.is_online_here(p))
            .collect();
        let Some(shared) = self.presence.shared.get() else {
            return elsewhere;
        };
        if elsewhere.is_empty() {
            return elsewhere;
        }
        match shared.online_among(&elsewhere).await {
            Ok(online) => elsewhere
                .into_iter()
                .zip(online)
                .filter_map(|(p, online)| (!online).then_some(p))
                .collect(),
            Err(err) => {
                tracing::debug!(error = %err, "presence in Redis did not answer");
                elsewhere
            }
        }
    }

    /// Says this node is alive (several nodes) and takes offline whoever
    /// was connected only to nodes that died. Runs each
    /// [`HEARTBEAT`](shared::HEARTBEAT) (`workers::cluster`).
    pub async fn presence_heartbeat(&self) {
        let Some(shared) = self.presence.shared.get() else {
            return;
        };
        let here = self.presence.online_here();
        match shared.heartbeat(&here).await {
            Ok(gone) => {
                for (tenant, who, _) in gone {
                    self.went_offline(tenant, who).await;
                }
            }
            Err(err) => tracing::warn!(error = %err, "the presence heartbeat failed"),
        }
    }

    /// This node is stopping (several nodes): another node takes offline,
    /// at its next heartbeat, whoever was connected only here and did not
    /// reconnect elsewhere. (Not done here: the sockets just closed, and
    /// their clients are reconnecting to the other nodes.)
    pub async fn presence_retire(&self) {
        if let Some(shared) = self.presence.shared.get()
            && let Err(err) = shared.retire().await
        {
            tracing::warn!(error = %err, "could not tell Redis this node stops");
        }
    }

    /// How often [`Core::presence_heartbeat`] should run.
    pub fn presence_heartbeat_every(&self) -> Option<std::time::Duration> {
        self.presence.shared.get().map(|_| shared::HEARTBEAT)
    }

    /// `who` is offline everywhere: last seen, the event, their calls end.
    async fn went_offline(&self, tenant: TenantId, who: ParticipantId) {
        let at = super::now();
        self.stamp_last_seen(tenant, who, at).await;
        self.gone_offline(tenant, who, at).await;
    }

    /// [`Core::went_offline`] once last seen (`at`) is stored.
    async fn gone_offline(&self, tenant: TenantId, who: ParticipantId, at: DateTime<Utc>) {
        self.publish_presence(tenant, who, false, at, None).await;
        // Calls do not outlive a party's last connection.
        self.participant_gone(tenant, who).await;
    }

    /// How many of the actor's tenant's participants are online now, per
    /// type, for the types the actor's directory shows (admins see all
    /// three; others astrologers and admins).
    pub async fn online_by_type(&self, actor: &Actor) -> AppResult<Vec<(ParticipantType, u32)>> {
        let kinds = visible_kinds(actor);
        let counts = self.online_counts(actor.tenant()?, kinds).await;
        Ok(kinds.iter().copied().zip(counts).collect())
    }

    /// How many of the tenant's participants of each of `kinds` are online:
    /// on any node (several nodes; this node's counts while Redis does not
    /// answer), or on this one.
    pub(crate) async fn online_counts(
        &self,
        tenant: TenantId,
        kinds: &[ParticipantType],
    ) -> Vec<u32> {
        let roles: Vec<Role> = kinds.iter().map(|&kind| Role::from(kind)).collect();
        if let Some(shared) = self.presence.shared.get() {
            match shared.counts(tenant, &roles).await {
                Ok(counts) => return counts,
                Err(err) => tracing::debug!(error = %err, "presence in Redis did not answer"),
            }
        }
        let here = self.presence.online_by_role(tenant);
        roles
            .iter()
            .map(|role| here.get(role).copied().unwrap_or(0))
            .collect()
    }

    /// A connection of `actor` opened (a socket). The first one brings them
    /// online: `last_seen_at` is stamped and `PresenceChanged` published.
    pub async fn connection_opened(&self, actor: &Actor) -> AppResult<()> {
        self.connection_opened_in(actor, None).await
    }

    /// [`Core::connection_opened`] from a socket that knows the actor's
    /// `conversations`: their members are told without a lookup.
    pub async fn connection_opened_in(
        &self,
        actor: &Actor,
        conversations: Option<Arc<[ConversationId]>>,
    ) -> AppResult<()> {
        let (tenant, me) = actor.participant()?;
        if self.presence.connect(me, tenant, actor.role) {
            let anywhere = match self.presence.shared.get() {
                Some(shared) => shared
                    .joined((tenant, me, actor.role))
                    .await
                    .unwrap_or_else(|err| {
                        tracing::debug!(error = %err, "presence in Redis did not answer");
                        true
                    }),
                None => true,
            };
            if anywhere {
                // Many at once when a node starts or a network comes back:
                // batched (going offline is written at once).
                let at = super::now();
                self.stamps().participant_seen(tenant, me, at);
                self.publish_presence(tenant, me, true, at, conversations)
                    .await;
            }
        }
        Ok(())
    }

    /// A connection of `actor` closed. After the last one, the participant
    /// goes offline once the grace period passes without a new connection.
    pub fn connection_closed(&self, actor: &Actor) {
        let Ok((tenant, me)) = actor.participant() else {
            return;
        };
        let role = actor.role;
        let Some(generation) = self.presence.disconnect(me) else {
            return;
        };
        let core = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(core.config().presence_grace).await;
            if !core.presence.expiring(me, generation) {
                return;
            }
            // Last seen is stored before presence flips, so that no read
            // finds them offline without one (their coming-online stamp
            // may still be waiting in a batch, or on its way). A reconnect
            // in between only leaves a last seen of now, which is true.
            let at = super::now();
            core.stamp_last_seen(tenant, me, at).await;
            if core.presence.expire(me, generation) {
                let everywhere = match core.presence.shared.get() {
                    Some(shared) => shared.left((tenant, me, role)).await.unwrap_or_else(|err| {
                        tracing::debug!(error = %err, "presence in Redis did not answer");
                        true
                    }),
                    None => true,
                };
                if everywhere {
                    core.gone_offline(tenant, me, at).await;
                }
            }
        });
    }

    /// Stores `at` as `who`'s last seen, unless a later one is stored. A
    /// failure is logged: presence itself lives in memory.
    async fn stamp_last_seen(&self, tenant: TenantId, who: ParticipantId, at: DateTime<Utc>) {
        let written = sqlx::query(
            "UPDATE participants SET last_seen_at = GREATEST(COALESCE(last_seen_at, ?), ?)
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(at)
        .bind(at)
        .bind(tenant)
        .bind(who)
        .execute(self.pool())
        .await;
        if let Err(err) = written {
            tracing::warn!(error = %err, participant = %who, "recording last seen failed");
        }
    }

    async fn publish_presence(
        &self,
        tenant: TenantId,
        participant: ParticipantId,
        online: bool,
        at: DateTime<Utc>,
        conversations: Option<Arc<[ConversationId]>>,
    ) {
        self.events()
            .publish(DomainEvent::PresenceChanged {
                tenant,
                participant,
                online,
                at,
                conversations,
            })
            .await;
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
        // Who is offline is asked before the rows are read: last seen is
        // stored before anyone goes offline, so a row read after it always
        // has theirs. (Read the other way round, someone could go offline
        // in between, and show as offline with the last seen of before.)
        let offline: HashSet<ParticipantId> = self.offline_among(ids).await.into_iter().collect();
        let mut conn = self.pool().acquire().await?;
        let found = participant::get_many(&mut conn, tenant, ids).await?;
        let kinds = visible_kinds(actor);
        let shared = match actor.participant() {
            Ok((_, me)) => {
                super::conversation::co_members(&mut conn, tenant, me, Some(ids)).await?
            }
            Err(_) => vec![],
        };
        let mut seen = Vec::new();
        for p in found
            .into_iter()
            .filter(|p| p.id.0 == actor.id || kinds.contains(&p.kind) || shared.contains(&p.id))
        {
            seen.push(PresenceOf {
                online: !offline.contains(&p.id),
                participant: as_seen_by(actor, p),
            });
        }
        Ok(seen)
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
mod tests;
