use std::fmt;

use time::OffsetDateTime;

use super::{ValidationError, reject_nul};
use crate::domain::UserId;

/// A note's id. Ids are positive and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoteId(i64);

impl NoteId {
    pub fn new(id: i64) -> Self {
        Self(id)
    }

    /// Parses an id from a URL segment; anything that is not a positive
    /// integer cannot name a note.
    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse::<i64>().ok().filter(|id| *id > 0).map(Self)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for NoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A title: 1..=160 characters (not bytes) after trimming surrounding
/// whitespace, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteTitle(String);

impl NoteTitle {
    pub const MAX_CHARS: usize = 160;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let title = raw.trim();
        if title.is_empty() {
            return Err(ValidationError::new("title", "must not be empty"));
        }
        let chars = title.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "title",
                format!("must be at most {} characters, got {chars}", Self::MAX_CHARS),
            ));
        }
        reject_nul("title", title)?;
        if title.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "title",
                "must not contain control characters (such as line breaks)",
            ));
        }
        Ok(Self(title.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A note's text: stored exactly as sent, may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoteBody(String);

impl NoteBody {
    pub const MAX_CHARS: usize = 100_000;

    pub fn parse(raw: String) -> Result<Self, ValidationError> {
        // Counting characters is only needed when the bytes could exceed the limit.
        if raw.len() > Self::MAX_CHARS {
            let chars = raw.chars().count();
            if chars > Self::MAX_CHARS {
                return Err(ValidationError::new(
                    "body",
                    format!("must be at most {} characters, got {chars}", Self::MAX_CHARS),
                ));
            }
        }
        reject_nul("body", &raw)?;
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[derive(Debug, Clone)]
pub struct NewNote {
    pub title: NoteTitle,
    pub body: NoteBody,
}

/// A partial update; at least one field is set.
#[derive(Debug, Clone)]
pub struct NotePatch {
    title: Option<NoteTitle>,
    body: Option<NoteBody>,
}

impl NotePatch {
    pub fn new(title: Option<NoteTitle>, body: Option<NoteBody>) -> Result<Self, ValidationError> {
        if title.is_none() && body.is_none() {
            return Err(ValidationError::new("request", "give at least one of `title` and `body` to change"));
        }
        Ok(Self { title, body })
    }

    pub fn title(&self) -> Option<&NoteTitle> {
        self.title.as_ref()
    }

    pub fn body(&self) -> Option<&NoteBody> {
        self.body.as_ref()
    }
}

impl From<NewNote> for NotePatch {
    fn from(note: NewNote) -> Self {
        Self { title: Some(note.title), body: Some(note.body) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: NoteId,
    pub owner: UserId,
    pub title: String,
    pub body: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_of_160_multibyte_characters_is_valid() {
        let title = "가".repeat(160);
        assert_eq!(title.len(), 480);
        assert_eq!(NoteTitle::parse(&title).unwrap().as_str(), title);
    }

    #[test]
    fn a_title_of_161_characters_is_refused() {
        let error = NoteTitle::parse(&"a".repeat(161)).unwrap_err();
        assert_eq!(error.field, "title");
        assert!(error.message.contains("160"), "{error}");
    }

    #[test]
    fn titles_are_trimmed_and_must_not_be_blank() {
        assert_eq!(NoteTitle::parse("  hi \t").unwrap().as_str(), "hi");
        assert!(NoteTitle::parse("   ").is_err());
        assert!(NoteTitle::parse("").is_err());
    }

    #[test]
    fn titles_refuse_control_characters_and_nul() {
        assert!(NoteTitle::parse("a\nb").is_err());
        assert!(NoteTitle::parse("a\0b").is_err());
    }

    #[test]
    fn bodies_keep_their_text_verbatim_and_refuse_nul() {
        let text = "  <script>alert(1)</script>'; DROP TABLE notes; --\n";
        assert_eq!(NoteBody::parse(text.into()).unwrap().as_str(), text);
        assert!(NoteBody::parse("a\0".into()).is_err());
        assert!(NoteBody::parse("é".repeat(NoteBody::MAX_CHARS)).is_ok());
        assert!(NoteBody::parse("x".repeat(NoteBody::MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn note_ids_are_positive_integers() {
        assert_eq!(NoteId::parse("42"), Some(NoteId::new(42)));
        for bad in ["0", "-1", "abc", "1.5", "", "99999999999999999999"] {
            assert_eq!(NoteId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_empty_patch_is_refused() {
        assert!(NotePatch::new(None, None).is_err());
    }
}
