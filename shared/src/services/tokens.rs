//! Access tokens (JWT, HS256 only), registration tokens, and refresh-token material.

use crate::Error;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto;
use crate::domain::{PhoneNumber, SessionId, UserId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::sync::Arc;

/// Lifetime of an access token.
pub const ACCESS_TTL: TimeDelta = TimeDelta::minutes(15);
/// Lifetime of a registration token (from verify-otp to register).
pub const REGISTRATION_TTL: TimeDelta = TimeDelta::minutes(10);
const ISSUER: &str = "whatspe";
/// How far back [`TokenService::rotations_since`] recognises a rotated refresh token (one
/// HMAC per step: a bound on the work an invalid token can cause). A client refreshing every
/// 15 minutes reaches it after about 100 days; a token that old is refused without revoking.
pub const MAX_ANCESTRY: u32 = 10_000;

/// Who a valid access token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub user_id: UserId,
    pub session_id: SessionId,
}

/// What sign-in, register and refresh hand out.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Serialize, Deserialize)]
struct AccessClaims {
    sub: String,
    aud: String,
    iss: String,
    iat: i64,
    exp: i64,
    sid: String,
}

#[derive(Serialize, Deserialize)]
struct RegistrationClaims {
    sub: String,
    aud: String,
    iss: String,
    iat: i64,
    exp: i64,
}

trait Expiring {
    fn exp(&self) -> i64;
}
impl Expiring for AccessClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
}
impl Expiring for RegistrationClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
}

/// Issues and verifies tokens with the deployment's key and the injected clock.
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    access_audience: String,
    registration_audience: String,
    /// Derives a refresh token's successor; a subkey of the JWT secret, so it never signs JWTs.
    rotation_key: [u8; 32],
    clock: Arc<dyn Clock>,
    /// Whether an access token's session is still live ([`Self::authenticate`]).
    sessions: Option<super::revocation::SessionCheck>,
}

impl TokenService {
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Self {
        Self {
            encoding: EncodingKey::from_secret(config.jwt_secret.expose()),
            decoding: DecodingKey::from_secret(config.jwt_secret.expose()),
            access_audience: config.jwt_audience.clone(),
            // A registration token can never pass as an access token, and vice versa.
            registration_audience: format!("{}:registration", config.jwt_audience),
            rotation_key: crypto::hmac_sha256(
                config.jwt_secret.expose(),
                b"whatspe refresh-token rotation v1",
            ),
            clock,
            sessions: None,
        }
    }

    /// Also checks, in [`Self::authenticate`], that an access token's session was not revoked.
    pub fn with_session_check(mut self, check: super::revocation::SessionCheck) -> Self {
        self.sessions = Some(check);
        self
    }

    /// An access token, checked ([`Self::verify_access`]) and, when a session check is set,
    /// whose session is not revoked (as of at most the check's bound ago): what every
    /// authenticated REST request and socket frame goes through.
    pub async fn authenticate(&self, token: &str) -> Result<Identity, Error> {
        let identity = self.verify_access(token)?;
        self.session_live(&identity.session_id).await?;
        Ok(identity)
    }

    /// 401 `session_revoked` when the session check says `session` ended (Ok without a check).
    pub async fn session_live(&self, session: &SessionId) -> Result<(), Error> {
        match &self.sessions {
            Some(check) => check.live(session).await,
            None => Ok(()),
        }
    }

    /// The refresh token that replaces `presented` when it is rotated, and the hex SHA-256 of
    /// its secret. Deterministic (an HMAC of the presented secret under a server key), so a
    /// retried refresh can be given the same token again; unpredictable without that key and
    /// the presented secret, which the server never stores.
    pub fn next_refresh_token(&self, presented: &RefreshToken) -> (String, String) {
        encode_refresh(
            &presented.session,
            &self.successor_secret(&presented.session, &presented.secret),
        )
    }

    fn successor_secret(&self, session: &SessionId, secret: &[u8; 32]) -> [u8; 32] {
        let mut input = Vec::with_capacity(64);
        input.extend_from_slice(session.to_string().as_bytes());
        input.push(b'.');
        input.extend_from_slice(secret);
        crypto::hmac_sha256(&self.rotation_key, &input)
    }

    /// How many rotations ago `presented` was the session's token, if it ever was one that a
    /// rotation replaced: 1 for the token the last rotation replaced, 2 for the one before, …,
    /// at most `rotations` (the session's count) and [`MAX_ANCESTRY`]. Every token is derived
    /// from the one before, so walking `presented`'s successors reaches `current_hash` exactly
    /// when it is an ancestor; a made-up secret never does (that would take a SHA-256
    /// collision), so a guessed or garbage token can never pass for a leaked one.
    pub fn rotations_since(
        &self,
        presented: &RefreshToken,
        current_hash: &str,
        rotations: u32,
    ) -> Option<u32> {
        let mut secret = presented.secret;
        for distance in 1..=rotations.min(MAX_ANCESTRY) {
            secret = self.successor_secret(&presented.session, &secret);
            let hash = hex::encode(crypto::sha256(&secret));
            if crypto::constant_time_eq(hash.as_bytes(), current_hash.as_bytes()) {
                return Some(distance);
            }
        }
        None
    }

    fn sign<C: Serialize>(&self, claims: &C) -> Result<String, Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(Error::internal)
    }

    fn verify<C: DeserializeOwned + Expiring>(
        &self,
        token: &str,
        audience: &str,
        invalid: fn() -> Error,
        expired: fn() -> Error,
    ) -> Result<C, Error> {
        // HS256 is the only algorithm accepted: `alg: none` and RS/HS confusion fail here.
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[audience]);
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        // Expiry is checked against the injected clock below, with no leeway.
        v.validate_exp = false;
        let claims = jsonwebtoken::decode::<C>(token, &self.decoding, &v)
            .map_err(|_| invalid())?
            .claims;
        if self.clock.now().timestamp() >= claims.exp() {
            return Err(expired());
        }
        Ok(claims)
    }

    /// A signed access token for `user_id` in session `session_id`, and its lifetime in seconds.
    pub fn issue_access(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<(String, u64), Error> {
        let now = self.clock.now();
        let claims = AccessClaims {
            sub: user_id.to_string(),
            aud: self.access_audience.clone(),
            iss: ISSUER.into(),
            iat: now.timestamp(),
            exp: (now + ACCESS_TTL).timestamp(),
            sid: session_id.to_string(),
        };
        Ok((self.sign(&claims)?, ACCESS_TTL.num_seconds() as u64))
    }

    /// Verifies an access token: signature, algorithm, audience, issuer and expiry.
    pub fn verify_access(&self, token: &str) -> Result<Identity, Error> {
        let invalid = || Error::unauthorized("invalid_token", "the access token is not valid");
        let claims: AccessClaims = self.verify(token, &self.access_audience, invalid, || {
            Error::unauthorized("token_expired", "the access token has expired; refresh it")
        })?;
        Ok(Identity {
            user_id: UserId::parse(&claims.sub).map_err(|_| invalid())?,
            session_id: SessionId::parse(&claims.sid).map_err(|_| invalid())?,
        })
    }

    /// A registration token bound to a verified phone number.
    pub fn issue_registration(&self, phone: &PhoneNumber) -> Result<String, Error> {
        let now = self.clock.now();
        self.sign(&RegistrationClaims {
            sub: phone.to_string(),
            aud: self.registration_audience.clone(),
            iss: ISSUER.into(),
            iat: now.timestamp(),
            exp: (now + REGISTRATION_TTL).timestamp(),
        })
    }

    /// The phone number a registration token was issued for.
    pub fn verify_registration(&self, token: &str) -> Result<PhoneNumber, Error> {
        let invalid = || {
            Error::unauthorized(
                "invalid_registration_token",
                "the registration token is not valid; verify the phone number again",
            )
        };
        let claims: RegistrationClaims =
            self.verify(token, &self.registration_audience, invalid, || {
                Error::unauthorized(
                    "registration_token_expired",
                    "the registration token has expired; verify the phone number again",
                )
            })?;
        PhoneNumber::parse_e164(&claims.sub).map_err(|_| invalid())
    }
}

/// A refresh token as presented: `<session id>.<256-bit secret, base64url>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub session: SessionId,
    pub secret: [u8; 32],
    /// Hex SHA-256 of the secret: what the store keeps.
    pub hash: String,
}

fn encode_refresh(session: &SessionId, secret: &[u8; 32]) -> (String, String) {
    let token = format!("{session}.{}", URL_SAFE_NO_PAD.encode(secret));
    (token, hex::encode(crypto::sha256(secret)))
}

/// A fresh refresh token for `session` (a new session's first: random), and the hex SHA-256
/// of its secret (what the store keeps).
pub fn new_refresh_token(session: &SessionId) -> (String, String) {
    encode_refresh(session, &crypto::random_bytes::<32>())
}

/// Parses a refresh token; `None` if it is not one.
pub fn parse_refresh_token(token: &str) -> Option<RefreshToken> {
    let (sid, secret) = token.split_once('.')?;
    let session = SessionId::parse(sid).ok()?;
    let secret: [u8; 32] = URL_SAFE_NO_PAD.decode(secret).ok()?.try_into().ok()?;
    Some(RefreshToken {
        session,
        hash: hex::encode(crypto::sha256(&secret)),
        secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn service() -> (TokenService, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::starting_now());
        (
            TokenService::new(&Config::for_tests(), clock.clone()),
            clock,
        )
    }

    #[test]
    fn access_token_round_trips_until_it_expires() {
        let (svc, clock) = service();
        let (uid, sid) = (UserId::new_random(), SessionId::new_random());
        let (token, ttl) = svc.issue_access(&uid, &sid).unwrap();
        assert_eq!(ttl, 900);
        assert_eq!(
            svc.verify_access(&token).unwrap(),
            Identity {
                user_id: uid,
                session_id: sid
            }
        );
        clock.advance(ACCESS_TTL - TimeDelta::seconds(1));
        assert!(svc.verify_access(&token).is_ok());
        clock.advance(TimeDelta::seconds(1));
        assert_eq!(
            svc.verify_access(&token).unwrap_err().code(),
            "token_expired"
        );
    }

    #[test]
    fn tampered_foreign_and_alg_none_tokens_are_rejected() {
        let (svc, _) = service();
        let (other, _) = service();
        let (token, _) = svc
            .issue_access(&UserId::new_random(), &SessionId::new_random())
            .unwrap();
        let (foreign, _) = other
            .issue_access(&UserId::new_random(), &SessionId::new_random())
            .unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let alg_none = format!("{none_header}.{}.", parts[1]);
        parts[1] = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).unwrap())
                .unwrap()
                .replace("\"exp\":", "\"exp\":9"),
        );
        let tampered = parts.join(".");
        for bad in [
            tampered.as_str(),
            foreign.as_str(),
            alg_none.as_str(),
            "",
            "a.b.c",
        ] {
            assert_eq!(
                svc.verify_access(bad).unwrap_err().code(),
                "invalid_token",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn registration_and_access_tokens_are_not_interchangeable() {
        let (svc, clock) = service();
        let phone = PhoneNumber::parse_e164("+919890999999").unwrap();
        let reg = svc.issue_registration(&phone).unwrap();
        assert_eq!(svc.verify_registration(&reg).unwrap(), phone);
        assert_eq!(svc.verify_access(&reg).unwrap_err().code(), "invalid_token");
        let (access, _) = svc
            .issue_access(&UserId::new_random(), &SessionId::new_random())
            .unwrap();
        assert_eq!(
            svc.verify_registration(&access).unwrap_err().code(),
            "invalid_registration_token"
        );
        clock.advance(REGISTRATION_TTL);
        assert_eq!(
            svc.verify_registration(&reg).unwrap_err().code(),
            "registration_token_expired"
        );
    }

    #[test]
    fn refresh_tokens_parse_back_to_their_hash() {
        let sid = SessionId::new_random();
        let (token, hash) = new_refresh_token(&sid);
        let parsed = parse_refresh_token(&token).unwrap();
        assert_eq!((parsed.session, parsed.hash.as_str()), (sid, hash.as_str()));
        let (token2, hash2) = new_refresh_token(&sid);
        assert_ne!(token, token2);
        assert_ne!(hash, hash2);
        for bad in [
            "",
            "x.y",
            &format!("{sid}"),
            &format!("{sid}.abc"),
            &format!("nope.{}", URL_SAFE_NO_PAD.encode([0u8; 32])),
        ] {
            assert_eq!(parse_refresh_token(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_rotated_token_is_derived_from_the_presented_one_under_the_server_key() {
        let (svc, _) = service();
        let mut config = Config::for_tests();
        config.jwt_secret = crate::config::Secret::new(vec![7u8; 32]).unwrap();
        let other_key = TokenService::new(&config, Arc::new(ManualClock::starting_now()));
        let sid = SessionId::new_random();
        let (first, _) = new_refresh_token(&sid);
        let presented = parse_refresh_token(&first).unwrap();
        let (next, next_hash) = svc.next_refresh_token(&presented);
        assert_eq!(
            svc.next_refresh_token(&presented),
            (next.clone(), next_hash.clone()),
            "the same token again for the same presented token"
        );
        let parsed = parse_refresh_token(&next).expect("a well-formed refresh token");
        assert_eq!((parsed.session, parsed.hash), (sid, next_hash));
        assert_ne!(next, first);
        assert_ne!(
            other_key.next_refresh_token(&presented).0,
            next,
            "another server key derives another token"
        );
        let (second, _) = new_refresh_token(&sid);
        assert_ne!(
            svc.next_refresh_token(&parse_refresh_token(&second).unwrap())
                .0,
            next,
            "another presented token derives another token"
        );
    }
}
