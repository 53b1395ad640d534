//! The ETL run: source → decode → partition → commit, with the accounting that proves nothing
//! was lost (read = written + duplicates + rejected). Owns the order of the stages and the
//! rejects files; each stage's logic lives in its own module.

use serde::Serialize;
use std::collections::BTreeSet;

use crate::commit::{self, WriteOptions};
use crate::decode::lake_rows::{self, EpochUnit, InputFormat, RowDecoder};
use crate::decode::{self, Reject, agent_events::AgentEventDecoder};
use crate::error::{Error, Result};
use crate::lake::{self, lease::LeaseOptions, publish::Publisher};
use crate::partition::{self, Staging};
use crate::schema;
use crate::source::{self, InputObject};
use crate::store::Location;

/// Default of `--max-object-mib`: well above Firehose's 128 MiB objects.
pub const DEFAULT_MAX_OBJECT_MIB: usize = 1024;

/// Rows decoded before they are handed to the partitioner.
const DECODE_BATCH_ROWS: usize = crate::decode::agent_events::ROWS;

/// What a run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    AgentEvents,
    ContactFlowEvents,
    TestCaseResults,
}

impl SourceKind {
    /// The tables this source writes; the first one is the one records are counted in.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            SourceKind::AgentEvents => &["agent_events", "agent_event_contacts"],
            SourceKind::ContactFlowEvents => &["contact_flow_events"],
            SourceKind::TestCaseResults => &["connect_test_case_execution_results"],
        }
    }
}

/// The decoder of a run: agent events (JSON records of one known shape, two tables) or
/// data-lake exports (rows of one table in NDJSON, CSV or Parquet).
enum Decoder {
    Agent(Box<AgentEventDecoder>),
    Rows {
        rows: RowDecoder,
        format: Option<InputFormat>,
    },
}

pub struct EtlOptions {
    pub source: SourceKind,
    pub lake: Location,
    pub inputs: Vec<Location>,
    pub write: WriteOptions,
    /// Bytes of decoded rows held in memory before staging spills to disk.
    pub memory_budget: usize,
    pub spill_dir: Option<std::path::PathBuf>,
    pub progress: bool,
    /// Data-lake exports: the format of every input (else told per object).
    pub format: Option<InputFormat>,
    /// Data-lake exports: what epoch numbers in timestamp columns count.
    pub epoch_unit: EpochUnit,
    /// How the run takes the lake's writer lease.
    pub lease: LeaseOptions,
    /// An input object that cannot be read at all (gone since the listing, access denied) is
    /// reported in `Summary::unreadable` and the run goes on (the nightly job retries it); off,
    /// it fails the run.
    pub keep_going: bool,
    /// Largest an object may inflate to (`--max-object-mib`): a gzip bomb costs this much
    /// memory, then the rest of it is rejected.
    pub max_object_bytes: usize,
}

/// The accounting of a run; `--summary-json` writes it as is.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub files: u64,
    pub bytes: u64,
    pub records_read: u64,
    pub written: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Optional fields of a type the model does not allow, stored as null: the event is kept.
    pub warnings: u64,
    /// Rows written to child tables (e.g. agent_event_contacts), which records are not counted in.
    pub child_rows_written: u64,
    /// Input objects that could not be read at all (with `keep_going`): URL and reason. Their
    /// records are not counted: nothing of them was read.
    pub unreadable: Vec<(String, String)>,
    pub partitions_touched: Vec<String>,
    /// Seconds spent reading and decoding input, and merging and writing partitions.
    pub read_decode_seconds: f64,
    pub commit_seconds: f64,
    /// One line per reject (`URL at byte N: reason`), the first [`MAX_REJECT_MESSAGES`] only.
    #[serde(skip)]
    pub reject_messages: Vec<String>,
    /// One line per warning (`URL at byte N: JSON path: expected …, got …`), the first
    /// [`MAX_REJECT_MESSAGES`] only.
    #[serde(skip)]
    pub warning_messages: Vec<String>,
}

/// Reject lines a run reports on stderr; the rest are counted and kept in `_rejected/`.
pub const MAX_REJECT_MESSAGES: usize = 20;

impl Summary {
    /// One line for the end of a run.
    pub fn line(&self) -> String {
        format!(
            "{} files, {} bytes, {} records read: {} written, {} duplicates, {} rejected; {} warnings; {} partitions touched",
            self.files,
            self.bytes,
            self.records_read,
            self.written,
            self.duplicates,
            self.rejected,
            self.warnings,
            self.partitions_touched.len()
        )
    }
}

/// Lists the inputs and loads every object in them, holding the lake's writer lease.
pub async fn run(options: EtlOptions) -> Result<Summary> {
    let objects = source::list_inputs(&options.inputs).await?;
    lake::ensure_lake(&options.lake).await?;
    lake::write_leased(&options.lake, "etl", &options.lease, async |publisher| {
        load(&options, &objects, publisher).await
    })
    .await
}

/// Loads the given input objects into the lake (which must exist) through `publisher`, the
/// holder of the run's lease. Commits the tables a source writes children first
/// (`agent_event_contacts` before `agent_events`), so no reader, and no lake left by a crash,
/// shows an event without its contacts.
pub async fn load(
    options: &EtlOptions,
    objects: &[InputObject],
    publisher: &Publisher<'_>,
) -> Result<Summary> {
    let table_names = options.source.tables();
    let mut defs = Vec::new();
    for name in table_names {
        let def = schema::table(name)?;
        defs.push((def, def.arrow_schema()?));
    }
    let staged_tables: Vec<(&crate::schema::TableDef, arrow::datatypes::SchemaRef)> =
        defs.iter().map(|(d, s)| (*d, s.clone())).collect();
    let mut staging = Staging::new(
        &staged_tables,
        options.memory_budget,
        options.spill_dir.as_deref(),
    )?;

    let total_bytes: u64 = objects.iter().map(|o| o.meta.size).sum();
    let progress = crate::progress::bar(options.progress, total_bytes);
    let mut summary = Summary::default();
    let mut decoder = match options.source {
        SourceKind::AgentEvents => Decoder::Agent(Box::new(AgentEventDecoder::new()?)),
        _ => Decoder::Rows {
            rows: RowDecoder::new(defs[0].0, options.epoch_unit)?,
            format: options.format,
        },
    };
    let started = std::time::Instant::now();
    let mut buffer = Vec::new();
    for object in objects {
        if let Err(e) = object.read_into(&mut buffer).await {
            if !options.keep_going {
                return Err(e);
            }
            tracing::warn!(object = %object.url(), error = %e, "input object unreadable");
            summary.unreadable.push((object.url(), e.to_string()));
            continue;
        }
        let bytes = buffer.as_slice();
        summary.files += 1;
        summary.bytes += bytes.len() as u64;
        let rejects = decode_object(
            object,
            bytes,
            options.max_object_bytes,
            &mut decoder,
            &mut staging,
            &defs,
            &mut summary,
        )?;
        summary.rejected += rejects.len() as u64;
        for r in &rejects {
            if summary.reject_messages.len() < MAX_REJECT_MESSAGES {
                summary.reject_messages.push(format!(
                    "{} at {} {}: {}",
                    object.url(),
                    if r.in_rows { "row" } else { "byte" },
                    r.offset,
                    r.reason
                ));
            }
        }
        write_rejects(
            publisher,
            &options.lake,
            table_names[0],
            &object.url(),
            &rejects,
        )
        .await?;
        progress.inc(bytes.len() as u64);
        progress.set_message(format!("{} records", summary.records_read));
    }
    progress.finish_and_clear();
    summary.read_decode_seconds = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();

    // Every partition this run merges into must be readable before any is written.
    for (t, (def, schema)) in defs.iter().enumerate() {
        for day in staging.days(t) {
            commit::validate_day(&options.lake, def, schema, day).await?;
        }
    }
    let commit_options = commit::CommitOptions {
        write: options.write.clone(),
    };
    let mut touched = BTreeSet::new();
    for (t, (def, schema)) in defs.iter().enumerate().rev() {
        for day in staging.days(t) {
            let outcome = commit::commit_day(
                &options.lake,
                publisher,
                def,
                schema,
                day,
                staging.take_day(t, day)?,
                &commit_options,
            )
            .await?;
            if outcome.written > 0 {
                touched.insert(partition::partition_dir(&def.name, day));
            }
            if t == 0 {
                summary.written += outcome.written as u64;
                summary.duplicates += outcome.duplicates as u64;
            } else {
                summary.child_rows_written += outcome.written as u64;
            }
        }
    }
    summary.partitions_touched = touched.into_iter().collect();
    summary.commit_seconds = started.elapsed().as_secs_f64();
    if summary.records_read != summary.written + summary.duplicates + summary.rejected {
        return Err(Error::Other(format!(
            "accounting does not add up: {} records read, {} written + {} duplicates + {} rejected",
            summary.records_read, summary.written, summary.duplicates, summary.rejected
        )));
    }
    Ok(summary)
}

/// Decodes one object into staging and returns its rejects.
fn decode_object(
    object: &InputObject,
    bytes: &[u8],
    max_object_bytes: usize,
    decoder: &mut Decoder,
    staging: &mut Staging,
    defs: &[(&schema::TableDef, arrow::datatypes::SchemaRef)],
    summary: &mut Summary,
) -> Result<Vec<Reject>> {
    let mut rejects = Vec::new();
    if let Decoder::Rows { rows, format } = decoder {
        let name = object.meta.location.filename().unwrap_or_default();
        let format = format.unwrap_or_else(|| lake_rows::detect_format(name, bytes));
        if format == InputFormat::Parquet {
            // A damaged file keeps the rows before the damage; the rest is one reject.
            let (records, mut found) = rows
                .decode_parquet(bytes::Bytes::copy_from_slice(bytes), |rows| {
                    flush_rows(rows, staging, defs)
                })?;
            flush_rows(rows, staging, defs)?;
            summary.records_read += records;
            rejects.append(&mut found);
            return Ok(rejects);
        }
    }
    let (text, inflate_failure) = decode::inflate(bytes, max_object_bytes);
    let records = match decoder {
        Decoder::Agent(decoder) => {
            decoder.start_object(&text);
            let records = split_flushing(
                &text,
                decoder.as_mut(),
                |d, record| d.attempt(record),
                |d| d.len(),
                |d| flush(d, staging, defs),
                &mut rejects,
            )?;
            flush(decoder, staging, defs)?;
            let warnings = decoder.take_warnings();
            summary.warnings += warnings.count;
            for (offset, message) in warnings.first {
                if summary.warning_messages.len() < MAX_REJECT_MESSAGES {
                    summary
                        .warning_messages
                        .push(format!("{} at byte {offset}: {message}", object.url()));
                }
            }
            records
        }
        Decoder::Rows { rows, format } => {
            let name = object.meta.location.filename().unwrap_or_default();
            let records = match format.unwrap_or_else(|| lake_rows::detect_format(name, &text)) {
                InputFormat::Csv => {
                    let (records, mut found) =
                        rows.decode_csv(&text, |rows| flush_rows(rows, staging, defs))?;
                    rejects.append(&mut found);
                    records
                }
                _ => split_flushing(
                    &text,
                    rows,
                    |d, record| d.attempt_json(record),
                    |d| d.len(),
                    |d| flush_rows(d, staging, defs),
                    &mut rejects,
                )?,
            };
            flush_rows(rows, staging, defs)?;
            records
        }
    };
    summary.records_read += records;
    // What could not be inflated (damage, or past the cap) is one record, rejected.
    if let Some(reject) = inflate_failure {
        summary.records_read += 1;
        rejects.push(reject);
    }
    tracing::debug!(object = %object.url(), records, rejects = rejects.len(), "decoded");
    Ok(rejects)
}

fn flush(
    decoder: &mut AgentEventDecoder,
    staging: &mut Staging,
    defs: &[(&schema::TableDef, arrow::datatypes::SchemaRef)],
) -> Result<()> {
    if decoder.is_empty() {
        return Ok(());
    }
    let (events, contacts) = decoder.finish()?;
    for (t, batch) in [events, contacts].iter().enumerate() {
        staging.add(t, batch, &defs[t].0.partition_timestamp)?;
    }
    Ok(())
}

/// Splits `text` into records for `attempt` on `decoder`, handing each full batch to `flush`
/// as it fills; returns the records seen.
fn split_flushing<D>(
    text: &[u8],
    decoder: &mut D,
    attempt: impl Fn(&mut D, decode::Record<'_>) -> decode::Attempt,
    len: impl Fn(&D) -> usize,
    mut flush: impl FnMut(&mut D) -> Result<()>,
    rejects: &mut Vec<Reject>,
) -> Result<u64> {
    let mut failure = None;
    let records = decode::split_records(
        text,
        |record| {
            let outcome = attempt(decoder, record);
            if len(decoder) >= DECODE_BATCH_ROWS && failure.is_none() {
                failure = flush(decoder).err();
            }
            outcome
        },
        |r| rejects.push(r),
    );
    match failure {
        Some(e) => Err(e),
        None => Ok(records),
    }
}

fn flush_rows(
    rows: &mut RowDecoder,
    staging: &mut Staging,
    defs: &[(&schema::TableDef, arrow::datatypes::SchemaRef)],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let batch = rows.finish()?;
    staging.add(0, &batch, &defs[0].0.partition_timestamp)
}

/// One line of a rejects file (format fixed by the lake spec).
#[derive(Serialize)]
struct RejectLine<'a> {
    source: &'a str,
    offset: u64,
    /// `"row"` for Parquet inputs, whose offset counts rows; absent for byte offsets.
    #[serde(skip_serializing_if = "Option::is_none")]
    offset_unit: Option<&'static str>,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_base64: Option<String>,
}

/// Writes the rejects of one source to `_rejected/<table>/<hash of source URL>.ndjson`. The
/// name depends only on the source, so a rerun replaces the file with the same lines.
async fn write_rejects(
    publisher: &Publisher<'_>,
    lake: &Location,
    table: &str,
    source_url: &str,
    rejects: &[Reject],
) -> Result<()> {
    if rejects.is_empty() {
        return Ok(());
    }
    let mut out = Vec::new();
    for r in rejects {
        let (raw, raw_base64) = match std::str::from_utf8(&r.raw) {
            Ok(text) => (Some(text), None),
            Err(_) => {
                use base64::Engine;
                (
                    None,
                    Some(base64::engine::general_purpose::STANDARD.encode(&r.raw)),
                )
            }
        };
        let line = RejectLine {
            source: source_url,
            offset: r.offset,
            offset_unit: r.in_rows.then_some("row"),
            reason: &r.reason,
            raw,
            raw_base64,
        };
        serde_json::to_writer(&mut out, &line).map_err(|e| Error::Other(e.to_string()))?;
        out.push(b'\n');
    }
    let hash = twox_hash::XxHash64::oneshot(0, source_url.as_bytes());
    let path = lake.child(&format!(
        "{}/{table}/{hash:016x}.ndjson",
        lake::REJECTED_DIR
    ));
    publisher.put(&path, bytes::Bytes::from(out)).await
}
