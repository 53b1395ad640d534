//! Commit: merges one day's staged rows with the partition in the lake, deduplicates on the
//! primary key (rows already in the lake win, then input order), sorts and encodes one
//! Parquet file, and hands it to the storage layer (`lake::publish`), which replaces the
//! partition's file only if it is still the version this merge read. A partition is exactly
//! one file, `dt=…/part-0.parquet`. The only module that produces table data.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, new_null_array};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::lake::publish::{self, Publisher};
use crate::order::{Keep, KeySet, SortedRows, winners};
use crate::partition::{self, StagedDay};
use crate::schema::TableDef;
use crate::store::Location;
use crate::summary;

/// The one data file of a partition.
pub const PART_FILE: &str = "part-0.parquet";
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Rows per data page. Files are sorted by agent, and a page is the unit the page index
/// prunes: pages of 4096 rows hold a few agents' day each, so a one-agent report decodes a
/// page or two per column instead of the whole day.
const PAGE_ROWS: usize = 4096;
/// Longest min/max kept in statistics and the page index (ARNs are up to ~200 bytes).
const STATS_BYTES: usize = 256;

/// The zstd levels a file may be written with (zstd's own range; `--zstd-level`, `[ingest]`).
pub const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = 1..=22;

/// How Parquet files are written.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Old parquet-java readers have mis-read page indexes; off drops them (chunk statistics stay).
    pub page_index: bool,
    /// Level 1, not zstd's usual 3: on the 1 GB bench input (`tests/bench/bench.py --only etl`)
    /// level 1 cut the ETL's CPU time by about 4% (6.67 against 6.89 CPU-s, medians of 6
    /// alternated runs) for files 0.8% larger in all (agent_events even 1% smaller): the
    /// sorted, dictionary-encoded columns leave zstd little that a higher level finds.
    pub zstd_level: i32,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            page_index: true,
            zstd_level: 1,
        }
    }
}

/// What committing one day did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DayOutcome {
    pub rows_before: usize,
    pub written: usize,
    pub duplicates: usize,
}

/// How a commit writes (Parquet options). Its memory follows from the staging's budget: it
/// holds the day's rows still in memory (counted in `--memory-mib`), the keys, and a batch per
/// input of the merge.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub write: WriteOptions,
}

/// Rows per batch read from the lake file and from sorted runs: what each input of the merge
/// holds at a time (about 3 MiB of agent events).
const MERGE_INPUT_ROWS: usize = partition::SPILL_BATCH_ROWS;
/// Rows per batch the merge hands to the Parquet writer.
const MERGE_OUTPUT_ROWS: usize = 8192;

/// Merges `staged` (in input order) into the partition of `day` of `table`, in bounded memory:
///
/// 1. the key columns of the lake file and of the staged rows decide, for every row, whether
///    it is kept (rows already in the lake win, then input order; for `dedup_latest` tables the
///    latest version wins): only the keys are held, never the rows;
/// 2. the runs the staging spilled are sorted already; the kept rows still in memory are
///    sorted in place (an index per row, gathered a batch at a time as the merge asks);
/// 3. the lake file (already sorted) and the runs are merged as streams (DataFusion's
///    streaming k-way merge) and written row group by row group to a local file, which the
///    storage layer publishes (a rename, a conditional PUT or a multipart upload).
///
/// The sort key contains the primary key, so the kept rows have one order and the file is
/// the same bytes whatever the runs were. Writes nothing when every staged row is already
/// there, so a rerun changes no byte.
pub async fn commit_day(
    lake: &Location,
    publisher: &Publisher<'_>,
    table: &TableDef,
    schema: &SchemaRef,
    day: i32,
    staged: StagedDay,
    options: &CommitOptions,
) -> Result<DayOutcome> {
    let dir = partition::partition_dir(&table.name, day);
    let final_path = lake.child(&format!("{dir}/{PART_FILE}"));
    let url = lake.url_of(&final_path);
    let t0 = std::time::Instant::now();
    tracing::debug!(table = %table.name, day, rss_mib = resident_mib(), "commit starts");
    let existing = match publisher.open(&final_path).await? {
        Some((file, version)) => {
            let metadata = ArrowReaderMetadata::load(&file, Default::default())
                .map_err(|source| damaged(lake, &final_path, parquet_error(&url, source)))?;
            Some((LakeFile { file, metadata }, version))
        }
        None => None,
    };
    let rows_before = existing.as_ref().map_or(0, |(f, _)| {
        f.metadata.metadata().file_metadata().num_rows() as usize
    });

    // 1. Which rows are kept, decided on the keys alone.
    let keys = key_names(table);
    let key_indices = indices_of(schema, &keys)?;
    let key_schema = Arc::new(schema.project(&key_indices)?);
    let mut key_set = KeySet::new(schema, table)?;
    if let Some((reader, _)) = &existing {
        let mask = ProjectionMask::columns(
            reader.metadata.metadata().file_metadata().schema_descr(),
            keys.iter().map(String::as_str),
        );
        let keys_reader = reader
            .builder(&url)?
            .with_projection(mask)
            .with_batch_size(64 * 1024)
            .build()
            .map_err(|source| damaged(lake, &final_path, parquet_error(&url, source)))?;
        for b in keys_reader {
            let b = b.map_err(|e| damaged(lake, &final_path, Error::Other(e.to_string())))?;
            key_set.append(&adapt(&b, &key_schema, &url)?)?;
        }
    }
    staged.for_each(Some(&key_indices), |b| key_set.append(&b))?;
    let keep = key_set.winners();
    drop(key_set);
    let staged_rows = staged.present_rows();
    let written = keep.slice(rows_before, staged_rows).true_count();
    let outcome = DayOutcome {
        rows_before,
        written,
        duplicates: staged.staged_rows() - written,
    };
    if written == 0 {
        return Ok(outcome);
    }
    let t1 = std::time::Instant::now();
    tracing::debug!(table = %table.name, day, rss_mib = resident_mib(), "commit keys decided");

    // 2. The staged runs spilled while decoding are sorted already: each is merged as it is,
    // its rows filtered by the keep mask as they stream. The rows still in memory are sorted
    // where they are: no copy of them is made whole, only each batch the merge takes.
    let (spilled_runs, in_memory) = staged.into_runs()?;
    let mut streams: Vec<SendableRecordBatchStream> = Vec::new();
    let mut at = rows_before;
    for (reader, rows) in spilled_runs {
        let mask = keep.slice(at, rows);
        at += rows;
        if mask.true_count() == 0 {
            continue;
        }
        streams.push(stream_of(
            schema,
            filtered(reader.map(|b| b.map_err(Error::from)), mask),
        ));
    }
    let in_memory_rows: usize = in_memory.iter().map(RecordBatch::num_rows).sum();
    let mask = keep.slice(at, in_memory_rows);
    if mask.true_count() > 0 {
        let sorted = SortedRows::new(schema, in_memory, table, Keep::Mask(mask), MERGE_INPUT_ROWS)?;
        streams.push(stream_of(schema, sorted));
    }
    let t2 = std::time::Instant::now();
    tracing::debug!(table = %table.name, day, runs = streams.len(), rss_mib = resident_mib(), "commit runs sorted");

    // 3. Merge the lake file and the runs, straight into the new file.
    let version = match existing {
        Some((reader, version)) => {
            let rows = reader
                .builder(&url)?
                .with_batch_size(MERGE_INPUT_ROWS)
                .build()
                .map_err(|source| damaged(lake, &final_path, parquet_error(&url, source)))?;
            let (schema2, url2) = (schema.clone(), url.clone());
            let batches = rows.map(move |b| adapt(&b?, &schema2, &url2));
            streams.push(stream_of(
                schema,
                filtered(batches, keep.slice(0, rows_before)),
            ));
            version
        }
        None => publish::Version(None),
    };
    drop(keep);
    let mut merged = merge(schema, table, streams)?;

    let upload = publisher.begin(&final_path)?;
    let mut writer = ArrowWriter::try_new(
        upload,
        schema.clone(),
        Some(properties(table, &options.write)?),
    )
    .map_err(|source| parquet_error(&url, source))?;
    // agent_events files carry their day's agent summary in the footer (`summary`): written
    // with the rows, so a reader never sees one without the other.
    let mut summary = (table.name == summary::TABLE).then(summary::Builder::default);
    while let Some(batch) = merged.next().await {
        let batch = batch.map_err(|e| Error::Other(format!("{url}: merge: {e}")))?;
        if let Some(summary) = summary.as_mut() {
            summary.add(&batch)?;
        }
        writer
            .write(&batch)
            .map_err(|source| parquet_error(&url, source))?;
    }
    if let Some(summary) = summary {
        writer.append_key_value_metadata(KeyValue::new(
            summary::KEY.to_string(),
            summary.finish().to_json()?,
        ));
    }
    let upload = writer
        .into_inner()
        .map_err(|source| parquet_error(&url, source))?;
    let t3 = std::time::Instant::now();
    tracing::debug!(table = %table.name, day, keys = ?(t1 - t0), runs = ?(t2 - t1), merge_write = ?(t3 - t2), rss_mib = resident_mib(), "commit stages");

    publisher
        .publish_upload(&final_path, upload, &version)
        .await?;
    Ok(outcome)
}

/// This process's resident memory (MiB) as Linux reports it, for debug logs: where a commit's
/// memory goes. `None` elsewhere.
fn resident_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn parquet_error(url: &str, source: parquet::errors::ParquetError) -> Error {
    Error::Parquet {
        path: url.to_string(),
        source,
    }
}

/// The partition's current file, open, with its footer read once for both passes.
struct LakeFile {
    file: std::fs::File,
    metadata: ArrowReaderMetadata,
}

impl LakeFile {
    /// A reader of another handle on the file (each pass reads from its own position).
    fn builder(&self, url: &str) -> Result<ParquetRecordBatchReaderBuilder<std::fs::File>> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| Error::Other(format!("{url}: {e}")))?;
        Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
            file,
            self.metadata.clone(),
        ))
    }
}

/// The columns that decide which row of a key is kept: the primary key and `dedup_latest`.
fn key_names(table: &TableDef) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for n in table.primary_key.iter().chain(&table.dedup_latest) {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    names
}

fn indices_of(schema: &SchemaRef, names: &[String]) -> Result<Vec<usize>> {
    names
        .iter()
        .map(|n| {
            schema
                .index_of(n)
                .map_err(|_| Error::Other(format!("no key column {n}")))
        })
        .collect()
}

/// The rows of sorted `batches` that `mask` (one flag per row, in order) keeps; batches left
/// empty are skipped.
fn filtered(
    batches: impl Iterator<Item = Result<RecordBatch>> + Send + 'static,
    mask: BooleanArray,
) -> impl Iterator<Item = Result<RecordBatch>> + Send + 'static {
    let mut at = 0usize;
    batches.filter_map(move |b| {
        let b = match b {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        let m = mask.slice(at, b.num_rows());
        at += b.num_rows();
        match m.true_count() {
            0 => None,
            n if n == b.num_rows() => Some(Ok(b)),
            _ => Some(filter_record_batch(&b, &m).map_err(Error::from)),
        }
    })
}

/// A stream for the merge over an iterator of batches (local reads: no need to yield).
fn stream_of(
    schema: &SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch>> + Send + 'static,
) -> SendableRecordBatchStream {
    Box::pin(RecordBatchStreamAdapter::new(
        schema.clone(),
        futures::stream::iter(
            batches
                .map(|b| b.map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))),
        ),
    ))
}

/// DataFusion's streaming k-way merge of sorted streams, on the table's sort key (ascending,
/// nulls first: the order of [`sorted_order`]).
fn merge(
    schema: &SchemaRef,
    table: &TableDef,
    streams: Vec<SendableRecordBatchStream>,
) -> Result<SendableRecordBatchStream> {
    use datafusion::arrow::compute::SortOptions;
    use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
    let exprs = table
        .sort_key
        .iter()
        .map(|k| {
            Ok(PhysicalSortExpr::new(
                Arc::new(
                    datafusion::physical_expr::expressions::Column::new_with_schema(k, schema)?,
                ),
                SortOptions {
                    descending: false,
                    nulls_first: true,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let ordering = LexOrdering::new(exprs)
        .ok_or_else(|| Error::Other(format!("table {} has no sort key", table.name)))?;
    let pool: Arc<dyn datafusion::execution::memory_pool::MemoryPool> =
        Arc::new(datafusion::execution::memory_pool::UnboundedMemoryPool::default());
    let reservation =
        datafusion::execution::memory_pool::MemoryConsumer::new("commit merge").register(&pool);
    let metrics = datafusion::physical_plan::metrics::BaselineMetrics::new(
        &datafusion::physical_plan::metrics::ExecutionPlanMetricsSet::new(),
        0,
    );
    Ok(
        datafusion::physical_plan::sorts::streaming_merge::StreamingMergeBuilder::new()
            .with_streams(streams)
            .with_schema(schema.clone())
            .with_expressions(&ordering)
            .with_metrics(metrics)
            .with_batch_size(MERGE_OUTPUT_ROWS)
            .with_reservation(reservation)
            .build()?,
    )
}

/// A lake file that cannot be read as its table: named, with the way out.
fn damaged(lake: &Location, path: &object_store::path::Path, e: Error) -> Error {
    let reason = match e {
        Error::Parquet { source, .. } => source.to_string(),
        Error::Other(text) => text,
        other => other.to_string(),
    };
    Error::Damaged {
        url: lake.url_of(path),
        lake: lake.url.clone(),
        reason,
    }
}

/// Decodes a whole partition file onto `schema`.
pub fn decode_file(bytes: Bytes, schema: &SchemaRef, url: &str) -> Result<RecordBatch> {
    let parquet_err = |source| Error::Parquet {
        path: url.to_string(),
        source,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(parquet_err)?
        .with_batch_size(64 * 1024)
        .build()
        .map_err(parquet_err)?;
    let mut batches = Vec::new();
    for b in reader {
        batches.push(adapt(&b?, schema, url)?);
    }
    Ok(concat_batches(schema, &batches)?)
}

/// The footer of the Parquet file at `path` of `size` bytes: a tail is read (most footers
/// fit in 256 KiB), and more when the footer says it is longer. With `page_index` the column
/// and offset indexes (written just before the footer) are decoded too, as a reader that
/// prunes pages needs them. The outer error is the store's, the inner one the file's.
pub(crate) async fn read_footer(
    store: &Arc<dyn object_store::ObjectStore>,
    path: &object_store::path::Path,
    size: u64,
    page_index: bool,
) -> std::result::Result<
    std::result::Result<parquet::file::metadata::ParquetMetaData, parquet::errors::ParquetError>,
    object_store::Error,
> {
    use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
    let mut want = size.min(256 * 1024);
    loop {
        let tail = store.get_range(path, size - want..size).await?;
        let mut reader = ParquetMetaDataReader::new().with_page_index_policy(if page_index {
            PageIndexPolicy::Optional
        } else {
            PageIndexPolicy::Skip
        });
        match reader.try_parse_sized(&tail, size) {
            Ok(()) => return Ok(reader.finish()),
            Err(parquet::errors::ParquetError::NeedMoreData(n))
                if (n as u64) <= size && n as u64 > want =>
            {
                want = n as u64;
            }
            Err(e) => return Ok(Err(e)),
        }
    }
}

/// Checks, before a run writes anything, that the partition file it will merge into is a
/// Parquet file of the table: its footer reads and its columns fit the schema. A damaged
/// file fails the run here, naming the file, rather than after other partitions changed.
pub async fn validate_day(
    lake: &Location,
    table: &TableDef,
    schema: &SchemaRef,
    day: i32,
) -> Result<()> {
    let dir = partition::partition_dir(&table.name, day);
    let path = lake.child(&format!("{dir}/{PART_FILE}"));
    let (size, _) = publish::head(lake, &path).await?;
    let Some(size) = size else {
        return Ok(());
    };
    let bad = |source| {
        damaged(
            lake,
            &path,
            Error::Parquet {
                path: String::new(),
                source,
            },
        )
    };
    let metadata = match read_footer(&lake.store, &path, size, false).await {
        Ok(read) => read.map_err(bad)?,
        Err(source) => {
            return Err(Error::Store {
                url: lake.url_of(&path),
                source,
            });
        }
    };
    let found = parquet::arrow::parquet_to_arrow_schema(
        metadata.file_metadata().schema_descr(),
        metadata.file_metadata().key_value_metadata(),
    )
    .map_err(bad)?;

    for f in schema.fields() {
        match found.field_with_name(f.name()) {
            Ok(c) if c.data_type() == f.data_type() => {}
            Ok(c) if arrow::compute::can_cast_types(c.data_type(), f.data_type()) => {}
            Ok(c) => {
                return Err(damaged(
                    lake,
                    &path,
                    Error::Other(format!(
                        "column {} is {}, the table has {}",
                        f.name(),
                        c.data_type(),
                        f.data_type()
                    )),
                ));
            }
            Err(_) if f.is_nullable() => {}
            Err(_) => {
                return Err(damaged(
                    lake,
                    &path,
                    Error::Other(format!("has no column {} and it cannot be null", f.name())),
                ));
            }
        }
    }
    Ok(())
}

/// How many rows of a decoded partition repeat a primary key already in it.
pub fn duplicate_keys(batch: &RecordBatch, table: &TableDef) -> Result<usize> {
    let keep = winners(batch, table)?;
    Ok(batch.num_rows() - keep.true_count())
}

/// Maps a batch read from an older file onto `schema` by column name.
fn adapt(batch: &RecordBatch, schema: &SchemaRef, url: &str) -> Result<RecordBatch> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch.clone());
    }
    let columns = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
            Some(c) => Ok(arrow::compute::cast(c, f.data_type())?),
            None if f.is_nullable() => Ok(new_null_array(f.data_type(), batch.num_rows())),
            None => Err(Error::Other(format!(
                "{url}: has no column {} and it cannot be null",
                f.name()
            ))),
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// Parquet as every downstream reader wants it: zstd, µs UTC timestamps (from the schema),
/// dictionary pages, bloom filters on the agent columns reports filter on.
fn properties(table: &TableDef, options: &WriteOptions) -> Result<WriterProperties> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(options.zstd_level)
                .map_err(|e| Error::Other(format!("zstd level: {e}")))?,
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        // ARNs share a ~100-byte prefix: statistics cut at the default 64 bytes would be the
        // same on every page and prune nothing.
        .set_statistics_truncate_length(Some(STATS_BYTES))
        .set_column_index_truncate_length(Some(STATS_BYTES))
        .set_created_by(format!("connect-lake {}", env!("CARGO_PKG_VERSION")));
    if !options.page_index {
        props = props
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_offset_index_disabled(true);
    }
    for column in ["agent_id", "username", "contact_id"] {
        if table.column_index(column).is_some() {
            props = props.set_column_bloom_filter_enabled(ColumnPath::from(column), true);
        }
    }
    // Event ids are (almost) all distinct: a dictionary for them is wasted work.
    if table.column_index("event_id").is_some() {
        props = props.set_column_dictionary_enabled(ColumnPath::from("event_id"), false);
    }
    Ok(props.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order;
    use arrow::array::{StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use std::sync::Arc;

    /// Batches of at most `rows` rows of `batch` (slices, no copy).
    fn slices(batch: &RecordBatch, rows: usize) -> Vec<RecordBatch> {
        (0..batch.num_rows())
            .step_by(rows)
            .map(|start| batch.slice(start, rows.min(batch.num_rows() - start)))
            .collect()
    }

    fn table() -> TableDef {
        serde_json::from_str(
            r#"{"name":"t","description":"d","primary_key":["id"],"partition_timestamp":"ts",
                "sort_key":["ts","id"],"columns":[
                {"name":"id","type":"string","nullable":false,"description":"i"},
                {"name":"ts","type":"timestamp","nullable":false,"description":"t"},
                {"name":"v","type":"string","nullable":true,"description":"v"}]}"#,
        )
        .unwrap()
    }

    fn batch(schema: &SchemaRef, rows: &[(&str, i64, &str)]) -> RecordBatch {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1))
                        .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .unwrap()
    }

    fn values(b: &RecordBatch) -> Vec<String> {
        use arrow::array::AsArray;
        (0..b.num_rows())
            .map(|i| {
                format!(
                    "{}:{}",
                    b.column(0).as_string::<i32>().value(i),
                    b.column(2).as_string::<i32>().value(i)
                )
            })
            .collect()
    }

    /// Commits in-memory batches into day 0 with the default options.
    async fn commit_batches(
        lake: &Location,
        p: &Publisher<'_>,
        t: &TableDef,
        schema: &SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> DayOutcome {
        let options = CommitOptions::default();
        commit_day(
            lake,
            p,
            t,
            schema,
            0,
            StagedDay::from_batches(batches),
            &options,
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn merge_dedups_keeps_lake_rows_and_skips_needless_writes() {
        let dir = tempfile::tempdir().unwrap();
        let lake =
            Location::parse(dir.path().to_str().unwrap(), &Default::default(), false).unwrap();
        let t = table();
        let schema = t.arrow_schema().unwrap();
        let lease = crate::lake::lease::acquire(&lake, "test", &Default::default())
            .await
            .unwrap();
        let p = Publisher::new(&lake, &lease).await.unwrap();
        let first = batch(
            &schema,
            &[("b", 20, "first"), ("a", 10, "first"), ("b", 20, "again")],
        );
        let out = commit_batches(&lake, &p, &t, &schema, vec![first]).await;
        assert_eq!(
            out,
            DayOutcome {
                rows_before: 0,
                written: 2,
                duplicates: 1
            }
        );
        let file = dir.path().join("t/dt=1970-01-01").join(PART_FILE);
        let before = std::fs::read(&file).unwrap();

        let rerun = batch(&schema, &[("a", 10, "later")]);
        let out = commit_batches(&lake, &p, &t, &schema, vec![rerun]).await;
        assert_eq!(
            out,
            DayOutcome {
                rows_before: 2,
                written: 0,
                duplicates: 1
            }
        );
        assert_eq!(
            std::fs::read(&file).unwrap(),
            before,
            "a rerun rewrites nothing"
        );

        let late = batch(&schema, &[("c", 5, "late")]);
        commit_batches(&lake, &p, &t, &schema, vec![late]).await;
        let back = decode_file(std::fs::read(&file).unwrap().into(), &schema, "t").unwrap();
        assert_eq!(values(&back), vec!["c:late", "a:first", "b:first"]);
        // Nothing staged is left beside the partition or in the staging folder.
        p.finish().await.unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("t/dt=1970-01-01"))
                .unwrap()
                .count(),
            1
        );
        assert!(
            !dir.path()
                .join("_staging")
                .join(&lease.holder().run_id)
                .exists()
        );
    }

    #[test]
    fn the_latest_version_wins_null_lowest_first_on_a_tie() {
        let t: TableDef = serde_json::from_str(
            r#"{"name":"t","description":"d","primary_key":["id"],"partition_timestamp":"ts",
                "sort_key":["ts","id"],"dedup_latest":["ts"],"columns":[
                {"name":"id","type":"string","nullable":false,"description":"i"},
                {"name":"ts","type":"timestamp","nullable":true,"description":"t"}]}"#,
        )
        .unwrap();
        let schema = t.arrow_schema().unwrap();
        let b = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a", "a", "a", "a", "b", "b"])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        None,
                        Some(5),
                        Some(3),
                        Some(5),
                        None,
                        None,
                    ])
                    .with_timezone("UTC"),
                ),
            ],
        )
        .unwrap();
        let keep = winners(&b, &t).unwrap();
        let kept: Vec<bool> = (0..keep.len()).map(|i| keep.value(i)).collect();
        assert_eq!(kept, vec![false, true, false, false, true, false]);
    }

    #[test]
    fn older_files_gain_appended_columns_as_nulls() {
        let t = table();
        let schema = t.arrow_schema().unwrap();
        let old_schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
        ]));
        let old = RecordBatch::try_new(
            old_schema,
            vec![
                Arc::new(StringArray::from(vec!["x"])),
                Arc::new(TimestampMicrosecondArray::from(vec![1]).with_timezone("UTC")),
            ],
        )
        .unwrap();
        let adapted = adapt(&old, &schema, "u").unwrap();
        assert_eq!(adapted.num_columns(), 3);
        assert!(adapted.column(2).is_null(0));
    }

    /// Today's commit before the streaming merge, kept as the oracle: every row in memory,
    /// one sort, one write.
    fn in_memory_commit(
        table: &TableDef,
        schema: &SchemaRef,
        existing: Option<RecordBatch>,
        staged: &[RecordBatch],
        options: &WriteOptions,
    ) -> Vec<u8> {
        let mut all: Vec<RecordBatch> = existing.into_iter().collect();
        all.extend(staged.iter().cloned());
        let keys = order::key_columns(schema, &all, table).unwrap();
        let keep = winners(&keys, table).unwrap();
        let kept: Vec<RecordBatch> = {
            let mut at = 0;
            all.iter()
                .map(|b| {
                    let mask = keep.slice(at, b.num_rows());
                    at += b.num_rows();
                    filter_record_batch(b, &mask).unwrap()
                })
                .collect()
        };
        let n = kept.iter().map(RecordBatch::num_rows).sum();
        let all_kept = Keep::Mask(BooleanArray::from(vec![true; n]));
        let sorted = order::sort_rows(schema, kept, table, all_kept).unwrap();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(
            &mut out,
            schema.clone(),
            Some(properties(table, options).unwrap()),
        )
        .unwrap();
        // The streaming writer is fed batches of MERGE_OUTPUT_ROWS; pages of nested columns
        // break at batch boundaries, so the oracle writes the same batches.
        for b in slices(&sorted, MERGE_OUTPUT_ROWS) {
            w.write(&b).unwrap();
        }
        w.close().unwrap();
        out
    }

    /// A table whose newest version of a key wins (`dedup_latest`), with a version column
    /// that is not in the sort key, so a newer version moves a row.
    fn versioned_table() -> TableDef {
        serde_json::from_str(
            r#"{"name":"t","description":"d","primary_key":["id"],"partition_timestamp":"ts",
                "sort_key":["ts","id"],"dedup_latest":["version"],"columns":[
                {"name":"id","type":"string","nullable":false,"description":"i"},
                {"name":"ts","type":"timestamp","nullable":false,"description":"t"},
                {"name":"version","type":"timestamp","nullable":true,"description":"v"},
                {"name":"v","type":"string","nullable":true,"description":"v"},
                {"name":"tags","type":"array<string>","nullable":true,"description":"t"}]}"#,
        )
        .unwrap()
    }

    /// Deterministic rows: `n` rows with keys from a pool of `keys`, so keys repeat within
    /// and across sets; versions (when the table has them) vary, some null.
    fn rows(schema: &SchemaRef, seed: u64, n: usize, keys: u64, tag: &str) -> RecordBatch {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut ids = Vec::new();
        let mut ts = Vec::new();
        let mut versions = Vec::new();
        let mut vals = Vec::new();
        for i in 0..n {
            let k = next() % keys;
            ids.push(format!("key-{k:05}"));
            // The event time is a function of the key (a redelivery has the same time) for
            // the plain table; the versioned table may move it.
            ts.push(
                (k % 97) as i64 * 1_000
                    + if versioned(schema) {
                        (next() % 3) as i64
                    } else {
                        0
                    },
            );
            versions.push((next() % 5 != 0).then(|| (next() % 4) as i64));
            vals.push(format!("{tag}-{i}"));
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
        ];
        if versioned(schema) {
            columns.push(Arc::new(
                TimestampMicrosecondArray::from(versions).with_timezone("UTC"),
            ));
        }
        columns.push(Arc::new(StringArray::from(vals)));
        if schema.index_of("tags").is_ok() {
            // A nested column: its pages break by levels, not rows.
            let mut tags = arrow::array::ListBuilder::new(arrow::array::StringBuilder::new());
            for i in 0..n {
                for t in 0..(i % 4) {
                    tags.values().append_value(format!("tag-{t}-{}", i % 13));
                }
                tags.append(i % 7 != 0);
            }
            columns.push(Arc::new(tags.finish()));
        }
        RecordBatch::try_new(schema.clone(), columns).unwrap()
    }

    fn versioned(schema: &SchemaRef) -> bool {
        schema.index_of("version").is_ok()
    }

    fn spill_parts(
        dir: &std::path::Path,
        name: &str,
        parts: &[RecordBatch],
        table: &TableDef,
        cut: usize,
    ) -> Vec<(std::path::PathBuf, usize)> {
        parts
            .iter()
            .flat_map(|b| slices(b, cut))
            .enumerate()
            .map(|(i, b)| {
                let path = dir.join(format!("{name}-{i}.arrow"));
                let run = SortedRows::new(&b.schema(), vec![b.clone()], table, Keep::Winners, 300)
                    .unwrap();
                let rows = run.len();
                let file = std::fs::File::create(&path).unwrap();
                partition::write_run(file, &path, &b.schema(), run).unwrap();
                (path, rows)
            })
            .collect()
    }

    /// The streaming commit against the in-memory oracle: a lake file, then staged rows split
    /// between spilled runs (each sorted and deduplicated, as the staging writes them) and
    /// memory, the spilled rows cut into runs of every size (none spilled, one run per batch,
    /// a few, many), with duplicates within and across all three and, for the versioned table,
    /// newer and older versions in each place. The file is the same bytes every time.
    #[tokio::test]
    async fn the_streaming_merge_writes_the_bytes_of_the_in_memory_commit() {
        for table in [table(), versioned_table()] {
            let schema = table.arrow_schema().unwrap();
            let opts = WriteOptions::default();
            for (case, cut) in [(0u64, 0usize), (1, usize::MAX), (2, 700), (3, 97)] {
                let dir = tempfile::tempdir().unwrap();
                let lake =
                    Location::parse(dir.path().to_str().unwrap(), &Default::default(), false)
                        .unwrap();
                let lease = crate::lake::lease::acquire(&lake, "test", &Default::default())
                    .await
                    .unwrap();
                let p = Publisher::new(&lake, &lease).await.unwrap();
                let memory = CommitOptions {
                    write: opts.clone(),
                };
                let first = vec![rows(&schema, case * 10 + 1, 7000, 5000, "lake")];
                let out = commit_day(
                    &lake,
                    &p,
                    &table,
                    &schema,
                    0,
                    StagedDay::from_batches(first.clone()),
                    &memory,
                )
                .await
                .unwrap();
                let file = dir.path().join("t/dt=1970-01-01").join(PART_FILE);
                let after_first = std::fs::read(&file).unwrap();
                assert_eq!(
                    after_first,
                    in_memory_commit(&table, &schema, None, &first, &opts)
                );
                assert_eq!(out.written + out.duplicates, 7000);

                let existing = decode_file(after_first.clone().into(), &schema, "t").unwrap();
                let spilled_rows = vec![
                    rows(&schema, case * 10 + 2, 3000, 9000, "spilled-a"),
                    rows(&schema, case * 10 + 3, 2500, 9000, "spilled-b"),
                ];
                let in_memory = vec![
                    rows(&schema, case * 10 + 4, 2000, 9000, "memory-a"),
                    rows(&schema, case * 10 + 5, 1200, 9000, "memory-b"),
                ];
                let all_staged: Vec<RecordBatch> =
                    spilled_rows.iter().chain(&in_memory).cloned().collect();
                let expected =
                    in_memory_commit(&table, &schema, Some(existing.clone()), &all_staged, &opts);
                let staged = if cut == 0 {
                    StagedDay::from_batches(all_staged.clone())
                } else {
                    StagedDay::from_parts(
                        spill_parts(dir.path(), "stage", &spilled_rows, &table, cut),
                        in_memory.clone(),
                        8700,
                    )
                };
                let out = commit_day(&lake, &p, &table, &schema, 0, staged, &memory)
                    .await
                    .unwrap();
                assert_eq!(out.rows_before, existing.num_rows());
                assert_eq!(out.written + out.duplicates, 8700);
                let got = std::fs::read(&file).unwrap();
                assert!(
                    got == expected,
                    "table {} runs of {cut} rows: bytes differ",
                    table.name
                );
                // Each key once.
                let back = decode_file(got.into(), &schema, "t").unwrap();
                assert_eq!(duplicate_keys(&back, &table).unwrap(), 0);
                // No sorted run or staged part is left behind.
                let left: Vec<_> = std::fs::read_dir(dir.path())
                    .unwrap()
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".arrow"))
                    .collect();
                assert!(left.is_empty(), "{left:?}");
                p.finish().await.unwrap();
            }
        }
    }
}
