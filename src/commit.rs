//! Commit: merges one day's staged rows with the partition in the lake, deduplicates on the
//! primary key (rows already in the lake win, then input order), sorts and encodes one
//! Parquet file, and hands it to the storage layer (`lake::publish`), which replaces the
//! partition's file only if it is still the version this merge read. A partition is exactly
//! one file, `dt=…/part-0.parquet`. The only module that produces table data.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, new_null_array};
use arrow::compute::{concat_batches, interleave_record_batch};
use arrow::datatypes::{SchemaRef, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use bytes::Bytes;
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::lake::publish::{self, Publisher};
use crate::partition;
use crate::schema::TableDef;
use crate::store::Location;

/// The one data file of a partition.
pub const PART_FILE: &str = "part-0.parquet";
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Rows per data page. Files are sorted by agent, and a page is the unit the page index
/// prunes: pages of 4096 rows hold a few agents' day each, so a one-agent report decodes a
/// page or two per column instead of the whole day.
const PAGE_ROWS: usize = 4096;
/// Longest min/max kept in statistics and the page index (ARNs are up to ~200 bytes).
const STATS_BYTES: usize = 256;

/// How Parquet files are written.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Old parquet-java readers have mis-read page indexes; off drops them (chunk statistics stay).
    pub page_index: bool,
    pub zstd_level: i32,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            page_index: true,
            zstd_level: 3,
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

/// Merges `staged` (in input order) into the partition of `day` of `table`.
/// Writes nothing when every staged row is already there, so a rerun changes no byte.
pub async fn commit_day(
    lake: &Location,
    publisher: &Publisher<'_>,
    table: &TableDef,
    schema: &SchemaRef,
    day: i32,
    staged: Vec<RecordBatch>,
    options: &WriteOptions,
) -> Result<DayOutcome> {
    let dir = partition::partition_dir(&table.name, day);
    let final_path = lake.child(&format!("{dir}/{PART_FILE}"));
    let t0 = std::time::Instant::now();
    let (existing, version) = read_existing(publisher, lake, &final_path, schema).await?;
    let rows_before = existing.as_ref().map_or(0, RecordBatch::num_rows);
    let staged_rows: usize = staged.iter().map(RecordBatch::num_rows).sum();

    let mut all = Vec::with_capacity(staged.len() + 1);
    all.extend(existing);
    all.extend(staged);
    // Only the key columns are gathered into one batch (for dedup and ordering); whole rows
    // are copied once, straight from the staged batches into sorted order.
    let keys = key_columns(schema, &all, table)?;
    let t1 = std::time::Instant::now();
    let keep = winners(&keys, table)?;
    let t2 = std::time::Instant::now();
    // Rows of this run that made it in: new keys, and newer versions replacing lake rows.
    let written = (rows_before..keys.num_rows())
        .filter(|&i| keep.value(i))
        .count();
    let outcome = DayOutcome {
        rows_before,
        written,
        duplicates: staged_rows - written,
    };
    if written == 0 {
        return Ok(outcome);
    }
    let order = sorted_order(&keys, &keep, table)?;
    drop(keys);
    let mut starts = Vec::with_capacity(all.len());
    let mut total = 0usize;
    for b in &all {
        starts.push(total);
        total += b.num_rows();
    }
    let indices: Vec<(usize, usize)> = order
        .iter()
        .map(|&g| {
            let g = g as usize;
            let batch = starts.partition_point(|&s| s <= g) - 1;
            (batch, g - starts[batch])
        })
        .collect();
    let refs: Vec<&RecordBatch> = all.iter().collect();
    let sorted = interleave_record_batch(&refs, &indices)?;
    drop(all);
    let t3 = std::time::Instant::now();
    let bytes = write_parquet(&sorted, table, options).map_err(|source| Error::Parquet {
        path: lake.url_of(&final_path),
        source,
    })?;
    let t4 = std::time::Instant::now();
    tracing::debug!(table = %table.name, day, read_concat = ?(t1 - t0), dedup = ?(t2 - t1), sort = ?(t3 - t2), write = ?(t4 - t3), "commit stages");

    publisher.publish(&final_path, bytes, &version).await?;
    Ok(outcome)
}

/// Reads the partition's current file, adapted to the current schema (columns appended since
/// it was written come back as nulls), with the version it was read at.
async fn read_existing(
    publisher: &Publisher<'_>,
    lake: &Location,
    path: &object_store::path::Path,
    schema: &SchemaRef,
) -> Result<(Option<RecordBatch>, publish::Version)> {
    let (bytes, version) = publisher.read(path).await?;
    let Some(bytes) = bytes else {
        return Ok((None, version));
    };
    let batch =
        decode_file(bytes, schema, &lake.url_of(path)).map_err(|e| damaged(lake, path, e))?;
    Ok((Some(batch), version))
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

/// Checks, before a run writes anything, that the partition file it will merge into is a
/// Parquet file of the table: its footer reads and its columns fit the schema. A damaged
/// file fails the run here, naming the file, rather than after other partitions changed.
pub async fn validate_day(
    lake: &Location,
    table: &TableDef,
    schema: &SchemaRef,
    day: i32,
) -> Result<()> {
    use parquet::file::metadata::ParquetMetaDataReader;
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
    // The footer is at the end: read a tail, and more when the footer says it is longer.
    let mut want = size.min(256 * 1024);
    let metadata = loop {
        let tail = lake
            .store
            .get_range(&path, size - want..size)
            .await
            .map_err(|source| Error::Store {
                url: lake.url_of(&path),
                source,
            })?;
        let mut reader = ParquetMetaDataReader::new();
        match reader.try_parse_sized(&tail, size) {
            Ok(()) => break reader.finish().map_err(bad)?,
            Err(parquet::errors::ParquetError::NeedMoreData(n))
                if (n as u64) <= size && n as u64 > want =>
            {
                want = n as u64;
            }
            Err(e) => return Err(bad(e)),
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

/// Marks the row kept for each primary key: the one with the latest `dedup_latest` values, and
/// among equals the first. Rows are ordered lake first, then input order, so what the lake
/// already holds is never replaced by a redelivery, only by a newer version.
fn winners(batch: &RecordBatch, table: &TableDef) -> Result<BooleanArray> {
    let key_columns = table
        .primary_key
        .iter()
        .map(|k| {
            batch
                .column_by_name(k)
                .cloned()
                .ok_or_else(|| Error::Other(format!("no key column {k}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let converter = RowConverter::new(
        key_columns
            .iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let rows = converter.convert_columns(&key_columns)?;
    // Keys are short byte strings hashed once each: xxHash is several times SipHash's speed,
    // and nothing here is exposed to hash flooding (a key collision only costs a compare).
    let hasher = twox_hash::xxhash64::State::with_seed(0);
    if table.dedup_latest.is_empty() {
        let mut seen = HashSet::with_capacity_and_hasher(rows.num_rows(), hasher);
        return Ok(rows.iter().map(|r| Some(seen.insert(r))).collect());
    }
    let latest = table
        .dedup_latest
        .iter()
        .map(|c| {
            batch
                .column_by_name(c)
                .and_then(|a| a.as_primitive_opt::<TimestampMicrosecondType>())
                .cloned()
                .ok_or_else(|| Error::Other(format!("dedup column {c} is not a timestamp")))
        })
        .collect::<Result<Vec<_>>>()?;
    // Option orders None first: a row without the timestamp loses to one with it.
    let newer = |i: usize, than: usize| {
        let version = |r: usize| {
            latest
                .iter()
                .map(move |a| a.is_valid(r).then(|| a.value(r)))
        };
        version(i).cmp(version(than)) == std::cmp::Ordering::Greater
    };
    let mut best: HashMap<_, usize, _> = HashMap::with_capacity_and_hasher(rows.num_rows(), hasher);
    for (i, key) in rows.iter().enumerate() {
        match best.get_mut(&key) {
            Some(current) if newer(i, *current) => *current = i,
            Some(_) => {}
            None => {
                best.insert(key, i);
            }
        }
    }
    let mut keep = vec![false; rows.num_rows()];
    for i in best.into_values() {
        keep[i] = true;
    }
    Ok(BooleanArray::from(keep))
}

/// The columns dedup and ordering read (primary key, sort key, `dedup_latest`) of every
/// batch, as one batch: a fraction of the rows' bytes.
fn key_columns(schema: &SchemaRef, all: &[RecordBatch], table: &TableDef) -> Result<RecordBatch> {
    let mut names: Vec<&str> = Vec::new();
    for n in table
        .primary_key
        .iter()
        .chain(&table.sort_key)
        .chain(&table.dedup_latest)
    {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    let indices = names
        .iter()
        .map(|n| {
            schema
                .index_of(n)
                .map_err(|_| Error::Other(format!("no key column {n}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let projected = schema.project(&indices)?;
    let parts = all
        .iter()
        .map(|b| b.project(&indices))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(concat_batches(&Arc::new(projected), &parts)?)
}

/// The kept rows' indices in sort-key order.
fn sorted_order(batch: &RecordBatch, keep: &BooleanArray, table: &TableDef) -> Result<Vec<u32>> {
    let columns = table
        .sort_key
        .iter()
        .map(|k| {
            batch
                .column_by_name(k)
                .cloned()
                .ok_or_else(|| Error::Other(format!("no sort column {k}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut order: Vec<u32> = (0..batch.num_rows() as u32)
        .filter(|&i| keep.value(i as usize))
        .collect();
    // Leading key columns become integers: a timestamp as is, a string as its rank among the
    // column's values. Comparing those decides almost every pair; the remaining key columns
    // are compared (in row format, one memcmp) only on a tie.
    let mut leading: Vec<std::borrow::Cow<[i64]>> = Vec::new();
    for c in &columns {
        if c.null_count() > 0 {
            break;
        }
        if let Some(ts) = c.as_primitive_opt::<TimestampMicrosecondType>() {
            leading.push(std::borrow::Cow::Borrowed(ts.values().as_ref()));
        } else if matches!(c.data_type(), arrow::datatypes::DataType::Utf8) {
            let ranks = arrow::compute::rank(c.as_ref(), None)?;
            leading.push(std::borrow::Cow::Owned(
                ranks.into_iter().map(i64::from).collect(),
            ));
        } else {
            break;
        }
    }
    let rest = &columns[leading.len()..];
    let rows = if rest.is_empty() {
        None
    } else {
        let converter = RowConverter::new(
            rest.iter()
                .map(|c| SortField::new(c.data_type().clone()))
                .collect(),
        )?;
        Some(converter.convert_columns(rest)?)
    };
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        leading
            .iter()
            .map(|k| k[a].cmp(&k[b]))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| match &rows {
                Some(rows) => rows.row(a).cmp(&rows.row(b)),
                None => std::cmp::Ordering::Equal,
            })
    });
    Ok(order)
}

/// Parquet as every downstream reader wants it: zstd, µs UTC timestamps (from the schema),
/// dictionary pages, bloom filters on the agent columns reports filter on.
fn write_parquet(
    batch: &RecordBatch,
    table: &TableDef,
    options: &WriteOptions,
) -> parquet::errors::Result<Bytes> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(options.zstd_level)?))
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
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props.build()))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use std::sync::Arc;

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

    #[tokio::test]
    async fn merge_dedups_keeps_lake_rows_and_skips_needless_writes() {
        let dir = tempfile::tempdir().unwrap();
        let lake =
            Location::parse(dir.path().to_str().unwrap(), &Default::default(), false).unwrap();
        let t = table();
        let schema = t.arrow_schema().unwrap();
        let opts = WriteOptions::default();
        let lease = crate::lake::lease::acquire(&lake, "test", &Default::default())
            .await
            .unwrap();
        let p = Publisher::new(&lake, &lease).await.unwrap();
        let first = batch(
            &schema,
            &[("b", 20, "first"), ("a", 10, "first"), ("b", 20, "again")],
        );
        let out = commit_day(&lake, &p, &t, &schema, 0, vec![first], &opts)
            .await
            .unwrap();
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
        let out = commit_day(&lake, &p, &t, &schema, 0, vec![rerun], &opts)
            .await
            .unwrap();
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
        commit_day(&lake, &p, &t, &schema, 0, vec![late], &opts)
            .await
            .unwrap();
        let (back, _) = read_existing(
            &p,
            &lake,
            &lake.child(&format!("t/dt=1970-01-01/{PART_FILE}")),
            &schema,
        )
        .await
        .unwrap();
        assert_eq!(values(&back.unwrap()), vec!["c:late", "a:first", "b:first"]);
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
}
