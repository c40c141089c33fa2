//! A participant's notification preferences: what may be pushed to their
//! phones (everything, only mentions and calls, nothing) and their quiet
//! hours (do not disturb), kept for the push worker to honour. Quiet hours
//! are minutes after local midnight in the participant's UTC offset, and
//! may run over midnight (22:00-07:00).

use chrono::{DateTime, Timelike, Utc};
use sqlx::MySqlConnection;

use crate::{
    domain::{Actor, Core, ParticipantId, TenantId},
    error::{AppError, AppResult},
};

/// What may be pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushLevel {
    All,
    MentionsAndCalls,
    None,
}

crate::domain::text_enum!(PushLevel {
    All => "all",
    MentionsAndCalls => "mentions_and_calls",
    None => "none",
});

/// Do-not-disturb hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Minutes after local midnight (0-1439).
    pub start: u16,
    pub end: u16,
    /// The participant's offset from UTC, in minutes (-720 to 840).
    pub utc_offset_minutes: i16,
}

impl QuietHours {
    /// Checks the bounds.
    pub fn parse(start: u16, end: u16, utc_offset_minutes: i16) -> AppResult<Self> {
        if start >= 1440 || end >= 1440 || start == end {
            return Err(AppError::validation(
                "quiet hours are two different times, HH:MM, 00:00-23:59",
            ));
        }
        if !(-720..=840).contains(&utc_offset_minutes) {
            return Err(AppError::validation("utcOffsetMinutes must be -720 to 840"));
        }
        Ok(Self {
            start,
            end,
            utc_offset_minutes,
        })
    }

    /// Whether `at` falls in them (the start included, the end not).
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at + chrono::Duration::minutes(self.utc_offset_minutes.into());
        let now = (local.hour() * 60 + local.minute()) as u16;
        if self.start < self.end {
            (self.start..self.end).contains(&now)
        } else {
            now >= self.start || now < self.end
        }
    }
}

/// A participant's preferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    pub push: PushLevel,
    pub quiet: Option<QuietHours>,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            push: PushLevel::All,
            quiet: None,
        }
    }
}

/// `HH:MM` as minutes after midnight.
pub fn parse_clock(raw: &str, field: &str) -> AppResult<u16> {
    let bad = || AppError::validation(format!("{field} must be HH:MM, 00:00-23:59"));
    let (h, m) = raw.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 || raw.trim().len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Minutes after midnight as `HH:MM`.
pub fn clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

pub(crate) async fn load(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
) -> sqlx::Result<Preferences> {
    let row: Option<(PushLevel, Option<u16>, Option<u16>, i16)> = sqlx::query_as(
        "SELECT push, quiet_start, quiet_end, utc_offset_minutes FROM notification_preferences
         WHERE tenant_id = ? AND participant_id = ?",
    )
    .bind(tenant)
    .bind(participant)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => Preferences::default(),
        Some((push, start, end, offset)) => Preferences {
            push,
            quiet: start.zip(end).map(|(start, end)| QuietHours {
                start,
                end,
                utc_offset_minutes: offset,
            }),
        },
    })
}

impl Core {
    /// The actor's notification preferences.
    pub async fn notification_preferences(&self, actor: &Actor) -> AppResult<Preferences> {
        let (tenant, me) = actor.participant()?;
        Ok(load(&mut *self.pool().acquire().await?, tenant, me).await?)
    }

    /// Replaces the actor's notification preferences.
    pub async fn set_notification_preferences(
        &self,
        actor: &Actor,
        preferences: Preferences,
    ) -> AppResult<Preferences> {
        let (tenant, me) = actor.participant()?;
        let quiet = preferences.quiet;
        sqlx::query(
            "INSERT INTO notification_preferences (tenant_id, participant_id, push, quiet_start,
                 quiet_end, utc_offset_minutes, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE push = VALUES(push), quiet_start = VALUES(quiet_start),
                 quiet_end = VALUES(quiet_end), utc_offset_minutes = VALUES(utc_offset_minutes),
                 updated_at = VALUES(updated_at)",
        )
        .bind(tenant)
        .bind(me)
        .bind(preferences.push)
        .bind(quiet.map(|q| q.start))
        .bind(quiet.map(|q| q.end))
        .bind(quiet.map_or(0, |q| q.utc_offset_minutes))
        .bind(crate::domain::now())
        .execute(self.pool())
        .await?;
        Ok(preferences)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(0, 0).unwrap() + chrono::Duration::minutes((h * 60 + m).into())
    }

    #[test]
    fn quiet_hours_run_over_midnight_in_the_participants_own_time() {
        // 22:00-07:00 in India (UTC+5:30).
        let q = QuietHours::parse(22 * 60, 7 * 60, 330).unwrap();
        assert!(q.contains(at(16, 30))); // 22:00 local
        assert!(q.contains(at(20, 0))); // 01:30 local
        assert!(!q.contains(at(1, 30))); // 07:00 local: over
        assert!(!q.contains(at(10, 0))); // 15:30 local
        let day = QuietHours::parse(9 * 60, 17 * 60, 0).unwrap();
        assert!(day.contains(at(9, 0)) && !day.contains(at(17, 0)));
        assert!(QuietHours::parse(60, 60, 0).is_err());
        assert!(QuietHours::parse(0, 1440, 0).is_err());
        assert!(QuietHours::parse(0, 60, 900).is_err());
    }

    #[test]
    fn clocks_parse_as_hh_mm() {
        assert_eq!(parse_clock("07:05", "x").unwrap(), 425);
        assert_eq!(clock(425), "07:05");
        for bad in ["7:05", "24:00", "12:60", "noon", "12-00"] {
            assert!(parse_clock(bad, "x").is_err(), "{bad}");
        }
    }
}
