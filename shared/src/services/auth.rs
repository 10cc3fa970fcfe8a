//! Phone-number sign-in: OTP request and verification, registration, sessions, profile.

use super::limits::{RateLimits, Rule};
use super::tokens::{self, TokenPair, TokenService};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{
    DEFAULT_STATUS, Email, LastSeenVisibility, OtpCode, PhoneNumber, ProfilePicture,
    SYSTEM_USERNAME, SessionId, StatusText, User, UserId, Username,
};
use crate::ports::{
    Attempt, ConnectionGateway, ConnectionStore, DeviceStore, LiveCode, OtpState, OtpStore,
    PostError, PushSender, Session, SessionStore, SmsSender, UserStore,
};
use crate::{Error, StoreError, crypto};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;

/// How long a code works.
pub const OTP_TTL: TimeDelta = TimeDelta::minutes(5);
/// Wrong guesses after which a code is dead (guesses from the client that asked for it).
pub const OTP_MAX_ATTEMPTS: u32 = 5;
/// The per-phone send limit counts sends per client in windows of this length.
pub const OTP_SEND_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Wrong guesses are counted over this long (the daily caps).
pub const OTP_GUESS_WINDOW: TimeDelta = TimeDelta::hours(24);
/// Live codes kept per phone number (one per client that asked); beyond it a new code
/// replaces the code of the client with the most wrong guesses (the oldest on a tie).
pub const OTP_MAX_LIVE_CODES: usize = 8;
/// History entries kept per phone number (sends, wrong guesses): bounds the item's size.
const OTP_MAX_HISTORY: usize = 200;
/// A refresh token's lifetime; every rotation starts it again.
pub const REFRESH_TTL: TimeDelta = TimeDelta::days(30);
/// How long after a rotation the token it replaced still gets the same new token (a client
/// retrying a refresh whose answer it lost, or two refreshes racing); later it is reuse.
pub const REFRESH_GRACE: TimeDelta = TimeDelta::seconds(10);
/// Optimistic-concurrency retries before a request gives up with 409.
const CAS_RETRIES: usize = 3;

/// `request-otp` succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct OtpSent {
    pub phone: PhoneNumber,
    /// Seconds the code stays valid.
    pub expires_in: u64,
}

/// `verify-otp` succeeded.
#[derive(Debug, Clone)]
pub enum Verified {
    /// The number belongs to an account: signed in.
    Existing { user: Box<User>, tokens: TokenPair },
    /// Unknown number: the token that lets `register` create the account.
    New { registration_token: String },
}

/// The profile fields `register` takes.
#[derive(Debug, Clone)]
pub struct NewProfile {
    pub username: Username,
    pub email: Option<Email>,
    pub profile_picture: Option<ProfilePicture>,
    pub status: Option<StatusText>,
}

/// `PATCH /api/user`: `None` leaves a field as it is; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub username: Option<Username>,
    pub email: Option<Option<Email>>,
    pub profile_picture: Option<Option<ProfilePicture>>,
    pub status: Option<StatusText>,
    /// Who sees `lastSeen` and `online`.
    pub last_seen_visibility: Option<LastSeenVisibility>,
}

/// The sign-in use cases, and the end of a session: when it is revoked (logout, or a reused
/// refresh token) its open sockets are closed and its devices unregistered too, so the
/// connection and device ports are injected here.
pub struct AuthService {
    users: Arc<dyn UserStore>,
    otps: Arc<dyn OtpStore>,
    sessions: Arc<dyn SessionStore>,
    sms: Arc<dyn SmsSender>,
    connections: Arc<dyn ConnectionStore>,
    gateway: Arc<dyn ConnectionGateway>,
    devices: Arc<dyn DeviceStore>,
    push: Arc<dyn PushSender>,
    tokens: Arc<TokenService>,
    limits: Arc<RateLimits>,
    clock: Arc<dyn Clock>,
    otp_key: Vec<u8>,
    config: Config,
}

fn busy() -> Error {
    Error::conflict(
        "concurrent_update",
        "the record was changed concurrently; try again",
    )
}

impl AuthService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        users: Arc<dyn UserStore>,
        otps: Arc<dyn OtpStore>,
        sessions: Arc<dyn SessionStore>,
        sms: Arc<dyn SmsSender>,
        connections: Arc<dyn ConnectionStore>,
        gateway: Arc<dyn ConnectionGateway>,
        devices: Arc<dyn DeviceStore>,
        push: Arc<dyn PushSender>,
        tokens: Arc<TokenService>,
        limits: Arc<RateLimits>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            otp_key: config.otp_secret.expose().to_vec(),
            limits,
            users,
            otps,
            sessions,
            sms,
            connections,
            gateway,
            devices,
            push,
            tokens,
            clock,
            config,
        }
    }

    /// Parses a phone number as typed by a user (national forms get the default country code).
    pub fn parse_phone(&self, raw: &str) -> Result<PhoneNumber, Error> {
        PhoneNumber::parse(raw, &self.config.default_country_code)
    }

    fn code_mac(&self, phone: &PhoneNumber, code: &OtpCode) -> Vec<u8> {
        crypto::hmac_sha256(
            &self.otp_key,
            format!("{phone}:{}", code.as_str()).as_bytes(),
        )
        .to_vec()
    }

    /// The client a request came from, as stored with codes and attempts: a keyed hash of
    /// its network (the address itself is never stored). See [`client_network`].
    fn client_tag(&self, client_ip: &str) -> String {
        let network = client_network(client_ip);
        let mac = crypto::hmac_sha256(&self.otp_key, format!("client:{network}").as_bytes());
        hex::encode(&mac[..12])
    }

    fn rule(&self, name: &'static str, max: u32, window: TimeDelta) -> Rule {
        Rule {
            name,
            max,
            window,
            code: "otp_rate_limited",
        }
    }

    /// Sends a fresh code to `phone` for the client at `client_ip`, replacing that client's
    /// live code (other clients' codes stay: an attacker asking for codes does not void the
    /// owner's). Limits, each 429 `otp_rate_limited` with the time to wait: per phone and
    /// client ([`AbuseLimits::otp_sends_per_phone`] per [`OTP_SEND_WINDOW`]), per client IP,
    /// per country calling code and in total per hour; the number's country must be on the
    /// SMS allowlist (400 `sms_country_not_allowed`).
    ///
    /// [`AbuseLimits::otp_sends_per_phone`]: crate::config::AbuseLimits
    pub async fn request_otp(&self, raw_phone: &str, client_ip: &str) -> Result<OtpSent, Error> {
        let phone = self.parse_phone(raw_phone)?;
        let limits = &self.config.limits;
        if let Some(allowed) = &limits.sms_countries
            && !allowed.iter().any(|c| c == phone.calling_code())
        {
            return Err(Error::validation(
                "sms_country_not_allowed",
                format!(
                    "sign-in codes cannot be sent to +{} numbers",
                    phone.calling_code()
                ),
            ));
        }
        let client = self.client_tag(client_ip);
        let per_phone = limits.otp_sends_per_phone as usize;
        // The phone's own limit first: it costs nothing to check and needs no counter.
        if let Some(current) = self.otps.get(&phone).await? {
            self.phone_sends_left(&current.value, &client, per_phone)?;
        }
        // Then the counters, cheapest subject first: an attacker spends its own IP's budget
        // before it can touch a country's or everyone's.
        let hour = TimeDelta::hours(1);
        for (rule, subject) in [
            (
                self.rule("otp-ip", limits.otp_ip_sends_per_hour, hour),
                client.as_str(),
            ),
            (
                self.rule("otp-country", limits.otp_country_sends_per_hour, hour),
                phone.calling_code(),
            ),
            (
                self.rule("otp-global", limits.otp_global_sends_per_hour, hour),
                "*",
            ),
        ] {
            self.limits.take(&rule, subject).await?;
        }
        for _ in 0..CAS_RETRIES {
            let now = self.clock.now();
            let current = self.otps.get(&phone).await?;
            let mut state = match &current {
                Some(c) => pruned(c.value.clone(), now),
                None => OtpState {
                    phone: phone.clone(),
                    codes: vec![],
                    sends: vec![],
                    failures: vec![],
                    expire_after: now,
                },
            };
            self.phone_sends_left(&state, &client, per_phone)?;
            let code = OtpCode::generate();
            state.codes.retain(|c| c.client != client);
            state.codes.push(LiveCode {
                client: client.clone(),
                mac: hex::encode(self.code_mac(&phone, &code)),
                expires_at: now + OTP_TTL,
                attempts: 0,
            });
            if state.codes.len() > OTP_MAX_LIVE_CODES {
                // Room for the new code: drop the code of the client with the most wrong
                // guesses (a guesser, not the owner waiting for its text), the oldest on a tie.
                let failures = |c: &LiveCode| {
                    state
                        .failures
                        .iter()
                        .filter(|a| a.client == c.client)
                        .count()
                };
                let last = state.codes.len() - 1;
                let drop = (0..last)
                    .max_by_key(|&i| (failures(&state.codes[i]), std::cmp::Reverse(i)))
                    .unwrap_or(0);
                state.codes.remove(drop);
            }
            push_bounded(
                &mut state.sends,
                Attempt {
                    client: client.clone(),
                    at: now,
                },
            );
            state.expire_after = expiry(&state, now);
            match self.otps.put(&state, current.map(|c| c.version)).await {
                Ok(_) => {}
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            // Persisted first: a code that was sent always verifies.
            let body = format!(
                "Your WhatsPe code is {}. It expires in {} minutes. Never share it.",
                code.as_str(),
                OTP_TTL.num_minutes()
            );
            self.sms
                .send(&phone, &body)
                .await
                .map_err(Error::Unavailable)?;
            tracing::info!("otp sent");
            return Ok(OtpSent {
                phone,
                expires_in: OTP_TTL.num_seconds() as u64,
            });
        }
        Err(busy())
    }

    /// 429 when `client` already had `max` codes sent to this phone in the current
    /// [`OTP_SEND_WINDOW`].
    fn phone_sends_left(&self, state: &OtpState, client: &str, max: usize) -> Result<(), Error> {
        let now = self.clock.now();
        let mine: Vec<&Attempt> = state
            .sends
            .iter()
            .filter(|a| a.client == client && a.at + OTP_SEND_WINDOW > now)
            .collect();
        if mine.len() < max {
            return Ok(());
        }
        let wait = mine[mine.len() - max].at + OTP_SEND_WINDOW - now;
        Err(Error::RateLimited {
            code: "otp_rate_limited",
            message: format!(
                "at most {max} codes per {} minutes; try again later",
                OTP_SEND_WINDOW.num_minutes()
            ),
            retry_after: wait.to_std().unwrap_or_default(),
        })
    }

    /// Checks a code sent to `phone`, guessed by the client at `client_ip`. Single use.
    ///
    /// Guessing is bounded per phone across codes, and a stranger's guessing cannot lock the
    /// owner out: a client's wrong guesses count against its own budget
    /// ([`AbuseLimits::otp_client_daily_guesses`] a day per phone) and only kill its own code
    /// ([`OTP_MAX_ATTEMPTS`]); any client may match any live code (a phone that switched from
    /// Wi-Fi to mobile data between asking and typing has another IP) until the phone has had
    /// [`AbuseLimits::otp_phone_daily_guesses`] wrong guesses in a day; from then on a guess is
    /// checked only against the code its own client asked for. Verify calls per client IP are
    /// limited too (spraying one guess at many numbers).
    ///
    /// [`AbuseLimits::otp_client_daily_guesses`]: crate::config::AbuseLimits
    /// [`AbuseLimits::otp_phone_daily_guesses`]: crate::config::AbuseLimits
    pub async fn verify_otp(
        &self,
        raw_phone: &str,
        raw_code: &str,
        client_ip: &str,
    ) -> Result<Verified, Error> {
        let phone = self.parse_phone(raw_phone)?;
        let code = OtpCode::parse(raw_code)?;
        let client = self.client_tag(client_ip);
        let limits = &self.config.limits;
        let rule = self.rule(
            "otp-verify-ip",
            limits.otp_ip_verifies_per_hour,
            TimeDelta::hours(1),
        );
        self.limits.take(&rule, &client).await?;
        let mac = self.code_mac(&phone, &code);
        for _ in 0..CAS_RETRIES {
            let now = self.clock.now();
            let Some(current) = self.otps.get(&phone).await? else {
                return Err(no_code());
            };
            let mut state = pruned(current.value, now);
            let mine = state.failures.iter().filter(|a| a.client == client);
            if mine.clone().count() >= limits.otp_client_daily_guesses as usize {
                let oldest = mine.map(|a| a.at).min().unwrap_or(now);
                return Err(too_many_guesses(oldest + OTP_GUESS_WINDOW - now));
            }
            let bound = state.failures.len() >= limits.otp_phone_daily_guesses as usize;
            let eligible: Vec<usize> = (0..state.codes.len())
                .filter(|&i| !bound || state.codes[i].client == client)
                .collect();
            let usable: Vec<usize> = eligible
                .iter()
                .copied()
                .filter(|&i| {
                    let c = &state.codes[i];
                    now < c.expires_at && c.attempts < OTP_MAX_ATTEMPTS
                })
                .collect();
            if usable.is_empty() {
                return Err(if state.codes.is_empty() {
                    no_code()
                } else if eligible.is_empty() {
                    let oldest = state.failures.first().map(|a| a.at).unwrap_or(now);
                    too_many_guesses(oldest + OTP_GUESS_WINDOW - now)
                } else if eligible.iter().any(|&i| {
                    let c = &state.codes[i];
                    now < c.expires_at && c.attempts >= OTP_MAX_ATTEMPTS
                }) {
                    attempts_exceeded()
                } else {
                    Error::validation("otp_expired", "the code has expired; request a new one")
                });
            }
            // Every usable code is compared, in constant time each, whichever matches.
            let matched = usable.iter().fold(false, |hit, &i| {
                let stored = hex::decode(&state.codes[i].mac).unwrap_or_default();
                crypto::constant_time_eq(&stored, &mac) | hit
            });
            if !matched {
                push_bounded(
                    &mut state.failures,
                    Attempt {
                        client: client.clone(),
                        at: now,
                    },
                );
                let own = state.codes.iter_mut().find(|c| c.client == client);
                let own_left = own.map(|c| {
                    c.attempts += 1;
                    OTP_MAX_ATTEMPTS - c.attempts.min(OTP_MAX_ATTEMPTS)
                });
                state.expire_after = expiry(&state, now);
                match self.otps.put(&state, Some(current.version)).await {
                    Ok(_) => {}
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
                let used = state.failures.iter().filter(|a| a.client == client).count() as u32;
                let budget_left = limits.otp_client_daily_guesses.saturating_sub(used);
                let left = own_left.map_or(budget_left, |l| l.min(budget_left));
                if own_left == Some(0) {
                    return Err(attempts_exceeded());
                }
                return Err(Error::validation(
                    "invalid_otp",
                    format!("the code is not correct; {left} attempt(s) left"),
                ));
            }
            // Signed in: every pending code of the number is spent.
            state.codes.clear();
            state.expire_after = expiry(&state, now);
            match self.otps.put(&state, Some(current.version)).await {
                Ok(_) => {}
                // Someone used or guessed at a code at the same moment: decide again.
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            return match self.users.find_by_phone(&phone).await? {
                Some(user) => {
                    let tokens = self.start_session(&user.id).await?;
                    Ok(Verified::Existing {
                        user: Box::new(user),
                        tokens,
                    })
                }
                None => Ok(Verified::New {
                    registration_token: self.tokens.issue_registration(&phone)?,
                }),
            };
        }
        Err(busy())
    }

    /// Creates the account of the phone a registration token was issued for, and signs in.
    /// `claimed_phone`, when the client sends one, must be that same number.
    pub async fn register(
        &self,
        registration_token: &str,
        claimed_phone: Option<&str>,
        profile: NewProfile,
    ) -> Result<(User, TokenPair), Error> {
        let phone = self.tokens.verify_registration(registration_token)?;
        claimable(&profile.username)?;
        if let Some(raw) = claimed_phone
            && self.parse_phone(raw)? != phone
        {
            return Err(Error::forbidden(
                "phone_number_mismatch",
                "phoneNumber differs from the number the registration token was issued for",
            ));
        }
        let now = self.clock.now();
        let user = User {
            id: UserId::new_random(),
            username: profile.username,
            email: profile.email,
            phone_number: phone,
            profile_picture: profile.profile_picture,
            status: match profile.status {
                Some(s) => s,
                None => StatusText::parse(DEFAULT_STATUS)?,
            },
            last_seen: now,
            created_at: now,
            updated_at: now,
            verified: true,
            last_seen_visibility: LastSeenVisibility::default(),
        };
        self.users.create(&user).await.map_err(|e| match e {
            StoreError::Conflict { what: "username" } => username_taken(),
            StoreError::Conflict { .. } => Error::conflict(
                "phone_number_taken",
                "an account with this phone number already exists; sign in instead",
            ),
            other => other.into(),
        })?;
        let tokens = self.start_session(&user.id).await?;
        Ok((user, tokens))
    }

    async fn start_session(&self, user_id: &UserId) -> Result<TokenPair, Error> {
        let now = self.clock.now();
        let id = SessionId::new_random();
        let (refresh_token, token_hash) = tokens::new_refresh_token(&id);
        self.sessions
            .create(&Session {
                id,
                user_id: *user_id,
                token_hash,
                previous_hash: None,
                created_at: now,
                rotated_at: now,
                expires_at: now + REFRESH_TTL,
                revoked: false,
                rotations: 0,
            })
            .await?;
        let (access_token, expires_in) = self.tokens.issue_access(user_id, &id)?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            expires_in,
        })
    }

    /// Exchanges a refresh token for a new pair. Each refresh token works once: presenting a
    /// rotated one again revokes the whole session (it has leaked) and closes its sockets:
    /// whoever holds its access tokens loses the socket too. One exception, for a retried or
    /// doubled refresh: the token the last rotation replaced, presented within
    /// [`REFRESH_GRACE`] of that rotation, gets the same new refresh token again (the
    /// successor is derived from the presented secret, so it can be re-derived).
    /// A token that was never issued for the session (garbage after a real session id, which
    /// anyone can read in an access token) is refused with 401 and revokes nothing.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, Error> {
        let presented = tokens::parse_refresh_token(refresh_token).ok_or_else(invalid_refresh)?;
        let sid = presented.session;
        let session = self.sessions.get(&sid).await?.ok_or_else(invalid_refresh)?;
        let now = self.clock.now();
        live(&session, now)?;
        let (refresh_token, new_hash) = self.tokens.next_refresh_token(&presented);
        if !crypto::constant_time_eq(presented.hash.as_bytes(), session.token_hash.as_bytes()) {
            return self
                .replay_rotation(&session, &presented, refresh_token, &new_hash, now)
                .await;
        }
        match self
            .sessions
            .rotate(&sid, &presented.hash, &new_hash, now, now + REFRESH_TTL)
            .await
        {
            Ok(()) => {}
            // Rotated (or revoked) in the meantime: by a request with the same token (the same
            // pair again), or else it is reuse.
            Err(StoreError::Conflict { .. }) => {
                let session = self.sessions.get(&sid).await?.ok_or_else(invalid_refresh)?;
                live(&session, now)?;
                return self
                    .replay_rotation(&session, &presented, refresh_token, &new_hash, now)
                    .await;
            }
            Err(e) => return Err(e.into()),
        }
        let (access_token, expires_in) = self.tokens.issue_access(&session.user_id, &sid)?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            expires_in,
        })
    }

    /// A refresh with a token that is not the session's current one. If it is the token the
    /// last rotation replaced, within [`REFRESH_GRACE`] of that rotation: the same refresh
    /// token again and an access token for the session (no write). Any other token this
    /// session really issued and rotated is reuse (revokes); a token it never issued is
    /// invalid (revokes nothing).
    async fn replay_rotation(
        &self,
        session: &Session,
        presented: &tokens::RefreshToken,
        successor: String,
        successor_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, Error> {
        let Some(distance) =
            self.tokens
                .rotations_since(presented, &session.token_hash, session.rotations)
        else {
            tracing::info!(session = %session.id, "a refresh token this session never issued: refused, nothing revoked");
            return Err(invalid_refresh());
        };
        let just_replaced = distance == 1
            && session
                .previous_hash
                .as_deref()
                .is_some_and(|p| crypto::constant_time_eq(p.as_bytes(), presented.hash.as_bytes()));
        let in_grace = now < session.rotated_at + REFRESH_GRACE;
        let current_is_successor =
            crypto::constant_time_eq(session.token_hash.as_bytes(), successor_hash.as_bytes());
        if !(just_replaced && in_grace && current_is_successor) {
            return Err(self.reuse_detected(session).await);
        }
        tracing::info!(session = %session.id, "refresh retried within the grace window: the same token again");
        let (access_token, expires_in) = self.tokens.issue_access(&session.user_id, &session.id)?;
        Ok(TokenPair {
            access_token,
            refresh_token: successor,
            expires_in,
        })
    }

    async fn reuse_detected(&self, session: &Session) -> Error {
        tracing::warn!(session = %session.id, "refresh token reuse: revoking the session");
        if let Err(e) = self.sessions.revoke(&session.id).await {
            return e.into();
        }
        if let Err(e) = self.close_sockets(&session.user_id, &session.id).await {
            return e;
        }
        if let Err(e) = self.forget_devices(&session.user_id, &session.id).await {
            return e;
        }
        Error::unauthorized(
            "refresh_token_reused",
            "this refresh token was already used; the session is revoked, sign in again",
        )
    }

    /// Logout: ends `user`'s `session`. Its refresh token stops working at once, its open
    /// sockets are closed, the devices it registered stop getting pushes, and access tokens
    /// issued for it stop working within the session check's bound
    /// ([`crate::config::Config::session_check`]).
    pub async fn logout(&self, user: &UserId, session: &SessionId) -> Result<(), Error> {
        self.sessions.revoke(session).await?;
        self.close_sockets(user, session).await?;
        self.forget_devices(user, session).await?;
        Ok(())
    }

    /// Unregisters the devices `session` registered: a signed-out phone gets no more of the
    /// account's pushes. The rows must go (they are what delivery pushes to); deleting their
    /// SNS endpoints is best effort (an orphaned endpoint is never published to).
    async fn forget_devices(&self, user: &UserId, session: &SessionId) -> Result<(), Error> {
        for d in self.devices.delete_session(user, session).await? {
            if let Err(e) = self.push.unregister(&d.endpoint_arn).await {
                tracing::warn!(error = %e, device = %d.id, "deleting an ended session's platform endpoint failed; the device is unregistered");
            }
        }
        Ok(())
    }

    /// Closes every socket opened with `session` (a revoked session keeps no live
    /// connection). API Gateway answers each close with `$disconnect`, which does the
    /// bookkeeping; a socket already gone leaves only its row, deleted here.
    async fn close_sockets(&self, user: &UserId, session: &SessionId) -> Result<(), Error> {
        for c in self.connections.of_user(user, self.clock.now()).await? {
            if c.session_id != *session {
                continue;
            }
            match self.gateway.close(&c.connection_id).await {
                Ok(()) => {}
                Err(PostError::Gone) => {
                    self.connections.delete(&c.connection_id).await?;
                }
                // The socket may stay open (API Gateway ends it within 2 hours), but without its
                // row it gets no deliveries, and its next frame is refused and closes it.
                Err(PostError::Failed(e)) => {
                    tracing::warn!(error = %e, "closing a revoked session's socket failed; its row is deleted");
                    self.connections.delete(&c.connection_id).await?;
                }
            }
        }
        Ok(())
    }

    /// The caller's own account.
    pub async fn me(&self, id: &UserId) -> Result<User, Error> {
        self.users
            .get(id)
            .await?
            .map(|v| v.value)
            .ok_or_else(|| Error::not_found("user_not_found", "the account no longer exists"))
    }

    /// Applies a profile change.
    pub async fn update_profile(&self, id: &UserId, patch: ProfilePatch) -> Result<User, Error> {
        if let Some(u) = &patch.username {
            claimable(u)?;
        }
        for _ in 0..CAS_RETRIES {
            let current = self.users.get(id).await?.ok_or_else(|| {
                Error::not_found("user_not_found", "the account no longer exists")
            })?;
            let previous_username = current.value.username.clone();
            let mut user = current.value;
            if let Some(u) = patch.username.clone() {
                user.username = u;
            }
            if let Some(e) = patch.email.clone() {
                user.email = e;
            }
            if let Some(p) = patch.profile_picture.clone() {
                user.profile_picture = p;
            }
            if let Some(s) = patch.status.clone() {
                user.status = s;
            }
            if let Some(v) = patch.last_seen_visibility {
                user.last_seen_visibility = v;
            }
            user.updated_at = self.clock.now();
            match self
                .users
                .update(&user, current.version, &previous_username)
                .await
            {
                Ok(_) => return Ok(user),
                Err(StoreError::Conflict { what: "username" }) => return Err(username_taken()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(busy())
    }
}

/// A session that can still be refreshed: not revoked, not expired.
fn live(session: &Session, now: DateTime<Utc>) -> Result<(), Error> {
    if session.revoked {
        return Err(Error::unauthorized(
            "session_revoked",
            "this session has ended; sign in again",
        ));
    }
    if now >= session.expires_at {
        return Err(Error::unauthorized(
            "refresh_token_expired",
            "the session has expired; sign in again",
        ));
    }
    Ok(())
}

fn invalid_refresh() -> Error {
    Error::unauthorized("invalid_refresh_token", "the refresh token is not valid")
}

fn no_code() -> Error {
    Error::validation(
        "otp_not_found",
        "no code is pending for this number (never requested, or already used); request one",
    )
}

/// `state` without what no longer counts at `now`: expired codes, sends outside the send
/// window, wrong guesses older than a day.
fn pruned(mut state: OtpState, now: DateTime<Utc>) -> OtpState {
    state.codes.retain(|c| c.expires_at > now - OTP_TTL);
    state.sends.retain(|a| a.at + OTP_SEND_WINDOW > now);
    state.failures.retain(|a| a.at + OTP_GUESS_WINDOW > now);
    state
}

/// Appends `entry`, dropping the oldest beyond [`OTP_MAX_HISTORY`].
fn push_bounded(list: &mut Vec<Attempt>, entry: Attempt) {
    list.push(entry);
    if list.len() > OTP_MAX_HISTORY {
        list.remove(0);
    }
}

/// When `state` stops mattering: its last code's expiry (kept a while longer so that a late
/// guess is told "expired", not "never requested"), send or wrong guess.
fn expiry(state: &OtpState, now: DateTime<Utc>) -> DateTime<Utc> {
    let codes = state.codes.iter().map(|c| c.expires_at + OTP_TTL);
    let sends = state.sends.iter().map(|a| a.at + OTP_SEND_WINDOW);
    let failures = state.failures.iter().map(|a| a.at + OTP_GUESS_WINDOW);
    codes.chain(sends).chain(failures).max().unwrap_or(now)
}

fn too_many_guesses(wait: TimeDelta) -> Error {
    Error::RateLimited {
        code: "otp_attempts_limited",
        message: "too many wrong codes for this number today; try again later, or use a code \
                  requested from this device"
            .into(),
        retry_after: wait.to_std().unwrap_or_default(),
    }
}

fn attempts_exceeded() -> Error {
    Error::validation(
        "otp_attempts_exceeded",
        format!("{OTP_MAX_ATTEMPTS} wrong attempts: this code no longer works; request a new one"),
    )
}

fn username_taken() -> Error {
    Error::conflict("username_taken", "this username is already taken")
}

/// The system sender's username is reserved: no account may pose as the service.
fn claimable(username: &Username) -> Result<(), Error> {
    if username.key() == SYSTEM_USERNAME {
        return Err(username_taken());
    }
    Ok(())
}

/// The unit the per-client limits count: an IPv4 address as it is, an IPv6 address by its
/// /64 prefix. One IPv6 subscriber (a home line, a phone, a cloud VM) is routed a whole /64 and
/// can use any of its 2^64 addresses, so counting single IPv6 addresses would give an attacker
/// an unlimited number of "clients". An IPv4-mapped IPv6 address counts as its IPv4 address.
/// Anything that is not an address (no request context) is one client by its text.
pub fn client_network(client_ip: &str) -> String {
    use std::net::IpAddr;
    match client_ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
        Err(_) => client_ip.to_owned(),
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
