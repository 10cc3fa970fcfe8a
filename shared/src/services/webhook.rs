//! The webhook's signature: `X-Whatspe-Signature: t=<epoch seconds>,v1=<hex HMAC-SHA256(key,
//! t + "." + raw body)>`, Stripe's scheme: the timestamp is signed with the body, so a captured
//! request cannot be replayed with a fresh timestamp, and one older than the tolerance is
//! refused whatever happened to its dedup record.

use crate::{Error, crypto};
use chrono::{DateTime, Utc};

/// How far a webhook's timestamp may be from the server clock.
pub const TOLERANCE_SECS: i64 = 300;

/// The signature of `body` at `t` under `key`: the header value an integration sends.
pub fn sign(key: &[u8], t: i64, body: &[u8]) -> String {
    format!(
        "t={t},v1={}",
        hex::encode(crypto::hmac_sha256(key, &signed_payload(t, body)))
    )
}

fn signed_payload(t: i64, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{t}.").into_bytes();
    payload.extend_from_slice(body);
    payload
}

fn bad_signature(message: &str) -> Error {
    Error::unauthorized("invalid_signature", message.to_owned())
}

fn stale() -> Error {
    Error::unauthorized(
        "stale_timestamp",
        "the signature's timestamp is more than 5 minutes from the server clock",
    )
}

/// Checks `header` (`X-Whatspe-Signature`) against `body` at `now`. Several `v1=` entries are
/// allowed (a key being rotated: any one matching is enough). With `legacy` (the migration
/// switch `WHATSPE_WEBHOOK_LEGACY_SIGNATURES`), the first version's `sha256=<hex HMAC(key,
/// body)>` with an unsigned `X-Whatspe-Timestamp` (`legacy_timestamp`) is still accepted.
pub fn verify(
    key: &[u8],
    legacy: bool,
    now: DateTime<Utc>,
    body: &[u8],
    header: Option<&str>,
    legacy_timestamp: Option<&str>,
) -> Result<(), Error> {
    let header = header
        .map(str::trim)
        .ok_or_else(|| bad_signature("X-Whatspe-Signature is required: t=<epoch s>,v1=<hex>"))?;
    if let Some(hex_tag) = header.strip_prefix("sha256=") {
        if !legacy {
            return Err(bad_signature(
                "body-only signatures (sha256=) are retired: sign t=<epoch s>,v1=<hex HMAC of \
                 t.body>",
            ));
        }
        let tag = hex::decode(hex_tag).map_err(|_| bad_signature("the signature is not hex"))?;
        if !crypto::hmac_sha256_verify(key, body, &tag) {
            return Err(bad_signature("X-Whatspe-Signature does not match the body"));
        }
        let t = epoch(legacy_timestamp)?;
        return fresh(t, now);
    }
    let mut t = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) if t.is_none() => t = Some(v),
            Some(("v1", v)) => tags.push(v),
            _ => {}
        }
    }
    if tags.is_empty() {
        return Err(bad_signature(
            "X-Whatspe-Signature must be t=<epoch s>,v1=<hex HMAC-SHA256 of t.body>",
        ));
    }
    let t = epoch(t)?;
    let payload = signed_payload(t, body);
    let matched = tags.iter().any(|tag| {
        hex::decode(tag).is_ok_and(|tag| crypto::hmac_sha256_verify(key, &payload, &tag))
    });
    if !matched {
        return Err(bad_signature(
            "X-Whatspe-Signature does not match the timestamp and the body",
        ));
    }
    fresh(t, now)
}

fn epoch(raw: Option<&str>) -> Result<i64, Error> {
    raw.and_then(|t| t.trim().parse().ok()).ok_or_else(|| {
        Error::unauthorized(
            "invalid_timestamp",
            "the signature's timestamp (t=) must be epoch seconds",
        )
    })
}

fn fresh(t: i64, now: DateTime<Utc>) -> Result<(), Error> {
    if (now.timestamp() - t).abs() > TOLERANCE_SECS {
        return Err(stale());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"webhook-key-0123456789abcdef0123456789";

    fn check(
        legacy: bool,
        body: &[u8],
        header: Option<&str>,
        ts: Option<&str>,
    ) -> Result<(), &'static str> {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        verify(KEY, legacy, now, body, header, ts).map_err(|e| e.code())
    }

    #[test]
    fn a_signature_covers_the_timestamp_and_the_body() {
        let now = 1_800_000_000;
        let body = br#"{"id":"ext-1"}"#;
        let good = sign(KEY, now, body);
        assert_eq!(check(false, body, Some(&good), None), Ok(()));
        let tag = good.split_once(",v1=").unwrap().1;
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "a fresh timestamp on a captured signature",
                format!("t={},v1={tag}", now + 60),
                "invalid_signature",
            ),
            ("another body", sign(KEY, now, b"{}"), "invalid_signature"),
            (
                "another key",
                sign(b"another-key-0123456789abcdef01234567", now, body),
                "invalid_signature",
            ),
            ("no v1", format!("t={now}"), "invalid_signature"),
            ("v1 not hex", format!("t={now},v1=zz"), "invalid_signature"),
            ("no t", format!("v1={tag}"), "invalid_timestamp"),
            (
                "t not a number",
                format!("t=soon,v1={tag}"),
                "invalid_timestamp",
            ),
            (
                "6 minutes old",
                sign(KEY, now - 360, body),
                "stale_timestamp",
            ),
            (
                "6 minutes ahead",
                sign(KEY, now + 360, body),
                "stale_timestamp",
            ),
            (
                "the retired body-only form",
                format!("sha256={}", hex::encode(crypto::hmac_sha256(KEY, body))),
                "invalid_signature",
            ),
        ];
        for (case, header, code) in cases {
            assert_eq!(check(false, body, Some(&header), None), Err(code), "{case}");
        }
        assert_eq!(
            check(false, body, None, None),
            Err("invalid_signature"),
            "no header"
        );
        let rotating = format!("t={now},v1={},v1={tag}", "ab".repeat(32));
        assert_eq!(
            check(false, body, Some(&rotating), None),
            Ok(()),
            "any v1 may match"
        );
        assert_eq!(
            check(false, body, Some(&format!(" t={now} , v1={tag} ")), None),
            Ok(()),
            "spaces around the parts"
        );
    }

    #[test]
    fn the_body_only_form_works_only_behind_the_migration_switch() {
        let body = br#"{"id":"ext-1"}"#;
        let old = format!("sha256={}", hex::encode(crypto::hmac_sha256(KEY, body)));
        let now = "1800000000";
        assert_eq!(check(true, body, Some(&old), Some(now)), Ok(()));
        assert_eq!(
            check(true, body, Some(&old), None),
            Err("invalid_timestamp")
        );
        assert_eq!(
            check(true, body, Some(&old), Some("1799999000")),
            Err("stale_timestamp")
        );
        assert_eq!(
            check(true, b"{}", Some(&old), Some(now)),
            Err("invalid_signature")
        );
        assert_eq!(
            check(false, body, Some(&old), Some(now)),
            Err("invalid_signature")
        );
        assert_eq!(
            check(true, body, Some(&sign(KEY, 1_800_000_000, body)), None),
            Ok(()),
            "the new form works with the switch on too"
        );
    }
}
