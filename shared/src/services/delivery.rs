//! Delivery of queued jobs (the `push` function): a frame to every live connection of each
//! user, or a mobile push of the job's note (never the frame) when they have none.

use crate::clock::Clock;
use crate::domain::MessageId;
use crate::domain::UserId;
use crate::error::BoxError;
use crate::ports::{
    ConnectionGateway, ConnectionStore, DeliveryJob, DeliveryLedger, DeviceStore, Fanout,
    GroupStore, PostError, PushError, PushNote, PushSender,
};
use futures_util::{StreamExt, stream};
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

/// How long after `$connect` stored a connection a 410 from API Gateway means "not open yet"
/// rather than "gone": the handshake completes only after `$connect` returns, and API Gateway
/// gives an integration at most 29 s.
pub const CONNECT_GRACE: chrono::Duration = chrono::Duration::seconds(30);

/// The `push` function's work: a queued job to every device of its users.
pub struct DeliveryService {
    pub(crate) connections: Arc<dyn ConnectionStore>,
    pub(crate) gateway: Arc<dyn ConnectionGateway>,
    pub(crate) devices: Arc<dyn DeviceStore>,
    pub(crate) push: Arc<dyn PushSender>,
    pub(crate) ledger: Arc<dyn DeliveryLedger>,
    pub(crate) groups: Arc<dyn GroupStore>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// One delivery in progress: what it did so far, the connections it served, the users it
/// reached on a live connection, and the failure that will make the queue redeliver it.
#[derive(Default)]
struct Progress {
    done: Delivered,
    newly_served: Vec<String>,
    live: HashSet<UserId>,
    failure: Option<BoxError>,
}

impl DeliveryService {
    /// Delivers `job`, received for the `receives`-th time. Fails (so the queue redelivers
    /// it) only when a live connection or a push could not be reached for a reason other than
    /// being gone, or a store failed; before failing it records which connections it served,
    /// and a redelivery (`receives > 1`) skips them, so each connection gets the frame once.
    /// A device gets at most one push per job: each push is claimed with a conditional write
    /// first. A job that dies mid-way without failing (a crashed process) may post again to
    /// connections it served; clients drop frames whose id they already have.
    ///
    /// Reads are batched whatever the number of users: the connections of all of `to` in one
    /// [`ConnectionStore::of_users`], then the devices of those in `push` left without a live
    /// connection in one [`DeviceStore::list_many`] (each 100 users per request on DynamoDB).
    pub async fn deliver(&self, job: &DeliveryJob, receives: u32) -> Result<Delivered, BoxError> {
        let key = job.dedup_id();
        let served = if receives > 1 {
            self.ledger.served(&key).await?
        } else {
            HashSet::new()
        };
        let mut progress = Progress::default();
        let stopped = self.run(job, &key, &served, &mut progress).await.err();
        if progress.done.skipped > 0 {
            crate::metrics::count("DeliveryDuplicateSkipped");
        }
        match stopped.or(progress.failure) {
            Some(e) => {
                if let Err(record) = self
                    .ledger
                    .record_served(&key, &progress.newly_served)
                    .await
                {
                    tracing::warn!(error = %record, "recording delivery progress failed; a redelivery may post twice");
                }
                Err(e)
            }
            None => Ok(progress.done),
        }
    }

    /// The frame to every live connection of `to`, then the note to the devices of the users
    /// in `push` that no connection reached. Errs on a store failure (the caller records what
    /// was served).
    async fn run(
        &self,
        job: &DeliveryJob,
        key: &str,
        served: &HashSet<String>,
        progress: &mut Progress,
    ) -> Result<(), BoxError> {
        let mut seen = HashSet::new();
        let mut users: Vec<UserId> = job.to.iter().copied().filter(|u| seen.insert(*u)).collect();
        if let Some(f) = &job.fanout
            && let Some(at) = f.check
        {
            users = self.still_members(f, &at, users).await?;
        }
        self.post_frame(job, &users, served, progress).await?;
        let Some(note) = &job.note else {
            return Ok(());
        };
        let push: HashSet<&UserId> = job.push.iter().collect();
        let offline: Vec<UserId> = users
            .into_iter()
            .filter(|u| push.contains(u) && !progress.live.contains(u))
            .collect();
        if !offline.is_empty() {
            self.push_note(key, note, &offline, progress).await?;
        }
        Ok(())
    }

    /// Those of `users` who may still get a group's message `at`: all of them while nobody
    /// left the group since the job was made (one read of the group); otherwise those still
    /// members who joined at or before it (one batched read of their rows).
    async fn still_members(
        &self,
        f: &Fanout,
        at: &MessageId,
        users: Vec<UserId>,
    ) -> Result<Vec<UserId>, BoxError> {
        let Some(meta) = self.groups.meta(&f.g).await? else {
            return Ok(vec![]);
        };
        if meta.removals == f.epoch {
            return Ok(users);
        }
        let members: HashSet<UserId> = self
            .groups
            .members_among(&f.g, &users)
            .await?
            .into_iter()
            .filter(|m| m.from <= *at)
            .map(|m| m.user_id)
            .collect();
        Ok(users.into_iter().filter(|u| members.contains(u)).collect())
    }

    /// Posts the job's frame to every live connection of `users` (one batched read), skipping
    /// those `served` already and forgetting those that are gone (unless still opening: see
    /// [`CONNECT_GRACE`]). Up to [`IN_FLIGHT`] posts
    /// at once: a job's connections are independent sockets.
    async fn post_frame(
        &self,
        job: &DeliveryJob,
        users: &[UserId],
        served: &HashSet<String>,
        progress: &mut Progress,
    ) -> Result<(), BoxError> {
        let bytes = job.frame.to_wire();
        let mut to_post = Vec::new();
        for c in self.connections.of_users(users, self.clock.now()).await? {
            if served.contains(&c.connection_id) {
                progress.done.skipped += 1;
                progress.live.insert(c.user_id);
            } else {
                to_post.push(c);
            }
        }
        let bytes = &bytes;
        let posts: Vec<_> = stream::iter(to_post)
            .map(|c| async move {
                let r = self.gateway.post(&c.connection_id, bytes).await;
                (c, r)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for (c, r) in posts {
            match r {
                Ok(()) => {
                    progress.done.posted += 1;
                    progress.live.insert(c.user_id);
                    progress.newly_served.push(c.connection_id);
                }
                Err(PostError::Gone) => {
                    // Stored by `$connect`, a connection answers 410 until its handshake
                    // completes: kept (forgetting it would strand a socket about to open,
                    // whose client catches up after CONN), not waited for (the job would
                    // hold its FIFO group back).
                    if self.clock.now() - c.connected_at >= CONNECT_GRACE {
                        self.connections.delete(&c.connection_id).await?;
                    }
                    progress.done.gone += 1;
                }
                Err(PostError::Failed(e)) => progress.failure = Some(e),
            }
        }
        Ok(())
    }

    /// Pushes `note` once to every device of `users` (one batched read), each push claimed
    /// first, up to [`IN_FLIGHT`] at once; a device whose endpoint the platform disabled is
    /// forgotten.
    async fn push_note(
        &self,
        key: &str,
        note: &PushNote,
        users: &[UserId],
        progress: &mut Progress,
    ) -> Result<(), BoxError> {
        let devices = self.devices.list_many(users).await?;
        let outcomes: Vec<Result<Pushed, BoxError>> = stream::iter(devices)
            .map(|d| async move {
                if !self.ledger.claim_push(key, &d.id).await? {
                    return Ok(Pushed::Skipped);
                }
                Ok(
                    match self.push.push(&d.endpoint_arn, d.platform, note).await {
                        Ok(()) => Pushed::Sent,
                        Err(PushError::Disabled) => Pushed::Disabled(d),
                        // The claim stands: at most one push per device, even if this one was
                        // lost (the message itself waits in the history for the app to fetch).
                        Err(PushError::Failed(e)) => {
                            tracing::warn!(error = %e, device = %d.id, "a mobile push failed");
                            crate::metrics::count("PushFailed");
                            Pushed::Failed
                        }
                    },
                )
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut first_error = None;
        for outcome in outcomes {
            match outcome {
                Ok(Pushed::Sent) => progress.done.pushed += 1,
                Ok(Pushed::Skipped) => progress.done.skipped += 1,
                Ok(Pushed::Disabled(d)) => {
                    self.devices.delete(&d.user_id, &d.id).await?;
                    if let Err(e) = self.push.unregister(&d.endpoint_arn).await {
                        tracing::warn!(error = %e, "deleting a disabled endpoint failed");
                    }
                }
                Ok(Pushed::Failed) => {}
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Posts or pushes one job makes at once.
pub const IN_FLIGHT: usize = 16;

/// What became of one device's push.
enum Pushed {
    Sent,
    /// Claimed before (a redelivered job).
    Skipped,
    Disabled(crate::ports::Device),
    Failed,
}
