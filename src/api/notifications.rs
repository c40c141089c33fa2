//! `/api/notifications`: the caller's in-app inbox (seed 000 §5, seed
//! 003): newest first, the unread count, marking read, deleting. Like
//! one's own sessions, one's own inbox is never forbidden: these
//! operations only authenticate (a participant's token), and anyone else's
//! notification is 404.

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{Done, PageOf, Reply, Tag, done, ok};
use crate::{
    auth::BearerAuth,
    domain::notification::preferences::{Preferences, PushLevel, QuietHours, clock, parse_clock},
    error::{AppError, AppResult},
    state::AppState,
    wire::notification::{NotificationView, UnreadCount},
};

#[derive(Default)]
pub struct NotificationsApi;

/// Do-not-disturb hours, in the participant's own time.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct QuietHoursView {
    /// `HH:MM`, local.
    pub start: String,
    /// `HH:MM`, local; before `start` when they run over midnight.
    pub end: String,
    /// The participant's offset from UTC in minutes (India: 330).
    pub utc_offset_minutes: i16,
}

/// What the caller wants pushed to their phones, and when not. Kept for
/// push notifications (mute a single conversation with
/// `POST /api/conversations/{id}/mute`).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PreferencesView {
    /// `all` (default), `mentions_and_calls` or `none`.
    pub push: String,
    /// No pushes in these hours; `null`: none.
    pub quiet_hours: Option<QuietHoursView>,
}

impl From<Preferences> for PreferencesView {
    fn from(p: Preferences) -> Self {
        Self {
            push: p.push.as_str().to_owned(),
            quiet_hours: p.quiet.map(|q| QuietHoursView {
                start: clock(q.start),
                end: clock(q.end),
                utc_offset_minutes: q.utc_offset_minutes,
            }),
        }
    }
}

impl PreferencesView {
    fn parse(self) -> AppResult<Preferences> {
        let push = PushLevel::from_str_opt(self.push.trim())
            .ok_or_else(|| AppError::validation("push must be all, mentions_and_calls or none"))?;
        let quiet = self
            .quiet_hours
            .map(|q| {
                QuietHours::parse(
                    parse_clock(&q.start, "quietHours.start")?,
                    parse_clock(&q.end, "quietHours.end")?,
                    q.utc_offset_minutes,
                )
            })
            .transpose()?;
        Ok(Preferences { push, quiet })
    }
}

#[OpenApi(prefix_path = "/api/notifications", tag = "Tag::Notifications")]
impl NotificationsApi {
    /// The caller's notifications, newest first (`unread=true`: unread only)
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        unread: Query<Option<bool>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<String>>,
        /// 1-100 (default 20).
        limit: Query<Option<u32>>,
    ) -> Reply<PageOf<NotificationView>> {
        let page = state
            .core
            .notifications(
                &auth.0,
                unread.0.unwrap_or(false),
                cursor.0.as_deref(),
                limit.0.unwrap_or(20),
            )
            .await?;
        ok(PageOf::from_page(page, |n| NotificationView::from(&n)))
    }

    /// How many of the caller's notifications are unread
    #[oai(path = "/unread-count", method = "get")]
    async fn unread_count(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
    ) -> Reply<UnreadCount> {
        let count = state.core.unread_notifications(&auth.0).await?;
        ok(UnreadCount { count })
    }

    /// The caller's notification preferences
    #[oai(path = "/preferences", method = "get")]
    async fn preferences(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
    ) -> Reply<PreferencesView> {
        let preferences = state.core.notification_preferences(&auth.0).await?;
        ok(preferences.into())
    }

    /// Replace the caller's notification preferences
    #[oai(path = "/preferences", method = "put")]
    async fn set_preferences(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<PreferencesView>,
    ) -> Reply<PreferencesView> {
        let preferences = body.0.parse()?;
        let saved = state
            .core
            .set_notification_preferences(&auth.0, preferences)
            .await?;
        ok(saved.into())
    }

    /// Mark every notification of the caller read; `count` is how many were unread
    #[oai(path = "/read-all", method = "put")]
    async fn read_all(&self, Data(state): Data<&AppState>, auth: BearerAuth) -> Reply<UnreadCount> {
        let count = state.core.read_all_notifications(&auth.0).await?;
        ok(UnreadCount { count })
    }

    /// Mark one notification read
    #[oai(path = "/:id/read", method = "put")]
    async fn read(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<NotificationView> {
        let read = state.core.read_notification(&auth.0, id.0).await?;
        ok(NotificationView::from(&read))
    }

    /// Delete one notification
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state.core.delete_notification(&auth.0, id.0).await?;
        done()
    }
}
