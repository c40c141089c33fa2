//! Account management by a tenant's admins beyond the profile: blocking
//! and unblocking, another participant's sessions (list, end one, end all)
//! and a new password set by the admin. Every change is audited; another tenant's participant is a
//! 404. Front doors authorize `participants write` (or `read`) first.

use super::{
    Participant, ParticipantType, get, service::require_admin_in_person, set_blocked, set_password,
};
use crate::{
    domain::{
        Actor, Core, ParticipantId, SessionId, audit,
        events::DomainEvent,
        password,
        session::{self, SessionInfo},
        values::Password,
    },
    error::{AppError, AppResult},
};

impl Core {
    /// Blocks (revoking every session) or unblocks a participant.
    pub async fn set_participant_blocked(
        &self,
        actor: &Actor,
        id: ParticipantId,
        blocked: bool,
    ) -> AppResult<Participant> {
        let tenant = actor.tenant()?;
        if blocked && actor.id == id.0 {
            return Err(AppError::conflict(
                "cannot_block_self",
                "an admin cannot block themselves",
            ));
        }
        let mut tx = self.pool().begin().await?;
        let target = get(&mut tx, tenant, id)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        if target.kind == ParticipantType::Admin {
            require_admin_in_person(actor)?;
        }
        if !set_blocked(&mut tx, tenant, id, blocked).await? {
            return Err(AppError::NotFound("participant"));
        }
        if blocked {
            session::revoke_all_of_subject(&mut tx, Some(tenant), id.0, "blocked").await?;
        }
        let action = if blocked {
            "participant.block"
        } else {
            "participant.unblock"
        };
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), action)
                .tenant(tenant)
                .target("participant", id.0),
        )
        .await?;
        let updated = get(&mut tx, tenant, id)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        tx.commit().await?;
        if blocked {
            self.publish_sessions_revoked(Some(tenant), id.0).await;
        }
        self.events()
            .publish(DomainEvent::ParticipantUpdated {
                tenant,
                participant: id,
            })
            .await;
        Ok(updated)
    }

    /// Loads the target in the actor's tenant; admin accounts are managed
    /// by admins in person only (never by API keys).
    async fn managed(&self, actor: &Actor, id: ParticipantId) -> AppResult<super::Participant> {
        let tenant = actor.tenant()?;
        let target = get(&mut *self.pool().acquire().await?, tenant, id)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        if target.kind == ParticipantType::Admin && !actor.is_admin() {
            return Err(AppError::forbidden(
                "only an admin (not an API key) manages admin accounts",
            ));
        }
        Ok(target)
    }

    /// The live sessions (devices) of a participant of the actor's tenant,
    /// most recently used first.
    pub async fn participant_sessions(
        &self,
        actor: &Actor,
        id: ParticipantId,
    ) -> AppResult<Vec<SessionInfo>> {
        let target = self.managed(actor, id).await?;
        session::list_live(
            &mut *self.pool().acquire().await?,
            Some(target.tenant_id),
            id.0,
        )
        .await
    }

    /// Ends one session of a participant; a session that is not theirs (or
    /// no longer live) is a 404.
    pub async fn revoke_participant_session(
        &self,
        actor: &Actor,
        id: ParticipantId,
        session_id: SessionId,
    ) -> AppResult<()> {
        let target = self.managed(actor, id).await?;
        let mut tx = self.pool().begin().await?;
        if !session::revoke_of_subject(
            &mut tx,
            Some(target.tenant_id),
            id.0,
            session_id,
            "revoked_by_admin",
        )
        .await?
        {
            return Err(AppError::NotFound("session"));
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "participant.session_revoke")
                .tenant(target.tenant_id)
                .target("participant", id.0)
                .detail(serde_json::json!({ "session": session_id.0 })),
        )
        .await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::SessionRevoked {
                session: session_id,
            })
            .await;
        Ok(())
    }

    /// Ends every session of a participant; returns how many ended.
    pub async fn revoke_participant_sessions(
        &self,
        actor: &Actor,
        id: ParticipantId,
    ) -> AppResult<u64> {
        let target = self.managed(actor, id).await?;
        let mut tx = self.pool().begin().await?;
        let ended = session::revoke_all_of_subject(
            &mut tx,
            Some(target.tenant_id),
            id.0,
            "revoked_by_admin",
        )
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "participant.sessions_revoke")
                .tenant(target.tenant_id)
                .target("participant", id.0)
                .detail(serde_json::json!({ "ended": ended })),
        )
        .await?;
        tx.commit().await?;
        self.publish_sessions_revoked(Some(target.tenant_id), id.0)
            .await;
        Ok(ended)
    }

    /// An admin sets a participant's password; every session of theirs
    /// ends. An admin changes their own password knowing the current one
    /// (`change_password`), not here.
    pub async fn set_participant_password(
        &self,
        actor: &Actor,
        id: ParticipantId,
        new_password: &Password,
    ) -> AppResult<()> {
        if actor.id == id.0 {
            return Err(AppError::conflict(
                "own_password",
                "change your own password with your current one, not here",
            ));
        }
        let target = self.managed(actor, id).await?;
        let hash = password::hash(new_password).await?;
        let mut tx = self.pool().begin().await?;
        set_password(&mut tx, target.tenant_id, id, &hash).await?;
        session::revoke_all_of_subject(&mut tx, Some(target.tenant_id), id.0, "password_set")
            .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "participant.password_set")
                .tenant(target.tenant_id)
                .target("participant", id.0),
        )
        .await?;
        tx.commit().await?;
        self.publish_sessions_revoked(Some(target.tenant_id), id.0)
            .await;
        Ok(())
    }
}
