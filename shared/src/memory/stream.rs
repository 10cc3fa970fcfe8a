//! The in-memory counterpart of the `messages` table's DynamoDB stream: every committed
//! message, in commit order, for the relay (the local gateway's stream event source reads it,
//! as Lambda's reads the real stream).

use super::lock;
use crate::domain::Message;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

#[derive(Default)]
struct State {
    /// Committed messages not yet taken by the relay.
    pending: VecDeque<Message>,
    /// Messages taken but not yet acknowledged.
    in_flight: usize,
}

/// Committed messages, oldest first, like a stream shard: a batch taken and not acknowledged
/// is put back at the front (the event source retries it).
#[derive(Default)]
pub struct MessageStream {
    state: Mutex<State>,
    changed: Notify,
}

impl MessageStream {
    /// Appends a committed message (called inside the store's commit).
    pub fn push(&self, m: &Message) {
        lock(&self.state).pending.push_back(m.clone());
        self.changed.notify_waiters();
    }

    /// Takes up to `max` messages, waiting for at least one.
    pub async fn take(&self, max: usize) -> Vec<Message> {
        loop {
            let notified = self.changed.notified();
            let batch = self.try_take(max);
            if !batch.is_empty() {
                return batch;
            }
            notified.await;
        }
    }

    /// Takes up to `max` messages, maybe none, without waiting.
    pub fn try_take(&self, max: usize) -> Vec<Message> {
        let mut s = lock(&self.state);
        let n = max.min(s.pending.len());
        s.in_flight += n;
        s.pending.drain(..n).collect()
    }

    /// Acknowledges a taken batch: `done` of them were relayed; the rest go back to the front,
    /// in order, to be retried.
    pub fn ack(&self, mut batch: Vec<Message>, done: usize) {
        let mut s = lock(&self.state);
        s.in_flight -= batch.len();
        let retry = batch.split_off(done.min(batch.len()));
        for m in retry.into_iter().rev() {
            s.pending.push_front(m);
        }
        drop(s);
        self.changed.notify_waiters();
    }

    /// Waits until every message pushed so far was relayed (nothing pending or in flight).
    pub async fn drained(&self) {
        loop {
            let notified = self.changed.notified();
            {
                let s = lock(&self.state);
                if s.pending.is_empty() && s.in_flight == 0 {
                    return;
                }
            }
            notified.await;
        }
    }
}
