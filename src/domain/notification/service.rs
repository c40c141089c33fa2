//! The inbox on [`Core`]: a participant's own notifications, newest first,
//! the unread count, marking read, deleting. Only one's own: another's (or
//! another tenant's) notification is 404. Changes tell the participant's
//! connected devices the new unread count.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Notification;
use crate::{
    domain::{Actor, Core, Page, cursor, events::DomainEvent},
    error::{AppError, AppResult},
};

impl Core {
    /// The actor's notifications, newest first; `unread_only` leaves the
    /// read ones out.
    pub async fn notifications(
        &self,
        actor: &Actor,
        unread_only: bool,
        after: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Notification>> {
        let (tenant, me) = actor.participant()?;
        let after: Option<(DateTime<Utc>, Uuid)> = after.map(cursor::decode).transpose()?;
        let limit = limit.clamp(1, 100);
        let rows = super::page(
            &mut *self.pool().acquire().await?,
            tenant,
            me,
            unread_only,
            after,
            limit + 1,
        )
        .await?;
        Ok(cursor::page(rows, limit, |n| (n.updated_at, n.id)))
    }

    /// How many of the actor's notifications are unread.
    pub async fn unread_notifications(&self, actor: &Actor) -> AppResult<u64> {
        let (tenant, me) = actor.participant()?;
        Ok(super::unread(&mut *self.pool().acquire().await?, tenant, me).await?)
    }

    /// Marks one of the actor's notifications read (404 if not theirs).
    pub async fn read_notification(&self, actor: &Actor, id: Uuid) -> AppResult<Notification> {
        let (tenant, me) = actor.participant()?;
        let mut conn = self.pool().acquire().await?;
        super::get(&mut conn, tenant, me, id)
            .await?
            .ok_or(AppError::NotFound("notification"))?;
        let changed =
            super::mark_read(&mut conn, tenant, me, Some(id), crate::domain::now()).await?;
        let read = super::get(&mut conn, tenant, me, id)
            .await?
            .ok_or(AppError::NotFound("notification"))?;
        drop(conn);
        if changed > 0 {
            self.announce_unread(actor).await?;
        }
        Ok(read)
    }

    /// Marks all of the actor's notifications read; returns how many were
    /// unread.
    pub async fn read_all_notifications(&self, actor: &Actor) -> AppResult<u64> {
        let (tenant, me) = actor.participant()?;
        let changed = super::mark_read(
            &mut *self.pool().acquire().await?,
            tenant,
            me,
            None,
            crate::domain::now(),
        )
        .await?;
        if changed > 0 {
            self.announce_unread(actor).await?;
        }
        Ok(changed)
    }

    /// Deletes one of the actor's notifications (404 if not theirs).
    pub async fn delete_notification(&self, actor: &Actor, id: Uuid) -> AppResult<()> {
        let (tenant, me) = actor.participant()?;
        if !super::delete(&mut *self.pool().acquire().await?, tenant, me, id).await? {
            return Err(AppError::NotFound("notification"));
        }
        self.announce_unread(actor).await
    }

    /// Tells the actor's devices their unread count.
    async fn announce_unread(&self, actor: &Actor) -> AppResult<()> {
        let (tenant, me) = actor.participant()?;
        let unread = self.unread_notifications(actor).await?;
        self.events()
            .publish(DomainEvent::NotificationsChanged {
                tenant,
                participant: me,
                notification: None,
                unread,
            })
            .await;
        Ok(())
    }

    /// Deletes notifications past their tenant's retention; returns how
    /// many went.
    pub async fn purge_notifications(&self) -> AppResult<u64> {
        Ok(super::purge_expired(&mut *self.pool().acquire().await?, crate::domain::now()).await?)
    }
}
