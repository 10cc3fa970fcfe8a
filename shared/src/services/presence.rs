//! Presence: who is online, read from the connection store.

use crate::StoreError;
use crate::clock::Clock;
use crate::domain::UserId;
use crate::ports::{ConnectionStore, Presence};
use async_trait::async_trait;
use std::collections::HashSet;
use std::sync::Arc;

/// [`Presence`] from the connection store: online = at least one live connection.
pub struct ConnectionPresence {
    pub(crate) connections: Arc<dyn ConnectionStore>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl ConnectionPresence {
    pub fn new(connections: Arc<dyn ConnectionStore>, clock: Arc<dyn Clock>) -> Self {
        Self { connections, clock }
    }
}

#[async_trait]
impl Presence for ConnectionPresence {
    async fn online(&self, users: &[UserId]) -> Result<HashSet<UserId>, StoreError> {
        let now = self.clock.now();
        let mut set = tokio::task::JoinSet::new();
        for user in users.iter().copied() {
            let connections = self.connections.clone();
            set.spawn(async move {
                connections
                    .of_user(&user, now)
                    .await
                    .map(|c| (user, !c.is_empty()))
            });
        }
        let mut online = HashSet::new();
        while let Some(res) = set.join_next().await {
            let (user, on) = res.map_err(|e| StoreError::Unavailable(Box::new(e)))??;
            if on {
                online.insert(user);
            }
        }
        Ok(online)
    }
}
