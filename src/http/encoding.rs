//! `Accept-Encoding` negotiation (RFC 9110, section 12.5.3), shared by the
//! embedded assets and the compression of API responses.

use rocket::http::HeaderMap;

/// A content coding this server can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// The `Content-Encoding` value; none for identity.
    pub fn content_coding(self) -> Option<&'static str> {
        match self {
            Self::Brotli => Some("br"),
            Self::Gzip => Some("gzip"),
            Self::Identity => None,
        }
    }

    /// Tells the variants of one representation apart, in file names and
    /// entity tags.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Brotli => ".br",
            Self::Gzip => ".gz",
            Self::Identity => "",
        }
    }
}

/// Quality values in thousandths, as the header writes them (`q=0.125`).
type Quality = u16;

/// A request's `Accept-Encoding`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptEncoding {
    /// `None` when the request has no `Accept-Encoding` at all.
    entries: Option<Vec<(String, Quality)>>,
}

impl AcceptEncoding {
    /// Every `Accept-Encoding` field of the request, as one list.
    pub fn from_headers(headers: &HeaderMap<'_>) -> Self {
        let mut values = headers.get("Accept-Encoding").peekable();
        if values.peek().is_none() {
            return Self { entries: None };
        }
        Self::parse(values)
    }

    /// Parses field values; entries that are not well formed are ignored.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut entries = Vec::new();
        for value in values {
            for entry in value.split(',') {
                let mut parts = entry.split(';');
                let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
                if coding.is_empty() {
                    continue;
                }
                let mut quality = Some(1000);
                for parameter in parts {
                    if let Some((name, value)) = parameter.split_once('=')
                        && name.trim().eq_ignore_ascii_case("q")
                    {
                        quality = parse_quality(value.trim());
                    }
                }
                if let Some(quality) = quality {
                    entries.push((coding, quality));
                }
            }
        }
        Self { entries: Some(entries) }
    }

    /// The coding to send, among `offered` (identity is always available).
    ///
    /// The highest quality wins; on a tie the coding earlier in `offered`
    /// wins, and both beat identity, the smaller response being better for
    /// both sides. Identity
    /// that the header does not mention is acceptable but comes last: a
    /// client that sends `gzip;q=0.5` wants gzip. Without the header, or when
    /// the client accepts nothing offered (`*;q=0`, `identity;q=0` with
    /// nothing else), the answer is identity: RFC 9110 allows that, and a
    /// response the client said it dislikes serves it better than a 406.
    pub fn preferred(&self, offered: &[Encoding]) -> Encoding {
        let Some(entries) = &self.entries else {
            return Encoding::Identity;
        };
        let explicit = |names: &[&str]| {
            entries.iter().find(|(coding, _)| names.contains(&coding.as_str())).map(|&(_, q)| q)
        };
        let star = explicit(&["*"]);
        let mut best = (Encoding::Identity, 0);
        let codings = offered.iter().copied().filter(|e| *e != Encoding::Identity);
        for encoding in codings.chain([Encoding::Identity]) {
            let quality = match encoding {
                Encoding::Brotli => explicit(&["br"]).or(star).unwrap_or(0),
                Encoding::Gzip => explicit(&["gzip", "x-gzip"]).or(star).unwrap_or(0),
                Encoding::Identity => match (explicit(&["identity"]), star) {
                    (Some(q), _) => q,
                    (None, Some(0)) => 0,
                    // Acceptable unless excluded, but only as the fallback.
                    (None, _) => 1,
                },
            };
            if quality > best.1 {
                best = (encoding, quality);
            }
        }
        best.0
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
fn parse_quality(value: &str) -> Option<Quality> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<Quality>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Encoding::{Brotli, Gzip, Identity};
    use super::*;

    const BOTH: &[Encoding] = &[Brotli, Gzip];

    fn preferred(header: &str, offered: &[Encoding]) -> Encoding {
        AcceptEncoding::parse([header]).preferred(offered)
    }

    #[test]
    fn without_the_header_the_answer_is_identity() {
        assert_eq!(AcceptEncoding { entries: None }.preferred(BOTH), Identity);
        assert_eq!(AcceptEncoding::from_headers(&HeaderMap::new()).preferred(BOTH), Identity);
    }

    #[test]
    fn an_empty_header_accepts_only_identity() {
        assert_eq!(preferred("", BOTH), Identity);
    }

    #[test]
    fn brotli_beats_gzip_at_equal_quality() {
        assert_eq!(preferred("gzip, deflate, br, zstd", BOTH), Brotli);
        assert_eq!(preferred("br, gzip", BOTH), Brotli);
        assert_eq!(preferred("gzip;q=0.8, br;q=0.8", BOTH), Brotli);
        // The server's order breaks ties: dynamic answers offer gzip first.
        assert_eq!(preferred("br, gzip", &[Gzip, Brotli]), Gzip);
        assert_eq!(preferred("br, gzip;q=0.5", &[Gzip, Brotli]), Brotli);
    }

    #[test]
    fn a_coding_that_is_not_offered_is_not_chosen() {
        assert_eq!(preferred("gzip, br", &[Gzip]), Gzip);
        assert_eq!(preferred("br", &[Gzip]), Identity);
        assert_eq!(preferred("gzip, br", &[]), Identity);
    }

    #[test]
    fn higher_quality_wins() {
        assert_eq!(preferred("gzip;q=0.5, br;q=0.1", BOTH), Gzip);
        assert_eq!(preferred("br;q=0.5, gzip;q=0.501", BOTH), Gzip);
        assert_eq!(preferred("identity, gzip;q=0.5", BOTH), Identity);
    }

    #[test]
    fn quality_zero_refuses_a_coding() {
        assert_eq!(preferred("br;q=0, gzip", BOTH), Gzip);
        assert_eq!(preferred("br;q=0", BOTH), Identity);
        assert_eq!(preferred("br;q=0.000, gzip;q=0", BOTH), Identity);
    }

    #[test]
    fn unmentioned_identity_comes_after_any_accepted_coding() {
        assert_eq!(preferred("gzip;q=0.001", BOTH), Gzip);
        assert_eq!(preferred("identity;q=0.5, gzip;q=0.001", BOTH), Identity);
        assert_eq!(preferred("identity;q=0.5, gzip;q=0.5", BOTH), Gzip);
    }

    #[test]
    fn the_wildcard_covers_codings_not_listed() {
        assert_eq!(preferred("*", BOTH), Brotli);
        assert_eq!(preferred("br;q=0, *", BOTH), Gzip);
        assert_eq!(preferred("*;q=0.2, gzip;q=0.3", BOTH), Gzip);
        assert_eq!(preferred("*;q=0, gzip", BOTH), Gzip);
    }

    #[test]
    fn when_nothing_offered_is_acceptable_identity_is_sent_anyway() {
        assert_eq!(preferred("*;q=0", BOTH), Identity);
        assert_eq!(preferred("identity;q=0", &[]), Identity);
        assert_eq!(preferred("identity;q=0, br;q=0, gzip;q=0", BOTH), Identity);
    }

    #[test]
    fn identity_refused_leaves_the_compressed_codings() {
        assert_eq!(preferred("identity;q=0", BOTH), Identity, "nothing else was accepted");
        assert_eq!(preferred("identity;q=0, gzip;q=0.1", BOTH), Gzip);
        assert_eq!(preferred("*;q=0, br;q=0.1", BOTH), Brotli);
        assert_eq!(preferred("identity;q=0, *", BOTH), Brotli);
    }

    #[test]
    fn names_and_parameters_are_case_insensitive_and_spacing_is_free() {
        assert_eq!(preferred("GZIP ; Q=1 ,  BR ; q=0.5", BOTH), Gzip);
        assert_eq!(preferred("x-gzip", BOTH), Gzip);
        assert_eq!(preferred(" br\t;\tq=0.9 ", BOTH), Brotli);
    }

    #[test]
    fn malformed_entries_are_ignored() {
        assert_eq!(preferred("br;q=2, gzip", BOTH), Gzip);
        assert_eq!(preferred("br;q=abc, gzip;q=0.1", BOTH), Gzip);
        assert_eq!(preferred("br;q=0.1234, gzip;q=0.1", BOTH), Gzip);
        assert_eq!(preferred("br;q=1.001", BOTH), Identity);
        assert_eq!(preferred(",,;q=1, ,", BOTH), Identity);
    }

    #[test]
    fn several_fields_form_one_list() {
        let accept = AcceptEncoding::parse(["br;q=0.1", "gzip"]);
        assert_eq!(accept.preferred(BOTH), Gzip);
    }

    #[test]
    fn quality_values_follow_the_grammar() {
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0"), Some(0));
        assert_eq!(parse_quality("0."), Some(0));
        assert_eq!(parse_quality("0.5"), Some(500));
        assert_eq!(parse_quality("0.05"), Some(50));
        assert_eq!(parse_quality("0.999"), Some(999));
        assert_eq!(parse_quality("1.5"), None);
        assert_eq!(parse_quality("2"), None);
        assert_eq!(parse_quality("-0"), None);
        assert_eq!(parse_quality(".5"), None);
        assert_eq!(parse_quality("0.+1"), None);
        assert_eq!(parse_quality(""), None);
    }

    #[test]
    fn the_first_of_repeated_entries_counts() {
        assert_eq!(preferred("br;q=0, br", BOTH), Identity);
    }
}
