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
    harness_with(Config::for_tests())
}

fn harness_with(config: Config) -> Harness {
    let clock = Arc::new(ManualClock::starting_now());
    let (ports, handles) = Ports::in_memory(clock.clone());
    let outbox = handles.outbox;
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
        Arc::new(RateLimits::new(ports.counters.clone(), clock.clone())),
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
/// The client IP of the phone's owner.
const IP: &str = "198.51.100.7";

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
        self.auth.request_otp(PHONE, IP).await.unwrap();
        let Verified::New { registration_token } = self
            .auth
            .verify_otp(PHONE, &self.last_code(), IP)
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
    let sent = h.auth.request_otp(PHONE, IP).await.unwrap();
    assert_eq!(sent.phone.as_str(), "+919890999999");
    assert_eq!(sent.expires_in, 300);
    let code = h.last_code();
    let stored = h.ports.otps.get(&sent.phone).await.unwrap().unwrap().value;
    let [live] = &stored.codes[..] else {
        panic!("one live code: {:?}", stored.codes)
    };
    assert_eq!(live.mac.len(), 64, "hex HMAC-SHA256");
    assert!(!live.mac.contains(&code), "the code itself is never stored");
    assert!(
        !live.client.contains(IP) && !format!("{stored:?}").contains(IP),
        "nor the client's IP address"
    );
}

#[tokio::test]
async fn a_code_verifies_once_then_is_gone() {
    let h = harness();
    h.auth.request_otp(PHONE, IP).await.unwrap();
    let code = h.last_code();
    assert!(matches!(
        h.auth.verify_otp(PHONE, &code, IP).await.unwrap(),
        Verified::New { .. }
    ));
    let err = h.auth.verify_otp(PHONE, &code, IP).await.unwrap_err();
    assert_eq!(err.code(), "otp_not_found");
}

#[tokio::test]
async fn five_wrong_guesses_kill_the_code_even_for_the_right_one() {
    let h = harness();
    h.auth.request_otp(PHONE, IP).await.unwrap();
    let code = h.last_code();
    for left in (1..=4).rev() {
        let err = h
            .auth
            .verify_otp(PHONE, &wrong(&code), IP)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_otp");
        assert!(
            err.to_string().contains(&format!("{left} attempt")),
            "{err}"
        );
    }
    assert_eq!(
        h.auth
            .verify_otp(PHONE, &wrong(&code), IP)
            .await
            .unwrap_err()
            .code(),
        "otp_attempts_exceeded"
    );
    assert_eq!(
        h.auth
            .verify_otp(PHONE, &code, IP)
            .await
            .unwrap_err()
            .code(),
        "otp_attempts_exceeded"
    );
}

#[tokio::test]
async fn a_code_expires_after_five_minutes() {
    let h = harness();
    h.auth.request_otp(PHONE, IP).await.unwrap();
    let code = h.last_code();
    h.clock.advance(OTP_TTL - TimeDelta::milliseconds(1));
    let still_good = h
        .auth
        .verify_otp(PHONE, &wrong(&code), IP)
        .await
        .unwrap_err();
    assert_eq!(still_good.code(), "invalid_otp");
    h.clock.advance(TimeDelta::milliseconds(1));
    assert_eq!(
        h.auth
            .verify_otp(PHONE, &code, IP)
            .await
            .unwrap_err()
            .code(),
        "otp_expired"
    );
}

#[tokio::test]
async fn a_fourth_send_within_fifteen_minutes_is_rate_limited_until_the_window_moves() {
    let h = harness();
    for _ in 0..3 {
        h.auth.request_otp(PHONE, IP).await.unwrap();
        h.clock.advance(TimeDelta::minutes(1));
    }
    let Error::RateLimited { retry_after, .. } = h.auth.request_otp(PHONE, IP).await.unwrap_err()
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
        .request_otp(PHONE, IP)
        .await
        .expect("the oldest send left the window");
}

#[tokio::test]
async fn a_new_code_replaces_the_previous_one() {
    let h = harness();
    h.auth.request_otp(PHONE, IP).await.unwrap();
    let first = h.last_code();
    h.auth.request_otp(PHONE, IP).await.unwrap();
    let second = h.last_code();
    if first != second {
        assert_eq!(
            h.auth
                .verify_otp(PHONE, &first, IP)
                .await
                .unwrap_err()
                .code(),
            "invalid_otp"
        );
    }
    assert!(h.auth.verify_otp(PHONE, &second, IP).await.is_ok());
}

#[tokio::test]
async fn a_known_number_signs_in_and_gets_a_session() {
    let h = harness();
    let (user, _) = h.sign_up("alice").await;
    h.auth.request_otp(PHONE, IP).await.unwrap();
    match h.auth.verify_otp(PHONE, &h.last_code(), IP).await.unwrap() {
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
    let sid = h
        .auth
        .tokens
        .verify_access(&second.access_token)
        .unwrap()
        .session_id;
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

// ---------------------------------------------------------------- abuse limits

/// The default limits, as deployed (the tests' configuration raises the per-IP ones).
fn deployed_limits() -> Config {
    let mut config = Config::for_tests();
    config.limits = crate::config::AbuseLimits::default();
    config
}

fn code_in(h: &Harness, phone: &str) -> String {
    let phone = h.auth.parse_phone(phone).unwrap();
    let msgs = h.outbox.messages(Some(&phone));
    let body = &msgs.last().expect("a text was sent").body;
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn one_ip_gets_its_hourly_sends_across_numbers_then_429() {
    let h = harness_with(deployed_limits());
    for i in 0..10 {
        h.auth
            .request_otp(&format!("98909{i:05}"), IP)
            .await
            .unwrap();
    }
    let err = h.auth.request_otp("9890900010", IP).await.unwrap_err();
    assert_eq!(err.code(), "otp_rate_limited");
    assert_eq!(
        h.outbox.messages(None).len(),
        10,
        "no text beyond the limit"
    );
    h.auth
        .request_otp("9890900010", "203.0.113.9")
        .await
        .expect("another IP has its own budget");
    h.clock.advance(TimeDelta::hours(1));
    h.auth
        .request_otp("9890900011", IP)
        .await
        .expect("the next hour");
}

#[tokio::test]
async fn country_and_global_hourly_limits_stop_sends_from_every_ip() {
    let mut config = deployed_limits();
    config.limits.otp_country_sends_per_hour = 3;
    config.limits.otp_global_sends_per_hour = 5;
    let h = harness_with(config);
    for i in 0..3 {
        h.auth
            .request_otp(&format!("+9198909{i:05}"), &format!("203.0.113.{i}"))
            .await
            .unwrap();
    }
    assert_eq!(
        h.auth
            .request_otp("+919890900099", "203.0.113.50")
            .await
            .unwrap_err()
            .code(),
        "otp_rate_limited",
        "India's hourly budget is spent"
    );
    for i in 0..2 {
        h.auth
            .request_otp(&format!("+4477009{i:05}"), &format!("203.0.113.{}", 10 + i))
            .await
            .expect("another country");
    }
    assert_eq!(
        h.auth
            .request_otp("+14155550100", "203.0.113.60")
            .await
            .unwrap_err()
            .code(),
        "otp_rate_limited",
        "the global budget is spent"
    );
    assert_eq!(h.outbox.messages(None).len(), 5);
}

#[tokio::test]
async fn only_allowlisted_countries_get_codes() {
    let mut config = deployed_limits();
    config.limits.sms_countries = Some(vec!["91".into(), "44".into()]);
    let h = harness_with(config);
    let err = h.auth.request_otp("+14155550100", IP).await.unwrap_err();
    assert_eq!(err.code(), "sms_country_not_allowed");
    assert!(h.outbox.messages(None).is_empty());
    h.auth.request_otp("+447700900123", IP).await.unwrap();
    h.auth.request_otp(PHONE, IP).await.unwrap();
}

#[tokio::test]
async fn wrong_guesses_are_capped_per_client_across_codes() {
    let h = harness_with(deployed_limits());
    let mut guesses = 0;
    // Three codes, four wrong guesses each (never killing a code): the daily cap of 10 per
    // client still stops the eleventh guess, whatever the code.
    'outer: for _ in 0..3 {
        h.auth.request_otp(PHONE, "203.0.113.66").await.unwrap();
        let code = code_in(&h, PHONE);
        for _ in 0..4 {
            if guesses == 10 {
                break 'outer;
            }
            let err = h
                .auth
                .verify_otp(PHONE, &wrong(&code), "203.0.113.66")
                .await
                .unwrap_err();
            assert_eq!(err.code(), "invalid_otp", "guess {guesses}");
            guesses += 1;
        }
    }
    let code = code_in(&h, PHONE);
    let err = h
        .auth
        .verify_otp(PHONE, &code, "203.0.113.66")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "otp_attempts_limited", "even the right code");
    let Error::RateLimited { retry_after, .. } = err else {
        panic!("429")
    };
    assert!(retry_after <= std::time::Duration::from_secs(24 * 3600));
}

#[tokio::test]
async fn an_attacker_hammering_from_other_ips_cannot_lock_the_owner_out() {
    let h = harness_with(deployed_limits());
    let (owner, _) = h.sign_up("alice").await;
    // The owner asks for a code; before it types it, twelve attacker IPs ask for codes (sent
    // to the owner's phone, which the attacker cannot read) and guess until their budgets
    // are gone.
    h.auth.request_otp(PHONE, IP).await.unwrap();
    let owners_code = h.last_code();
    for a in 0..12 {
        let ip = format!("203.0.113.{a}");
        for _ in 0..3 {
            h.auth.request_otp(PHONE, &ip).await.unwrap();
        }
        for g in 0..12 {
            let guess = format!("{:06}", a * 100 + g);
            if guess == owners_code {
                continue;
            }
            let err = h.auth.verify_otp(PHONE, &guess, &ip).await.unwrap_err();
            assert!(
                [
                    "invalid_otp",
                    "otp_attempts_exceeded",
                    "otp_attempts_limited"
                ]
                .contains(&err.code()),
                "{}",
                err.code()
            );
        }
        assert_eq!(
            h.auth.request_otp(PHONE, &ip).await.unwrap_err().code(),
            "otp_rate_limited",
            "each attacker IP has had its codes"
        );
    }
    let Verified::Existing { user, .. } = h
        .auth
        .verify_otp(PHONE, &owners_code, IP)
        .await
        .expect("the owner's code still works")
    else {
        panic!("a known number");
    };
    assert_eq!(user.id, owner.id);
    // And the next sign-in too.
    h.auth.request_otp(PHONE, IP).await.expect("a new code");
    assert!(h.auth.verify_otp(PHONE, &h.last_code(), IP).await.is_ok());
}

#[tokio::test]
async fn once_a_number_had_its_daily_wrong_guesses_a_code_answers_only_its_own_client() {
    let h = harness_with(deployed_limits());
    // The owner asks for a code (it will type it later, maybe from another network).
    h.auth.request_otp(PHONE, IP).await.unwrap();
    let owners = h.last_code();
    // Before the cap, any client may use a live code: a phone that changed networks.
    h.auth.request_otp(PHONE, IP).await.unwrap();
    let again = h.last_code();
    assert_ne!(owners, "", "a code");
    // Two attacker IPs spend the number's 20 wrong guesses without knowing any code.
    for a in 0..2 {
        for g in 0..10 {
            let guess = format!("{:06}", 500_000 + a * 10 + g);
            if guess == again {
                continue;
            }
            let _ = h
                .auth
                .verify_otp(PHONE, &guess, &format!("203.0.113.{a}"))
                .await;
        }
    }
    let stranger = h
        .auth
        .verify_otp(PHONE, &again, "192.0.2.200")
        .await
        .unwrap_err();
    assert_eq!(
        stranger.code(),
        "otp_attempts_limited",
        "a client that asked for no code gets no more guesses at this number today"
    );
    h.auth
        .verify_otp(PHONE, &again, IP)
        .await
        .expect("the client that asked still gets in with its code");
}

#[test]
fn an_ipv6_client_is_its_64_prefix_and_a_mapped_ipv4_its_address() {
    assert_eq!(
        client_network("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
        "2001:db8:1:2::/64"
    );
    assert_eq!(
        client_network("2001:db8:1:2::1"),
        client_network("2001:db8:1:2:ffff::9")
    );
    assert_ne!(
        client_network("2001:db8:1:2::1"),
        client_network("2001:db8:1:3::1")
    );
    assert_eq!(client_network("::ffff:198.51.100.7"), "198.51.100.7");
    assert_eq!(client_network("198.51.100.7"), "198.51.100.7");
    assert_eq!(client_network("unknown"), "unknown");
}

#[tokio::test]
async fn addresses_of_one_ipv6_64_share_one_budget() {
    let h = harness_with(deployed_limits());
    // An attacker rotating through the addresses of its /64: one budget of 10 an hour.
    for i in 0..10 {
        h.auth
            .request_otp(
                &format!("98909{i:05}"),
                &format!("2001:db8:7:7::{:x}", i + 1),
            )
            .await
            .unwrap();
    }
    let err = h
        .auth
        .request_otp("9890900010", "2001:db8:7:7:dead:beef:0:1")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "otp_rate_limited");
    assert_eq!(
        h.outbox.messages(None).len(),
        10,
        "no text beyond the limit"
    );
    h.auth
        .request_otp("9890900010", "2001:db8:7:8::1")
        .await
        .expect("the next /64 is another subscriber");
}

/// The eviction the lockout argument allows: eight attacker IPs that only ask (never guess)
/// push the owner's code out of the eight live ones. Every one of their codes was texted to
/// the owner's phone, and any live code is the owner's to use (no foreign wrong guesses
/// yet), so the owner signs in with the latest text; or asks again and gets a fresh one.
#[tokio::test]
async fn askers_who_push_the_owners_code_out_leave_the_owner_a_code_that_works() {
    let h = harness_with(deployed_limits());
    let (owner, _) = h.sign_up("alice").await;
    h.auth.request_otp(PHONE, IP).await.unwrap();
    let owners_code = h.last_code();
    for a in 0..OTP_MAX_LIVE_CODES {
        h.auth
            .request_otp(PHONE, &format!("203.0.113.{a}"))
            .await
            .unwrap();
    }
    let phone = h.auth.parse_phone(PHONE).unwrap();
    let state = h.ports.otps.get(&phone).await.unwrap().unwrap().value;
    let owner_client = h.auth.client_tag(IP);
    assert_eq!(state.codes.len(), OTP_MAX_LIVE_CODES);
    assert!(
        state.codes.iter().all(|c| c.client != owner_client),
        "the owner's first code ({owners_code}) was pushed out"
    );
    let latest = h.last_code();
    let Verified::Existing { user, .. } = h
        .auth
        .verify_otp(PHONE, &latest, IP)
        .await
        .expect("the latest text on the owner's phone works from the owner's IP")
    else {
        panic!("a known number");
    };
    assert_eq!(user.id, owner.id);
}
