//! Devices that receive push notifications (FCM and APNs tokens), each
//! belonging to the session that registered it: it counts only while that
//! session is live, so logout and revocation end it at once (upkeep deletes
//! the rows later). Types and SQL here; the use cases in `service`.

mod service;

pub use service::NewDevice;

use chrono::{DateTime, Utc};
use sqlx::MySqlConnection;
use uuid::Uuid;

use super::{ParticipantId, SessionId, TenantId};

/// Who delivers a device's pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Firebase Cloud Messaging (Android, and iOS through Firebase).
    Fcm,
    /// Apple Push Notification service.
    Apns,
}

super::text_enum!(Platform {
    Fcm => "fcm",
    Apns => "apns",
});

/// A device row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Device {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub participant_id: ParticipantId,
    pub session_id: SessionId,
    pub platform: Platform,
    pub token: String,
    pub app_id: Option<String>,
    pub locale: Option<String>,
    pub voip: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "d.tenant_id, d.id, d.participant_id, d.session_id, d.platform, d.token, \
    d.app_id, d.locale, d.voip, d.created_at, d.updated_at";

/// Live: its session is neither revoked nor expired.
const LIVE: &str =
    "JOIN sessions s ON s.id = d.session_id AND s.revoked_at IS NULL AND s.expires_at > ?";

/// Registers `device`, or moves its token (already registered in the
/// tenant) to this session and participant. Returns the row.
pub async fn register(conn: &mut MySqlConnection, device: &Device) -> sqlx::Result<Device> {
    sqlx::query(
        "INSERT INTO devices (tenant_id, id, participant_id, session_id, platform, token,
             token_sha256, app_id, locale, voip, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE participant_id = VALUES(participant_id),
             session_id = VALUES(session_id), app_id = VALUES(app_id),
             locale = VALUES(locale), updated_at = VALUES(updated_at)",
    )
    .bind(device.tenant_id)
    .bind(device.id)
    .bind(device.participant_id)
    .bind(device.session_id)
    .bind(device.platform)
    .bind(&device.token)
    .bind(super::secrets::digest(&device.token))
    .bind(&device.app_id)
    .bind(&device.locale)
    .bind(device.voip)
    .bind(device.created_at)
    .bind(device.updated_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM devices d
         WHERE d.tenant_id = ? AND d.platform = ? AND d.voip = ? AND d.token_sha256 = ?"
    ))
    .bind(device.tenant_id)
    .bind(device.platform)
    .bind(device.voip)
    .bind(super::secrets::digest(&device.token))
    .fetch_one(conn)
    .await
}

/// A participant's live devices.
pub async fn of_participant(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Device>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM devices d {LIVE}
         WHERE d.tenant_id = ? AND d.participant_id = ? ORDER BY d.created_at"
    ))
    .bind(now)
    .bind(tenant)
    .bind(participant)
    .fetch_all(conn)
    .await
}

/// One of a participant's devices, if it is still theirs and live.
pub async fn live(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
    id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Device>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM devices d {LIVE}
         WHERE d.tenant_id = ? AND d.participant_id = ? AND d.id = ?"
    ))
    .bind(now)
    .bind(tenant)
    .bind(participant)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Deletes one of a participant's devices; whether there was one.
pub async fn remove(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
    id: Uuid,
) -> sqlx::Result<bool> {
    let done =
        sqlx::query("DELETE FROM devices WHERE tenant_id = ? AND participant_id = ? AND id = ?")
            .bind(tenant)
            .bind(participant)
            .bind(id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes the devices whose sessions ended; returns how many.
pub async fn purge_dead(conn: &mut MySqlConnection, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE d FROM devices d LEFT JOIN sessions s ON s.id = d.session_id
         WHERE s.id IS NULL OR s.revoked_at IS NOT NULL OR s.expires_at <= ?",
    )
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
