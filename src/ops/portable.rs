//! The portable format: users (with their password hashes), API tokens
//! (hashes only) and notes, as JSON Lines, readable by any installation on
//! either backend. README.md ("The export format") documents it.
//!
//! ```text
//! {"format":"notes-appliance-export","version":1,"created_at":"...","source":"sqlite","app_version":"0.1.0"}
//! {"type":"user","id":1,"username":"alice","password_hash":"$argon2id$...","is_admin":true,"disabled":false,"created_at":"..."}
//! {"type":"token","id":1,"user_id":1,"name":"cli","token_hash":"<sha256 hex>","created_at":"...","last_used_at":null}
//! {"type":"note","id":1,"owner_id":1,"title":"...","body":"...","created_at":"...","updated_at":"..."}
//! {"type":"end","users":1,"tokens":1,"notes":1,"sha256":"<hex of every byte before this line>"}
//! ```
//!
//! Users come first, then tokens, then notes, each by id, so that a record
//! only refers to records above it. The last line counts the records and
//! checksums the file: a file cut short or changed in any byte is refused
//! by [`verify`] before anything is written.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::domain::{NoteBody, NoteTitle, TokenName, Username};

/// The first line's `format`: what tells an export from other JSON.
pub const FORMAT: &str = "notes-appliance-export";
/// The newest version this build writes and reads.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Header {
    pub format: String,
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The backend it was exported from: `sqlite` or `postgres`.
    pub source: String,
    /// The version of notes-appliance that wrote it.
    pub app_version: String,
}

impl Header {
    pub fn new(source: &str) -> Self {
        Self {
            format: FORMAT.to_owned(),
            version: VERSION,
            created_at: crate::store::now(),
            source: source.to_owned(),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub token_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NoteRecord {
    pub id: i64,
    pub owner_id: i64,
    pub title: String,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    User(UserRecord),
    Token(TokenRecord),
    Note(NoteRecord),
}

impl Record {
    /// Records of a kind must all come before those of a later kind.
    fn rank(&self) -> u8 {
        match self {
            Self::User(_) => 0,
            Self::Token(_) => 1,
            Self::Note(_) => 2,
        }
    }
}

/// How many records of each kind.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    pub users: u64,
    pub tokens: u64,
    pub notes: u64,
}

impl Counts {
    pub fn add(&mut self, record: &Record) {
        match record {
            Record::User(_) => self.users += 1,
            Record::Token(_) => self.tokens += 1,
            Record::Note(_) => self.notes += 1,
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} users, {} tokens, {} notes", self.users, self.tokens, self.notes)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Trailer {
    End {
        #[serde(flatten)]
        counts: Counts,
        sha256: String,
    },
}

/// Writes an export: the header, then records, then [`Writer::finish`].
pub struct Writer<W: Write> {
    out: W,
    hash: Sha256,
    counts: Counts,
    line: Vec<u8>,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, header: &Header) -> io::Result<Self> {
        let mut writer = Self { out, hash: Sha256::new(), counts: Counts::default(), line: Vec::new() };
        writer.line(header)?;
        Ok(writer)
    }

    fn line(&mut self, value: &impl Serialize) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value)?;
        self.line.push(b'\n');
        self.hash.update(&self.line);
        self.out.write_all(&self.line)
    }

    pub fn record(&mut self, record: &Record) -> io::Result<()> {
        self.counts.add(record);
        self.line(record)
    }

    /// Writes the last line and flushes; returns the counts.
    pub fn finish(mut self) -> io::Result<(Counts, W)> {
        let sha256 = hex(&std::mem::take(&mut self.hash).finalize());
        let counts = self.counts;
        self.line(&Trailer::End { counts, sha256 })?;
        self.out.flush()?;
        Ok((counts, self.out))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a file is not a usable export. Each message says where.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("cannot read it: {0}")]
    Io(#[from] io::Error),
    #[error("it is empty")]
    Empty,
    #[error("it is not a notes-appliance export (its first line is not an export header)")]
    Foreign,
    #[error("it is export format version {found}; this version of notes-appliance reads up to {VERSION}")]
    Newer { found: u32 },
    #[error("line {line}: {message}")]
    Line { line: u64, message: String },
    #[error(
        "it ends after line {lines} without the closing `end` line: the file is truncated (copied or written only in part)"
    )]
    Truncated { lines: u64 },
    #[error("its checksum does not match: the file was changed or damaged after it was written")]
    Checksum,
    #[error("its `end` line counts {expected}, but the file holds {found}")]
    Counts { expected: Counts, found: Counts },
}

/// Reads an export line by line, checking as it goes (see [`verify`]).
pub struct Reader<R: BufRead> {
    input: R,
    hash: Sha256,
    line_number: u64,
    buffer: Vec<u8>,
    counts: Counts,
    rank: u8,
    users: HashSet<i64>,
    tokens: HashSet<i64>,
    notes: HashSet<i64>,
    finished: bool,
    pub header: Header,
}

impl Reader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        Self::new(BufReader::with_capacity(256 * 1024, File::open(path)?))
    }
}

impl<R: BufRead> Reader<R> {
    pub fn new(mut input: R) -> Result<Self, FormatError> {
        let mut buffer = Vec::new();
        if input.read_until(b'\n', &mut buffer)? == 0 {
            return Err(FormatError::Empty);
        }
        if buffer.last() != Some(&b'\n') {
            return Err(if buffer.starts_with(b"{\"format\":\"notes-appliance-export\"") {
                FormatError::Truncated { lines: 0 }
            } else {
                FormatError::Foreign
            });
        }
        let mut hash = Sha256::new();
        hash.update(&buffer);
        let header: Header = serde_json::from_slice(&buffer).map_err(|_| FormatError::Foreign)?;
        if header.format != FORMAT {
            return Err(FormatError::Foreign);
        }
        if header.version > VERSION || header.version == 0 {
            return Err(FormatError::Newer { found: header.version });
        }
        Ok(Self {
            input,
            hash,
            line_number: 1,
            buffer,
            counts: Counts::default(),
            rank: 0,
            users: HashSet::new(),
            tokens: HashSet::new(),
            notes: HashSet::new(),
            finished: false,
            header,
        })
    }

    fn error(&self, message: impl Into<String>) -> FormatError {
        FormatError::Line { line: self.line_number, message: message.into() }
    }

    /// The next record; `None` after the `end` line, which has been checked
    /// against everything read.
    pub fn next_record(&mut self) -> Result<Option<Record>, FormatError> {
        if self.finished {
            return Ok(None);
        }
        self.buffer.clear();
        let read = self.input.read_until(b'\n', &mut self.buffer)?;
        if read == 0 || self.buffer.last() != Some(&b'\n') {
            return Err(FormatError::Truncated { lines: self.line_number });
        }
        self.line_number += 1;
        let text = std::str::from_utf8(&self.buffer).map_err(|_| self.error("not valid UTF-8"))?;
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| self.error(format!("not valid JSON: {e}")))?;
        if value.get("type").and_then(serde_json::Value::as_str) == Some("end") {
            let Trailer::End { counts, sha256 } = serde_json::from_value(value)
                .map_err(|e| self.error(format!("a malformed `end` line: {e}")))?;
            let actual = hex(&std::mem::take(&mut self.hash).finalize());
            if sha256 != actual {
                return Err(FormatError::Checksum);
            }
            if counts != self.counts {
                return Err(FormatError::Counts { expected: counts, found: self.counts });
            }
            let mut rest = [0u8; 1];
            if self.input.read(&mut rest)? != 0 {
                return Err(self.error("there is more after the `end` line"));
            }
            self.finished = true;
            return Ok(None);
        }
        self.hash.update(&self.buffer);
        let record: Record =
            serde_json::from_value(value).map_err(|e| self.error(format!("not a valid record: {e}")))?;
        self.check(&record)?;
        self.counts.add(&record);
        Ok(Some(record))
    }

    /// What the database would refuse, or the application could not use,
    /// is refused here, with the line that holds it.
    fn check(&mut self, record: &Record) -> Result<(), FormatError> {
        if record.rank() < self.rank {
            return Err(self.error("out of order: users come first, then tokens, then notes"));
        }
        self.rank = record.rank();
        let fresh = match record {
            Record::User(user) => {
                match Username::parse(&user.username) {
                    Ok(name) if name.as_str() == user.username => {}
                    _ => return Err(self.error(format!("`{}` is not a valid username", user.username))),
                }
                if !user.password_hash.starts_with("$argon2") {
                    return Err(self.error("the password hash is not an argon2 hash"));
                }
                self.users.insert(user.id)
            }
            Record::Token(token) => {
                if !self.users.contains(&token.user_id) {
                    return Err(self.error(format!(
                        "token {} belongs to user {}, who is not in the file",
                        token.id, token.user_id
                    )));
                }
                if TokenName::parse(&token.name).is_err() {
                    return Err(self.error(format!("token {} has an invalid name", token.id)));
                }
                if token.token_hash.len() != 64 || !token.token_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(self.error(format!("token {} has an invalid hash", token.id)));
                }
                self.tokens.insert(token.id)
            }
            Record::Note(note) => {
                if !self.users.contains(&note.owner_id) {
                    return Err(self.error(format!(
                        "note {} belongs to user {}, who is not in the file",
                        note.id, note.owner_id
                    )));
                }
                match NoteTitle::parse(&note.title) {
                    Ok(title) if title.as_str() == note.title => {}
                    Ok(_) => {
                        return Err(self.error(format!("note {}: the title has surrounding spaces", note.id)));
                    }
                    Err(e) => return Err(self.error(format!("note {}: {e}", note.id))),
                }
                if let Err(e) = NoteBody::parse(note.body.clone()) {
                    return Err(self.error(format!("note {}: {e}", note.id)));
                }
                self.notes.insert(note.id)
            }
        };
        if !fresh {
            return Err(self.error("a second record with the same id"));
        }
        Ok(())
    }
}

/// Reads a whole export and checks it: the header, every record, their
/// order and references, the counts and the checksum.
pub fn verify(path: &Path) -> Result<(Header, Counts), FormatError> {
    let mut reader = Reader::open(path)?;
    while reader.next_record()?.is_some() {}
    Ok((reader.header.clone(), reader.counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let at = crate::store::now();
        let mut writer = Writer::new(Vec::new(), &Header::new("sqlite")).unwrap();
        writer
            .record(&Record::User(UserRecord {
                id: 3,
                username: "alice".into(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                is_admin: true,
                disabled: false,
                created_at: at,
            }))
            .unwrap();
        writer
            .record(&Record::Note(NoteRecord {
                id: 9,
                owner_id: 3,
                title: "배포 checklist".into(),
                body: "line one\nline \"two\"".into(),
                created_at: at,
                updated_at: at,
            }))
            .unwrap();
        writer.finish().unwrap().1
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Record>, FormatError> {
        let mut reader = Reader::new(bytes)?;
        let mut records = Vec::new();
        while let Some(record) = reader.next_record()? {
            records.push(record);
        }
        Ok(records)
    }

    #[test]
    fn what_is_written_reads_back() {
        let records = read_all(&sample()).unwrap();
        assert_eq!(records.len(), 2);
        assert!(
            matches!(&records[1], Record::Note(n) if n.title == "배포 checklist" && n.body.contains('"'))
        );
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample();
        for cut in 0..bytes.len() {
            let result = read_all(&bytes[..cut]);
            assert!(result.is_err(), "cut at {cut} of {} was accepted", bytes.len());
        }
    }

    #[test]
    fn a_changed_byte_is_refused() {
        let bytes = sample();
        let position = bytes.windows(8).position(|w| w == b"line one").unwrap();
        let mut changed = bytes.clone();
        changed[position] = b'L';
        assert!(matches!(read_all(&changed), Err(FormatError::Checksum)));
        let mut appended = bytes.clone();
        appended.extend_from_slice(b"{}\n");
        assert!(read_all(&appended).is_err());
    }

    #[test]
    fn foreign_and_newer_files_are_named_as_such() {
        assert!(matches!(read_all(b""), Err(FormatError::Empty)));
        assert!(matches!(read_all(b"{\"hello\":1}\n"), Err(FormatError::Foreign)));
        assert!(matches!(read_all(b"SQLite format 3\0"), Err(FormatError::Foreign)));
        let newer = sample();
        let text = String::from_utf8(newer).unwrap().replacen("\"version\":1", "\"version\":2", 1);
        assert!(matches!(read_all(text.as_bytes()), Err(FormatError::Newer { found: 2 })));
    }

    #[test]
    fn records_that_refer_to_nothing_are_refused() {
        let at = crate::store::now();
        let mut writer = Writer::new(Vec::new(), &Header::new("sqlite")).unwrap();
        writer
            .record(&Record::Note(NoteRecord {
                id: 1,
                owner_id: 5,
                title: "orphan".into(),
                body: String::new(),
                created_at: at,
                updated_at: at,
            }))
            .unwrap();
        let bytes = writer.finish().unwrap().1;
        let error = read_all(&bytes).unwrap_err().to_string();
        assert!(error.contains("line 2") && error.contains("not in the file"), "{error}");
    }
}
