//! The nightly ledger: which input objects are in the lake, and where each input's listing
//! ended, kept so that a night's cost follows what arrived, not the age of the lake.
//!
//! - **Identity.** An object is its path inside its input (not its absolute URL), its size
//!   and its version: the store's ETag on S3, the modification time on a local disk (never the
//!   inode, which object_store's local ETag holds: a folder restored from a backup, or moved,
//!   keeps paths, sizes and times and is not ingested again). Two inputs that hold the same
//!   relative path with the same size and time are taken as one object.
//! - **Appended, then compacted.** Each night that ingests something writes one new part,
//!   `_ledger/agent-events/<seq>.ndjson`, with that night's lines only; a later line for the
//!   same object replaces an earlier one. Past [`MAX_PARTS`] parts, the next night writes
//!   everything into the base file, `_ledger/agent-events.ndjson`, then removes the parts: a
//!   crash between the two leaves lines that say the same twice, never a lost one.
//! - **Cursors.** `_ledger/agent-events.cursors.json` holds, per input URL, the last object key
//!   listed. Firehose names objects `…/YYYY/MM/DD/HH/…` by time, so the next listing starts
//!   after the hour folder [`LOOKBACK_HOURS`] before that key's hour (S3 `start-after`): late
//!   objects (Firehose retries a failed delivery for up to a day) are still seen, and an old
//!   lake lists a day of keys, not its history. Keys without such a folder are listed whole.
//!   The cursors are written after the part, so they never pass an object not in the ledger.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use futures::TryStreamExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lake::publish::Publisher;
use crate::source::InputObject;
use crate::store::Location;

const BASE: &str = "_ledger/agent-events.ndjson";
const PARTS: &str = "_ledger/agent-events";
const CURSORS: &str = "_ledger/agent-events.cursors.json";
/// Parts kept before they are folded into the base file.
pub const MAX_PARTS: usize = 30;
/// How far before the last listed hour the next listing starts.
pub const LOOKBACK_HOURS: i64 = 24;

/// One input object, as the ledger records it: ingested (every row it produced committed),
/// or not readable at all so far (`pending`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Where it was read, for messages.
    pub url: String,
    /// Its path inside its input: with size and version, what identifies it. Absent in lines
    /// written before paths were recorded, which are matched on the URL instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub size: u64,
    /// The store's ETag, or the modification time on a local disk.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// An object that could not be read: on how many nights, why, and whether it is given up on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pending {
    pub attempts: u32,
    pub reason: String,
    /// Given up after `--max-attempts` nights: no longer retried, reported every night.
    pub failed: bool,
}

/// What identifies an object: (path in its input, size, version).
pub type Key = (String, u64, String);

/// The path of `object` inside its input.
fn relative_path(object: &InputObject) -> String {
    let full = object.meta.location.as_ref();
    let prefix = object.location.prefix.as_ref();
    match full.strip_prefix(prefix) {
        Some(rest) if !rest.is_empty() => rest.trim_start_matches('/').to_string(),
        // The input is the object itself.
        _ => object.meta.location.filename().unwrap_or(full).to_string(),
    }
}

fn version_of(object: &InputObject) -> String {
    if object.location.local.is_some() {
        object.meta.last_modified.to_rfc3339()
    } else {
        object
            .meta
            .e_tag
            .clone()
            .unwrap_or_else(|| object.meta.last_modified.to_rfc3339())
    }
}

pub fn key_of(object: &InputObject) -> Key {
    (relative_path(object), object.meta.size, version_of(object))
}

/// The ledger as read at the start of a night.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: BTreeMap<Key, LedgerEntry>,
    /// Lines of old ledgers, without a path: (URL, size, version).
    by_url: BTreeMap<Key, LedgerEntry>,
    parts: Vec<Path>,
    cursors: BTreeMap<String, String>,
}

impl Ledger {
    pub async fn read(lake: &Location) -> Result<Ledger> {
        let mut ledger = Ledger::default();
        let base = lake.child(BASE);
        if let Some(bytes) = get(lake, &base).await? {
            ledger.load(&lake.url_of(&base), &bytes)?;
        }
        let root = lake.child(PARTS);
        let mut parts: Vec<Path> = lake
            .store
            .list(Some(&root))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| lake.store_error(e))?;
        parts.retain(|p| p.as_ref().ends_with(".ndjson"));
        // Zero-padded sequence numbers: name order is write order.
        parts.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
        for part in &parts {
            if let Some(bytes) = get(lake, part).await? {
                ledger.load(&lake.url_of(part), &bytes)?;
            }
        }
        ledger.parts = parts;
        let cursors = lake.child(CURSORS);
        if let Some(bytes) = get(lake, &cursors).await? {
            ledger.cursors = serde_json::from_slice(&bytes)
                .map_err(|e| Error::Other(format!("{}: {e}", lake.url_of(&cursors))))?;
        }
        Ok(ledger)
    }

    fn load(&mut self, url: &str, bytes: &[u8]) -> Result<()> {
        let text = String::from_utf8_lossy(bytes);
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry: LedgerEntry = serde_json::from_str(line)
                .map_err(|e| Error::Other(format!("{url}: line {}: {e}", i + 1)))?;
            self.insert(entry);
        }
        Ok(())
    }

    fn insert(&mut self, entry: LedgerEntry) {
        match &entry.path {
            Some(path) => {
                let key = (path.clone(), entry.size, entry.version.clone());
                self.entries.insert(key, entry);
            }
            None => {
                let key = (entry.url.clone(), entry.size, entry.version.clone());
                self.by_url.insert(key, entry);
            }
        }
    }

    /// What the ledger says of `object`: `None` when it has never seen it.
    pub fn get(&self, object: &InputObject) -> Option<&LedgerEntry> {
        self.entries.get(&key_of(object)).or_else(|| {
            // Lines of old ledgers were keyed by URL, size and ETag (or time without one).
            let version = object
                .meta
                .e_tag
                .clone()
                .unwrap_or_else(|| object.meta.last_modified.to_rfc3339());
            self.by_url.get(&(object.url(), object.meta.size, version))
        })
    }

    /// Every line, newest per object.
    pub fn entries(&self) -> impl Iterator<Item = &LedgerEntry> {
        self.by_url.values().chain(self.entries.values())
    }

    /// Where the listing of `input` starts: after this key (see the module's notes).
    pub fn start_after(&self, input: &Location) -> Option<Path> {
        let last = self.cursors.get(&input.url)?;
        let prefix = input.prefix.as_ref();
        let rest = last.strip_prefix(prefix)?;
        let (at, hour) = hour_folder(rest)?;
        let from = hour - Duration::hours(LOOKBACK_HOURS);
        let offset = format!("{prefix}{}{}", &rest[..at], from.format("%Y/%m/%d/%H"));
        Some(Path::from(offset))
    }

    /// Records tonight's lines (`new`) and where each input's listing ended, as one new part,
    /// or, past [`MAX_PARTS`], folded with every earlier line into the base file.
    pub async fn append(
        mut self,
        publisher: &Publisher<'_>,
        lake: &Location,
        new: Vec<LedgerEntry>,
        cursors: BTreeMap<String, String>,
    ) -> Result<()> {
        if !new.is_empty() {
            if self.parts.len() >= MAX_PARTS {
                for entry in new {
                    self.insert(entry);
                }
                publisher
                    .put(&lake.child(BASE), lines(self.entries())?)
                    .await?;
                for part in &self.parts {
                    publisher.remove(part).await?;
                }
            } else {
                let seq = self
                    .parts
                    .last()
                    .and_then(|p| p.filename())
                    .and_then(|f| f.trim_end_matches(".ndjson").parse::<u64>().ok())
                    .map_or(1, |n| n + 1);
                let part = lake.child(&format!("{PARTS}/{seq:020}.ndjson"));
                publisher.put(&part, lines(new.iter())?).await?;
            }
        }
        let mut all = self.cursors.clone();
        all.extend(cursors);
        if all != self.cursors {
            let bytes = serde_json::to_vec_pretty(&all).map_err(|e| Error::Other(e.to_string()))?;
            publisher.put(&lake.child(CURSORS), bytes.into()).await?;
        }
        Ok(())
    }

    #[cfg(test)]
    pub fn part_count(&self) -> usize {
        self.parts.len()
    }
}

fn lines<'a>(entries: impl Iterator<Item = &'a LedgerEntry>) -> Result<bytes::Bytes> {
    let mut out = Vec::new();
    for entry in entries {
        serde_json::to_writer(&mut out, entry).map_err(|e| Error::Other(e.to_string()))?;
        out.push(b'\n');
    }
    Ok(out.into())
}

async fn get(lake: &Location, path: &Path) -> Result<Option<bytes::Bytes>> {
    Ok(crate::lake::publish::read(lake, path).await?.0)
}

/// The first `YYYY/MM/DD/HH` folder of a key: where it starts, and its hour.
fn hour_folder(key: &str) -> Option<(usize, NaiveDateTime)> {
    let bytes = key.as_bytes();
    let shape = b"dddd/dd/dd/dd";
    (0..bytes.len().checked_sub(shape.len() - 1)?).find_map(|at| {
        let boundary = at == 0 || bytes[at - 1] == b'/';
        let after = bytes.get(at + shape.len());
        let fits = shape
            .iter()
            .zip(&bytes[at..at + shape.len()])
            .all(|(s, b)| {
                if *s == b'd' {
                    b.is_ascii_digit()
                } else {
                    b == s
                }
            });
        if !boundary || !fits || after.is_some_and(|b| *b != b'/') {
            return None;
        }
        let text = &key[at..at + shape.len()];
        let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().ok();
        let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
        Some((at, date.and_hms_opt(num(11..13)?, 0, 0)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize, pending: Option<Pending>) -> LedgerEntry {
        LedgerEntry {
            url: format!("file:///in/{n}.json"),
            path: Some(format!("{n}.json")),
            size: n as u64,
            version: "v".into(),
            pending,
        }
    }

    /// Each append is one part; past MAX_PARTS everything goes to the base file and the parts
    /// are removed; no line is lost, and a later line replaces an earlier one.
    #[tokio::test]
    async fn parts_are_appended_then_folded_into_the_base_losing_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let lake =
            Location::parse(dir.path().to_str().unwrap(), &Default::default(), true).unwrap();
        crate::lake::ensure_lake(&lake).await.unwrap();
        let options = crate::lake::lease::LeaseOptions::default();
        let pending = Pending {
            attempts: 1,
            reason: "r".into(),
            failed: false,
        };
        for night in 0..=MAX_PARTS + 1 {
            crate::lake::write_leased(&lake, "test", &options, async |publisher| {
                let ledger = Ledger::read(&lake).await?;
                let expected_parts = if night <= MAX_PARTS { night } else { 0 };
                assert_eq!(ledger.part_count(), expected_parts, "night {night}");
                assert_eq!(ledger.entries().count(), night, "night {night}");
                // Object 0 was pending on the first night and ingested on the second.
                if night >= 2 {
                    assert!(ledger.entries().all(|e| e.pending.is_none()));
                }
                let mut new = vec![entry(night, (night == 0).then(|| pending.clone()))];
                if night == 1 {
                    new.push(entry(0, None));
                }
                ledger.append(publisher, &lake, new, BTreeMap::new()).await
            })
            .await
            .unwrap();
        }
    }

    #[test]
    fn the_hour_folder_of_a_firehose_key_is_found_where_it_is() {
        let (at, hour) =
            hour_folder("agent-events/2026/11/03/23/stream-1-2026-11-03-23-10-00-x.gz").unwrap();
        assert_eq!(at, "agent-events/".len());
        assert_eq!(hour.to_string(), "2026-11-03 23:00:00");
        assert_eq!(hour_folder("2026/11/03/23/x").unwrap().0, 0);
        // Not a folder of its own, not a date, or no hour: no cursor.
        assert!(hour_folder("x2026/11/03/23/y").is_none());
        assert!(hour_folder("2026/13/03/23/y").is_none());
        assert!(hour_folder("2026/11/03/y").is_none());
        assert!(hour_folder("events-2026-11-03.json").is_none());
    }
}
