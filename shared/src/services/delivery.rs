//! Delivery of queued jobs (the `push` function): a frame to every live connection of each
//! user, or a mobile push when they have none.

use crate::clock::Clock;
use crate::error::BoxError;
use crate::ports::{
    ConnectionGateway, ConnectionStore, DeliveryJob, DeliveryLedger, DeviceStore, PostError,
    PushError, PushSender,
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
    /// Targets a redelivered job had already served (connections) or pushed (devices).
    pub skipped: usize,
}

/// The `push` function's work: a queued job to every device of its users.
pub struct DeliveryService {
    pub(crate) connections: Arc<dyn ConnectionStore>,
    pub(crate) gateway: Arc<dyn ConnectionGateway>,
    pub(crate) devices: Arc<dyn DeviceStore>,
    pub(crate) push: Arc<dyn PushSender>,
    pub(crate) ledger: Arc<dyn DeliveryLedger>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl DeliveryService {
    /// Delivers `job`, received for the `receives`-th time. Fails (so the queue redelivers
    /// it) only when a live connection or a push could not be reached for a reason other than
    /// being gone; before failing it records which connections it served, and a redelivery
    /// (`receives > 1`) skips them, so each connection gets the frame once. A device gets at
    /// most one push per job: each push is claimed with a conditional write first. A job that
    /// dies mid-way without failing (a crashed process) may post again to connections it
    /// served; clients drop frames whose id they already have.
    pub async fn deliver(&self, job: &DeliveryJob, receives: u32) -> Result<Delivered, BoxError> {
        let key = job.dedup_id();
        let served = if receives > 1 {
            self.ledger.served(&key).await?
        } else {
            HashSet::new()
        };
        let bytes = job.frame.to_wire();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut done = Delivered::default();
        let mut newly_served = Vec::new();
        let mut failure: Option<BoxError> = None;
        let mut seen = HashSet::new();
        for user in job.to.iter().filter(|u| seen.insert(**u)) {
            let mut live = 0;
            for c in self.connections.of_user(user, self.clock.now()).await? {
                if served.contains(&c.connection_id) {
                    done.skipped += 1;
                    live += 1;
                    continue;
                }
                match self.gateway.post(&c.connection_id, &bytes).await {
                    Ok(()) => {
                        done.posted += 1;
                        live += 1;
                        newly_served.push(c.connection_id);
                    }
                    Err(PostError::Gone) => {
                        self.connections.delete(&c.connection_id).await?;
                        done.gone += 1;
                    }
                    Err(PostError::Failed(e)) => failure = Some(e),
                }
            }
            if live == 0 && job.push.contains(user) {
                for d in self.devices.list(user).await? {
                    if !self.ledger.claim_push(&key, &d.id).await? {
                        done.skipped += 1;
                        continue;
                    }
                    match self.push.push(&d.endpoint_arn, d.platform, &text).await {
                        Ok(()) => done.pushed += 1,
                        Err(PushError::Disabled) => {
                            self.devices.delete(user, &d.id).await?;
                            if let Err(e) = self.push.unregister(&d.endpoint_arn).await {
                                tracing::warn!(error = %e, "deleting a disabled endpoint failed");
                            }
                        }
                        // The claim stands: at most one push per device, even if this one was lost
                        // (the message itself waits in the history for the app to fetch).
                        Err(PushError::Failed(e)) => {
                            tracing::warn!(error = %e, device = %d.id, "a mobile push failed");
                            crate::metrics::count("PushFailed");
                        }
                    }
                }
            }
        }
        if done.skipped > 0 {
            crate::metrics::count("DeliveryDuplicateSkipped");
        }
        match failure {
            Some(e) => {
                if let Err(record) = self.ledger.record_served(&key, &newly_served).await {
                    tracing::warn!(error = %record, "recording delivery progress failed; a redelivery may post twice");
                }
                Err(e)
            }
            None => Ok(done),
        }
    }
}
