//! Phone-number sign-in: OTP request and verification, registration, sessions, profile.

use super::tokens::{self, TokenPair, TokenService};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{
    DEFAULT_STATUS, Email, OtpCode, PhoneNumber, ProfilePicture, SYSTEM_USERNAME, SessionId,
    StatusText, User, UserId, Username,
};
use crate::ports::{
    ConnectionGateway, ConnectionStore, DeviceStore, OtpState, OtpStore, PostError, PushSender,
    Session, SessionStore, SmsSender, UserStore,
};
use crate::{Error, StoreError, crypto};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;

/// How long a code works.
pub const OTP_TTL: TimeDelta = TimeDelta::minutes(5);
/// Wrong guesses after which a code is dead.
pub const OTP_MAX_ATTEMPTS: u32 = 5;
/// At most [`OTP_MAX_SENDS`] codes per phone per window.
pub const OTP_SEND_WINDOW: TimeDelta = TimeDelta::minutes(15);
pub const OTP_MAX_SENDS: usize = 3;
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
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            otp_key: config.otp_secret.expose().to_vec(),
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

    /// Sends a fresh code to `phone`, replacing any live one. At most
    /// [`OTP_MAX_SENDS`] per [`OTP_SEND_WINDOW`]; beyond that 429 with the time to wait.
    pub async fn request_otp(&self, raw_phone: &str) -> Result<OtpSent, Error> {
        let phone = self.parse_phone(raw_phone)?;
        for _ in 0..CAS_RETRIES {
            let now = self.clock.now();
            let current = self.otps.get(&phone).await?;
            let mut sends: Vec<DateTime<Utc>> = current
                .as_ref()
                .map(|c| {
                    c.value
                        .sends
                        .iter()
                        .copied()
                        .filter(|t| *t + OTP_SEND_WINDOW > now)
                        .collect()
                })
                .unwrap_or_default();
            if sends.len() >= OTP_MAX_SENDS {
                let wait = (sends[0] + OTP_SEND_WINDOW - now).num_milliseconds().max(0) as u64;
                return Err(Error::RateLimited {
                    code: "otp_rate_limited",
                    message: format!(
                        "at most {OTP_MAX_SENDS} codes per {} minutes; try again later",
                        OTP_SEND_WINDOW.num_minutes()
                    ),
                    retry_after: std::time::Duration::from_millis(wait),
                });
            }
            let code = OtpCode::generate();
            sends.push(now);
            let state = OtpState {
                phone: phone.clone(),
                code_mac: Some(hex::encode(self.code_mac(&phone, &code))),
                expires_at: now + OTP_TTL,
                attempts: 0,
                expire_after: (sends[0] + OTP_SEND_WINDOW).max(now + OTP_TTL),
                sends,
            };
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

    /// Checks a code. Single use; [`OTP_MAX_ATTEMPTS`] wrong guesses kill it.
    pub async fn verify_otp(&self, raw_phone: &str, raw_code: &str) -> Result<Verified, Error> {
        let phone = self.parse_phone(raw_phone)?;
        let code = OtpCode::parse(raw_code)?;
        let mac = self.code_mac(&phone, &code);
        for _ in 0..CAS_RETRIES {
            let now = self.clock.now();
            let Some(current) = self.otps.get(&phone).await? else {
                return Err(no_code());
            };
            let mut state = current.value;
            let Some(stored) = state.code_mac.as_deref().and_then(|h| hex::decode(h).ok()) else {
                return Err(no_code());
            };
            if now >= state.expires_at {
                return Err(Error::validation(
                    "otp_expired",
                    "the code has expired; request a new one",
                ));
            }
            if state.attempts >= OTP_MAX_ATTEMPTS {
                return Err(attempts_exceeded());
            }
            if !crypto::constant_time_eq(&stored, &mac) {
                state.attempts += 1;
                match self.otps.put(&state, Some(current.version)).await {
                    Ok(_) => {}
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
                let left = OTP_MAX_ATTEMPTS - state.attempts;
                if left == 0 {
                    return Err(attempts_exceeded());
                }
                return Err(Error::validation(
                    "invalid_otp",
                    format!("the code is not correct; {left} attempt(s) left"),
                ));
            }
            state.code_mac = None;
            match self.otps.put(&state, Some(current.version)).await {
                Ok(_) => {}
                // Someone used or guessed at the code at the same moment: decide again.
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
            && session.previous_hash.as_deref().is_some_and(|p| {
                crypto::constant_time_eq(p.as_bytes(), presented.hash.as_bytes())
            });
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
    /// issued for it expire within their 15 minutes.
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
                Err(PostError::Failed(e)) => {
                    tracing::warn!(error = %e, "closing a revoked session's socket failed; it ends within 2 hours")
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

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
