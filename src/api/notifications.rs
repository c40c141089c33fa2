//! `/api/notifications`: the caller's in-app inbox (seed 000 §5, seed
//! 003): newest first, the unread count, marking read, deleting. Like
//! one's own sessions, one's own inbox is never forbidden: these
//! operations only authenticate (a participant's token), and anyone else's
//! notification is 404.

use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
};

use super::{Done, PageOf, Reply, Tag, done, ok};
use crate::{
    auth::BearerAuth,
    state::AppState,
    wire::notification::{NotificationView, UnreadCount},
};

#[derive(Default)]
pub struct NotificationsApi;

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
