//! Message actions (DESIGN §10): replies' quotes, reactions, edits, deletes for everyone and
//! forwards, as stored on the message and shown in the API.

use super::{Message, MessageId, MessageKind, UserId};
use crate::Error;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use unicode_segmentation::UnicodeSegmentation;

/// How long after sending its sender may edit a text message (WhatsApp's 15 minutes).
pub const EDIT_WINDOW: Duration = Duration::minutes(15);
/// How long after sending its sender may delete a message for everyone (WhatsApp: ~2 days).
pub const DELETE_WINDOW: Duration = Duration::hours(48);
/// Characters of the quoted text a reply carries.
pub const QUOTE_CHARS: usize = 100;
/// Most chats one forward reaches (WhatsApp's limit).
pub const FORWARD_MAX: usize = 5;

/// What a reply shows of the message it answers: its id, sender, type and the first
/// [`QUOTE_CHARS`] characters of its text (a media message's caption, if any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    pub id: MessageId,
    pub sender_id: UserId,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Quote {
    pub fn of(m: &Message) -> Self {
        let text = match (&m.kind, &m.media) {
            (MessageKind::Text, _) => Some(m.content.as_str()),
            (_, Some(media)) => media.caption.as_deref(),
            _ => None,
        };
        Self {
            id: m.id,
            sender_id: m.sender_id,
            kind: m.kind,
            text: text.map(|t| t.chars().take(QUOTE_CHARS).collect()),
        }
    }
}

/// One member's reaction to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reaction {
    pub emoji: Emoji,
    pub at: DateTime<Utc>,
}

/// One emoji: a single grapheme cluster (so a flag, a skin tone, a ZWJ family or a keycap
/// count as one) that is an emoji, at most 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Emoji(String);

impl Emoji {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let invalid = || {
            Error::validation(
                "invalid_emoji",
                "emoji must be exactly one emoji (one grapheme)",
            )
        };
        if s.is_empty() || s.len() > 64 || s.graphemes(true).count() != 1 {
            return Err(invalid());
        }
        let mut chars = s.chars();
        let first = chars.next().ok_or_else(invalid)?;
        let keycap = matches!(first, '0'..='9' | '#' | '*') && s.ends_with('\u{20E3}');
        if !(is_emoji_start(first) || keycap) {
            return Err(invalid());
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Emoji {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<Emoji> for String {
    fn from(e: Emoji) -> String {
        e.0
    }
}

/// Whether `c` starts an emoji: the pictographic blocks, regional indicators (flags) and the
/// older symbols Unicode gives an emoji presentation.
fn is_emoji_start(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF   // pictographs, emoticons, transport, flags' regional indicators, …
        | 0x2600..=0x27BF   // miscellaneous symbols, dingbats (☀ ❤ ✅ …)
        | 0x2300..=0x23FF   // technical (⌚ ⏰ …)
        | 0x2B00..=0x2BFF   // arrows and shapes (⭐ ⬆ …)
        | 0x2190..=0x21FF   // arrows (↔ ↩ …)
        | 0x25A0..=0x25FF   // geometric shapes (▶ ◀ …)
        | 0x2900..=0x297F   // supplemental arrows (⤴ ⤵)
        | 0x3030 | 0x303D | 0x3297 | 0x3299
        | 0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x24C2
        | 0xE0062..=0xE007F // tag characters (subdivision flags, after 🏴)
    )
}

/// What the last action on a message was: the relay turns it into the frame every member's
/// devices get (`RCT`, `EDIT`, `DEL`). Stored on the message by the action's own write, so the
/// table's stream hands it over with the changed message: committed means delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Act {
    pub kind: ActKind,
    pub by: UserId,
    pub at: DateTime<Utc>,
    /// The reaction set (`react`); none for a removed reaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<Emoji>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActKind {
    React,
    Unreact,
    Edit,
    Delete,
}

/// One emoji's reactions on a message, as history shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReactionSummary {
    pub emoji: String,
    pub count: usize,
    /// Who reacted with it, earliest first.
    pub user_ids: Vec<UserId>,
}

/// A message's reactions grouped by emoji, most used first (ties: the earliest first).
pub fn summarise(reactions: &BTreeMap<UserId, Reaction>) -> Vec<ReactionSummary> {
    let mut by_emoji: BTreeMap<&str, Vec<(&DateTime<Utc>, UserId)>> = BTreeMap::new();
    for (user, r) in reactions {
        by_emoji
            .entry(r.emoji.as_str())
            .or_default()
            .push((&r.at, *user));
    }
    let mut out: Vec<(DateTime<Utc>, ReactionSummary)> = by_emoji
        .into_iter()
        .map(|(emoji, mut who)| {
            who.sort();
            (
                *who[0].0,
                ReactionSummary {
                    emoji: emoji.to_owned(),
                    count: who.len(),
                    user_ids: who.into_iter().map(|(_, u)| u).collect(),
                },
            )
        })
        .collect();
    out.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    out.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_emoji_is_one_grapheme_that_is_an_emoji() {
        for ok in [
            "👍",
            "❤️",
            "😂",
            "👍🏽",
            "🇮🇳",
            "👨‍👩‍👧",
            "1️⃣",
            "⭐",
            "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
        ] {
            assert!(Emoji::parse(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "", "a", "ab", "👍👍", "👍 ", " ", "1", "\u{200D}", "ok👍", "é",
        ] {
            assert_eq!(
                Emoji::parse(bad).unwrap_err().code(),
                "invalid_emoji",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn summaries_group_by_emoji_most_used_first() {
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        let (a, b, c) = (
            UserId::new_random(),
            UserId::new_random(),
            UserId::new_random(),
        );
        let r = |e: &str, at| Reaction {
            emoji: Emoji::parse(e).unwrap(),
            at: t(at),
        };
        let all = BTreeMap::from([(a, r("😂", 1)), (b, r("👍", 3)), (c, r("👍", 2))]);
        let s = summarise(&all);
        assert_eq!(
            s,
            vec![
                ReactionSummary {
                    emoji: "👍".into(),
                    count: 2,
                    user_ids: vec![c, b]
                },
                ReactionSummary {
                    emoji: "😂".into(),
                    count: 1,
                    user_ids: vec![a]
                },
            ]
        );
    }
}
