//! Email digests of unread messages: a participant whose message
//! notifications have waited unread for their tenant's delay
//! (`emailDigest`, per kind of participant, minutes; 0 sends none) gets one
//! email listing them, at most one per delay, and only when something came
//! since the last. Driven from the database (driven by
//! `workers::notifications`), so a restart sends nothing twice.
//!
//! With several nodes each digest is claimed in `notification_digests`
//! before it is sent: a conditional `UPDATE` of the participant's row
//! (only if its last digest is a delay old), or the row's first `INSERT`
//! (a duplicate key means another node was first); whichever affects the
//! row owns the digest. The claim is `pending` while the mail is sent, with
//! no transaction or connection held, then `sent` or `failed`. A `pending`
//! claim left by a crash is taken again after [`STALE_CLAIM_MINUTES`].

use chrono::{DateTime, Utc};
use sqlx::MySqlConnection;

use crate::{
    delivery::messages::{DigestLine, digest_email},
    domain::{Core, ParticipantId, TenantId, settings::DigestDelays, values::Email},
    error::{AppResult, is_unique_violation},
};

/// Conversations a digest lists (the rest are counted).
const LINES: u32 = 10;
/// Minutes after which an unconfirmed (`pending`) claim is taken again.
const STALE_CLAIM_MINUTES: u32 = 10;

/// Unread message notifications `n` whose conversation their member `m`
/// has not read (receipts), nor left or muted since.
const UNREAD_FROM: &str = "notifications n
    JOIN conversation_members m ON m.tenant_id = n.tenant_id
        AND m.conversation_id = n.conversation_id AND m.participant_id = n.participant_id";
const UNREAD_WHERE: &str = "n.kind = 'message' AND n.read_at IS NULL
    AND m.left_at IS NULL AND NOT m.muted AND m.read_seq < n.seq";

/// A participant due a digest.
#[derive(Debug, sqlx::FromRow)]
struct Candidate {
    tenant_id: TenantId,
    participant_id: ParticipantId,
    email: String,
    tenant_name: String,
    /// Their delay, in minutes.
    delay_minutes: u64,
    /// Unread messages, over all their conversations.
    unread: u64,
    /// Conversations with unread messages.
    conversations: u64,
}

/// Participants due a digest at `now`: with an email, not blocked, in an
/// active tenant, whose delay is not 0; with an unread message notification
/// at least a delay old that changed since their last digest (or whose last
/// attempt failed or was never confirmed); and whose last digest is at
/// least a delay old (a `pending` one also [`STALE_CLAIM_MINUTES`] old).
async fn candidates(
    conn: &mut MySqlConnection,
    now: DateTime<Utc>,
    limit: u32,
) -> sqlx::Result<Vec<Candidate>> {
    let defaults = DigestDelays::default();
    sqlx::query_as(&format!(
        "SELECT x.tenant_id, x.participant_id, x.email, x.tenant_name,
             CAST(x.delay_minutes AS UNSIGNED) AS delay_minutes,
             CAST(SUM(x.count) AS UNSIGNED) AS unread,
             CAST(COUNT(*) AS UNSIGNED) AS conversations
         FROM (
             SELECT n.tenant_id, n.participant_id, n.count, n.created_at, n.updated_at,
                 p.email, t.name AS tenant_name, d.state AS last_state, d.sent_at AS last_at,
                 CASE p.type
                     WHEN 'user' THEN COALESCE(CAST(
                         JSON_VALUE(s.settings, '$.emailDigest.users') AS UNSIGNED), ?)
                     WHEN 'astrologer' THEN COALESCE(CAST(
                         JSON_VALUE(s.settings, '$.emailDigest.astrologers') AS UNSIGNED), ?)
                     ELSE COALESCE(CAST(
                         JSON_VALUE(s.settings, '$.emailDigest.admins') AS UNSIGNED), ?)
                 END AS delay_minutes
             FROM {UNREAD_FROM}
             JOIN participants p ON p.tenant_id = n.tenant_id AND p.id = n.participant_id
             JOIN tenants t ON t.id = n.tenant_id
             LEFT JOIN tenant_settings s ON s.tenant_id = n.tenant_id
             LEFT JOIN notification_digests d
                 ON d.tenant_id = n.tenant_id AND d.participant_id = n.participant_id
             WHERE {UNREAD_WHERE}
                 AND p.email IS NOT NULL AND NOT p.blocked AND t.status = 'active'
         ) x
         WHERE x.delay_minutes > 0
             AND (x.last_at IS NULL OR (x.last_at <= ? - INTERVAL x.delay_minutes MINUTE
                 AND (x.last_state <> 'pending' OR x.last_at <= ? - INTERVAL ? MINUTE)))
         GROUP BY x.tenant_id, x.participant_id, x.email, x.tenant_name, x.delay_minutes
         HAVING MAX(x.created_at <= ? - INTERVAL x.delay_minutes MINUTE
             AND (x.last_state IS NULL OR x.last_state <> 'sent' OR x.updated_at > x.last_at)) = 1
         ORDER BY MIN(x.created_at)
         LIMIT ?"
    ))
    .bind(defaults.users)
    .bind(defaults.astrologers)
    .bind(defaults.admins)
    .bind(now)
    .bind(now)
    .bind(STALE_CLAIM_MINUTES)
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The participant's newest conversations with unread messages: sender,
/// count, the newest text.
async fn lines(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
) -> sqlx::Result<Vec<(String, String, u32)>> {
    sqlx::query_as(&format!(
        "SELECT n.title, n.body, n.count FROM {UNREAD_FROM}
         WHERE n.tenant_id = ? AND n.participant_id = ? AND {UNREAD_WHERE}
         ORDER BY n.updated_at DESC, n.id DESC LIMIT ?"
    ))
    .bind(tenant)
    .bind(participant)
    .bind(LINES)
    .fetch_all(conn)
    .await
}

/// Takes the participant's digest for this window at `now`; false when
/// another node (or an earlier round) has it.
async fn claim(
    conn: &mut MySqlConnection,
    c: &Candidate,
    unread: u32,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    // An existing row is taken only if its window is over: the row lock
    // makes a second node's UPDATE wait and then see the first one's time.
    let updated = sqlx::query(
        "UPDATE notification_digests SET state = 'pending', unread = ?, error = NULL, sent_at = ?
         WHERE tenant_id = ? AND participant_id = ?
             AND sent_at <= ? - INTERVAL ? MINUTE
             AND (state <> 'pending' OR sent_at <= ? - INTERVAL ? MINUTE)",
    )
    .bind(unread)
    .bind(now)
    .bind(c.tenant_id)
    .bind(c.participant_id)
    .bind(now)
    .bind(c.delay_minutes)
    .bind(now)
    .bind(STALE_CLAIM_MINUTES)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() > 0 {
        return Ok(true);
    }
    // No row, or one still in its window (then the insert collides too).
    let inserted = sqlx::query(
        "INSERT INTO notification_digests
             (tenant_id, participant_id, state, unread, error, sent_at)
         VALUES (?, ?, 'pending', ?, NULL, ?)",
    )
    .bind(c.tenant_id)
    .bind(c.participant_id)
    .bind(unread)
    .bind(now)
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(err) if is_unique_violation(&err, "PRIMARY") => Ok(false),
        Err(err) => Err(err),
    }
}

/// Records how the digest claimed at `claimed_at` went (unless a later
/// claim has replaced it).
async fn settle(
    conn: &mut MySqlConnection,
    c: &Candidate,
    claimed_at: DateTime<Utc>,
    error: Option<&str>,
) -> sqlx::Result<()> {
    let error = error.map(|e| e.chars().take(255).collect::<String>());
    sqlx::query(
        "UPDATE notification_digests SET state = ?, error = ?
         WHERE tenant_id = ? AND participant_id = ? AND state = 'pending' AND sent_at = ?",
    )
    .bind(if error.is_some() { "failed" } else { "sent" })
    .bind(error)
    .bind(c.tenant_id)
    .bind(c.participant_id)
    .bind(claimed_at)
    .execute(conn)
    .await?;
    Ok(())
}

impl Core {
    /// Sends the email digests that are due, up to `limit` participants;
    /// returns how many were sent. Safe to run on several nodes at once
    /// and again after a crash: each digest is claimed before it is sent.
    #[tracing::instrument(skip_all, fields(limit = limit))]
    pub async fn send_digests(&self, limit: u32) -> AppResult<usize> {
        let due = candidates(
            &mut *self.pool().acquire().await?,
            crate::domain::now(),
            limit,
        )
        .await?;
        let mut sent = 0;
        for candidate in &due {
            if self.send_digest(candidate).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Claims, renders, sends and settles one digest; whether it was sent.
    async fn send_digest(&self, c: &Candidate) -> AppResult<bool> {
        let hide_text = self.settings_of(c.tenant_id).await?.push_hide_text;
        let unread = u32::try_from(c.unread).unwrap_or(u32::MAX);
        let claimed_at = crate::domain::now();
        let rows = {
            let mut conn = self.pool().acquire().await?;
            let rows = lines(&mut conn, c.tenant_id, c.participant_id).await?;
            // Read meanwhile: nothing to tell.
            if rows.is_empty() || !claim(&mut conn, c, unread, claimed_at).await? {
                return Ok(false);
            }
            rows
        };
        let lines: Vec<DigestLine> = rows
            .into_iter()
            .map(|(sender, body, count)| DigestLine {
                sender,
                count,
                preview: (!hide_text).then_some(body),
            })
            .collect();
        let more = usize::try_from(c.conversations)
            .unwrap_or(usize::MAX)
            .saturating_sub(lines.len());
        // No connection is held while the mail is on its way.
        let outcome = match (
            Email::parse(&c.email),
            digest_email(
                &c.tenant_name,
                unread,
                &lines,
                more,
                &self.config().public_url,
            ),
        ) {
            (Ok(to), Ok(message)) => self.delivery().email(&to, message).await,
            (Err(err), _) | (_, Err(err)) => Err(err),
        };
        let error = outcome.as_ref().err().map(ToString::to_string);
        if let Some(error) = &error {
            tracing::warn!(tenant = %c.tenant_id.0, participant = %c.participant_id.0, %error, "an email digest failed");
        }
        settle(
            &mut *self.pool().acquire().await?,
            c,
            claimed_at,
            error.as_deref(),
        )
        .await?;
        Ok(error.is_none())
    }
}
