//! Participant use cases, and the visibility rules they apply: who appears
//! in whose directory, and who sees contact details. The core applies them,
//! so every front door shows the same thing.

use super::{
    Filter, OwnProfile, Participant, ParticipantInput, ParticipantType, ProfileChanges, Scope,
    default_region, get, get_many, insert, list, update,
};
use crate::{
    domain::password,
    domain::{
        Actor, Core, Page, ParticipantId, TenantId, audit, cursor, events::DomainEvent,
        values::Phone,
    },
    error::{AppError, AppResult},
};

/// The types a caller may see in the directory: admins see everyone; others
/// see the people they can address (astrologers and admins). Users find
/// each other only through conversations, never by browsing.
pub fn visible_kinds(actor: &Actor) -> &'static [ParticipantType] {
    if actor.sees_everyone() {
        &ParticipantType::ALL
    } else {
        &[ParticipantType::Astrologer, ParticipantType::Admin]
    }
}

/// Admin accounts are managed by admins in person, never by API keys.
pub(super) fn require_admin_in_person(actor: &Actor) -> AppResult<()> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only an admin (not an API key) manages admin accounts",
        ))
    }
}

/// `p` as `viewer` may see it: email and phone only for admins and for the
/// participant themself.
pub fn as_seen_by(viewer: &Actor, mut p: Participant) -> Participant {
    if !(viewer.sees_everyone() || viewer.id == p.id.0) {
        p.email = None;
        p.phone = None;
    }
    p
}

impl Core {
    /// Creates a participant of `tenant` (admins; the CLI passes no actor).
    /// Only an admin in person creates admins: an API key with `write`
    /// must not be able to mint itself a full account.
    pub async fn create_participant(
        &self,
        actor: Option<&Actor>,
        tenant: TenantId,
        input: ParticipantInput,
    ) -> AppResult<Participant> {
        if let Some(actor) = actor
            && input.kind == ParticipantType::Admin
        {
            require_admin_in_person(actor)?;
        }
        let password_hash = match &input.password {
            Some(pw) => Some(password::hash(pw).await?),
            None => None,
        };
        let mut tx = self.pool().begin().await?;
        let phone = match &input.phone {
            Some(raw) => Some(Phone::parse(raw, &default_region(&mut tx, tenant).await?)?),
            None => None,
        };
        let participant = insert(
            &mut tx,
            tenant,
            super::NewParticipant {
                kind: input.kind,
                name: input.name,
                email: input.email,
                phone,
                password_hash,
                email_verified: false,
                phone_verified: false,
                legacy_id: input.legacy_id,
                self_registered: false,
            },
        )
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(actor, "participant.create")
                .tenant(tenant)
                .target("participant", participant.id.0)
                .detail(serde_json::json!({ "type": participant.kind.as_str() })),
        )
        .await?;
        tx.commit().await?;
        Ok(participant)
    }

    /// A participant of `tenant`, contact details included (account
    /// management, or oneself); another tenant's id is a 404.
    pub async fn participant(&self, tenant: TenantId, id: ParticipantId) -> AppResult<Participant> {
        get(&mut *self.pool().acquire().await?, tenant, id)
            .await?
            .ok_or(AppError::NotFound("participant"))
    }

    /// The participant an old backend's token names (see `auth::legacy`).
    pub async fn participant_by_legacy_id(
        &self,
        tenant: TenantId,
        raw: &str,
    ) -> AppResult<Option<Participant>> {
        super::find_by_legacy_id(&mut *self.pool().acquire().await?, tenant, raw).await
    }

    /// A participant as the actor may see it; one they may not see is a 404.
    pub async fn visible_participant(
        &self,
        actor: &Actor,
        id: ParticipantId,
    ) -> AppResult<Participant> {
        let found = self.participant(actor.tenant()?, id).await?;
        if found.id.0 == actor.id || visible_kinds(actor).contains(&found.kind) {
            Ok(as_seen_by(actor, found))
        } else {
            Err(AppError::NotFound("participant"))
        }
    }

    /// The participants among `ids` the actor may see (others are left out).
    pub async fn participants_by_ids(
        &self,
        actor: &Actor,
        ids: &[ParticipantId],
    ) -> AppResult<Vec<Participant>> {
        let tenant = actor.tenant()?;
        let kinds = visible_kinds(actor);
        let found = get_many(&mut *self.pool().acquire().await?, tenant, ids).await?;
        Ok(found
            .into_iter()
            .filter(|p| p.id.0 == actor.id || kinds.contains(&p.kind))
            .map(|p| as_seen_by(actor, p))
            .collect())
    }

    /// Contact sync: which of these phone numbers (read in the tenant's
    /// region) belong to participants the actor may see. Returns each match
    /// with the number as given. Numbers that do not parse are skipped.
    pub async fn participants_by_phones(
        &self,
        actor: &Actor,
        phones: &[String],
    ) -> AppResult<Vec<(String, Participant)>> {
        let tenant = actor.tenant()?;
        if phones.len() > 1000 {
            return Err(AppError::validation("sync at most 1000 numbers at a time"));
        }
        let mut conn = self.pool().acquire().await?;
        let region = default_region(&mut conn, tenant).await?;
        let parsed: Vec<(String, String)> = phones
            .iter()
            .filter_map(|raw| {
                Phone::parse(raw, &region)
                    .ok()
                    .map(|p| (raw.clone(), p.into_inner()))
            })
            .collect();
        if parsed.is_empty() {
            return Ok(vec![]);
        }
        let found = super::find_by_phones(
            &mut conn,
            tenant,
            parsed.iter().map(|(_, e164)| e164.as_str()),
        )
        .await?;
        let kinds = visible_kinds(actor);
        Ok(parsed
            .into_iter()
            .filter_map(|(raw, e164)| {
                found
                    .iter()
                    .find(|p| {
                        p.phone.as_deref() == Some(e164.as_str())
                            && !p.blocked
                            && kinds.contains(&p.kind)
                    })
                    .map(|p| (raw, as_seen_by(actor, p.clone())))
            })
            .collect())
    }

    /// The tenant directory as the actor may see it. Others than admins see
    /// no blocked participants and search by name only (they cannot see
    /// email or phone, so they may not match on them either).
    pub async fn directory(
        &self,
        actor: &Actor,
        filter: &Filter,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Participant>> {
        let mut filter = filter.clone();
        if !actor.sees_everyone() {
            filter.blocked = Some(false);
        }
        let scope = Scope {
            kinds: visible_kinds(actor),
            search_contacts: actor.sees_everyone(),
        };
        let page = self
            .page_of(actor.tenant()?, &filter, scope, cursor, limit)
            .await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|p| as_seen_by(actor, p))
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// Every participant of `tenant` matching `filter` (account management).
    pub async fn participants(
        &self,
        tenant: TenantId,
        filter: &Filter,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Participant>> {
        let scope = Scope {
            kinds: &ParticipantType::ALL,
            search_contacts: true,
        };
        self.page_of(tenant, filter, scope, cursor, limit).await
    }

    async fn page_of(
        &self,
        tenant: TenantId,
        filter: &Filter,
        scope: Scope<'_>,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Participant>> {
        let after: Option<(String, ParticipantId)> = cursor.map(cursor::decode).transpose()?;
        let mut conn = self.pool().acquire().await?;
        let rows = list(&mut conn, tenant, filter, scope, after.as_ref(), limit + 1).await?;
        Ok(cursor::page(rows, limit, |p| (p.name.clone(), p.id)))
    }

    /// The actor changes their own name, avatar or status line.
    pub async fn update_own_profile(
        &self,
        actor: &Actor,
        profile: OwnProfile,
    ) -> AppResult<Participant> {
        let (_, me) = actor.participant()?;
        self.apply_changes(
            actor,
            me,
            ProfileChanges {
                profile,
                ..Default::default()
            },
        )
        .await
    }

    /// Account management: changes another participant's profile and
    /// contact details. Front doors authorize `participants write` first.
    pub async fn update_participant(
        &self,
        actor: &Actor,
        id: ParticipantId,
        changes: ProfileChanges,
    ) -> AppResult<Participant> {
        self.apply_changes(actor, id, changes).await
    }

    async fn apply_changes(
        &self,
        actor: &Actor,
        id: ParticipantId,
        changes: ProfileChanges,
    ) -> AppResult<Participant> {
        let tenant = actor.tenant()?;
        let mut tx = self.pool().begin().await?;
        let target = get(&mut tx, tenant, id)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        if target.kind == ParticipantType::Admin && id.0 != actor.id {
            require_admin_in_person(actor)?;
        }
        let phone = match &changes.phone {
            Some(Some(raw)) => Some(Some(Phone::parse(
                raw,
                &default_region(&mut tx, tenant).await?,
            )?)),
            Some(None) => Some(None),
            None => None,
        };
        update(
            &mut tx,
            tenant,
            id,
            &changes.profile,
            changes.email.as_ref(),
            phone,
        )
        .await?;
        let email_changed = changes
            .email
            .as_ref()
            .is_some_and(|new| new.as_ref().map(|e| e.as_str()) != target.email.as_deref());
        if email_changed {
            // Links sent to the old address stop working.
            sqlx::query(
                "UPDATE account_tokens SET used_at = ? WHERE tenant_id = ? AND participant_id = ? AND used_at IS NULL",
            )
            .bind(crate::domain::now())
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "participant.update")
                .tenant(tenant)
                .target("participant", id.0),
        )
        .await?;
        let updated = get(&mut tx, tenant, id)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::ParticipantUpdated {
                tenant,
                participant: id,
            })
            .await;
        Ok(updated)
    }
}
