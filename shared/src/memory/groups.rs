use super::{MemoryMessages, lock, page_after};
use crate::StoreError;
use crate::domain::{ConversationId, GroupMeta, Mark, Member, MessageId, UserId};
use crate::ports::{
    CursorKind, GroupChange, GroupStore, MemberChange, Page, PageRequest, decode_cursor,
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct State {
    metas: HashMap<ConversationId, GroupMeta>,
    members: BTreeMap<(ConversationId, UserId), Member>,
    invites: HashMap<String, ConversationId>,
}

#[derive(Serialize, Deserialize)]
struct GroupCursor {
    g: ConversationId,
}

/// [`GroupStore`] in memory. A change's message goes to the given [`MemoryMessages`] in the
/// same atomic step, as the DynamoDB transaction writes the messages table.
pub struct MemoryGroups {
    state: Mutex<State>,
    messages: Arc<MemoryMessages>,
}

impl MemoryGroups {
    pub fn new(messages: Arc<MemoryMessages>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            messages,
        }
    }
}

/// Checks one member step against the rows as the change has left them so far, and applies it
/// to `rows` (a scratch copy: nothing is stored unless every step passes).
fn member_step(
    rows: &mut HashMap<UserId, Option<Member>>,
    step: &MemberChange,
) -> Result<(), StoreError> {
    let failed = || StoreError::conflict("member");
    match step {
        MemberChange::Add(m) => {
            if rows.get(&m.user_id).is_some_and(Option::is_some) {
                return Err(failed());
            }
            rows.insert(m.user_id, Some(m.clone()));
        }
        MemberChange::Remove { user, role } => {
            match rows.get(user) {
                Some(Some(m)) if m.role == *role => {}
                _ => return Err(failed()),
            }
            rows.insert(*user, None);
        }
        MemberChange::SetRole { user, from, to } => match rows.get_mut(user) {
            Some(Some(m)) if m.role == *from => m.role = *to,
            _ => return Err(failed()),
        },
        MemberChange::Check { user, role } => match rows.get(user) {
            Some(Some(m)) if m.role == *role => {}
            _ => return Err(failed()),
        },
        MemberChange::Sent {
            user,
            role,
            read_was,
            mark,
            seq,
            delivered_marks,
            read_marks,
        } => match rows.get_mut(user) {
            Some(Some(m)) if m.role == *role && m.cursors.read_up_to == *read_was => {
                m.cursors.read_up_to = Some(mark.up_to);
                m.cursors.delivered_up_to = Some(mark.up_to);
                m.read_seq = *seq;
                m.delivered_marks = delivered_marks.clone();
                m.read_marks = read_marks.clone();
            }
            _ => return Err(failed()),
        },
    }
    Ok(())
}

fn step_user(step: &MemberChange) -> UserId {
    match step {
        MemberChange::Add(m) => m.user_id,
        MemberChange::Remove { user, .. }
        | MemberChange::SetRole { user, .. }
        | MemberChange::Check { user, .. }
        | MemberChange::Sent { user, .. } => *user,
    }
}

#[async_trait]
impl GroupStore for MemoryGroups {
    async fn commit(&self, change: &GroupChange) -> Result<(), StoreError> {
        let gid = change.meta.id;
        self.messages.write_with(
            change.message.as_ref(),
            change.guard.as_ref(),
            change.rate.as_ref(),
            || {
                let mut s = lock(&self.state);
                let stored = s.metas.get(&gid).map(|m| m.version);
                if stored != change.expect_version {
                    return Err(StoreError::conflict("version"));
                }
                let mut rows: HashMap<UserId, Option<Member>> = HashMap::new();
                for step in &change.members {
                    let user = step_user(step);
                    rows.entry(user)
                        .or_insert_with(|| s.members.get(&(gid, user)).cloned());
                    member_step(&mut rows, step)?;
                }
                if let Some(code) = &change.invite_add
                    && s.invites.contains_key(code)
                {
                    return Err(StoreError::conflict("invite"));
                }
                s.metas.insert(gid, change.meta.clone());
                for (user, row) in rows {
                    match row {
                        Some(m) => s.members.insert((gid, user), m),
                        None => s.members.remove(&(gid, user)),
                    };
                }
                if let Some(code) = &change.invite_remove {
                    s.invites.remove(code);
                }
                if let Some(code) = &change.invite_add {
                    s.invites.insert(code.clone(), gid);
                }
                Ok(())
            },
        )
    }

    async fn meta(&self, group: &ConversationId) -> Result<Option<GroupMeta>, StoreError> {
        Ok(lock(&self.state).metas.get(group).cloned())
    }

    async fn meta_and_member(
        &self,
        group: &ConversationId,
        user: &UserId,
    ) -> Result<(Option<GroupMeta>, Option<Member>), StoreError> {
        let s = lock(&self.state);
        Ok((
            s.metas.get(group).cloned(),
            s.members.get(&(*group, *user)).cloned(),
        ))
    }

    async fn members(&self, group: &ConversationId) -> Result<Vec<Member>, StoreError> {
        let s = lock(&self.state);
        let mut v: Vec<Member> = s
            .members
            .range((*group, UserId::SYSTEM)..)
            .take_while(|((g, _), _)| g == group)
            .map(|(_, m)| m.clone())
            .collect();
        v.sort_by_key(|m| m.join_seq);
        Ok(v)
    }

    async fn members_among(
        &self,
        group: &ConversationId,
        users: &[UserId],
    ) -> Result<Vec<Member>, StoreError> {
        let s = lock(&self.state);
        let unique: std::collections::BTreeSet<&UserId> = users.iter().collect();
        Ok(unique
            .into_iter()
            .filter_map(|u| s.members.get(&(*group, *u)).cloned())
            .collect())
    }

    async fn groups_of(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Member>, StoreError> {
        let after = page
            .cursor
            .as_deref()
            .map(decode_cursor::<GroupCursor>)
            .transpose()?;
        let s = lock(&self.state);
        let rows = s
            .members
            .iter()
            .filter(|((g, u), _)| u == user && after.as_ref().is_none_or(|a| *g > a.g))
            .map(|((g, _), m)| (*g, m.clone()));
        Ok(page_after(rows, page.limit, |g| GroupCursor { g: *g }))
    }

    async fn metas(&self, groups: &[ConversationId]) -> Result<Vec<GroupMeta>, StoreError> {
        let s = lock(&self.state);
        let unique: std::collections::BTreeSet<&ConversationId> = groups.iter().collect();
        Ok(unique
            .into_iter()
            .filter_map(|g| s.metas.get(g).cloned())
            .collect())
    }

    async fn invite(&self, code: &str) -> Result<Option<ConversationId>, StoreError> {
        Ok(lock(&self.state).invites.get(code).copied())
    }

    async fn advance(
        &self,
        group: &ConversationId,
        user: &UserId,
        kind: CursorKind,
        was: Option<MessageId>,
        mark: Mark,
        seq: u64,
        marks: &[Mark],
    ) -> Result<(), StoreError> {
        let mut s = lock(&self.state);
        let m = s
            .members
            .get_mut(&(*group, *user))
            .ok_or(StoreError::conflict("condition"))?;
        let cursor = match kind {
            CursorKind::Delivered => &mut m.cursors.delivered_up_to,
            CursorKind::Read => &mut m.cursors.read_up_to,
        };
        if *cursor != was {
            return Err(StoreError::conflict("condition"));
        }
        *cursor = Some(mark.up_to);
        match kind {
            CursorKind::Delivered => m.delivered_marks = marks.to_vec(),
            CursorKind::Read => {
                m.read_seq = seq;
                m.read_marks = marks.to_vec();
            }
        }
        Ok(())
    }
}
