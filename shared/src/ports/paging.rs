//! Pages and opaque cursors, shared by every listing port so that the memory and DynamoDB
//! implementations page the same way.

use crate::StoreError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Serialize, de::DeserializeOwned};

/// What a caller asks of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items (1..=100, checked by the caller).
    pub limit: usize,
    /// Where the previous page ended, as handed out in [`Page::next`].
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn first(limit: usize) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }
}

/// One page of a listing; `next` is the cursor of the following page, if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

impl<T> Page<T> {
    /// A page from items read with one extra (`limit + 1`, in listing order): at most `limit`
    /// items, and a cursor made from the last item's key only when the extra item proved that
    /// more follow. Both the memory and the DynamoDB implementations page through this.
    pub fn from_overfetch<K, C: Serialize>(
        mut items: Vec<(K, T)>,
        limit: usize,
        cursor: impl Fn(&K) -> C,
    ) -> Self {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|(k, _)| encode_cursor(&cursor(k)))
        } else {
            None
        };
        Page {
            items: items.into_iter().map(|(_, t)| t).collect(),
            next,
        }
    }
}

/// Encodes a position as an opaque cursor (base64url of JSON).
pub fn encode_cursor<P: Serialize>(position: &P) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default())
}

/// Decodes a cursor made by [`encode_cursor`]; anything else is `StoreError::BadCursor`.
pub fn decode_cursor<P: DeserializeOwned>(cursor: &str) -> Result<P, StoreError> {
    if cursor.len() > 512 {
        return Err(StoreError::BadCursor);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)
}
