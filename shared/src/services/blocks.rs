//! Blocking: a user blocks another; the blocked user's messages, contact requests, typing and
//! presence never reach the blocker, and the blocked user is not told (docs/api.md,
//! "Blocking").

use crate::Error;
use crate::clock::Clock;
use crate::domain::{PublicProfile, UserId};
use crate::ports::{Block, BlockStore, Page, PageRequest, UserStore};
use std::collections::HashSet;
use std::sync::Arc;

pub struct BlockService {
    blocks: Arc<dyn BlockStore>,
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
}

/// What the refused send of a blocked user answers: exactly what a send to someone who is not
/// (or no longer) a contact answers, so a block is not revealed.
pub fn refused_send() -> Error {
    Error::forbidden("not_a_contact", "you can only message your contacts")
}

impl BlockService {
    pub fn new(
        blocks: Arc<dyn BlockStore>,
        users: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            blocks,
            users,
            clock,
        }
    }

    /// `caller` blocks `target` (idempotent: blocking again keeps the first time).
    pub async fn block(&self, caller: &UserId, target: &UserId) -> Result<Block, Error> {
        if caller == target {
            return Err(Error::validation(
                "cannot_block_self",
                "you cannot block yourself",
            ));
        }
        if target.is_system() || self.users.get(target).await?.is_none() {
            return Err(Error::not_found("user_not_found", "no user with that id"));
        }
        let block = Block {
            blocker: *caller,
            blocked: *target,
            at: self.clock.now(),
        };
        Ok(self.blocks.put(&block).await?)
    }

    /// `caller` unblocks `target` (idempotent).
    pub async fn unblock(&self, caller: &UserId, target: &UserId) -> Result<(), Error> {
        Ok(self.blocks.delete(caller, target).await?)
    }

    /// The users `caller` blocked, with their public profiles, paged.
    pub async fn list(
        &self,
        caller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<(Block, PublicProfile)>, Error> {
        let blocks = self.blocks.list(caller, page).await?;
        let ids: Vec<UserId> = blocks.items.iter().map(|b| b.blocked).collect();
        let users = self.users.get_many(&ids).await?;
        let items = blocks
            .items
            .into_iter()
            .filter_map(|b| {
                let u = users.iter().find(|u| u.id == b.blocked)?;
                Some((b, PublicProfile::from(u)))
            })
            .collect();
        Ok(Page {
            items,
            next: blocks.next,
        })
    }

    /// Whether `blocker` blocked `other`.
    pub async fn blocks(&self, blocker: &UserId, other: &UserId) -> Result<bool, Error> {
        Ok(self.blocks.get(blocker, other).await?.is_some())
    }

    /// Refuses (as [`refused_send`]) a message from `sender` to `receiver` when the receiver
    /// blocked the sender.
    pub async fn may_message(&self, sender: &UserId, receiver: &UserId) -> Result<(), Error> {
        if self.blocks(receiver, sender).await? {
            return Err(refused_send());
        }
        Ok(())
    }

    /// Those of `users` who blocked `target` (one batched read).
    pub async fn blocking(
        &self,
        users: &[UserId],
        target: &UserId,
    ) -> Result<HashSet<UserId>, Error> {
        let pairs: Vec<(UserId, UserId)> = users.iter().map(|u| (*u, *target)).collect();
        Ok(self
            .blocks
            .existing(&pairs)
            .await?
            .into_iter()
            .map(|(blocker, _)| blocker)
            .collect())
    }

    /// Those of `users` between whom and `user` there is a block either way: `user` blocked
    /// them, or they blocked `user` (one batched read). Presence is hidden both ways, as on
    /// WhatsApp: the blocker sees nothing of the blocked user, and stops sharing its own.
    pub async fn blocked_either_way(
        &self,
        user: &UserId,
        users: &[UserId],
    ) -> Result<HashSet<UserId>, Error> {
        let pairs: Vec<(UserId, UserId)> = users
            .iter()
            .flat_map(|u| [(*user, *u), (*u, *user)])
            .collect();
        Ok(self
            .blocks
            .existing(&pairs)
            .await?
            .into_iter()
            .map(|(a, b)| if a == *user { b } else { a })
            .collect())
    }

    /// Those of `users` whom `blocker` blocked (one batched read).
    pub async fn blocked_among(
        &self,
        blocker: &UserId,
        users: &[UserId],
    ) -> Result<HashSet<UserId>, Error> {
        let pairs: Vec<(UserId, UserId)> = users.iter().map(|u| (*blocker, *u)).collect();
        Ok(self
            .blocks
            .existing(&pairs)
            .await?
            .into_iter()
            .map(|(_, blocked)| blocked)
            .collect())
    }
}
