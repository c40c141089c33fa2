//! `/api/devices` (issue 15): the phones and desktops that receive the
//! caller's push notifications. A device belongs to the session that
//! registered it: logout and revocation end it. Like one's own sessions,
//! one's own devices are never forbidden: these operations only
//! authenticate, and anyone else's device is 404.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};

use super::{Done, Reply, Tag, done, ok};
use crate::{
    auth::BearerAuth,
    domain::device::{Device, NewDevice, Platform},
    error::AppError,
    state::AppState,
};

#[derive(Default)]
pub struct DevicesApi;

/// A device to register (again: the same token moves to this session).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct RegisterDevice {
    /// `fcm` (Android, or iOS through Firebase) or `apns`.
    pub platform: String,
    /// The provider's token for this app install.
    pub token: String,
    /// FCM: the app's package; APNs: the bundle id.
    pub app_id: Option<String>,
    /// The device's language (`hi-IN`), for the texts of its pushes.
    pub locale: Option<String>,
    /// An APNs VoIP (PushKit) token, for incoming calls.
    pub voip: Option<bool>,
}

/// A registered device.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct DeviceView {
    pub id: uuid::Uuid,
    pub platform: String,
    pub token: String,
    pub app_id: Option<String>,
    pub locale: Option<String>,
    pub voip: bool,
    /// The session it belongs to.
    pub session_id: uuid::Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        Self {
            id: d.id,
            platform: d.platform.as_str().to_owned(),
            token: d.token,
            app_id: d.app_id,
            locale: d.locale,
            voip: d.voip,
            session_id: d.session_id.0,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[OpenApi(prefix_path = "/api/devices", tag = "Tag::Notifications")]
impl DevicesApi {
    /// Register this session's device for push notifications
    #[oai(path = "/", method = "post")]
    async fn register(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<RegisterDevice>,
    ) -> Reply<DeviceView> {
        let body = body.0;
        let platform = Platform::from_str_opt(body.platform.trim())
            .ok_or_else(|| AppError::validation("platform must be fcm or apns"))?;
        let device = state
            .core
            .register_device(
                &auth.0,
                NewDevice {
                    platform,
                    token: body.token,
                    app_id: body.app_id,
                    locale: body.locale,
                    voip: body.voip.unwrap_or(false),
                },
            )
            .await?;
        ok(device.into())
    }

    /// The caller's devices (those of live sessions)
    #[oai(path = "/", method = "get")]
    async fn list(&self, Data(state): Data<&AppState>, auth: BearerAuth) -> Reply<Vec<DeviceView>> {
        let devices = state.core.devices(&auth.0).await?;
        ok(devices.into_iter().map(DeviceView::from).collect())
    }

    /// Remove one of the caller's devices
    #[oai(path = "/:id", method = "delete")]
    async fn remove(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state.core.remove_device(&auth.0, id.0).await?;
        done()
    }
}
