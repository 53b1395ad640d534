//! Decoding: raw input bytes → records → Arrow batches, with undecodable records set aside.
//! This module owns framing (gzip, NDJSON, concatenated JSON, JSON arrays) and the resync
//! that keeps a corrupt record from taking its neighbours down. It knows nothing of
//! partitions, lakes or DataFusion.

pub mod agent_events;
pub mod lake_rows;
pub mod lax;

use std::borrow::Cow;
use std::io::Read;

/// What one decode attempt at a record start found.
pub enum Attempt {
    /// A record of `len` bytes was decoded and appended.
    Ok(usize),
    /// Well-formed JSON of `len` bytes that is not a valid record (missing field, bad type,
    /// unparsable timestamp). Nothing was appended.
    Invalid { len: usize, reason: String },
    /// Not well-formed JSON from here (truncated, garbage, invalid UTF-8).
    Syntax(String),
}

/// The bytes from a record start: as text to the end of its valid UTF-8 stretch (each stretch
/// checked once), and the JSON parser skips its per-string UTF-8 checks; as bytes to the end
/// of the object when the record runs into an invalid byte, and each decoded record is
/// checked whole.
#[derive(Clone, Copy)]
pub enum Record<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl<'a> Record<'a> {
    pub fn bytes(self) -> &'a [u8] {
        match self {
            Record::Text(t) => t.as_bytes(),
            Record::Bytes(b) => b,
        }
    }
}

/// A JSON string borrowed from the input when it has no escapes, owned otherwise. serde's own
/// `Cow<str>` borrows only as a bare field, never inside an `Option`: that copied every string.
#[derive(Debug, Clone, PartialEq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// Instants Connect data can have, 2000-01-01 to 2100-01-01 (UTC micros, end excluded).
/// Anything else is a unit mix-up or a placeholder (year 0000, 9999), and would make a
/// partition no engine's date projection shows.
const PLAUSIBLE_MICROS: std::ops::Range<i64> = 946_684_800_000_000..4_102_444_800_000_000;
/// The window, as reasons name it.
pub const PLAUSIBLE: &str = "2000-01-01..2100-01-01";

pub fn plausible(micros: i64) -> bool {
    PLAUSIBLE_MICROS.contains(&micros)
}

/// An instant for a reason text.
pub fn show_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros).map_or_else(
        || format!("{micros} µs"),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    )
}

/// A record that could not be decoded: where it was, why, and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// Byte offset in the (decompressed) object; the row number when `in_rows`.
    pub offset: u64,
    /// Parquet inputs have rows, not a byte stream: `offset` counts rows from 0.
    pub in_rows: bool,
    pub reason: String,
    pub raw: Vec<u8>,
}

/// Largest record the resync will look across; keeps garbage from costing quadratic time.
const MAX_RECORD: usize = 1 << 20;

/// Raw bytes kept in the reject of a damaged gzip stream, at most.
pub const MAX_REJECT_RAW: usize = 1 << 20;

/// Counts the compressed bytes the decoder has taken.
struct Counting<'a> {
    inner: &'a [u8],
    taken: usize,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken += n;
        Ok(n)
    }
}

/// Gunzips `bytes` as a stream when they start with the gzip magic (content decides, not the
/// name); concatenated gzip members, as Firehose can produce, are all read. What inflates
/// before a damaged or truncated point is kept, and the failure is one [`Reject`] at the
/// decompressed offset where it happened, holding the undecodable compressed tail (the first
/// [`MAX_REJECT_RAW`] bytes of it). Inflating stops at `cap` bytes, so a bomb costs `cap`, and
/// the rest of the object is one reject too.
pub fn inflate(bytes: &[u8], cap: usize) -> (std::borrow::Cow<'_, [u8]>, Option<Reject>) {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return (std::borrow::Cow::Borrowed(bytes), None);
    }
    let mut counting = Counting {
        inner: bytes,
        taken: 0,
    };
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(8).min(cap));
    let mut chunk = vec![0u8; 256 * 1024];
    let failure = {
        let mut decoder = flate2::read::MultiGzDecoder::new(&mut counting);
        loop {
            match decoder.read(&mut chunk) {
                Ok(0) => break None,
                Ok(n) if out.len() + n > cap => {
                    out.extend_from_slice(&chunk[..cap - out.len()]);
                    break Some((
                        format!(
                            "inflates past --max-object-mib {} ({cap} bytes): the rest of the object is not read",
                            cap >> 20
                        ),
                        None,
                    ));
                }
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) => break Some((String::new(), Some(e))),
            }
        }
    };
    let failure = failure.map(|(reason, error)| {
        // The decoder reads ahead through its buffer: the damage is at or before `taken`.
        let at = counting.taken.min(bytes.len());
        let tail = &bytes[at.saturating_sub(64 * 1024)..];
        let reason = match error {
            Some(e) => format!(
                "gzip stream damaged or truncated after {at} of {} compressed bytes ({} bytes inflated): {e}; raw holds {} of the last {} compressed bytes",
                bytes.len(),
                out.len(),
                tail.len().min(MAX_REJECT_RAW),
                tail.len()
            ),
            None => reason,
        };
        Reject {
            offset: out.len() as u64,
            in_rows: false,
            reason,
            raw: tail[..tail.len().min(MAX_REJECT_RAW)].to_vec(),
        }
    });
    (std::borrow::Cow::Owned(out), failure)
}

/// Splits `buf` into JSON object records and feeds each to `attempt`, whatever the framing:
/// one per line, concatenated with nothing between (`}{`), or inside a JSON array. Bytes that
/// do not decode become one [`Reject`] reaching up to the next offset where a valid record
/// starts, so a truncated record never swallows the record after it.
///
/// Returns the number of records seen (decoded + rejected).
pub fn split_records(
    buf: &[u8],
    mut attempt: impl FnMut(Record<'_>) -> Attempt,
    mut reject: impl FnMut(Reject),
) -> u64 {
    let mut records = 0u64;
    // serde skips unread strings without checking them, so a record is read as text only
    // where the input is known to be valid UTF-8: the stretches between invalid bytes, each
    // checked once (simdutf8 checks ~10x faster than std on this ASCII input; the answer is
    // the same). A record that runs into an invalid byte is read again as bytes, and checked
    // whole. One bad byte used to send its whole object down the bytes path: 15% of the
    // bench input, for 165 corrupted records.
    let runs = text_runs(buf);
    let mut decode_at = |at: usize| {
        // Record starts are `{` (ASCII), so slicing a run there is always on a char boundary.
        let run = runs.partition_point(|(start, _)| *start <= at);
        let text = run
            .checked_sub(1)
            .and_then(|r| runs[r].1.get(at - runs[r].0..));
        match text {
            Some(t) if !t.is_empty() => {
                let cut = at + t.len() < buf.len();
                match attempt(Record::Text(t)) {
                    Attempt::Syntax(_) if cut => attempt(Record::Bytes(&buf[at..])),
                    outcome => outcome,
                }
            }
            _ => attempt(Record::Bytes(&buf[at..])),
        }
    };
    let mut pos = skip_separators(buf, 0);
    while pos < buf.len() {
        records += 1;
        let syntax_reason = if buf[pos] == b'{' {
            match decode_at(pos) {
                Attempt::Ok(len) => {
                    pos = skip_separators(buf, pos + len.max(1));
                    continue;
                }
                Attempt::Invalid { len, reason } => {
                    reject(make_reject(buf, pos, pos + len.max(1), reason));
                    pos = skip_separators(buf, pos + len.max(1));
                    continue;
                }
                Attempt::Syntax(reason) => reason,
            }
        } else {
            format!(
                "not a JSON object (starts with {:?})",
                printable_start(&buf[pos..])
            )
        };
        // Resync: the next `{` from which a whole valid record decodes. Objects nested in the
        // broken record decode as JSON but not as records, so they are passed over.
        let limit = buf.len().min(pos.saturating_add(MAX_RECORD));
        let mut next = buf.len();
        let mut from = pos + 1;
        while let Some(i) = memchr::memchr(b'{', &buf[from..limit]) {
            let candidate = from + i;
            if let Attempt::Ok(len) = decode_at(candidate) {
                reject(make_reject(buf, pos, candidate, syntax_reason.clone()));
                records += 1;
                pos = skip_separators(buf, candidate + len.max(1));
                next = usize::MAX;
                break;
            }
            from = candidate + 1;
        }
        if next == usize::MAX {
            continue;
        }
        if limit < buf.len() {
            // No record within MAX_RECORD: give up on this stretch only.
            next = limit;
        }
        reject(make_reject(buf, pos, next, syntax_reason));
        pos = skip_separators(buf, next);
    }
    records
}

/// The stretches of `buf` that are valid UTF-8, as (offset, text), in order: the whole buffer
/// as one when it is valid (nearly always), else the stretches between invalid sequences.
fn text_runs(buf: &[u8]) -> Vec<(usize, &str)> {
    let mut runs = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        match simdutf8::compat::from_utf8(&buf[pos..]) {
            Ok(text) => {
                runs.push((pos, text));
                break;
            }
            Err(e) => {
                let valid = pos + e.valid_up_to();
                if let Ok(text) = simdutf8::basic::from_utf8(&buf[pos..valid]) {
                    runs.push((pos, text));
                }
                // No length: the input ends inside a sequence.
                pos = valid + e.error_len().unwrap_or(buf.len() - valid).max(1);
            }
        }
    }
    runs
}

fn make_reject(buf: &[u8], start: usize, end: usize, reason: String) -> Reject {
    let mut raw = &buf[start..end.min(buf.len())];
    while let [rest @ .., last] = raw {
        if last.is_ascii_whitespace() || *last == b',' {
            raw = rest;
        } else {
            break;
        }
    }
    Reject {
        offset: start as u64,
        in_rows: false,
        reason,
        raw: raw.to_vec(),
    }
}

/// Skips whitespace, a byte-order mark, and the `[`, `,` and `]` of a top-level JSON array.
fn skip_separators(buf: &[u8], mut pos: usize) -> usize {
    if buf[pos.min(buf.len())..].starts_with(b"\xEF\xBB\xBF") {
        pos += 3;
    }
    while pos < buf.len() && matches!(buf[pos], b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']') {
        pos += 1;
    }
    pos
}

fn printable_start(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(12)]).into_owned()
}

/// Runs one serde decode of `T` at the start of `record` and classifies the outcome for
/// [`split_records`]; `accept` validates and appends the value, or says why it is invalid.
pub fn attempt_json<'de, T: serde::Deserialize<'de>>(
    record: Record<'de>,
    accept: impl FnOnce(T) -> Result<(), String>,
) -> Attempt {
    let (next, len) = match record {
        Record::Text(text) => {
            let mut stream = serde_json::Deserializer::from_str(text).into_iter::<T>();
            (stream.next(), stream.byte_offset())
        }
        Record::Bytes(bytes) => {
            let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<T>();
            (stream.next(), stream.byte_offset())
        }
    };
    let bytes = record.bytes();
    match next {
        Some(Ok(value)) => {
            if let (Record::Bytes(_), Err(e)) = (record, std::str::from_utf8(&bytes[..len])) {
                let reason = format!("invalid UTF-8 at byte {} of the record", e.valid_up_to());
                return Attempt::Invalid { len, reason };
            }
            match accept(value) {
                Ok(()) => Attempt::Ok(len),
                Err(reason) => Attempt::Invalid { len, reason },
            }
        }
        Some(Err(e)) if e.classify() == serde_json::error::Category::Data => {
            // Well-formed JSON of the wrong shape: find where it ends to reject just it.
            let mut any =
                serde_json::Deserializer::from_slice(bytes).into_iter::<serde::de::IgnoredAny>();
            match any.next() {
                Some(Ok(_)) => Attempt::Invalid {
                    len: any.byte_offset(),
                    reason: strip_position(&e),
                },
                _ => Attempt::Syntax(strip_position(&e)),
            }
        }
        Some(Err(e)) if e.classify() == serde_json::error::Category::Eof => {
            Attempt::Syntax("truncated record (input ends inside it)".into())
        }
        Some(Err(e)) => Attempt::Syntax(format!("invalid JSON: {}", strip_position(&e))),
        None => Attempt::Syntax("empty record".into()),
    }
}

/// serde_json appends "at line L column C" relative to the record; the reject already carries
/// the record's byte offset, so the relative position only confuses.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Rec {
        id: u32,
    }

    /// Decodes `{"id": N}` records, collecting ids and rejects.
    fn run(input: &[u8]) -> (Vec<u32>, Vec<Reject>, u64) {
        let mut ids = Vec::new();
        let mut rejects = Vec::new();
        let n = split_records(
            input,
            |record| {
                attempt_json::<Rec>(record, |r| {
                    ids.push(r.id);
                    Ok(())
                })
            },
            |r| rejects.push(r),
        );
        (ids, rejects, n)
    }

    #[test]
    fn framings_all_decode() {
        assert_eq!(run(b"{\"id\":1}\n{\"id\":2}\n").0, vec![1, 2]);
        assert_eq!(run(b"{\"id\":1}{\"id\":2}{\"id\":3}").0, vec![1, 2, 3]);
        assert_eq!(run(b"[{\"id\":1},\n {\"id\":2}]").0, vec![1, 2]);
        assert_eq!(run(b"\xEF\xBB\xBF{\"id\":7}\r\n").0, vec![7]);
        assert_eq!(run(b"").2, 0);
    }

    #[test]
    fn truncated_record_in_concatenated_framing_keeps_its_neighbour() {
        let (ids, rejects, n) =
            run(b"{\"id\":1}{\"id\":2, \"x\": {\"y\": \"tru{\"id\":3}{\"id\":4}");
        assert_eq!(ids, vec![1, 3, 4]);
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].offset, 8);
        assert!(rejects[0].raw.starts_with(b"{\"id\":2"));
        assert_eq!(n, 4);
    }

    #[test]
    fn garbage_and_wrong_shapes_are_rejected_one_each() {
        let (ids, rejects, n) =
            run(b"hello world\n{\"id\":1}\n{\"id\":\"x\"}\n{\"id\":2}\n{\"id\":");
        assert_eq!(ids, vec![1, 2]);
        let reasons: Vec<_> = rejects.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(rejects.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("not a JSON object"));
        assert!(reasons[1].contains("invalid type"), "{}", reasons[1]);
        assert_eq!(rejects[1].raw, b"{\"id\":\"x\"}");
        assert!(reasons[2].contains("truncated"));
        assert_eq!(n, 5);
    }

    #[test]
    fn invalid_utf8_is_rejected_without_losing_the_next_record() {
        // In a field the decoder skips, and in one it reads.
        let (ids, rejects, _) =
            run(b"{\"id\":1, \"s\":\"\xff\xfe\"}\n{\"id\":2}\n{\"id\":3, \"\xff\":0}{\"id\":4}");
        assert_eq!(ids, vec![2, 4]);
        assert_eq!(rejects.len(), 2);
        assert!(rejects[0].raw.starts_with(b"{\"id\":1"));
        assert!(rejects[0].reason.contains("UTF-8"), "{}", rejects[0].reason);
        assert!(rejects[1].raw.starts_with(b"{\"id\":3"));
    }

    #[test]
    fn records_away_from_an_invalid_byte_are_read_as_text() {
        // Concatenated and line-framed: the bad byte is inside record 2 only.
        let input =
            b"{\"id\":1}{\"id\":2, \"s\":\"\xff\"}\n{\"id\":3}\n{\"id\":4, \"\xfe\":0}{\"id\":5}";
        let mut seen = Vec::new();
        let mut rejects = Vec::new();
        split_records(
            input,
            |record| {
                let text = matches!(record, Record::Text(_));
                attempt_json::<Rec>(record, |r| {
                    seen.push((r.id, text));
                    Ok(())
                })
            },
            |r| rejects.push(r),
        );
        assert_eq!(seen, vec![(1, true), (3, true), (5, true)]);
        assert_eq!(rejects.len(), 2);
        assert!(rejects[0].raw.starts_with(b"{\"id\":2"));
        assert!(rejects[0].reason.contains("UTF-8"), "{}", rejects[0].reason);
        assert!(rejects[1].raw.starts_with(b"{\"id\":4"));
        let runs = text_runs(input);
        assert_eq!(runs.len(), 3, "{runs:?}");
        assert_eq!(text_runs(b"{}").len(), 1);
        assert_eq!(
            text_runs(b"{}\xe2\x82").len(),
            1,
            "a sequence cut at the end"
        );
    }

    #[test]
    fn gzip_is_detected_by_content() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"{\"id\":5}").unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(&*inflate(&gz, 1 << 20).0, b"{\"id\":5}");
        assert_eq!(&*inflate(b"{}", 1 << 20).0, b"{}");
    }

    #[test]
    fn a_cut_gzip_keeps_what_inflated_and_a_bomb_stops_at_the_cap() {
        use std::io::Write;
        let records: String = (0..2000).map(|i| format!("{{\"id\":{i}}}\n")).collect();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(records.as_bytes()).unwrap();
        let gz = enc.finish().unwrap();
        let cut = &gz[..gz.len() * 2 / 3];
        let (text, failure) = inflate(cut, 1 << 30);
        let failure = failure.expect("a cut stream fails");
        assert!(
            failure.reason.contains("gzip stream damaged or truncated"),
            "{}",
            failure.reason
        );
        assert_eq!(failure.offset, text.len() as u64);
        let (ids, _, _) = run(&text);
        assert!(ids.len() > 100, "{}", ids.len());
        assert_eq!(ids, (0..ids.len() as u32).collect::<Vec<_>>());
        // A bomb: 64 MiB of zeros in a small gzip, capped at 1 MiB.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b' '; 64 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 1 << 20);
        let (text, failure) = inflate(&bomb, 1 << 20);
        assert_eq!(text.len(), 1 << 20);
        assert!(
            failure
                .unwrap()
                .reason
                .contains("inflates past --max-object-mib")
        );
    }
}
