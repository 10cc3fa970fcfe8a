//! Groups end to end (DESIGN §8), through the local gateway, on the in-memory stores and on
//! moto: creating and managing groups, group messages over REST and the socket reaching every
//! member's devices once, ticks by WhatsApp's rule, receipts, the chat list, bad input.

mod common;

use common::ws::{WsClient, left};
use common::{
    Person, Reply, TestApp, assert_error, assert_ok, spawn_app, spawn_app_on_moto_with,
    spawn_app_with, str_field,
};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use whatspe::config::Config;
use whatspe_local::Options;

/// Delivery bound on the memory gateway, and on moto (a correctness bound: moto serialises
/// DynamoDB requests and the tests run in parallel).
const DELIVERY: Duration = Duration::from_secs(2);
const MOTO_DELIVERY: Duration = Duration::from_secs(15);
/// How long a socket must stay silent to count as "received nothing more".
const QUIET: Duration = Duration::from_millis(400);

fn phone(n: u32) -> String {
    format!("+91977100{n:04}")
}

async fn moto() -> TestApp {
    spawn_app_on_moto_with(Config::for_tests(), "g", Options::default())
        .await
        .0
}

impl TestApp {
    async fn people(&self, first: u32, names: &[&str]) -> Vec<Person> {
        let mut out = Vec::new();
        for (i, n) in names.iter().enumerate() {
            out.push(self.sign_up(&phone(first + i as u32), n).await);
        }
        out
    }

    async fn create_group(&self, admin: &Person, name: &str, members: &[&Person]) -> Value {
        let ids: Vec<&str> = members.iter().map(|p| p.id.as_str()).collect();
        let r = self
            .post(
                "/api/groups",
                json!({ "name": name, "memberIds": ids }),
                &admin.token,
            )
            .await;
        assert_ok(&r, 201, &format!("{} creates {name}", admin.username));
        r.body
    }

    async fn group_send(&self, from: &Person, group: &str, content: &str) -> Value {
        let r = self
            .post(
                "/api/messages",
                json!({ "chatId": group, "content": content }),
                &from.token,
            )
            .await;
        assert_ok(&r, 201, &format!("{} sends {content:?}", from.username));
        r.body
    }

    async fn history(&self, who: &Person, group: &str) -> Vec<Value> {
        let r = self
            .get(&format!("/api/chats/{group}/messages"), &who.token)
            .await;
        assert_ok(&r, 200, &format!("{}'s history", who.username));
        r.items("history")
    }

    /// The status `who` sees of message `id` in the group (without marking anything read:
    /// an older page).
    async fn status_of(&self, who: &Person, group: &str, id: &str) -> String {
        let far = "ffffffff-ffff-7fff-bfff-ffffffffffff";
        let r = self
            .get(
                &format!("/api/chats/{group}/messages?before={far}"),
                &who.token,
            )
            .await;
        assert_ok(&r, 200, "history page");
        let m = r
            .items("history")
            .into_iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not in {}'s history", who.username));
        str_field(&m, "status")
    }
}

impl WsClient {
    /// Every frame that arrives within `within` after the first one, until `QUIET` passes
    /// without one.
    async fn frames_until_quiet(&mut self, first_within: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        let started = Instant::now();
        let mut wait = first_within;
        while let Some(f) = self.next_frame(wait).await {
            out.push(f);
            wait = QUIET;
            if started.elapsed() > first_within * 3 {
                break;
            }
        }
        out
    }

    /// The frames of type `t` about group `g`: the first within `within` (other frames before
    /// it, such as receipts, are skipped), then those that arrive before the socket goes quiet.
    async fn group_frames(&mut self, t: &str, g: &str, within: Duration) -> Vec<Value> {
        let wanted = |f: &Value| f["t"] == t && f["d"]["g"] == g;
        let started = Instant::now();
        let mut out = Vec::new();
        while let Some(f) = self.next_frame(left(started, within)).await {
            if wanted(&f) {
                out.push(f);
                break;
            }
        }
        if out.is_empty() {
            return out;
        }
        out.extend(
            self.frames_until_quiet(QUIET)
                .await
                .into_iter()
                .filter(|f| wanted(f)),
        );
        out
    }

    /// Waits for one frame of type `t` about group `g` (others are skipped).
    async fn expect_group_frame(
        &mut self,
        t: &str,
        g: &str,
        within: Duration,
        case: &str,
    ) -> Value {
        let started = Instant::now();
        loop {
            let f = self
                .next_frame(left(started, within))
                .await
                .unwrap_or_else(|| {
                    panic!("{case}: {} got no {t} for {g} within {within:?}", self.who)
                });
            if f["t"] == t && f["d"]["g"] == g {
                return f;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A group of three, one member on two devices
// ---------------------------------------------------------------------------------------------

async fn three_members_four_connections(app: TestApp, within: Duration) {
    let p = app.people(1, &["alice", "bob", "carol"]).await;
    let (alice, bob, carol) = (&p[0], &p[1], &p[2]);
    app.befriend(alice, bob).await;
    app.befriend(alice, carol).await;
    let mut a = app.connect(alice).await;
    let mut b = app.connect(bob).await;
    let mut c1 = app.connect(carol).await;
    let mut c2 = app.connect(carol).await;
    let group = app.create_group(alice, "Family", &[bob, carol]).await;
    let g = str_field(&group, "id");
    assert_eq!(group["memberCount"], 3);
    assert_eq!(group["members"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        group["settings"],
        json!({"editInfo": "all", "send": "all", "add": "admins"})
    );
    for s in [&mut a, &mut b, &mut c1, &mut c2] {
        let f = s.expect_group_frame("GRP", &g, within, "created").await;
        assert_eq!(f["d"]["ev"], "created");
        assert_eq!(f["d"]["by"], alice.id.as_str());
    }

    // A message over REST reaches each of the four connections once (the sender's own
    // socket included: it is the sender's other device).
    let m = app.group_send(alice, &g, "hello all").await;
    assert_eq!(m["chatId"], g.as_str());
    assert_eq!(
        m["receiverId"],
        g.as_str(),
        "a group message's receiver is the group"
    );
    assert_eq!(m["status"], "sent");
    let id = str_field(&m, "id");
    for s in [&mut a, &mut b, &mut c1, &mut c2] {
        let got = s.group_frames("MSG", &g, within).await;
        let who = s.who.clone();
        assert_eq!(got.len(), 1, "{who}: the message once, got {got:?}");
        assert_eq!(got[0]["d"]["id"], id.as_str());
        assert_eq!(got[0]["d"]["c"], "hello all");
        assert_eq!(got[0]["d"]["s"], alice.id.as_str());
    }

    // Ticks: sent → delivered (when bob and carol have it) → read (when both read it).
    assert_eq!(app.status_of(alice, &g, &id).await, "sent");
    b.send_json(json!({"t": "DLV", "d": {"g": g, "upTo": id}}))
        .await;
    let dlv = a.expect_group_frame("DLV", &g, within, "bob's DLV").await;
    assert_eq!(dlv["d"]["p"], bob.id.as_str());
    assert_eq!(dlv["d"]["upTo"], id.as_str());
    assert_eq!(
        app.status_of(alice, &g, &id).await,
        "sent",
        "carol does not have it yet"
    );
    c1.send_json(json!({"t": "DLV", "d": {"g": g, "upTo": id}}))
        .await;
    a.expect_group_frame("DLV", &g, within, "carol's DLV").await;
    assert_eq!(app.status_of(alice, &g, &id).await, "delivered");
    // Bob reads by opening the chat (the latest page marks it read).
    let h = app.history(bob, &g).await;
    assert!(h.iter().any(|m| m["id"] == id.as_str()));
    a.expect_group_frame("READ", &g, within, "bob's READ").await;
    assert_eq!(app.status_of(alice, &g, &id).await, "delivered");
    let r = app
        .post(
            &format!("/api/chats/{g}/read"),
            json!({ "upTo": id }),
            &carol.token,
        )
        .await;
    assert_ok(&r, 200, "carol reads");
    assert_eq!(r.body["readUpTo"], id.as_str());
    assert_eq!(app.status_of(alice, &g, &id).await, "read");

    // Receipts: each member, sender only.
    let r = app
        .get(
            &format!("/api/chats/{g}/messages/{id}/receipts"),
            &alice.token,
        )
        .await;
    assert_ok(&r, 200, "receipts");
    let receipts: HashMap<String, Value> = r
        .items("receipts")
        .into_iter()
        .map(|x| (str_field(&x, "userId"), x))
        .collect();
    assert_eq!(receipts.len(), 2, "bob and carol: {receipts:?}");
    for who in [bob, carol] {
        let x = &receipts[&who.id];
        assert!(x["deliveredAt"].is_string(), "{}: {x}", who.username);
        assert!(x["readAt"].is_string(), "{}: {x}", who.username);
    }
    let r = app
        .get(
            &format!("/api/chats/{g}/messages/{id}/receipts"),
            &bob.token,
        )
        .await;
    assert_error(&r, 403, "not_the_sender", "bob asks for alice's receipts");

    // Over the socket too: MSG {g} → ACK, and the others get it. (Sending reads everything
    // before: bob's cursors move to his own message.)
    b.send_json(json!({"t": "MSG", "d": {"g": g, "c": "from bob", "cm": "b-1"}}))
        .await;
    let ack = b.expect_group_frame_any("ACK", within, "bob's ack").await;
    assert_eq!(ack["d"]["cm"], "b-1");
    let bob_msg = str_field(&ack["d"], "id");
    for s in [&mut a, &mut c1, &mut c2] {
        let got = s.group_frames("MSG", &g, within).await;
        assert_eq!(got.len(), 1, "{}: bob's message once", s.who);
        assert_eq!(got[0]["d"]["id"], bob_msg.as_str());
    }
}

#[tokio::test]
async fn a_group_message_reaches_every_connection_once_and_ticks_follow_the_rule() {
    three_members_four_connections(spawn_app().await, DELIVERY).await;
}

#[tokio::test]
async fn a_group_message_reaches_every_connection_once_and_ticks_follow_the_rule_on_moto() {
    three_members_four_connections(moto().await, MOTO_DELIVERY).await;
}

impl WsClient {
    /// The next frame of type `t`, whatever it is about.
    async fn expect_group_frame_any(&mut self, t: &str, within: Duration, case: &str) -> Value {
        let started = Instant::now();
        loop {
            let f = self
                .next_frame(left(started, within))
                .await
                .unwrap_or_else(|| panic!("{case}: {} got no {t} within {within:?}", self.who));
            if f["t"] == t {
                return f;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Membership: roles, removal, leaving, invites, the cap
// ---------------------------------------------------------------------------------------------

async fn membership_rules(app: TestApp, within: Duration) {
    let p = app.people(20, &["ann", "ben", "cat", "dan", "eve"]).await;
    let (ann, ben, cat, dan, eve) = (&p[0], &p[1], &p[2], &p[3], &p[4]);
    for x in [ben, cat, dan] {
        app.befriend(ann, x).await;
    }
    let group = app.create_group(ann, "Club", &[ben]).await;
    let g = str_field(&group, "id");

    // Non-members see nothing: 404 everywhere, existence not revealed.
    for (r, case) in [
        (
            app.get(&format!("/api/groups/{g}"), &eve.token).await,
            "get",
        ),
        (
            app.get(&format!("/api/chats/{g}/messages"), &eve.token)
                .await,
            "history",
        ),
        (
            app.post(
                "/api/messages",
                json!({"chatId": g, "content": "hi"}),
                &eve.token,
            )
            .await,
            "send",
        ),
        (
            app.patch(
                &format!("/api/groups/{g}"),
                json!({"name": "x"}),
                &eve.token,
            )
            .await,
            "patch",
        ),
    ] {
        assert_eq!(r.status, 404, "a non-member's {case}: {}", r.body);
    }

    // Members without the role: 403, nothing changed.
    let r = app
        .post(
            &format!("/api/groups/{g}/members"),
            json!({"userIds": [cat.id]}),
            &ben.token,
        )
        .await;
    assert_error(&r, 403, "not_allowed", "ben adds (add = admins)");
    let r = app
        .patch(
            &format!("/api/groups/{g}"),
            json!({"settings": {"send": "admins"}}),
            &ben.token,
        )
        .await;
    assert_error(&r, 403, "not_allowed", "ben changes settings");

    // Bad input: 4xx, nothing changed.
    let cases: Vec<(Reply, u16, &str, &str)> = vec![
        (
            app.post(
                "/api/groups",
                json!({"name": "", "memberIds": []}),
                &ann.token,
            )
            .await,
            400,
            "invalid_group_name",
            "empty name",
        ),
        (
            app.post(
                "/api/groups",
                json!({"name": "x".repeat(101), "memberIds": []}),
                &ann.token,
            )
            .await,
            400,
            "invalid_group_name",
            "101 characters",
        ),
        (
            app.post(
                "/api/groups",
                json!({"name": "ok", "memberIds": [eve.id]}),
                &ann.token,
            )
            .await,
            403,
            "not_a_contact",
            "a non-contact",
        ),
        (
            app.post(
                &format!("/api/groups/{g}/members"),
                json!({"userIds": [cat.id, cat.id]}),
                &ann.token,
            )
            .await,
            400,
            "duplicate_member",
            "listed twice",
        ),
        (
            app.post(
                &format!("/api/groups/{g}/members"),
                json!({"userIds": [ben.id]}),
                &ann.token,
            )
            .await,
            409,
            "already_member",
            "already in",
        ),
        (
            app.patch(
                &format!("/api/groups/{g}"),
                json!({"settings": {"send": "everyone"}}),
                &ann.token,
            )
            .await,
            400,
            "invalid_body",
            "an unknown setting value",
        ),
    ];
    for (r, status, code, case) in cases {
        assert_error(&r, status, code, case);
    }
    let now = app.get(&format!("/api/groups/{g}"), &ann.token).await;
    assert_eq!(now.body["memberCount"], 2, "nothing changed: {}", now.body);
    assert_eq!(now.body["settings"]["send"], "all");

    // Settings: send = admins stops ben.
    let r = app
        .patch(
            &format!("/api/groups/{g}"),
            json!({"settings": {"send": "admins"}, "description": "rules"}),
            &ann.token,
        )
        .await;
    assert_ok(&r, 200, "ann restricts sending");
    assert_eq!(r.body["settings"]["send"], "admins");
    assert_eq!(r.body["description"], "rules");
    let r = app
        .post(
            "/api/messages",
            json!({"chatId": g, "content": "hi"}),
            &ben.token,
        )
        .await;
    assert_error(
        &r,
        403,
        "only_admins_send",
        "ben sends to an admins-only group",
    );

    // Invites: the code works, a reset voids it.
    let r = app
        .post(&format!("/api/groups/{g}/invite"), json!({}), &ann.token)
        .await;
    assert_ok(&r, 200, "invite");
    let old = str_field(&r.body, "inviteCode");
    let r = app
        .post(&format!("/api/groups/join/{old}"), json!({}), &dan.token)
        .await;
    assert_ok(&r, 200, "dan joins by the code");
    assert_eq!(r.body["memberCount"], 3);
    let r = app
        .post(&format!("/api/groups/{g}/invite"), json!({}), &ann.token)
        .await;
    let new = str_field(&r.body, "inviteCode");
    assert_ne!(old, new);
    let r = app
        .post(&format!("/api/groups/join/{old}"), json!({}), &eve.token)
        .await;
    assert_error(&r, 404, "invite_not_found", "the reset code");
    let r = app
        .post(&format!("/api/groups/join/{new}"), json!({}), &eve.token)
        .await;
    assert_ok(&r, 200, "eve joins with the new code");
    let g_view = app.get(&format!("/api/groups/{g}"), &ben.token).await;
    assert!(
        g_view.body.get("inviteCode").is_none(),
        "members who are not admins never see the code"
    );

    // History starts at joining: eve sees nothing from before.
    let before_eve = app.history(ann, &g).await.len();
    let eve_history = app.history(eve, &g).await;
    assert!(
        eve_history.len() < before_eve,
        "eve sees less than ann ({} vs {before_eve})",
        eve_history.len()
    );
    assert!(
        eve_history.iter().all(|m| m["event"].is_object()),
        "eve sees only her joining (a system message): {eve_history:?}"
    );

    // Removal: ben is removed; he gets the GRP and then nothing more.
    let mut b = app.connect(ben).await;
    let r = app
        .delete(&format!("/api/groups/{g}/members/{}", ben.id), &ann.token)
        .await;
    assert_ok(&r, 204, "ann removes ben");
    let f = b.expect_group_frame("GRP", &g, within, "ben is told").await;
    assert_eq!(f["d"]["ev"], "removed");
    app.group_send(ann, &g, "after ben").await;
    let later = b.group_frames("MSG", &g, within).await;
    assert!(later.is_empty(), "ben got {later:?} after his removal");
    let r = app.get(&format!("/api/groups/{g}"), &ben.token).await;
    assert_error(&r, 404, "group_not_found", "ben is out");

    // The last admin leaves: the longest-standing member (dan joined before eve) is admin.
    let r = app
        .delete(&format!("/api/groups/{g}/members/{}", ann.id), &ann.token)
        .await;
    assert_ok(&r, 204, "ann leaves");
    let r = app.get(&format!("/api/groups/{g}"), &dan.token).await;
    let roles: HashMap<String, String> = r.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| (str_field(m, "userId"), str_field(m, "role")))
        .collect();
    assert_eq!(
        roles.get(&dan.id).map(String::as_str),
        Some("admin"),
        "{roles:?}"
    );
    assert_eq!(roles.get(&eve.id).map(String::as_str), Some("member"));
    let r = app
        .delete(&format!("/api/groups/{g}/admins/{}", dan.id), &dan.token)
        .await;
    assert_error(&r, 409, "last_admin", "the last admin cannot step down");

    // The chat list has the group and the direct chats, by activity, with unread counts.
    let r = app.get("/api/chats", &eve.token).await;
    assert_ok(&r, 200, "eve's chats");
    let chats = r.items("chats");
    let entry = chats
        .iter()
        .find(|c| c["chatId"] == g.as_str())
        .unwrap_or_else(|| panic!("the group is in eve's chats: {chats:?}"));
    assert_eq!(entry["kind"], "group");
    assert_eq!(entry["group"]["name"], "Club");
}

#[tokio::test]
async fn membership_roles_invites_and_bad_input() {
    membership_rules(spawn_app().await, DELIVERY).await;
}

#[tokio::test]
async fn membership_roles_invites_and_bad_input_on_moto() {
    membership_rules(moto().await, MOTO_DELIVERY).await;
}

/// Concurrent adds by two admins never pass the cap (here 4 members).
async fn concurrent_adds_respect_the_cap(app: TestApp) {
    let p = app
        .people(
            40,
            &[
                "root", "adm", "usr1", "usr2", "usr3", "usr4", "usr5", "usr6",
            ],
        )
        .await;
    let (root, adm) = (&p[0], &p[1]);
    for x in &p[1..] {
        app.befriend(root, x).await;
        if x.id != adm.id {
            app.befriend(adm, x).await;
        }
    }
    let group = app.create_group(root, "Small", &[adm]).await;
    let g = str_field(&group, "id");
    let r = app
        .put(&format!("/api/groups/{g}/admins/{}", adm.id), &root.token)
        .await;
    assert_ok(&r, 200, "adm is admin");
    let adds = p[2..].iter().enumerate().map(|(i, x)| {
        let by = if i % 2 == 0 { root } else { adm };
        let (app, g) = (&app, &g);
        async move {
            app.post(
                &format!("/api/groups/{g}/members"),
                json!({"userIds": [x.id]}),
                &by.token,
            )
            .await
        }
    });
    let replies = futures_util::future::join_all(adds).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    for r in replies.iter().filter(|r| r.status != 200) {
        assert!(
            r.body["error"]["code"] == "group_full"
                || r.body["error"]["code"] == "concurrent_update",
            "a refused add says why: {} {}",
            r.status,
            r.body
        );
    }
    let now = app.get(&format!("/api/groups/{g}"), &root.token).await;
    assert_eq!(now.body["memberCount"], 2 + ok as u64);
    assert!(2 + ok <= 4, "{ok} adds passed the cap of 4");
    assert_eq!(now.body["members"].as_array().map(Vec::len), Some(2 + ok));
}

fn capped() -> Config {
    common::config_with_webhook(&[("WHATSPE_GROUP_MAX_MEMBERS", "4")])
}

#[tokio::test]
async fn concurrent_adds_never_exceed_the_cap() {
    concurrent_adds_respect_the_cap(spawn_app_with(capped(), Options::default()).await).await;
}

#[tokio::test]
async fn concurrent_adds_never_exceed_the_cap_on_moto() {
    let app = spawn_app_on_moto_with(capped(), "gc", Options::default())
        .await
        .0;
    concurrent_adds_respect_the_cap(app).await;
}

// ---------------------------------------------------------------------------------------------
// 1,024 members, 200 online
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_group_reaches_every_online_connection_once_and_pushes_every_offline_member_once() {
    let app = spawn_app().await;
    const N: usize = 1024;
    const ONLINE: usize = 200;
    let admin = app.sign_up(&phone(1000), "admin").await;
    let mut people = Vec::with_capacity(N - 1);
    for chunk in (1..N).collect::<Vec<_>>().chunks(64) {
        let signups = chunk.iter().map(|&i| {
            let app = &app;
            async move {
                app.sign_up(&phone(1000 + i as u32), &format!("member{i}"))
                    .await
            }
        });
        people.extend(futures_util::future::join_all(signups).await);
    }
    for chunk in people.chunks(64) {
        futures_util::future::join_all(chunk.iter().map(|p| app.befriend(&admin, p))).await;
    }
    let first: Vec<&Person> = people.iter().take(90).collect();
    let group = app.create_group(&admin, "Everyone", &first).await;
    let g = str_field(&group, "id");
    for chunk in people[90..].chunks(90) {
        let ids: Vec<&str> = chunk.iter().map(|p| p.id.as_str()).collect();
        let r = app
            .post(
                &format!("/api/groups/{g}/members"),
                json!({"userIds": ids}),
                &admin.token,
            )
            .await;
        assert_ok(&r, 200, "adding 90");
    }
    let r = app.get(&format!("/api/groups/{g}"), &admin.token).await;
    assert_eq!(r.body["memberCount"], N as u64);

    // 200 members online; every offline member has one phone registered.
    let mut sockets = Vec::new();
    for p in people.iter().take(ONLINE) {
        sockets.push(app.connect(p).await);
    }
    for chunk in people[ONLINE..].chunks(64) {
        futures_util::future::join_all(chunk.iter().map(|p| {
            app.post(
                "/api/devices",
                json!({"platform": "fcm", "token": format!("tok-{}", p.id)}),
                &p.token,
            )
        }))
        .await;
    }
    let pushed_before = app.push.sent().len();
    let m = app.group_send(&admin, &g, "to everyone").await;
    let id = str_field(&m, "id");
    for s in &mut sockets {
        let got = s.group_frames("MSG", &g, Duration::from_secs(10)).await;
        let who = s.who.clone();
        assert_eq!(got.len(), 1, "{who}: once");
        assert_eq!(got[0]["d"]["id"], id.as_str());
    }
    let pushes: Vec<_> = app.push.sent().into_iter().skip(pushed_before).collect();
    let per_member: HashSet<String> = pushes.iter().map(|p| p.endpoint.clone()).collect();
    assert_eq!(pushes.len(), N - 1 - ONLINE, "one push per offline member");
    assert_eq!(per_member.len(), pushes.len(), "no phone pushed twice");
    assert!(
        pushes.iter().all(|p| p.note.message_id.to_string() == id),
        "every push is for the message"
    );
}
