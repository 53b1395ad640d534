//! Row order and duplicates: which row of a primary key a table keeps ([`KeySet`]) and the
//! table's sort order. Shared by the staging area, which spills each day's rows as sorted,
//! deduplicated runs, and by the commit, which merges those runs with the lake's file.

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::compute::{concat_batches, interleave_record_batch};
use arrow::datatypes::{SchemaRef, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use hashbrown::HashTable;

use crate::error::{Error, Result};
use crate::schema::TableDef;

/// The keys of every row of a day, gathered batch by batch in row order, that decide which
/// row of each primary key is kept. Keys are held in Arrow's row format, one growing buffer
/// (with the `dedup_latest` values beside), never as the batches they came from: a batch
/// read back from a spilled part would otherwise keep its whole message buffer alive.
pub struct KeySet {
    converter: RowConverter,
    rows: arrow::row::Rows,
    latest: Vec<Vec<Option<i64>>>,
    key_names: Vec<String>,
    latest_names: Vec<String>,
}

impl KeySet {
    pub fn new(schema: &SchemaRef, table: &TableDef) -> Result<KeySet> {
        let fields = table
            .primary_key
            .iter()
            .map(|k| {
                schema
                    .field_with_name(k)
                    .map(|f| SortField::new(f.data_type().clone()))
                    .map_err(|_| Error::Other(format!("no key column {k}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let converter = RowConverter::new(fields)?;
        let rows = converter.empty_rows(0, 0);
        Ok(KeySet {
            converter,
            rows,
            latest: vec![Vec::new(); table.dedup_latest.len()],
            key_names: table.primary_key.clone(),
            latest_names: table.dedup_latest.clone(),
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
        if self.rows.num_rows() + batch.num_rows() > u32::MAX as usize {
            return Err(Error::Other(format!(
                "more than {} rows in one day of one table",
                u32::MAX
            )));
        }
        self.converter.append(&mut self.rows, &keys)?;
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
        let n = rows.num_rows();
        // The table holds row numbers (4 bytes a slot), not the keys: a day's million keys
        // then cost about 10 MB of table instead of the ~50 MB a `HashSet<Row>` takes, at the
        // instant a commit's memory peaks. Keys are short byte strings hashed once each
        // (xxHash, several times SipHash's speed; nothing here is exposed to hash flooding:
        // a collision only costs a compare). The table is sized up front, so the rehash
        // closure below never runs in practice.
        let hash = |i: u32| twox_hash::XxHash64::oneshot(0, rows.row(i as usize).as_ref());
        let mut table: HashTable<u32> = HashTable::with_capacity(n);
        let mut keep = vec![false; n];
        // Option orders None first: a row without the timestamp loses to one with it.
        let newer = |i: usize, than: usize| {
            let version = |r: usize| self.latest.iter().map(move |v| v[r]);
            version(i).cmp(version(than)) == std::cmp::Ordering::Greater
        };
        for i in 0..n {
            let key = rows.row(i);
            let h = twox_hash::XxHash64::oneshot(0, key.as_ref());
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

/// [`KeySet::winners`] of the rows of one batch.
pub fn winners(batch: &RecordBatch, table: &TableDef) -> Result<BooleanArray> {
    let mut keys = KeySet::new(&batch.schema(), table)?;
    keys.append(batch)?;
    Ok(keys.winners())
}

/// The columns sorting reads (primary key, sort key, `dedup_latest`) of every batch, as one
/// batch: a fraction of the rows' bytes.
pub fn key_columns(
    schema: &SchemaRef,
    all: &[RecordBatch],
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
        .map(|b| b.project(&indices))
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
        let keys = key_columns(schema, &batches, table)?;
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
        let mut starts = Vec::with_capacity(batches.len());
        let mut total = 0usize;
        for b in &batches {
            starts.push(total);
            total += b.num_rows();
        }
        let indices = order
            .iter()
            .map(|&g| {
                let g = g as usize;
                let batch = starts.partition_point(|&s| s <= g) - 1;
                (batch, g - starts[batch])
            })
            .collect();
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
/// rows `keep` selects.
pub fn sort_rows(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    table: &TableDef,
    keep: Keep,
) -> Result<RecordBatch> {
    let mut sorted = SortedRows::new(schema, batches, table, keep, usize::MAX)?;
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
