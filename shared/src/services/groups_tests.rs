use super::*;
use crate::app::{App, MemoryHandles, Ports};
use crate::clock::ManualClock;
use crate::config::Config;
use crate::domain::{
    ContactRequest, GroupEventKind, MessageStatus, RequestId, RequestStatus, User,
};
use crate::frames::ServerFrame;
use crate::ports::{CursorKind, DeliveryJob, FANOUT_CHUNK, HistoryRange};
use crate::services::messages::Chat;

struct Harness {
    app: App,
    ports: Ports,
    handles: MemoryHandles,
    users: Vec<User>,
}

/// `n` users; the first has every other as a contact.
async fn harness(n: u32) -> Harness {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let (ports, handles) = Ports::in_memory(clock.clone());
    let mut users = Vec::new();
    for i in 0..n {
        let u = User::sample(&format!("user{i}"), i + 1, clock.now());
        ports.users.create(&u).await.unwrap();
        users.push(u);
    }
    for u in &users[1..] {
        let r = ContactRequest {
            id: RequestId::new_v7(),
            sender_id: users[0].id,
            receiver_id: u.id,
            status: RequestStatus::Pending,
            created_at: clock.now(),
            updated_at: clock.now(),
        };
        ports.requests.create(&r).await.unwrap();
        ports.requests.accept(&r, clock.now()).await.unwrap();
    }
    Harness {
        app: App::new(Config::for_tests(), ports.clone()),
        ports,
        handles,
        users,
    }
}

impl Harness {
    fn id(&self, i: usize) -> UserId {
        self.users[i].id
    }

    async fn group_of(&self, members: std::ops::Range<usize>) -> ConversationId {
        let new = NewGroup {
            name: GroupName::parse("Team").unwrap(),
            description: None,
            avatar: None,
            members: members.map(|i| self.id(i)).collect(),
        };
        self.app.groups.create(&self.id(0), new).await.unwrap().id
    }

    async fn send(&self, from: usize, g: &ConversationId, text: &str) -> MessageId {
        let content = Content::parse(MessageKind::Text, text).unwrap();
        match self
            .app
            .messages
            .send_to_group(
                &self.id(from),
                g,
                crate::services::NewMessage::to_group(g, MessageKind::Text, content),
            )
            .await
            .unwrap()
        {
            crate::services::SendOutcome::Created(v) => v.id,
            other => panic!("a new message, got {other:?}"),
        }
    }

    /// What the relay queues for each committed message so far (the stream, drained).
    async fn relay_all(&self) -> Vec<DeliveryJob> {
        let before = self.handles.queue.jobs().len();
        let batch = self.handles.stream.try_take(usize::MAX);
        for m in &batch {
            self.app.messages.relay(m).await.unwrap();
        }
        let n = batch.len();
        self.handles.stream.ack(batch, n);
        self.handles.queue.jobs()[before..].to_vec()
    }

    async fn unread(&self, who: usize, g: &ConversationId) -> u32 {
        let page = self
            .app
            .messages
            .all_chats(&self.id(who), &PageRequest::first(50))
            .await
            .unwrap();
        page.items
            .iter()
            .find(|c| c.conversation_id == *g)
            .expect("the group is listed")
            .unread_count
    }
}

#[tokio::test]
async fn a_messages_fan_out_covers_every_member_once_in_chunks_of_at_most_100() {
    let h = harness(250).await;
    let g = h.group_of(1..90).await;
    for start in [90, 180] {
        let end = (start + 90).min(250);
        h.app
            .groups
            .add(&h.id(0), &g, (start..end).map(|i| h.id(i)).collect())
            .await
            .unwrap();
    }
    let _ = h.relay_all().await;
    let m = h.send(7, &g, "hello").await;
    let jobs: Vec<DeliveryJob> = h
        .relay_all()
        .await
        .into_iter()
        .filter(|j| matches!(&j.frame, ServerFrame::Msg(e) if e.id == m))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for j in &jobs {
        assert!(j.to.len() <= FANOUT_CHUNK, "a job serves at most 100");
        let f = j.fanout.as_ref().expect("a fan-out job");
        assert_eq!(
            f.check,
            Some(m),
            "checked against membership when delivered"
        );
        for u in &j.to {
            assert!(seen.insert(*u), "{u} is in two jobs");
            assert_eq!(crate::ports::Fanout::bucket_of(u), f.b, "in its own bucket");
        }
        assert!(!j.push.contains(&h.id(7)), "the sender is never pushed");
        assert_eq!(j.push.len(), j.to.iter().filter(|u| **u != h.id(7)).count());
    }
    assert_eq!(
        seen.len(),
        250,
        "every member, the sender's other devices included"
    );
    let ids: std::collections::HashSet<String> = jobs.iter().map(|j| j.dedup_id()).collect();
    assert_eq!(ids.len(), jobs.len(), "each job has its own identity");
}

#[tokio::test]
async fn a_member_removed_before_a_job_runs_gets_nothing_from_it() {
    let h = harness(3).await;
    let g = h.group_of(1..3).await;
    let _ = h.relay_all().await;
    let m = h.send(0, &g, "in flight").await;
    let jobs = h.relay_all().await;
    h.app.groups.remove(&h.id(0), &g, &h.id(2)).await.unwrap();
    let now = chrono::Utc::now();
    for (i, cid) in [(1usize, "c1"), (2, "c2")] {
        h.ports
            .connections
            .put(&crate::ports::Connection {
                connection_id: cid.into(),
                user_id: h.id(i),
                session_id: crate::domain::SessionId::new_random(),
                connected_at: now,
                expires_at: now + chrono::TimeDelta::hours(2),
            })
            .await
            .unwrap();
    }
    for job in jobs
        .iter()
        .filter(|j| matches!(&j.frame, ServerFrame::Msg(e) if e.id == m))
    {
        h.app.delivery.deliver(job, 1).await.unwrap();
    }
    assert_eq!(
        h.handles.gateway.frames_to("c1").len(),
        1,
        "a member gets it"
    );
    assert!(
        h.handles.gateway.frames_to("c2").is_empty(),
        "the member removed before the job ran gets nothing"
    );
}

#[tokio::test]
async fn unread_counts_follow_others_messages_and_reads() {
    let h = harness(3).await;
    let g = h.group_of(1..3).await;
    assert_eq!(h.unread(1, &g).await, 0, "a new group has nothing unread");
    h.send(0, &g, "one").await;
    let two = h.send(2, &g, "two").await;
    assert_eq!(h.unread(1, &g).await, 2);
    assert_eq!(h.unread(0, &g).await, 1, "your own message is not unread");
    assert_eq!(h.unread(2, &g).await, 0, "sending reads what came before");
    h.app
        .messages
        .group_mark(&h.id(1), &g, CursorKind::Read, &two)
        .await
        .unwrap();
    assert_eq!(h.unread(1, &g).await, 0);
    assert!(matches!(
        h.app.messages.resolve_chat(&h.id(1), &g).await.unwrap(),
        Chat::Group(x) if x == g
    ));
}

#[tokio::test]
async fn status_is_delivered_when_all_have_it_and_read_when_all_read_it() {
    let h = harness(3).await;
    let g = h.group_of(1..3).await;
    let m = h.send(0, &g, "hi").await;
    let status = |h: &Harness| {
        let (app, me, g) = (h.app.clone(), h.id(0), g);
        async move {
            app.messages
                .group_history(
                    &me,
                    &g,
                    HistoryRange::Before(MessageId::from_uuid(uuid::Uuid::max())),
                    10,
                )
                .await
                .unwrap()
                .messages
                .into_iter()
                .find(|v| v.id == m)
                .unwrap()
                .status
        }
    };
    assert_eq!(status(&h).await, MessageStatus::Sent);
    h.app
        .messages
        .group_mark(&h.id(1), &g, CursorKind::Delivered, &m)
        .await
        .unwrap();
    assert_eq!(status(&h).await, MessageStatus::Sent, "one of two");
    h.app
        .messages
        .group_mark(&h.id(2), &g, CursorKind::Read, &m)
        .await
        .unwrap();
    assert_eq!(
        status(&h).await,
        MessageStatus::Delivered,
        "read implies delivered"
    );
    h.app
        .messages
        .group_mark(&h.id(1), &g, CursorKind::Read, &m)
        .await
        .unwrap();
    assert_eq!(status(&h).await, MessageStatus::Read);
    let receipts = h.app.messages.receipts(&h.id(0), &g, &m).await.unwrap();
    assert_eq!(receipts.len(), 2);
    assert!(
        receipts
            .iter()
            .all(|r| r.read_at.is_some() && r.delivered_at.is_some())
    );
}

#[tokio::test]
async fn the_last_admin_leaving_hands_over_to_the_longest_standing_member() {
    let h = harness(4).await;
    let g = h.group_of(1..4).await;
    h.app.groups.remove(&h.id(0), &g, &h.id(0)).await.unwrap();
    let view = h.app.groups.get(&h.id(2), &g).await.unwrap();
    let members = view.members.unwrap();
    let admins: Vec<UserId> = members
        .iter()
        .filter(|m| m.role == Role::Admin)
        .map(|m| m.user_id)
        .collect();
    assert_eq!(
        admins,
        [h.id(1)],
        "the first member added after the creator"
    );
    assert_eq!(view.member_count, 3);
    let events: Vec<GroupEventKind> = h
        .relay_all()
        .await
        .iter()
        .filter_map(|j| match &j.frame {
            ServerFrame::Grp(e) => Some(e.event.ev),
            _ => None,
        })
        .collect();
    assert!(events.contains(&GroupEventKind::Left), "{events:?}");
}
