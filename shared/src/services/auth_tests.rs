use super::*;
use crate::app::Ports;
use crate::clock::ManualClock;
use crate::memory::SmsOutbox;

struct Harness {
    auth: AuthService,
    clock: Arc<ManualClock>,
    outbox: Arc<SmsOutbox>,
    ports: Ports,
}

fn harness() -> Harness {
    let clock = Arc::new(ManualClock::starting_now());
    let (ports, handles) = Ports::in_memory(clock.clone());
    let outbox = handles.outbox;
    let config = Config::for_tests();
    let tokens = Arc::new(TokenService::new(&config, clock.clone()));
    let auth = AuthService::new(
        config,
        ports.users.clone(),
        ports.otps.clone(),
        ports.sessions.clone(),
        ports.sms.clone(),
        ports.connections.clone(),
        ports.gateway.clone(),
        ports.devices.clone(),
        ports.push.clone(),
        tokens,
        clock.clone(),
    );
    Harness {
        auth,
        clock,
        outbox,
        ports,
    }
}

const PHONE: &str = "9890999999";

impl Harness {
    /// The code in the newest text to PHONE.
    fn last_code(&self) -> String {
        let phone = self.auth.parse_phone(PHONE).unwrap();
        let msgs = self.outbox.messages(Some(&phone));
        let body = &msgs.last().expect("a text was sent").body;
        body.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("the text carries a 6-digit code")
            .to_owned()
    }

    async fn sign_up(&self, username: &str) -> (User, TokenPair) {
        self.auth.request_otp(PHONE).await.unwrap();
        let Verified::New { registration_token } = self
            .auth
            .verify_otp(PHONE, &self.last_code())
            .await
            .unwrap()
        else {
            panic!("a new number must need registration");
        };
        let profile = NewProfile {
            username: Username::parse(username).unwrap(),
            email: None,
            profile_picture: None,
            status: None,
        };
        self.auth
            .register(&registration_token, None, profile)
            .await
            .unwrap()
    }
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn the_code_is_stored_only_as_an_hmac_and_sent_by_sms() {
    let h = harness();
    let sent = h.auth.request_otp(PHONE).await.unwrap();
    assert_eq!(sent.phone.as_str(), "+919890999999");
    assert_eq!(sent.expires_in, 300);
    let code = h.last_code();
    let stored = h.ports.otps.get(&sent.phone).await.unwrap().unwrap().value;
    let mac = stored.code_mac.expect("a live code");
    assert_eq!(mac.len(), 64, "hex HMAC-SHA256");
    assert!(!mac.contains(&code), "the code itself is never stored");
}

#[tokio::test]
async fn a_code_verifies_once_then_is_gone() {
    let h = harness();
    h.auth.request_otp(PHONE).await.unwrap();
    let code = h.last_code();
    assert!(matches!(
        h.auth.verify_otp(PHONE, &code).await.unwrap(),
        Verified::New { .. }
    ));
    let err = h.auth.verify_otp(PHONE, &code).await.unwrap_err();
    assert_eq!(err.code(), "otp_not_found");
}

#[tokio::test]
async fn five_wrong_guesses_kill_the_code_even_for_the_right_one() {
    let h = harness();
    h.auth.request_otp(PHONE).await.unwrap();
    let code = h.last_code();
    for left in (1..=4).rev() {
        let err = h.auth.verify_otp(PHONE, &wrong(&code)).await.unwrap_err();
        assert_eq!(err.code(), "invalid_otp");
        assert!(
            err.to_string().contains(&format!("{left} attempt")),
            "{err}"
        );
    }
    assert_eq!(
        h.auth
            .verify_otp(PHONE, &wrong(&code))
            .await
            .unwrap_err()
            .code(),
        "otp_attempts_exceeded"
    );
    assert_eq!(
        h.auth.verify_otp(PHONE, &code).await.unwrap_err().code(),
        "otp_attempts_exceeded"
    );
}

#[tokio::test]
async fn a_code_expires_after_five_minutes() {
    let h = harness();
    h.auth.request_otp(PHONE).await.unwrap();
    let code = h.last_code();
    h.clock.advance(OTP_TTL - TimeDelta::milliseconds(1));
    let still_good = h.auth.verify_otp(PHONE, &wrong(&code)).await.unwrap_err();
    assert_eq!(still_good.code(), "invalid_otp");
    h.clock.advance(TimeDelta::milliseconds(1));
    assert_eq!(
        h.auth.verify_otp(PHONE, &code).await.unwrap_err().code(),
        "otp_expired"
    );
}

#[tokio::test]
async fn a_fourth_send_within_fifteen_minutes_is_rate_limited_until_the_window_moves() {
    let h = harness();
    for _ in 0..3 {
        h.auth.request_otp(PHONE).await.unwrap();
        h.clock.advance(TimeDelta::minutes(1));
    }
    let Error::RateLimited { retry_after, .. } = h.auth.request_otp(PHONE).await.unwrap_err()
    else {
        panic!("expected 429");
    };
    // The first send was 3 minutes ago: it leaves the window in 12 minutes.
    assert_eq!(retry_after, std::time::Duration::from_secs(12 * 60));
    assert_eq!(
        h.outbox.messages(None).len(),
        3,
        "no text for the refused request"
    );
    h.clock.advance(TimeDelta::minutes(12));
    h.auth
        .request_otp(PHONE)
        .await
        .expect("the oldest send left the window");
}

#[tokio::test]
async fn a_new_code_replaces_the_previous_one() {
    let h = harness();
    h.auth.request_otp(PHONE).await.unwrap();
    let first = h.last_code();
    h.auth.request_otp(PHONE).await.unwrap();
    let second = h.last_code();
    if first != second {
        assert_eq!(
            h.auth.verify_otp(PHONE, &first).await.unwrap_err().code(),
            "invalid_otp"
        );
    }
    assert!(h.auth.verify_otp(PHONE, &second).await.is_ok());
}

#[tokio::test]
async fn a_known_number_signs_in_and_gets_a_session() {
    let h = harness();
    let (user, _) = h.sign_up("alice").await;
    h.auth.request_otp(PHONE).await.unwrap();
    match h.auth.verify_otp(PHONE, &h.last_code()).await.unwrap() {
        Verified::Existing {
            user: signed_in,
            tokens,
        } => {
            assert_eq!(*signed_in, user);
            assert!(h.auth.refresh(&tokens.refresh_token).await.is_ok());
        }
        Verified::New { .. } => panic!("a registered number must sign in"),
    }
}

#[tokio::test]
async fn registration_sets_seed_defaults() {
    let h = harness();
    let (user, tokens) = h.sign_up("alice").await;
    assert_eq!(user.status.as_str(), DEFAULT_STATUS);
    assert!(user.verified);
    assert_eq!(user.phone_number.as_str(), "+919890999999");
    assert_eq!(
        (user.created_at, user.updated_at, user.last_seen),
        (h.clock.now(), h.clock.now(), h.clock.now())
    );
    assert_eq!(tokens.expires_in, 900);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_whole_session() {
    let h = harness();
    let (_, first) = h.sign_up("alice").await;
    let second = h.auth.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    let third = h.auth.refresh(&second.refresh_token).await.unwrap();
    assert_eq!(
        h.auth
            .refresh(&first.refresh_token)
            .await
            .unwrap_err()
            .code(),
        "refresh_token_reused"
    );
    assert_eq!(
        h.auth
            .refresh(&third.refresh_token)
            .await
            .unwrap_err()
            .code(),
        "session_revoked"
    );
}

#[tokio::test]
async fn two_concurrent_refreshes_of_one_token_get_the_same_new_refresh_token() {
    let h = harness();
    let (_, pair) = h.sign_up("alice").await;
    let (a, b) = tokio::join!(
        h.auth.refresh(&pair.refresh_token),
        h.auth.refresh(&pair.refresh_token)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.refresh_token, b.refresh_token, "one successor, not two");
    assert_ne!(a.refresh_token, pair.refresh_token);
    h.auth
        .refresh(&a.refresh_token)
        .await
        .expect("the session lives on");
}

#[tokio::test]
async fn the_replaced_token_within_ten_seconds_gets_the_same_pair_and_the_session_lives() {
    let h = harness();
    let (user, first) = h.sign_up("alice").await;
    let second = h.auth.refresh(&first.refresh_token).await.unwrap();
    h.clock.advance(REFRESH_GRACE - TimeDelta::seconds(1));
    let again = h
        .auth
        .refresh(&first.refresh_token)
        .await
        .expect("a retry inside the grace window");
    assert_eq!(again.refresh_token, second.refresh_token);
    let who = h.auth.tokens.verify_access(&again.access_token).unwrap();
    let session = h.auth.tokens.verify_access(&second.access_token).unwrap();
    assert_eq!((who.user_id, who.session_id), (user.id, session.session_id));
    let stored = h.ports.sessions.get(&session.session_id).await.unwrap();
    assert!(!stored.unwrap().revoked, "nothing was revoked");
    h.auth
        .refresh(&second.refresh_token)
        .await
        .expect("the successor still rotates");
}

#[tokio::test]
async fn the_replaced_token_ten_seconds_after_the_rotation_is_reuse_and_revokes() {
    let h = harness();
    let (_, first) = h.sign_up("alice").await;
    let second = h.auth.refresh(&first.refresh_token).await.unwrap();
    h.clock.advance(REFRESH_GRACE);
    assert_eq!(
        h.auth
            .refresh(&first.refresh_token)
            .await
            .unwrap_err()
            .code(),
        "refresh_token_reused"
    );
    assert_eq!(
        h.auth
            .refresh(&second.refresh_token)
            .await
            .unwrap_err()
            .code(),
        "session_revoked"
    );
}

#[tokio::test]
async fn a_token_older_than_the_replaced_one_is_reuse_even_within_the_window() {
    let h = harness();
    let (_, first) = h.sign_up("alice").await;
    let second = h.auth.refresh(&first.refresh_token).await.unwrap();
    let third = h.auth.refresh(&second.refresh_token).await.unwrap();
    assert_eq!(
        h.auth
            .refresh(&first.refresh_token)
            .await
            .unwrap_err()
            .code(),
        "refresh_token_reused",
        "two rotations ago, one second later"
    );
    assert_eq!(
        h.auth
            .refresh(&third.refresh_token)
            .await
            .unwrap_err()
            .code(),
        "session_revoked"
    );
}

#[tokio::test]
async fn a_session_expires_thirty_days_after_its_last_rotation() {
    let h = harness();
    let (_, pair) = h.sign_up("alice").await;
    h.clock.advance(REFRESH_TTL - TimeDelta::seconds(1));
    let pair = h
        .auth
        .refresh(&pair.refresh_token)
        .await
        .expect("still inside 30 days");
    h.clock.advance(REFRESH_TTL);
    assert_eq!(
        h.auth
            .refresh(&pair.refresh_token)
            .await
            .unwrap_err()
            .code(),
        "refresh_token_expired"
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let h = harness();
    let (user, pair) = h.sign_up("alice").await;
    let id = h
        .auth
        .tokens
        .verify_access(&pair.access_token)
        .unwrap()
        .session_id;
    h.auth.logout(&user.id, &id).await.unwrap();
    assert_eq!(
        h.auth
            .refresh(&pair.refresh_token)
            .await
            .unwrap_err()
            .code(),
        "session_revoked"
    );
}

#[tokio::test]
async fn profile_patch_changes_only_given_fields_and_clears_nullable_ones() {
    let h = harness();
    let (user, _) = h.sign_up("alice").await;
    h.clock.advance(TimeDelta::seconds(5));
    let patch = ProfilePatch {
        email: Some(Some(Email::parse("a@example.com").unwrap())),
        status: Some(StatusText::parse("busy").unwrap()),
        ..Default::default()
    };
    let updated = h.auth.update_profile(&user.id, patch).await.unwrap();
    assert_eq!(
        updated.email.as_ref().map(Email::as_str),
        Some("a@example.com")
    );
    assert_eq!(updated.status.as_str(), "busy");
    assert_eq!(updated.username, user.username);
    assert_eq!(updated.updated_at, user.updated_at + TimeDelta::seconds(5));
    let cleared = h
        .auth
        .update_profile(
            &user.id,
            ProfilePatch {
                email: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.email, None);
    assert_eq!(h.auth.me(&user.id).await.unwrap(), cleared);
}

#[tokio::test]
async fn renaming_to_a_taken_username_is_a_conflict() {
    let h = harness();
    let (alice, _) = h.sign_up("alice").await;
    // A second account on another number.
    let other = User {
        id: UserId::new_random(),
        username: Username::parse("bob").unwrap(),
        phone_number: h.auth.parse_phone("9000000001").unwrap(),
        ..alice.clone()
    };
    h.ports.users.create(&other).await.unwrap();
    let patch = ProfilePatch {
        username: Some(Username::parse("BOB").unwrap()),
        ..Default::default()
    };
    assert_eq!(
        h.auth
            .update_profile(&alice.id, patch)
            .await
            .unwrap_err()
            .code(),
        "username_taken"
    );
    assert_eq!(
        h.auth.me(&alice.id).await.unwrap().username.as_str(),
        "alice"
    );
}

#[tokio::test]
async fn a_garbage_refresh_token_for_a_live_session_is_refused_and_revokes_nothing() {
    let h = harness();
    let (_, first) = h.sign_up("alice").await;
    let second = h.auth.refresh(&first.refresh_token).await.unwrap();
    let sid = h.auth.tokens.verify_access(&second.access_token).unwrap().session_id;
    // The session id is readable in every access token; the secret part is made up.
    let made_up = [
        format!("{sid}.{}", "A".repeat(43)),
        format!("{sid}.{}", "_".repeat(43)),
        crate::services::tokens::new_refresh_token(&sid).0,
    ];
    for garbage in &made_up {
        assert_eq!(
            h.auth.refresh(garbage).await.unwrap_err().code(),
            "invalid_refresh_token",
            "{garbage}"
        );
    }
    for malformed in [format!("{sid}.x"), format!("{sid}"), format!("{sid}.")] {
        assert_eq!(
            h.auth.refresh(&malformed).await.unwrap_err().code(),
            "invalid_refresh_token",
            "{malformed}"
        );
    }
    let stored = h.ports.sessions.get(&sid).await.unwrap().unwrap();
    assert!(!stored.revoked, "nothing was revoked");
    h.auth
        .refresh(&second.refresh_token)
        .await
        .expect("the real token still rotates");
}

#[tokio::test]
async fn a_token_rotated_many_times_ago_is_still_recognised_as_reuse() {
    let h = harness();
    let (_, first) = h.sign_up("alice").await;
    let mut current = first.clone();
    for _ in 0..20 {
        h.clock.advance(TimeDelta::minutes(15));
        current = h.auth.refresh(&current.refresh_token).await.unwrap();
    }
    assert_eq!(
        h.auth
            .refresh(&first.refresh_token)
            .await
            .unwrap_err()
            .code(),
        "refresh_token_reused",
        "twenty rotations ago"
    );
    assert_eq!(
        h.auth
            .refresh(&current.refresh_token)
            .await
            .unwrap_err()
            .code(),
        "session_revoked"
    );
}
