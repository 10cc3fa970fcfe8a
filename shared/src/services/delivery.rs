//! Delivery of queued jobs (the `push` function): a frame to every live connection of each
//! user, or a mobile push of the job's note (never the frame) when they have none.

use crate::clock::Clock;
use crate::error::BoxError;
use crate::ports::{
    ConnectionGateway, ConnectionStore, DeliveryJob, DeviceStore, PostError, PushError, PushSender,
};
use std::collections::HashSet;
use std::sync::Arc;

/// What one delivery job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Frames posted to live connections.
    pub posted: usize,
    /// Connections found closed (410) and forgotten.
    pub gone: usize,
    /// Mobile pushes sent to users without a live connection.
    pub pushed: usize,
}

/// The `push` function's work: a queued job to every device of its users.
pub struct DeliveryService {
    pub(crate) connections: Arc<dyn ConnectionStore>,
    pub(crate) gateway: Arc<dyn ConnectionGateway>,
    pub(crate) devices: Arc<dyn DeviceStore>,
    pub(crate) push: Arc<dyn PushSender>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl DeliveryService {
    /// Delivers `job`. Fails (so the queue redelivers it) only when a live connection or a
    /// push could not be reached for a reason other than being gone; deliveries are
    /// at-least-once and clients drop frames whose id they already have.
    pub async fn deliver(&self, job: &DeliveryJob) -> Result<Delivered, BoxError> {
        let bytes = job.frame.to_wire();
        let mut done = Delivered::default();
        let mut failure: Option<BoxError> = None;
        let mut seen = HashSet::new();
        for user in job.to.iter().filter(|u| seen.insert(**u)) {
            let mut live = 0;
            for c in self.connections.of_user(user, self.clock.now()).await? {
                match self.gateway.post(&c.connection_id, &bytes).await {
                    Ok(()) => live += 1,
                    Err(PostError::Gone) => {
                        self.connections.delete(&c.connection_id).await?;
                        done.gone += 1;
                    }
                    Err(PostError::Failed(e)) => failure = Some(e),
                }
            }
            done.posted += live;
            if live == 0
                && job.push.contains(user)
                && let Some(note) = &job.note
            {
                for d in self.devices.list(user).await? {
                    match self.push.push(&d.endpoint_arn, d.platform, note).await {
                        Ok(()) => done.pushed += 1,
                        Err(PushError::Disabled) => {
                            self.devices.delete(user, &d.id).await?;
                            if let Err(e) = self.push.unregister(&d.endpoint_arn).await {
                                tracing::warn!(error = %e, "deleting a disabled endpoint failed");
                            }
                        }
                        Err(PushError::Failed(e)) => failure = Some(e),
                    }
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}
