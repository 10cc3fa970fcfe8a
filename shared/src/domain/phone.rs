use crate::Error;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A country calling code (1–3 digits, no leading zero), used to complete national numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().trim_start_matches('+');
        let ok = (1..=3).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_digit())
            && !s.starts_with('0');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a country calling code (1-3 digits, e.g. 91 or 1)"
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form (`+` then 8–15 digits, no leading zero).
///
/// Accepted inputs: E.164 (`+919890999999`), the `00` international prefix, and the seed's
/// bare national forms (`9890999999`, or `09890999999` with a trunk zero), which get the
/// configured default country code. Spaces, dashes, dots and parentheses are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

const INVALID: &str = "invalid_phone_number";

impl PhoneNumber {
    /// Parses user input, completing national numbers with `default_cc`.
    pub fn parse(input: &str, default_cc: &CountryCode) -> Result<Self, Error> {
        let invalid = || {
            Error::validation(
                INVALID,
                "phoneNumber must be an E.164 number such as +919890999999, or a 10-digit national number",
            )
        };
        if input.len() > 32 {
            return Err(invalid());
        }
        let mut compact = String::with_capacity(input.len());
        for (i, c) in input.trim().chars().enumerate() {
            match c {
                '0'..='9' => compact.push(c),
                '+' if i == 0 => compact.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(invalid()),
            }
        }
        let international = if let Some(rest) = compact.strip_prefix('+') {
            rest.to_owned()
        } else if let Some(rest) = compact.strip_prefix("00") {
            rest.to_owned()
        } else if compact.len() == 11 && compact.starts_with('0') {
            format!("{}{}", default_cc.as_str(), &compact[1..])
        } else if compact.len() == 10 {
            format!("{}{}", default_cc.as_str(), compact)
        } else {
            return Err(invalid());
        };
        Self::from_digits(&international).ok_or_else(invalid)
    }

    /// Parses strict E.164 (`+` and digits): the stored form.
    pub fn parse_e164(s: &str) -> Result<Self, Error> {
        s.strip_prefix('+')
            .and_then(Self::from_digits)
            .ok_or_else(|| Error::validation(INVALID, "phone number must be in E.164 form"))
    }

    fn from_digits(d: &str) -> Option<Self> {
        let ok = (8..=15).contains(&d.len())
            && d.bytes().all(|b| b.is_ascii_digit())
            && !d.starts_with('0');
        ok.then(|| Self(format!("+{d}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The country calling code the number starts with (`+919890999999` → `91`, `+1…` → `1`,
    /// `+971…` → `971`), by ITU-T E.164's assignment: zones 1 and 7 are one digit, the listed
    /// two-digit codes are two, every other code is three digits.
    pub fn calling_code(&self) -> &str {
        const TWO_DIGIT: &[&str] = &[
            "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
            "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61",
            "62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94",
            "95", "98",
        ];
        let digits = &self.0[1..];
        let len = if digits.starts_with('1') || digits.starts_with('7') {
            1
        } else if TWO_DIGIT.contains(&&digits[..2]) {
            2
        } else {
            3
        };
        &digits[..len]
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse_e164(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn india() -> CountryCode {
        CountryCode::parse("91").unwrap()
    }

    #[test]
    fn calling_codes_follow_the_e164_zones() {
        for (number, code) in [
            ("+919890999999", "91"),
            ("+14155550100", "1"),
            ("+74951234567", "7"),
            ("+447700900123", "44"),
            ("+97150123456", "971"),
            ("+2348012345678", "234"),
            ("+8613800138000", "86"),
            ("+35312345678", "353"),
            ("+88212345678", "882"),
        ] {
            let phone = PhoneNumber::parse_e164(number).unwrap();
            assert_eq!(phone.calling_code(), code, "{number}");
        }
    }

    #[test]
    fn accepted_forms_normalise_to_e164() {
        let cases = [
            ("9890999999", "+919890999999"),
            ("09890999999", "+919890999999"),
            ("+919890999999", "+919890999999"),
            ("00919890999999", "+919890999999"),
            ("+1 (415) 555-2671", "+14155552671"),
            (" +44 20 7946 0958 ", "+442079460958"),
        ];
        for (input, want) in cases {
            let got =
                PhoneNumber::parse(input, &india()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(got.as_str(), want, "input {input:?}");
        }
    }

    #[test]
    fn rejected_forms_say_invalid_phone_number() {
        for input in [
            "",
            "12345",
            "+0123456789",
            "+1234567",
            "+1234567890123456",
            "98909x9999",
            "989099999",
            "++919890999999",
            "91+9890999999",
            &"9".repeat(40),
        ] {
            let err = PhoneNumber::parse(input, &india()).expect_err(input);
            assert_eq!(err.code(), "invalid_phone_number", "input {input:?}");
        }
    }

    #[test]
    fn stored_form_round_trips_through_serde() {
        let p = PhoneNumber::parse("9890999999", &india()).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"+919890999999\"");
        assert_eq!(serde_json::from_str::<PhoneNumber>(&json).unwrap(), p);
        assert!(serde_json::from_str::<PhoneNumber>("\"9890999999\"").is_err());
    }

    #[test]
    fn country_code_rejects_non_codes() {
        assert!(CountryCode::parse("+91").is_ok());
        for bad in ["", "0", "1234", "9a"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad:?}");
        }
    }
}
