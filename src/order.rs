//! Row order and duplicates: which row of a primary key a table keeps ([`KeySet`]) and the
//! table's sort order. Shared by the staging area, which spills each day's rows as sorted,
//! deduplicated runs, and by the commit, which merges those runs with the lake's file.

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, UInt32Array};
use arrow::compute::{concat_batches, interleave_record_batch, take_record_batch};
use arrow::datatypes::{SchemaRef, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use hashbrown::HashTable;

use crate::error::{Error, Result};
use crate::schema::TableDef;

/// The keys of every row of a day, gathered batch by batch in row order, that decide which
/// row of each primary key is kept. Keys are copied out as compact bytes ([`KeyBytes`], with
/// the `dedup_latest` values beside), never held as the batches they came from: a batch read
/// back from a spilled part would otherwise keep its whole message buffer alive.
pub struct KeySet {
    rows: KeyBytes,
    latest: Vec<Vec<Option<i64>>>,
    key_names: Vec<String>,
    latest_names: Vec<String>,
    scratch: Vec<u8>,
}

impl KeySet {
    pub fn new(schema: &SchemaRef, table: &TableDef) -> Result<KeySet> {
        for k in &table.primary_key {
            let field = schema
                .field_with_name(k)
                .map_err(|_| Error::Other(format!("no key column {k}")))?;
            KeyColumn::check(field.data_type())
                .map_err(|t| Error::Other(format!("key column {k}: type {t} is not supported")))?;
        }
        Ok(KeySet {
            rows: KeyBytes::default(),
            latest: vec![Vec::new(); table.dedup_latest.len()],
            key_names: table.primary_key.clone(),
            latest_names: table.dedup_latest.clone(),
            scratch: Vec::new(),
        })
    }

    /// Appends the keys of `batch` (which has at least the key and `dedup_latest` columns).
    pub fn append(&mut self, batch: &RecordBatch) -> Result<()> {
        let column = |name: &String| {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| Error::Other(format!("no key column {name}")))
        };
        let keys = self
            .key_names
            .iter()
            .map(column)
            .collect::<Result<Vec<_>>>()?;
        // Winners are tracked by u32 row number; a partition past four billion rows is refused
        // rather than miscounted.
        if self.rows.len() + batch.num_rows() > u32::MAX as usize {
            return Err(Error::Other(format!(
                "more than {} rows in one day of one table",
                u32::MAX
            )));
        }
        let columns = keys
            .iter()
            .zip(&self.key_names)
            .map(|(c, name)| {
                KeyColumn::of(c.as_ref()).map_err(|t| {
                    Error::Other(format!("key column {name}: type {t} is not supported"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for row in 0..batch.num_rows() {
            self.scratch.clear();
            for c in &columns {
                c.encode(row, &mut self.scratch);
            }
            self.rows.push(&self.scratch);
        }
        for (name, values) in self.latest_names.iter().zip(&mut self.latest) {
            let c = column(name)?;
            let ts = c
                .as_primitive_opt::<TimestampMicrosecondType>()
                .ok_or_else(|| Error::Other(format!("dedup column {name} is not a timestamp")))?;
            values.extend(ts.iter());
        }
        Ok(())
    }

    /// Marks the row kept for each primary key: the one with the latest `dedup_latest`
    /// values, and among equals the first. Rows come lake first, then input order, so what
    /// the lake already holds is never replaced by a redelivery, only by a newer version.
    pub fn winners(&self) -> BooleanArray {
        let rows = &self.rows;
        let n = rows.len();
        // The table holds row numbers (4 bytes a slot), not the keys: a day's million keys
        // then cost about 10 MB of table instead of the ~50 MB a `HashSet<Row>` takes, at the
        // instant a commit's memory peaks. Keys are short byte strings hashed once each
        // (xxHash, several times SipHash's speed; nothing here is exposed to hash flooding:
        // a collision only costs a compare). The table is sized up front, so the rehash
        // closure below never runs in practice.
        let hash = |i: u32| twox_hash::XxHash64::oneshot(0, rows.row(i as usize));
        let mut table: HashTable<u32> = HashTable::with_capacity(n);
        let mut keep = vec![false; n];
        // Option orders None first: a row without the timestamp loses to one with it.
        let newer = |i: usize, than: usize| {
            let version = |r: usize| self.latest.iter().map(move |v| v[r]);
            version(i).cmp(version(than)) == std::cmp::Ordering::Greater
        };
        for i in 0..n {
            let key = rows.row(i);
            let h = twox_hash::XxHash64::oneshot(0, key);
            match table.entry(h, |&j| rows.row(j as usize) == key, |&j| hash(j)) {
                hashbrown::hash_table::Entry::Occupied(mut e) => {
                    let current = *e.get() as usize;
                    if newer(i, current) {
                        keep[current] = false;
                        keep[i] = true;
                        *e.get_mut() = i as u32;
                    }
                }
                hashbrown::hash_table::Entry::Vacant(e) => {
                    e.insert(i as u32);
                    keep[i] = true;
                }
            }
        }
        BooleanArray::from(keep)
    }
}

/// Bytes per chunk of [`KeyBytes`]: small enough for the allocator's heap (below its mmap
/// threshold, `main.rs`), so keys reuse memory the decoding freed instead of adding fresh
/// pages at the instant a commit's memory peaks.
const KEY_CHUNK: usize = 1 << 20;

/// Encoded keys, one per row, packed in chunks: row `i` starts at `index[i]` (chunk in the
/// high 32 bits, offset in the low) and ends where the next row of its chunk starts. About
/// 25 bytes a row for an agent event (a 17-byte event id and its index entry), against ~86 in
/// Arrow's row format (which also orders, and a key set only needs equality).
#[derive(Default)]
struct KeyBytes {
    chunks: Vec<Vec<u8>>,
    index: Vec<u64>,
}

impl KeyBytes {
    fn len(&self) -> usize {
        self.index.len()
    }

    fn push(&mut self, key: &[u8]) {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= key.len());
        if !fits {
            self.chunks
                .push(Vec::with_capacity(KEY_CHUNK.max(key.len())));
        }
        let c = self.chunks.len() - 1;
        let chunk = &mut self.chunks[c];
        self.index.push(((c as u64) << 32) | chunk.len() as u64);
        chunk.extend_from_slice(key);
    }

    fn row(&self, i: usize) -> &[u8] {
        let split = |at: u64| ((at >> 32) as usize, (at & u64::from(u32::MAX)) as usize);
        let (c, start) = split(self.index[i]);
        let chunk = &self.chunks[c];
        let end = match self.index.get(i + 1).map(|&at| split(at)) {
            Some((next, end)) if next == c => end,
            _ => chunk.len(),
        };
        &chunk[start..end]
    }
}

/// A key column as [`KeyBytes`] encodes it: for equality only, injective per column and
/// self-delimiting, so a row's columns concatenate without ambiguity. A tag byte first: 0
/// null, 1 a string (LEB128 length, bytes), 2 a canonical lower-case hyphenated UUID (its 16
/// bytes: Connect's event and contact ids; any other spelling stays a string), 3 an integer
/// or timestamp (8 bytes).
enum KeyColumn<'a> {
    Utf8(&'a arrow::array::StringArray),
    LargeUtf8(&'a arrow::array::LargeStringArray),
    View(&'a arrow::array::StringViewArray),
    Int(&'a dyn Array, Box<dyn Fn(usize) -> i64 + 'a>),
}

impl<'a> KeyColumn<'a> {
    /// Whether a key column of this type can be encoded (`Err` names the type).
    fn check(t: &arrow::datatypes::DataType) -> std::result::Result<(), String> {
        use arrow::datatypes::DataType as T;
        match t {
            T::Utf8 | T::LargeUtf8 | T::Utf8View | T::Int32 | T::Int64 | T::Timestamp(_, _) => {
                Ok(())
            }
            other => Err(other.to_string()),
        }
    }

    fn of(c: &'a dyn Array) -> std::result::Result<KeyColumn<'a>, String> {
        use arrow::datatypes::{DataType as T, Int32Type, Int64Type, TimeUnit as U};
        use arrow::datatypes::{
            TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
        };
        fn int<'a, P: arrow::datatypes::ArrowPrimitiveType>(c: &'a dyn Array) -> KeyColumn<'a>
        where
            P::Native: Into<i64>,
        {
            let values = c.as_primitive::<P>();
            KeyColumn::Int(c, Box::new(move |i| values.value(i).into()))
        }
        Ok(match c.data_type() {
            T::Utf8 => KeyColumn::Utf8(c.as_string::<i32>()),
            T::LargeUtf8 => KeyColumn::LargeUtf8(c.as_string::<i64>()),
            T::Utf8View => KeyColumn::View(c.as_string_view()),
            T::Int32 => int::<Int32Type>(c),
            T::Int64 => int::<Int64Type>(c),
            T::Timestamp(U::Second, _) => int::<TimestampSecondType>(c),
            T::Timestamp(U::Millisecond, _) => int::<TimestampMillisecondType>(c),
            T::Timestamp(U::Microsecond, _) => int::<TimestampMicrosecondType>(c),
            T::Timestamp(U::Nanosecond, _) => int::<TimestampNanosecondType>(c),
            other => return Err(other.to_string()),
        })
    }

    fn encode(&self, i: usize, out: &mut Vec<u8>) {
        let text = match self {
            KeyColumn::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            KeyColumn::LargeUtf8(a) => a.is_valid(i).then(|| a.value(i)),
            KeyColumn::View(a) => a.is_valid(i).then(|| a.value(i)),
            KeyColumn::Int(a, value) => {
                if a.is_valid(i) {
                    out.push(3);
                    out.extend_from_slice(&value(i).to_le_bytes());
                } else {
                    out.push(0);
                }
                return;
            }
        };
        match text {
            None => out.push(0),
            Some(s) => match canonical_uuid(s) {
                Some(bytes) => {
                    out.push(2);
                    out.extend_from_slice(&bytes);
                }
                None => {
                    out.push(1);
                    let mut n = s.len();
                    while n >= 0x80 {
                        out.push((n as u8 & 0x7f) | 0x80);
                        n >>= 7;
                    }
                    out.push(n as u8);
                    out.extend_from_slice(s.as_bytes());
                }
            },
        }
    }
}

/// The 16 bytes of `s` when it is a UUID spelt the one canonical way (hyphenated, lower
/// case): only then does one byte string stand for exactly one key.
fn canonical_uuid(s: &str) -> Option<[u8; 16]> {
    if s.len() != 36 {
        return None;
    }
    let id = uuid::Uuid::try_parse(s).ok()?;
    let mut spelt = [0u8; 36];
    (id.hyphenated().encode_lower(&mut spelt) == s).then(|| *id.as_bytes())
}

/// [`KeySet::winners`] of the rows of one batch.
pub fn winners(batch: &RecordBatch, table: &TableDef) -> Result<BooleanArray> {
    let mut keys = KeySet::new(&batch.schema(), table)?;
    keys.append(batch)?;
    Ok(keys.winners())
}

/// The columns sorting reads (primary key, sort key, `dedup_latest`) of every batch, as one
/// batch: a fraction of the rows' bytes. (The commit tests' reference commit; the spills and
/// the commit go through [`SortedRows`].)
#[cfg(test)]
pub fn key_columns(
    schema: &SchemaRef,
    all: &[RecordBatch],
    table: &TableDef,
) -> Result<RecordBatch> {
    let parts: Vec<Selected> = all.iter().map(|b| (b.clone(), None)).collect();
    selected_key_columns(schema, &parts, table)
}

/// Some rows of a batch: those at `selection` (in its order), or all of them when `None`.
/// Staging keeps a batch that spans days this way, one selection per day, instead of
/// copying each day's rows out of it; the sort gathers them from the batch itself.
pub type Selected = (RecordBatch, Option<UInt32Array>);

/// [`key_columns`] of the selected rows of each batch, in order.
fn selected_key_columns(
    schema: &SchemaRef,
    all: &[Selected],
    table: &TableDef,
) -> Result<RecordBatch> {
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
        .map(|(b, selection)| {
            let keys = b.project(&indices)?;
            match selection {
                Some(rows) => take_record_batch(&keys, rows),
                None => Ok(keys),
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(concat_batches(&Arc::new(projected), &parts)?)
}

/// The kept rows' indices in sort-key order.
pub fn sorted_order(
    batch: &RecordBatch,
    keep: &BooleanArray,
    table: &TableDef,
) -> Result<Vec<u32>> {
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

/// Which of the rows handed to [`SortedRows::new`] it yields.
pub enum Keep {
    /// The row each primary key keeps among these rows ([`KeySet::winners`], batches taken in
    /// order): a staged run is deduplicated before it is sorted, as a sort on the key alone
    /// cannot tell the first of two rows with the same key.
    Winners,
    /// The rows this mask (one flag per row, batches in order) marks.
    Mask(BooleanArray),
}

/// Rows of any number of batches in the table's sort order, gathered `rows` at a time as it
/// is iterated: the sorted copy is never made whole, so sorting costs the key columns and
/// one index per row beyond the batches it holds.
pub struct SortedRows {
    batches: Vec<RecordBatch>,
    indices: Vec<(usize, usize)>,
    next: usize,
    rows: usize,
}

impl SortedRows {
    pub fn new(
        schema: &SchemaRef,
        batches: Vec<RecordBatch>,
        table: &TableDef,
        keep: Keep,
        rows: usize,
    ) -> Result<SortedRows> {
        let parts = batches.into_iter().map(|b| (b, None)).collect();
        Self::new_selected(schema, parts, table, keep, rows)
    }

    /// As [`Self::new`], of the selected rows of each batch.
    pub fn new_selected(
        schema: &SchemaRef,
        parts: Vec<Selected>,
        table: &TableDef,
        keep: Keep,
        rows: usize,
    ) -> Result<SortedRows> {
        let keys = selected_key_columns(schema, &parts, table)?;
        let keep = match keep {
            Keep::Winners => winners(&keys, table)?,
            Keep::Mask(mask) if mask.len() == keys.num_rows() => mask,
            Keep::Mask(mask) => {
                return Err(Error::Other(format!(
                    "{}: a mask of {} rows for {} rows",
                    table.name,
                    mask.len(),
                    keys.num_rows()
                )));
            }
        };
        let order = sorted_order(&keys, &keep, table)?;
        drop(keys);
        let mut starts = Vec::with_capacity(parts.len());
        let mut total = 0usize;
        for (b, selection) in &parts {
            starts.push(total);
            total += selection.as_ref().map_or(b.num_rows(), Array::len);
        }
        let indices = order
            .iter()
            .map(|&g| {
                let g = g as usize;
                let part = starts.partition_point(|&s| s <= g) - 1;
                let row = g - starts[part];
                let row = parts[part]
                    .1
                    .as_ref()
                    .map_or(row, |rows| rows.value(row) as usize);
                (part, row)
            })
            .collect();
        let batches = parts.into_iter().map(|(b, _)| b).collect();
        Ok(SortedRows {
            batches,
            indices,
            next: 0,
            rows: rows.max(1),
        })
    }

    /// The rows it yields in all.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

impl Iterator for SortedRows {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.indices.len() {
            // What is left is no longer needed: the merge holds this iterator to its end.
            self.batches = Vec::new();
            return None;
        }
        let end = (self.next + self.rows).min(self.indices.len());
        let refs: Vec<&RecordBatch> = self.batches.iter().collect();
        let batch = interleave_record_batch(&refs, &self.indices[self.next..end]);
        self.next = end;
        Some(batch.map_err(Error::from))
    }
}

/// Sorts rows (from any number of batches) on the table's sort key into one batch, the
/// rows `keep` selects. (The commit tests' reference commit; spills use [`sort_selected`].)
#[cfg(test)]
pub fn sort_rows(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    table: &TableDef,
    keep: Keep,
) -> Result<RecordBatch> {
    let parts = batches.into_iter().map(|b| (b, None)).collect();
    sort_selected(schema, parts, table, keep)
}

/// As [`sort_rows`], of the selected rows of each batch.
pub fn sort_selected(
    schema: &SchemaRef,
    parts: Vec<Selected>,
    table: &TableDef,
    keep: Keep,
) -> Result<RecordBatch> {
    let mut sorted = SortedRows::new_selected(schema, parts, table, keep, usize::MAX)?;
    match sorted.next() {
        Some(batch) => batch,
        None => Ok(RecordBatch::new_empty(schema.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    fn table(latest: bool) -> TableDef {
        let latest = if latest {
            r#","dedup_latest":["v"]"#
        } else {
            ""
        };
        serde_json::from_str(&format!(
            r#"{{"name":"t","description":"d","primary_key":["id"],"partition_timestamp":"v",
                "sort_key":["id"]{latest},"columns":[
                {{"name":"id","type":"string","nullable":false,"description":"i"}},
                {{"name":"v","type":"timestamp","nullable":true,"description":"v"}}]}}"#
        ))
        .unwrap()
    }

    fn batch(ids: &[&str], versions: &[Option<i64>]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("v", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(ids.to_vec())),
                Arc::new(TimestampMicrosecondArray::from(versions.to_vec())),
            ],
        )
        .unwrap()
    }

    fn kept(mask: &BooleanArray) -> Vec<usize> {
        (0..mask.len()).filter(|&i| mask.value(i)).collect()
    }

    #[test]
    fn without_a_version_column_the_first_row_of_a_key_wins() {
        let b = batch(
            &["a", "b", "a", "c", "b"],
            &[Some(1), Some(1), Some(9), None, None],
        );
        assert_eq!(kept(&winners(&b, &table(false)).unwrap()), vec![0, 1, 3]);
    }

    #[test]
    fn the_latest_version_wins_ties_go_to_the_first_and_a_missing_version_loses() {
        // a: 5 then 7 then 7 → row 1 (latest, first among the tied 7s);
        // b: None then 2 → row 4; c alone → row 5; d: 3 then None → row 6.
        let b = batch(
            &["a", "a", "a", "b", "b", "c", "d", "d"],
            &[
                Some(5),
                Some(7),
                Some(7),
                None,
                Some(2),
                None,
                Some(3),
                None,
            ],
        );
        assert_eq!(kept(&winners(&b, &table(true)).unwrap()), vec![1, 4, 5, 6]);
    }

    #[test]
    fn uuid_spellings_null_and_split_strings_are_distinct_keys() {
        let id = "a88a97b5-9422-4926-949b-41324cdbd672";
        let upper = id.to_uppercase();
        let simple = id.replace('-', "");
        let braced = format!("{{{id}}}");
        let ids: Vec<Option<&str>> = vec![
            Some(id),
            Some(&upper),
            Some(&simple),
            Some(&braced),
            None,
            Some(""),
            Some(id),
            None,
            Some(&upper),
        ];
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, true)]));
        let b = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(ids))]).unwrap();
        // Each spelling is its own key; the second canonical id, null and upper-case id are
        // duplicates of earlier rows.
        assert_eq!(
            kept(&winners(&b, &table(false)).unwrap()),
            vec![0, 1, 2, 3, 4, 5]
        );
        assert!(canonical_uuid(id).is_some());
        for other in [&upper, &simple, &braced] {
            assert!(canonical_uuid(other).is_none(), "{other}");
        }
    }

    #[test]
    fn columns_of_a_key_do_not_run_into_each_other() {
        let t: TableDef = serde_json::from_str(
            r#"{"name":"t","description":"d","primary_key":["a","b"],"partition_timestamp":"v",
                "sort_key":["a"],"columns":[
                {"name":"a","type":"string","nullable":true,"description":"a"},
                {"name":"b","type":"string","nullable":true,"description":"b"},
                {"name":"v","type":"timestamp","nullable":true,"description":"v"}]}"#,
        )
        .unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let long = "x".repeat(300);
        let a: Vec<Option<&str>> = vec![
            Some("ab"),
            Some("a"),
            Some(""),
            None,
            Some(&long),
            Some("ab"),
        ];
        let b: Vec<Option<&str>> =
            vec![Some("c"), Some("bc"), None, Some(""), Some("y"), Some("c")];
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(a)),
                Arc::new(StringArray::from(b)),
            ],
        )
        .unwrap();
        assert_eq!(kept(&winners(&batch, &t).unwrap()), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn keys_across_chunks_and_longer_than_a_chunk_are_read_back_whole() {
        let mut keys = KeyBytes::default();
        let big = vec![7u8; KEY_CHUNK + 5];
        let mut written: Vec<Vec<u8>> = Vec::new();
        for i in 0..(3 * KEY_CHUNK / 40) {
            let key = format!("key-{i:034}").into_bytes();
            keys.push(&key);
            written.push(key);
            if i == 1000 {
                keys.push(&big);
                written.push(big.clone());
                keys.push(b"");
                written.push(Vec::new());
            }
        }
        assert!(keys.chunks.len() >= 4);
        for (i, w) in written.iter().enumerate() {
            assert_eq!(keys.row(i), w.as_slice(), "row {i}");
        }
    }

    #[test]
    fn keys_gathered_over_many_batches_are_one_set() {
        let t = table(true);
        let parts = [
            batch(&["x", "y"], &[Some(1), Some(1)]),
            batch(&["y", "z"], &[Some(2), Some(1)]),
            batch(&["x"], &[Some(1)]),
        ];
        let mut keys = KeySet::new(&parts[0].schema(), &t).unwrap();
        for p in &parts {
            keys.append(p).unwrap();
        }
        assert_eq!(kept(&keys.winners()), vec![0, 2, 3]);
    }
}
