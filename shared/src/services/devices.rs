//! Push-token registration: SNS platform endpoints of a user's devices.

use crate::clock::Clock;
use crate::domain::{SessionId, UserId};
use crate::ports::{Device, DeviceStore, Platform, PushSender};
use crate::{Error, crypto};
use std::sync::Arc;

/// Push-token registration.
pub struct DeviceService {
    pub(crate) devices: Arc<dyn DeviceStore>,
    pub(crate) push: Arc<dyn PushSender>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// Devices one user may have registered at once. The DynamoDB adapter keeps all of a user's
/// devices in one item (so delivery reads a group's devices in batches) and an item stops at
/// 400 KB (a device takes about 0.5 KB): beyond this a registration is refused (409), never a
/// store failure.
pub const MAX_DEVICES_PER_USER: usize = 100;

/// Namespace of device ids (UUIDv5 of user and token hash: re-registering replaces).
const DEVICE_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x2b8e_4a61_9c3f_4d17_8a5e_0f6b_3c9d_7e02);

impl DeviceService {
    /// Registers a push token for `session` (ending the session unregisters it): creates (or
    /// finds) its SNS platform endpoint and stores it. A user with
    /// [`MAX_DEVICES_PER_USER`] devices can only re-register one of theirs.
    pub async fn register(
        &self,
        user: &UserId,
        session: &SessionId,
        platform: &str,
        token: &str,
    ) -> Result<Device, Error> {
        let platform = match platform {
            "fcm" => Platform::Fcm,
            "apns" => Platform::Apns,
            _ => {
                return Err(Error::validation(
                    "invalid_platform",
                    "platform must be fcm or apns",
                ));
            }
        };
        if token.is_empty() || token.len() > 4096 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::validation(
                "invalid_push_token",
                "token must be 1-4096 printable characters",
            ));
        }
        if !self.push.supports(platform) {
            return Err(Error::validation(
                "platform_unavailable",
                format!("this deployment cannot push to {platform:?} devices"),
            ));
        }
        let token_hash = hex::encode(crypto::sha256(token.as_bytes()));
        let id = uuid::Uuid::new_v5(&DEVICE_NAMESPACE, format!("{user}:{token_hash}").as_bytes());
        self.check_room(user, &id).await?;
        let endpoint_arn = self
            .push
            .register(platform, token)
            .await
            .map_err(Error::Unavailable)?;
        let device = Device {
            id,
            user_id: *user,
            session_id: Some(*session),
            platform,
            token_hash,
            endpoint_arn,
            created_at: self.clock.now(),
        };
        self.devices.put(&device).await?;
        Ok(device)
    }

    /// Refuses a new device `id` when the user already has [`MAX_DEVICES_PER_USER`].
    async fn check_room(&self, user: &UserId, id: &uuid::Uuid) -> Result<(), Error> {
        let mine = self.devices.list(user).await?;
        if mine.len() >= MAX_DEVICES_PER_USER && !mine.iter().any(|d| d.id == *id) {
            return Err(Error::conflict(
                "too_many_devices",
                format!(
                    "at most {MAX_DEVICES_PER_USER} devices; remove one (DELETE /api/devices/:id) first"
                ),
            ));
        }
        Ok(())
    }

    pub async fn list(&self, user: &UserId) -> Result<Vec<Device>, Error> {
        Ok(self.devices.list(user).await?)
    }

    /// Unregisters a device and deletes its platform endpoint.
    pub async fn remove(&self, user: &UserId, id: &uuid::Uuid) -> Result<(), Error> {
        let device = self
            .devices
            .delete(user, id)
            .await?
            .ok_or_else(|| Error::not_found("device_not_found", "no such device of yours"))?;
        if let Err(e) = self.push.unregister(&device.endpoint_arn).await {
            tracing::warn!(error = %e, "deleting the platform endpoint failed; the device is unregistered");
        }
        Ok(())
    }
}
