//! Paging and search parameters of `GET /api/notes`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::{NoteId, ValidationError};

/// Where a page starts. Opaque to clients: base64url of a versioned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The plain listing continues below this id (newest first).
    Before(NoteId),
    /// A search continues at this position among its ranked results. The
    /// fingerprint ties the cursor to the query that made it.
    Offset { offset: u32, fingerprint: u64 },
}

impl Cursor {
    pub fn encode(&self) -> String {
        let plain = match self {
            Self::Before(id) => format!("v1:b:{id}"),
            Self::Offset { offset, fingerprint } => format!("v1:o:{offset}:{fingerprint:016x}"),
        };
        URL_SAFE_NO_PAD.encode(plain)
    }

    pub fn decode(raw: &str) -> Result<Self, ValidationError> {
        let garbage = || ValidationError::new("cursor", "is not a cursor this server issued");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| garbage())?;
        let plain = String::from_utf8(bytes).map_err(|_| garbage())?;
        let parts: Vec<&str> = plain.split(':').collect();
        match parts.as_slice() {
            ["v1", "b", id] => NoteId::parse(id).map(Self::Before).ok_or_else(garbage),
            ["v1", "o", offset, fingerprint] => Ok(Self::Offset {
                offset: offset.parse().map_err(|_| garbage())?,
                fingerprint: u64::from_str_radix(fingerprint, 16).map_err(|_| garbage())?,
            }),
            _ => Err(garbage()),
        }
    }
}

/// A full-text search: up to 8 whitespace-separated terms, every one of
/// which must match (as a word in any of its English forms, or as any part
/// of the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<String>,
}

impl SearchQuery {
    pub const MAX_CHARS: usize = 200;
    pub const MAX_TERMS: usize = 8;

    /// `None` for a blank query: no search, the plain listing.
    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        let raw = raw.trim();
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new("q", format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        if raw.contains('\0') {
            return Err(ValidationError::new("q", "must not contain NUL characters"));
        }
        let mut terms: Vec<String> = Vec::new();
        for term in raw.split_whitespace().map(str::to_lowercase) {
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        if terms.len() > Self::MAX_TERMS {
            return Err(ValidationError::new("q", format!("must have at most {} words", Self::MAX_TERMS)));
        }
        Ok((!terms.is_empty()).then_some(Self { terms }))
    }

    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// Identifies the query inside a cursor.
    pub fn fingerprint(&self) -> u64 {
        let digest = Sha256::digest(self.terms.join(" ").as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }

    /// The terms for the word index, or `None` when some term is not a
    /// plain word (letters and digits only): `50%`, `c++` or `e-mail` are
    /// meant literally, and the word index would drop their punctuation.
    pub fn word_terms(&self) -> Option<&[String]> {
        self.terms.iter().all(|t| t.chars().all(char::is_alphanumeric)).then_some(self.terms.as_slice())
    }

    /// Terms split by length: the trigram index can only find terms of three
    /// or more characters; shorter ones are matched with `LIKE`.
    pub fn substring_terms(&self) -> SearchTerms<'_> {
        let (long, short) = self.terms.iter().map(String::as_str).partition(|t| t.chars().count() >= 3);
        SearchTerms { long, short }
    }
}

pub struct SearchTerms<'a> {
    pub long: Vec<&'a str>,
    pub short: Vec<&'a str>,
}

/// The validated query string of `GET /api/notes`.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub limit: u32,
    pub search: Option<SearchQuery>,
    /// For a listing: start below this id. For a search: skip this many.
    pub start: Start,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Newest,
    Before(NoteId),
    Offset(u32),
}

impl ListQuery {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 200;

    pub fn parse(limit: Option<&str>, cursor: Option<&str>, q: Option<&str>) -> Result<Self, ListQueryError> {
        let limit = match limit {
            None => Self::DEFAULT_LIMIT,
            // Digits only: no sign, no leading zero, nothing `u32::from_str`
            // would forgive.
            Some(raw) => match raw.parse::<u32>() {
                Ok(n @ 1..=Self::MAX_LIMIT)
                    if raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0') =>
                {
                    n
                }
                _ => {
                    return Err(ListQueryError::Invalid(ValidationError::new(
                        "limit",
                        format!("must be an integer from 1 to {}, got `{raw}`", Self::MAX_LIMIT),
                    )));
                }
            },
        };
        let search = match q {
            Some(raw) => SearchQuery::parse(raw).map_err(ListQueryError::Invalid)?,
            None => None,
        };
        let cursor = cursor.filter(|c| !c.is_empty()).map(Cursor::decode).transpose();
        let start = match (cursor.map_err(ListQueryError::Cursor)?, &search) {
            (None, None) => Start::Newest,
            (None, Some(_)) => Start::Offset(0),
            (Some(Cursor::Before(id)), None) => Start::Before(id),
            (Some(Cursor::Offset { offset, fingerprint }), Some(search))
                if fingerprint == search.fingerprint() =>
            {
                Start::Offset(offset)
            }
            (Some(_), _) => {
                return Err(ListQueryError::Cursor(ValidationError::new(
                    "cursor",
                    "belongs to a different query; start again without it",
                )));
            }
        };
        Ok(Self { limit, search, start })
    }

    /// The cursor for the page after one that ended with `last` and had
    /// `more` results after it.
    pub fn next_cursor(&self, last: Option<NoteId>, more: bool) -> Option<Cursor> {
        if !more {
            return None;
        }
        match (&self.search, self.start) {
            (Some(search), Start::Offset(offset)) => Some(Cursor::Offset {
                offset: offset.saturating_add(self.limit),
                fingerprint: search.fingerprint(),
            }),
            _ => last.map(Cursor::Before),
        }
    }
}

/// Why a list query was refused: a value out of its range, or a cursor
/// that cannot continue this query (malformed, not the server's, or made
/// for another query).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListQueryError {
    #[error(transparent)]
    Invalid(ValidationError),
    #[error(transparent)]
    Cursor(ValidationError),
}

impl ListQueryError {
    pub fn field(&self) -> &'static str {
        match self {
            Self::Invalid(e) | Self::Cursor(e) => e.field,
        }
    }
}

/// One page of results and, when more exist, where the next one starts.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        for cursor in [Cursor::Before(NoteId::new(7)), Cursor::Offset { offset: 50, fingerprint: 0xabc }] {
            assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        }
        for bad in [
            "",
            "!!!",
            "djE6Yjow",
            "abc",
            &URL_SAFE_NO_PAD.encode("v2:b:1"),
            &URL_SAFE_NO_PAD.encode("v1:b:-5"),
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_outside_1_to_200_are_refused() {
        assert_eq!(ListQuery::parse(None, None, None).unwrap().limit, 50);
        assert_eq!(ListQuery::parse(Some("200"), None, None).unwrap().limit, 200);
        for bad in ["0", "201", "-1", "ten", "", "+5", "007", " 5"] {
            assert_eq!(ListQuery::parse(Some(bad), None, None).unwrap_err().field(), "limit", "{bad}");
        }
    }

    #[test]
    fn a_search_cursor_only_continues_its_own_query() {
        let first = ListQuery::parse(None, None, Some("deploy")).unwrap();
        let next = first.next_cursor(Some(NoteId::new(3)), true).unwrap().encode();
        assert_eq!(ListQuery::parse(None, Some(&next), Some("deploy")).unwrap().start, Start::Offset(50));
        assert!(ListQuery::parse(None, Some(&next), Some("other")).is_err());
        assert!(ListQuery::parse(None, Some(&next), None).is_err());
    }

    #[test]
    fn queries_split_into_terms() {
        let query = SearchQuery::parse("  Deploy  배포 deploy ").unwrap().unwrap();
        assert_eq!(query.terms(), ["deploy", "배포"]);
        let split = query.substring_terms();
        assert_eq!((split.long, split.short), (vec!["deploy"], vec!["배포"]));
        assert!(query.word_terms().is_some());
        assert!(SearchQuery::parse("c++ !!").unwrap().unwrap().word_terms().is_none());
        assert!(SearchQuery::parse("deploy 50%").unwrap().unwrap().word_terms().is_none());
        assert_eq!(SearchQuery::parse("   ").unwrap(), None);
        let nine: Vec<String> = (0..9).map(|i| format!("t{i}")).collect();
        assert!(SearchQuery::parse(&nine.join(" ")).is_err());
        assert!(SearchQuery::parse(&"a".repeat(201)).is_err());
    }
}
