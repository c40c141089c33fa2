//! Devices on [`Core`]: registering the calling session's device, listing
//! and removing one's own. Another participant's (or tenant's) device is
//! 404.

use uuid::Uuid;

use super::{Device, Platform};
use crate::{
    domain::{Actor, Core},
    error::{AppError, AppResult},
};

/// What a client registers.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub platform: Platform,
    pub token: String,
    pub app_id: Option<String>,
    pub locale: Option<String>,
    pub voip: bool,
}

impl NewDevice {
    fn validate(&self) -> AppResult<()> {
        let token = self.token.trim();
        if token.is_empty()
            || token.len() > 512
            || token.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(AppError::validation(
                "token must be 1-512 characters without spaces",
            ));
        }
        if self.platform == Platform::Apns && !token.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(AppError::validation("an APNs token is hexadecimal"));
        }
        if self.voip && self.platform != Platform::Apns {
            return Err(AppError::validation(
                "voip tokens are APNs (PushKit) tokens",
            ));
        }
        for (name, value, max) in [("appId", &self.app_id, 255), ("locale", &self.locale, 35)] {
            if value
                .as_ref()
                .is_some_and(|v| v.is_empty() || v.len() > max || v.chars().any(char::is_control))
            {
                return Err(AppError::validation(format!(
                    "{name} must be 1-{max} characters"
                )));
            }
        }
        Ok(())
    }
}

impl Core {
    /// Registers the calling session's device (again: the same token moves
    /// to this session).
    pub async fn register_device(&self, actor: &Actor, new: NewDevice) -> AppResult<Device> {
        let (tenant, me) = actor.participant()?;
        let session = actor.session()?;
        new.validate()?;
        let now = crate::domain::now();
        let device = Device {
            tenant_id: tenant,
            id: Uuid::now_v7(),
            participant_id: me,
            session_id: session,
            platform: new.platform,
            token: new.token.trim().to_owned(),
            app_id: new.app_id,
            locale: new.locale,
            voip: new.voip,
            created_at: now,
            updated_at: now,
        };
        Ok(super::register(&mut *self.pool().acquire().await?, &device).await?)
    }

    /// The actor's live devices.
    pub async fn devices(&self, actor: &Actor) -> AppResult<Vec<Device>> {
        let (tenant, me) = actor.participant()?;
        Ok(super::of_participant(
            &mut *self.pool().acquire().await?,
            tenant,
            me,
            crate::domain::now(),
        )
        .await?)
    }

    /// Removes one of the actor's devices (404 if not theirs).
    pub async fn remove_device(&self, actor: &Actor, id: Uuid) -> AppResult<()> {
        let (tenant, me) = actor.participant()?;
        if !super::remove(&mut *self.pool().acquire().await?, tenant, me, id).await? {
            return Err(AppError::NotFound("device"));
        }
        Ok(())
    }

    /// Deletes the devices whose sessions ended (upkeep).
    pub async fn purge_dead_devices(&self) -> AppResult<u64> {
        Ok(super::purge_dead(&mut *self.pool().acquire().await?, crate::domain::now()).await?)
    }
}
