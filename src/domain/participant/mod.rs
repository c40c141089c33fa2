//! Participants of a tenant: users, astrologers and admins. Admins manage
//! them; everyone reads the tenant's directory and edits their own profile.
//!
//! This module holds the types and their SQL; `service` holds the use cases
//! and the visibility rules (who sees whom, and whose contact details);
//! `login` the SQL of logging in and of passwords.

mod kind;
mod login;
mod manage;
mod service;

pub use kind::ParticipantType;

pub use login::{
    LoginId, ResolvedLogin, clear_password, find_by_legacy_id, find_for_login, mark_verified,
    password_hash, set_password,
};
pub use service::{as_seen_by, visible_kinds};

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, QueryBuilder, Row};

use super::{
    ParticipantId, TenantId, like_escape,
    values::{Email, Name, Password, Phone},
};
use crate::{
    domain::password::PasswordHash,
    error::{AppError, AppResult, is_unique_violation},
};

/// A participant row (without its password hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Participant {
    pub tenant_id: TenantId,
    pub id: ParticipantId,
    #[sqlx(rename = "type")]
    pub kind: ParticipantType,
    pub name: String,
    pub email: Option<String>,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub phone: Option<String>,
    pub phone_verified_at: Option<DateTime<Utc>>,
    pub avatar_url: Option<String>,
    pub status_text: Option<String>,
    pub blocked: bool,
    /// The account's id in an old backend (for its old tokens).
    pub legacy_id: Option<String>,
    /// Created by its holder with a password (not by an admin or a code).
    pub self_registered: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A participant to insert.
#[derive(Debug)]
pub struct NewParticipant {
    pub kind: ParticipantType,
    pub name: Name,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub password_hash: Option<PasswordHash>,
    /// Set when the contact was proven while creating (a one-time code).
    pub email_verified: bool,
    pub phone_verified: bool,
    pub legacy_id: Option<String>,
    pub self_registered: bool,
}

/// Input of [`Core::create_participant`]: the phone is parsed with the
/// tenant's default region, so it arrives raw.
#[derive(Debug)]
pub struct ParticipantInput {
    pub kind: ParticipantType,
    pub name: Name,
    pub email: Option<Email>,
    pub phone: Option<String>,
    pub password: Option<Password>,
    /// The account's id in an old backend, when imported from one.
    pub legacy_id: Option<String>,
}

/// What anyone may change about themself. `None` leaves a field alone,
/// `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct OwnProfile {
    pub name: Option<Name>,
    pub avatar_url: Option<Option<String>>,
    pub status_text: Option<Option<String>>,
}

/// What account management may change: the profile plus contact details.
/// The raw phone is parsed with the tenant's region.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub profile: OwnProfile,
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<String>>,
}

/// Filters of a directory listing.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Matches names anywhere; for viewers who may see contact details, also
    /// email and phone by prefix.
    pub q: Option<String>,
    pub kind: Option<ParticipantType>,
    pub blocked: Option<bool>,
}

/// How a listing searches and what it may show, decided by the core.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub kinds: &'a [ParticipantType],
    /// Whether `q` may match email and phone.
    pub search_contacts: bool,
}

const COLUMNS: &str = "tenant_id, id, type, name, email, email_verified_at, phone, phone_verified_at, \
                       avatar_url, status_text, blocked, CONVERT(legacy_id USING utf8mb4) AS legacy_id, self_registered, \
                       last_seen_at, created_at, updated_at";
// legacy_id is selected through CONVERT: its case-sensitive (binary)
// collation would otherwise reach sqlx flagged as bytes, not text.

fn map_unique(err: sqlx::Error) -> AppError {
    if is_unique_violation(&err, "uq_participants_legacy") {
        AppError::conflict(
            "legacy_id_taken",
            "another participant of this tenant has that legacy id",
        )
    } else if is_unique_violation(&err, "uq_participants_email") {
        AppError::conflict(
            "email_taken",
            "another participant of this tenant has that email",
        )
    } else if is_unique_violation(&err, "uq_participants_phone") {
        AppError::conflict(
            "phone_taken",
            "another participant of this tenant has that phone",
        )
    } else {
        err.into()
    }
}

pub async fn insert(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    new: NewParticipant,
) -> AppResult<Participant> {
    let now = super::now();
    let participant = Participant {
        tenant_id: tenant,
        id: ParticipantId::new(),
        kind: new.kind,
        name: new.name.into_inner(),
        email: new.email.map(Email::into_inner),
        email_verified_at: new.email_verified.then_some(now),
        phone: new.phone.map(Phone::into_inner),
        phone_verified_at: new.phone_verified.then_some(now),
        avatar_url: None,
        status_text: None,
        blocked: false,
        legacy_id: new.legacy_id,
        self_registered: new.self_registered,
        last_seen_at: None,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO participants
           (tenant_id, id, type, name, email, email_verified_at, phone, phone_verified_at,
            password_hash, blocked, legacy_id, self_registered, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?, ?, ?, ?)",
    )
    .bind(tenant)
    .bind(participant.id)
    .bind(participant.kind)
    .bind(&participant.name)
    .bind(&participant.email)
    .bind(participant.email_verified_at)
    .bind(&participant.phone)
    .bind(participant.phone_verified_at)
    .bind(new.password_hash.as_ref().map(PasswordHash::as_str))
    .bind(&participant.legacy_id)
    .bind(participant.self_registered)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(map_unique)?;
    // Every participant made is logged (webhooks' participant.created).
    // Creations are rare, so the log's head may be held for the few
    // statements that follow in the caller's transaction.
    super::log::append(
        conn,
        &[super::log::NewEntry::new(
            tenant,
            super::log::LogKind::ParticipantCreated,
            participant.id,
        )],
    )
    .await?;
    Ok(participant)
}

pub async fn get(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ParticipantId,
) -> AppResult<Option<Participant>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM participants WHERE tenant_id = ? AND id = ?"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The participants among `ids` that exist in `tenant`, in no particular order.
pub async fn get_many(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    ids: &[ParticipantId],
) -> AppResult<Vec<Participant>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM participants WHERE tenant_id = "
    ));
    query.push_bind(tenant).push(" AND id IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    query.push(")");
    Ok(query.build_query_as().fetch_all(conn).await?)
}

/// The participants with any of these E.164 numbers.
pub async fn find_by_phones<'a>(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    phones: impl IntoIterator<Item = &'a str>,
) -> AppResult<Vec<Participant>> {
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM participants WHERE tenant_id = "
    ));
    query.push_bind(tenant).push(" AND phone IN (");
    let mut list = query.separated(", ");
    for phone in phones {
        list.push_bind(phone.to_owned());
    }
    query.push(")");
    Ok(query.build_query_as().fetch_all(conn).await?)
}

/// Directory listing ordered by (name, id), after the cursor's key, within
/// what `scope` allows.
pub async fn list(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    filter: &Filter,
    scope: Scope<'_>,
    after: Option<&(String, ParticipantId)>,
    limit: u32,
) -> AppResult<Vec<Participant>> {
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM participants WHERE tenant_id = "
    ));
    query.push_bind(tenant);
    if let Some(kind) = filter.kind {
        query.push(" AND type = ").push_bind(kind);
    }
    query.push(" AND type IN (");
    let mut list = query.separated(", ");
    for kind in scope.kinds {
        list.push_bind(*kind);
    }
    query.push(")");
    if let Some(blocked) = filter.blocked {
        query.push(" AND blocked = ").push_bind(blocked);
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let escaped = like_escape(q);
        query
            .push(" AND (name LIKE ")
            .push_bind(format!("%{escaped}%"));
        if scope.search_contacts {
            query
                .push(" OR email LIKE ")
                .push_bind(format!("{}%", escaped.to_lowercase()))
                .push(" OR phone LIKE ")
                .push_bind(format!("{escaped}%"));
        }
        query.push(")");
    }
    if let Some((name, id)) = after {
        query
            .push(" AND (name > ")
            .push_bind(name.clone())
            .push(" OR (name = ")
            .push_bind(name.clone())
            .push(" AND id > ")
            .push_bind(*id)
            .push("))");
    }
    query.push(" ORDER BY name, id LIMIT ").push_bind(limit);
    Ok(query.build_query_as().fetch_all(conn).await?)
}

/// Applies profile changes, and contact changes when given (`None` leaves
/// email or phone alone).
pub(crate) async fn update(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ParticipantId,
    profile: &OwnProfile,
    email: Option<&Option<Email>>,
    phone: Option<Option<Phone>>,
) -> AppResult<()> {
    let mut query = QueryBuilder::new("UPDATE participants SET updated_at = ");
    query.push_bind(super::now());
    if let Some(name) = &profile.name {
        query.push(", name = ").push_bind(name.as_str().to_owned());
    }
    if let Some(avatar) = &profile.avatar_url {
        query.push(", avatar_url = ").push_bind(avatar.clone());
    }
    if let Some(status) = &profile.status_text {
        query.push(", status_text = ").push_bind(status.clone());
    }
    // MySQL assigns left to right: compare with the old value first. A new
    // address is not verified, and links sent to the old one stop working.
    if let Some(email) = email {
        let email = email.as_ref().map(|e| e.as_str().to_owned());
        query
            .push(", email_verified_at = IF(email <=> ")
            .push_bind(email.clone())
            .push(", email_verified_at, NULL), email = ")
            .push_bind(email);
    }
    if let Some(phone) = phone {
        let phone = phone.map(Phone::into_inner);
        query
            .push(", phone_verified_at = IF(phone <=> ")
            .push_bind(phone.clone())
            .push(", phone_verified_at, NULL), phone = ")
            .push_bind(phone);
    }
    query
        .push(" WHERE tenant_id = ")
        .push_bind(tenant)
        .push(" AND id = ")
        .push_bind(id);
    query.build().execute(conn).await.map_err(map_unique)?;
    Ok(())
}

pub(crate) async fn set_blocked(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ParticipantId,
    blocked: bool,
) -> AppResult<bool> {
    let done = sqlx::query(
        "UPDATE participants SET blocked = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
    )
    .bind(blocked)
    .bind(super::now())
    .bind(tenant)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn default_region(
    conn: &mut MySqlConnection,
    tenant: TenantId,
) -> AppResult<String> {
    Ok(
        sqlx::query("SELECT default_region FROM tenants WHERE id = ?")
            .bind(tenant)
            .fetch_optional(conn)
            .await?
            .map(|row| row.get("default_region"))
            .unwrap_or_else(|| "IN".into()),
    )
}
