//! Groups (DESIGN §8): creation, info, settings, membership, admins, invites. Every change is
//! one conditional write on the group's version, with the system message that records it (its
//! `GRP` frame reaches the members through the messages table's stream, like any message).

use crate::clock::Clock;
use crate::domain::{
    Content, ConversationId, GroupEvent, GroupEventKind, GroupMeta, GroupName, GroupPart,
    GroupSettings, GroupView, MAX_ADD_PER_REQUEST, MediaUse, Member, MemberView, Message,
    MessageId, MessageKind, Role, UserId, Who,
};
use crate::ports::{ContactStore, GroupChange, GroupStore, MemberChange, Page, PageRequest};
use crate::retry::Backoff;
use crate::{Error, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::Arc;

/// A `PATCH /api/groups/:id`: the fields given change; `Some(None)` clears a field.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    pub name: Option<GroupName>,
    pub description: Option<Option<String>>,
    pub avatar: Option<Option<String>>,
    pub settings: Option<SettingsPatch>,
}

/// The settings a patch changes (the others stay).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettingsPatch {
    pub edit_info: Option<Who>,
    pub send: Option<Who>,
    pub add: Option<Who>,
}

/// A new group.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: GroupName,
    pub description: Option<String>,
    pub avatar: Option<String>,
    pub members: Vec<UserId>,
}

pub struct GroupService {
    groups: Arc<dyn GroupStore>,
    contacts: Arc<dyn ContactStore>,
    clock: Arc<dyn Clock>,
    max_members: u32,
    contention: Backoff,
    /// Checks avatars (image uploads of the caller's) and attaches them to the group.
    media: Option<Arc<super::MediaService>>,
    /// Nobody is added by someone they blocked.
    blocks: Option<Arc<super::BlockService>>,
}

/// What one change does, decided from the group as read.
struct Plan {
    meta: GroupMeta,
    members: Vec<MemberChange>,
    event: GroupEvent,
    invite_add: Option<String>,
    invite_remove: Option<String>,
}

impl Plan {
    /// An info or settings change by `actor` (who must still have their role).
    fn updated(meta: GroupMeta, actor: &Member) -> Self {
        Self {
            meta,
            members: vec![MemberChange::Check {
                user: actor.user_id,
                role: actor.role,
            }],
            event: GroupEvent {
                ev: GroupEventKind::Updated,
                by: actor.user_id,
                users: vec![],
            },
            invite_add: None,
            invite_remove: None,
        }
    }
}

fn concurrent_update() -> Error {
    Error::conflict(
        "concurrent_update",
        "the group changed concurrently; try again",
    )
}

fn not_found() -> Error {
    Error::not_found("group_not_found", "you are not in a group with that id")
}

fn forbidden(what: &str) -> Error {
    Error::forbidden(
        "not_allowed",
        format!("only admins may {what} in this group"),
    )
}

/// A random invite code: 128 bits, base64url (22 characters).
fn new_invite_code() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = crate::crypto::random_bytes();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks an invite code's shape (what [`new_invite_code`] makes).
pub fn parse_invite_code(s: &str) -> Result<&str, Error> {
    let ok = s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(s)
    } else {
        Err(Error::not_found(
            "invite_not_found",
            "no group has that invite code",
        ))
    }
}

/// The system message recording `event` in group `meta` at `now`.
pub(crate) fn system_message(meta: &GroupMeta, event: GroupEvent, now: DateTime<Utc>) -> Message {
    Message {
        id: MessageId::new_v7(),
        conversation_id: meta.id,
        sender_id: UserId::SYSTEM,
        receiver_id: UserId::from_uuid(*meta.id.as_uuid()),
        content: Content::parse(MessageKind::Text, &event.describe()).expect("a valid text"),
        kind: MessageKind::Text,
        client_message_id: None,
        created_at: now,
        group: Some(GroupPart {
            seq: meta.seq,
            event: Some(event),
        }),
        media: None,
        extras: Default::default(),
    }
}

/// `message` as a chat list keeps it.
pub(crate) fn preview(message: &Message) -> Message {
    message.preview()
}

/// A new member's row: they see from `from` (the message that added them) on, and nothing
/// before counts as unread.
fn new_member(
    meta: &GroupMeta,
    user: UserId,
    role: Role,
    from: MessageId,
    now: DateTime<Utc>,
    n: u64,
) -> Member {
    Member {
        group_id: meta.id,
        user_id: user,
        role,
        joined_at: now,
        join_seq: meta.joins + n,
        from,
        cursors: Default::default(),
        read_seq: meta.seq,
        delivered_marks: vec![],
        read_marks: vec![],
    }
}

impl GroupService {
    pub fn new(
        groups: Arc<dyn GroupStore>,
        contacts: Arc<dyn ContactStore>,
        clock: Arc<dyn Clock>,
        max_members: u32,
    ) -> Self {
        Self {
            groups,
            contacts,
            clock,
            max_members,
            contention: Backoff::CONTENTION,
            media: None,
            blocks: None,
        }
    }

    /// A user who blocked the adder cannot be added by them (refused as a non-contact is).
    pub fn with_blocks(mut self, blocks: Arc<super::BlockService>) -> Self {
        self.blocks = Some(blocks);
        self
    }

    /// Avatars are checked by `media`: an image upload of the caller's, with the declared size
    /// and type and an image signature; the group's members may then download it.
    pub fn with_media(mut self, media: Arc<super::MediaService>) -> Self {
        self.media = Some(media);
        self
    }

    /// Checks a new avatar and attaches it to `group` (404 `media_not_found` for an upload
    /// that is not the caller's, 400 for one that is no image).
    async fn check_avatar(
        &self,
        caller: &UserId,
        group: &ConversationId,
        avatar: &str,
    ) -> Result<(), Error> {
        let Some(media) = &self.media else {
            return Ok(());
        };
        let input = super::MediaInput::parse(avatar, None, None)?;
        let id = input.media_id;
        media
            .check_for_message(caller, MessageKind::Image, input)
            .await?;
        media.attach(&id, MediaUse::Chat(*group)).await
    }

    /// Checks users to add: 1–90 distinct people, not the adder, all the adder's contacts,
    /// none of whom blocked the adder (told apart from a non-contact by nothing: the blocked
    /// user is not told).
    async fn check_new(&self, adder: &UserId, users: &[UserId]) -> Result<(), Error> {
        if users.len() > MAX_ADD_PER_REQUEST {
            return Err(Error::validation(
                "too_many_members",
                format!("add at most {MAX_ADD_PER_REQUEST} members per request"),
            ));
        }
        let mut seen = HashSet::new();
        for u in users {
            if !seen.insert(*u) {
                return Err(Error::validation(
                    "duplicate_member",
                    format!("{u} is listed twice"),
                ));
            }
            if u == adder {
                return Err(Error::validation(
                    "cannot_add_self",
                    "you are already in the group",
                ));
            }
        }
        let found =
            futures_util::future::try_join_all(users.iter().map(|u| self.contacts.get(adder, u)))
                .await?;
        let blockers = match &self.blocks {
            Some(b) => b.blocking(users, adder).await?,
            None => Default::default(),
        };
        if let Some((u, _)) = users
            .iter()
            .zip(&found)
            .find(|(u, c)| c.is_none() || blockers.contains(*u))
        {
            return Err(Error::forbidden(
                "not_a_contact",
                format!("{u} is not one of your contacts; share an invite link instead"),
            ));
        }
        Ok(())
    }

    fn check_room(&self, meta_count: u32, adding: usize) -> Result<(), Error> {
        if meta_count as usize + adding > self.max_members as usize {
            return Err(Error::conflict(
                "group_full",
                format!("a group has at most {} members", self.max_members),
            ));
        }
        Ok(())
    }

    /// Creates a group of the creator (its admin) and `new.members` (the creator's contacts).
    pub async fn create(&self, creator: &UserId, new: NewGroup) -> Result<GroupView, Error> {
        self.check_new(creator, &new.members).await?;
        self.check_room(1, new.members.len())?;
        let now = self.clock.now();
        let id = ConversationId::new_group();
        if let Some(avatar) = &new.avatar {
            self.check_avatar(creator, &id, avatar).await?;
        }
        let event = GroupEvent {
            ev: GroupEventKind::Created,
            by: *creator,
            users: new.members.clone(),
        };
        let mut meta = GroupMeta {
            id,
            name: new.name,
            description: new.description,
            avatar: new.avatar,
            created_by: *creator,
            created_at: now,
            updated_at: now,
            settings: GroupSettings::default(),
            member_count: 1 + new.members.len() as u32,
            admin_count: 1,
            invite_code: None,
            last_message: system_message_placeholder(id, now),
            seq: 0,
            joins: 0,
            removals: 0,
            version: 1,
        };
        let message = system_message(&meta, event, now);
        meta.last_message = preview(&message);
        let mut members = vec![MemberChange::Add(new_member(
            &meta,
            *creator,
            Role::Admin,
            message.id,
            now,
            1,
        ))];
        for (i, u) in new.members.iter().enumerate() {
            members.push(MemberChange::Add(new_member(
                &meta,
                *u,
                Role::Member,
                message.id,
                now,
                2 + i as u64,
            )));
        }
        meta.joins = members.len() as u64;
        self.groups
            .commit(&GroupChange {
                meta: meta.clone(),
                expect_version: None,
                members,
                invite_add: None,
                invite_remove: None,
                message: Some(message),
                guard: None,
                rate: None,
            })
            .await?;
        self.view(creator, &meta).await
    }

    /// The group as `caller` (a member) sees it: 404 for anyone else.
    pub async fn get(&self, caller: &UserId, group: &ConversationId) -> Result<GroupView, Error> {
        let (meta, member) = self.groups.meta_and_member(group, caller).await?;
        match (meta, member) {
            (Some(meta), Some(_)) => self.view(caller, &meta).await,
            _ => Err(not_found()),
        }
    }

    async fn view(&self, caller: &UserId, meta: &GroupMeta) -> Result<GroupView, Error> {
        let members = self.groups.members(&meta.id).await?;
        let admin = members
            .iter()
            .any(|m| m.user_id == *caller && m.role == Role::Admin);
        Ok(GroupView {
            members: Some(
                members
                    .iter()
                    .map(|m| MemberView {
                        user_id: m.user_id,
                        role: m.role,
                        joined_at: m.joined_at,
                    })
                    .collect(),
            ),
            invite_code: if admin {
                meta.invite_code.clone()
            } else {
                None
            },
            ..GroupView::from(meta)
        })
    }

    /// The caller's groups, by id, without their member lists.
    pub async fn list(
        &self,
        caller: &UserId,
        page: &PageRequest,
    ) -> Result<Page<GroupView>, Error> {
        let rows = self.groups.groups_of(caller, page).await?;
        let ids: Vec<ConversationId> = rows.items.iter().map(|m| m.group_id).collect();
        let metas = self.groups.metas(&ids).await?;
        let items = rows
            .items
            .iter()
            .filter_map(|m| {
                let meta = metas.iter().find(|g| g.id == m.group_id)?;
                Some(GroupView {
                    invite_code: (m.role == Role::Admin)
                        .then(|| meta.invite_code.clone())
                        .flatten(),
                    ..GroupView::from(meta)
                })
            })
            .collect();
        Ok(Page {
            items,
            next: rows.next,
        })
    }

    /// Reads the group and the actor's row, lets `decide` plan the change, and commits it
    /// with its system message; re-reads and decides again when a concurrent change won.
    /// `decide` returning `None` means nothing to change: the group as it is.
    async fn change(
        &self,
        actor: &UserId,
        group: &ConversationId,
        with_members: bool,
        mut decide: impl FnMut(&GroupMeta, &Member, &[Member]) -> Result<Option<Plan>, Error>,
    ) -> Result<GroupMeta, Error> {
        let mut retry = self.contention.start();
        loop {
            let (meta, member) = self.groups.meta_and_member(group, actor).await?;
            let (Some(meta), Some(member)) = (meta, member) else {
                return Err(not_found());
            };
            let members = if with_members {
                self.groups.members(group).await?
            } else {
                vec![]
            };
            let Some(plan) = decide(&meta, &member, &members)? else {
                return Ok(meta);
            };
            if let Some(changed) = self.try_commit(&meta, plan).await? {
                return Ok(changed);
            }
            if !retry.pause().await {
                return Err(concurrent_update());
            }
        }
    }

    /// Commits `plan` over `meta` as read, with the system message recording it: the group as
    /// changed, or `None` when a concurrent change won (read again and decide again).
    async fn try_commit(
        &self,
        meta: &GroupMeta,
        mut plan: Plan,
    ) -> Result<Option<GroupMeta>, Error> {
        let now = self.clock.now();
        let message = system_message(&plan.meta, plan.event.clone(), now);
        if message.id <= meta.last_message.id {
            return Ok(None);
        }
        plan.meta.last_message = preview(&message);
        plan.meta.updated_at = now;
        plan.meta.version = meta.version + 1;
        let change = GroupChange {
            meta: plan.meta,
            expect_version: Some(meta.version),
            members: plan.members,
            invite_add: plan.invite_add,
            invite_remove: plan.invite_remove,
            message: Some(message),
            guard: None,
            rate: None,
        };
        match self.groups.commit(&change).await {
            Ok(()) => Ok(Some(change.meta)),
            Err(StoreError::Conflict { .. } | StoreError::Contended(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes name, description, avatar (members, or admins if `editInfo` is `admins`) and
    /// settings (admins).
    pub async fn update(
        &self,
        caller: &UserId,
        group: &ConversationId,
        patch: GroupPatch,
    ) -> Result<GroupView, Error> {
        if let Some(Some(avatar)) = &patch.avatar {
            // A new avatar of a member only (a non-member's change fails below with the
            // group's own error); the current avatar stays valid whoever uploaded it.
            if let (Some(meta), Some(_)) = self.groups.meta_and_member(group, caller).await?
                && meta.avatar.as_ref() != Some(avatar)
            {
                self.check_avatar(caller, group, avatar).await?;
            }
        }
        let meta = self
            .change(caller, group, false, |meta, me, _| {
                let info =
                    patch.name.is_some() || patch.description.is_some() || patch.avatar.is_some();
                if info && !meta.settings.edit_info.allows(me.role) {
                    return Err(forbidden("edit the group info"));
                }
                if patch.settings.is_some() && me.role != Role::Admin {
                    return Err(forbidden("change the settings"));
                }
                let mut next = meta.clone();
                if let Some(n) = &patch.name {
                    next.name = n.clone();
                }
                if let Some(d) = &patch.description {
                    next.description = d.clone();
                }
                if let Some(a) = &patch.avatar {
                    next.avatar = a.clone();
                }
                if let Some(s) = patch.settings {
                    next.settings = GroupSettings {
                        edit_info: s.edit_info.unwrap_or(meta.settings.edit_info),
                        send: s.send.unwrap_or(meta.settings.send),
                        add: s.add.unwrap_or(meta.settings.add),
                    };
                }
                let same = next.name == meta.name
                    && next.description == meta.description
                    && next.avatar == meta.avatar
                    && next.settings == meta.settings;
                Ok((!same).then(|| Plan::updated(next, me)))
            })
            .await?;
        self.view(caller, &meta).await
    }

    /// Adds the caller's contacts (admins, or everyone if `add` is `all`).
    pub async fn add(
        &self,
        caller: &UserId,
        group: &ConversationId,
        users: Vec<UserId>,
    ) -> Result<GroupView, Error> {
        if users.is_empty() {
            return Err(Error::validation(
                "invalid_body",
                "userIds must not be empty",
            ));
        }
        match self.groups.meta_and_member(group, caller).await? {
            (Some(meta), Some(me)) if !meta.settings.add.allows(me.role) => {
                return Err(forbidden("add members"));
            }
            (Some(_), Some(_)) => {}
            _ => return Err(not_found()),
        }
        self.check_new(caller, &users).await?;
        let now = self.clock.now();
        let meta = self
            .change(caller, group, true, |meta, me, members| {
                if !meta.settings.add.allows(me.role) {
                    return Err(forbidden("add members"));
                }
                if let Some(u) = users
                    .iter()
                    .find(|u| members.iter().any(|m| m.user_id == **u))
                {
                    return Err(Error::conflict(
                        "already_member",
                        format!("{u} is already in the group"),
                    ));
                }
                self.check_room(meta.member_count, users.len())?;
                let event = GroupEvent {
                    ev: GroupEventKind::Added,
                    by: *caller,
                    users: users.clone(),
                };
                Ok(Some(self.joining(meta, me, event, now)))
            })
            .await?;
        self.view(caller, &meta).await
    }

    /// The plan that adds `event.users` (checked) as members: they see from the system
    /// message of their joining on.
    fn joining(
        &self,
        meta: &GroupMeta,
        actor: &Member,
        event: GroupEvent,
        now: DateTime<Utc>,
    ) -> Plan {
        let mut next = meta.clone();
        next.member_count += event.users.len() as u32;
        next.joins += event.users.len() as u64;
        // The system message's id is made by `change`; the members see from the first id
        // after the group's current last message, which is that message.
        let from = successor(&meta.last_message.id);
        let mut members: Vec<MemberChange> = event
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                MemberChange::Add(new_member(meta, *u, Role::Member, from, now, 1 + i as u64))
            })
            .collect();
        if actor.user_id != event.users[0] || event.ev != GroupEventKind::Joined {
            members.push(MemberChange::Check {
                user: actor.user_id,
                role: actor.role,
            });
        }
        Plan {
            meta: next,
            members,
            event,
            invite_add: None,
            invite_remove: None,
        }
    }

    /// Removes a member (admins), or the caller themself (leaving). When the last admin
    /// leaves, the longest-standing member becomes admin.
    pub async fn remove(
        &self,
        caller: &UserId,
        group: &ConversationId,
        user: &UserId,
    ) -> Result<(), Error> {
        self.change(caller, group, true, |meta, me, members| {
            let leaving = caller == user;
            if !leaving && me.role != Role::Admin {
                return Err(forbidden("remove members"));
            }
            let target = members.iter().find(|m| m.user_id == *user).ok_or_else(|| {
                Error::not_found("member_not_found", "that user is not in the group")
            })?;
            let mut next = meta.clone();
            next.member_count -= 1;
            next.removals += 1;
            let mut steps = vec![MemberChange::Remove {
                user: *user,
                role: target.role,
            }];
            if !leaving {
                steps.push(MemberChange::Check {
                    user: *caller,
                    role: me.role,
                });
            }
            if target.role == Role::Admin {
                next.admin_count -= 1;
                if next.admin_count == 0
                    && let Some(heir) = members
                        .iter()
                        .filter(|m| m.user_id != *user)
                        .min_by_key(|m| m.join_seq)
                {
                    next.admin_count = 1;
                    steps.push(MemberChange::SetRole {
                        user: heir.user_id,
                        from: heir.role,
                        to: Role::Admin,
                    });
                }
            }
            Ok(Some(Plan {
                meta: next,
                members: steps,
                event: GroupEvent {
                    ev: if leaving {
                        GroupEventKind::Left
                    } else {
                        GroupEventKind::Removed
                    },
                    by: *caller,
                    users: vec![*user],
                },
                invite_add: None,
                invite_remove: None,
            }))
        })
        .await?;
        Ok(())
    }

    /// Makes a member admin, or an admin a member again (admins only; a group keeps at least
    /// one admin).
    pub async fn set_admin(
        &self,
        caller: &UserId,
        group: &ConversationId,
        user: &UserId,
        admin: bool,
    ) -> Result<GroupView, Error> {
        let meta = self
            .change(caller, group, true, |meta, me, members| {
                if me.role != Role::Admin {
                    return Err(forbidden("appoint or dismiss admins"));
                }
                let target = members.iter().find(|m| m.user_id == *user).ok_or_else(|| {
                    Error::not_found("member_not_found", "that user is not in the group")
                })?;
                let to = if admin { Role::Admin } else { Role::Member };
                if target.role == to {
                    return Ok(None);
                }
                let mut next = meta.clone();
                if admin {
                    next.admin_count += 1;
                } else {
                    if meta.admin_count <= 1 {
                        return Err(Error::conflict(
                            "last_admin",
                            "a group needs an admin: appoint another one first",
                        ));
                    }
                    next.admin_count -= 1;
                }
                let mut steps = vec![MemberChange::SetRole {
                    user: *user,
                    from: target.role,
                    to,
                }];
                if user != caller {
                    steps.push(MemberChange::Check {
                        user: *caller,
                        role: me.role,
                    });
                }
                Ok(Some(Plan {
                    meta: next,
                    members: steps,
                    event: GroupEvent {
                        ev: if admin {
                            GroupEventKind::Promoted
                        } else {
                            GroupEventKind::Demoted
                        },
                        by: *caller,
                        users: vec![*user],
                    },
                    invite_add: None,
                    invite_remove: None,
                }))
            })
            .await?;
        self.view(caller, &meta).await
    }

    /// A new invite code (admins); the previous one stops working.
    pub async fn reset_invite(
        &self,
        caller: &UserId,
        group: &ConversationId,
    ) -> Result<String, Error> {
        let meta = self
            .change(caller, group, false, |meta, me, _| {
                if me.role != Role::Admin {
                    return Err(forbidden("make invite links"));
                }
                let mut next = meta.clone();
                let code = new_invite_code();
                next.invite_code = Some(code.clone());
                Ok(Some(Plan {
                    invite_add: Some(code),
                    invite_remove: meta.invite_code.clone(),
                    ..Plan::updated(next, me)
                }))
            })
            .await?;
        meta.invite_code
            .ok_or_else(|| Error::internal("an invite reset stored no code"))
    }

    /// Joins the group of an invite code (anyone with the code; a member gets the group).
    pub async fn join(&self, caller: &UserId, code: &str) -> Result<GroupView, Error> {
        let code = parse_invite_code(code)?;
        let gone = || Error::not_found("invite_not_found", "no group has that invite code");
        let group = self.groups.invite(code).await?.ok_or_else(gone)?;
        let now = self.clock.now();
        let mut retry = self.contention.start();
        loop {
            let (meta, member) = self.groups.meta_and_member(&group, caller).await?;
            let meta = meta.ok_or_else(gone)?;
            if meta.invite_code.as_deref() != Some(code) {
                return Err(gone());
            }
            if member.is_some() {
                return self.view(caller, &meta).await;
            }
            self.check_room(meta.member_count, 1)?;
            let event = GroupEvent {
                ev: GroupEventKind::Joined,
                by: *caller,
                users: vec![*caller],
            };
            let me = new_member(&meta, *caller, Role::Member, meta.last_message.id, now, 0);
            let plan = self.joining(&meta, &me, event, now);
            if let Some(changed) = self.try_commit(&meta, plan).await? {
                return self.view(caller, &changed).await;
            }
            if !retry.pause().await {
                return Err(concurrent_update());
            }
        }
    }
}

/// The smallest message id after `id` (UUIDs compare as 128-bit numbers).
fn successor(id: &MessageId) -> MessageId {
    let n = u128::from_be_bytes(*id.as_uuid().as_bytes());
    MessageId::from_uuid(uuid::Uuid::from_u128(n.saturating_add(1)))
}

/// The last message of a group being created, replaced by its creation message.
fn system_message_placeholder(id: ConversationId, now: DateTime<Utc>) -> Message {
    Message {
        id: MessageId::from_uuid(uuid::Uuid::nil()),
        conversation_id: id,
        sender_id: UserId::SYSTEM,
        receiver_id: UserId::from_uuid(*id.as_uuid()),
        content: Content::parse(MessageKind::Text, "-").expect("a valid text"),
        kind: MessageKind::Text,
        client_message_id: None,
        created_at: now,
        group: None,
        media: None,
        extras: Default::default(),
    }
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;
