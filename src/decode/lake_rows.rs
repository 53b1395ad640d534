//! Data-lake exports (`contact_flow_events`, `connect_test_case_execution_results`) → Arrow
//! rows of their table. Owns the three export formats (NDJSON, CSV with a header, Parquet),
//! matching columns by name without regard to case, and turning each cell into the column's
//! type: ISO-8601 or epoch timestamps, lists written as JSON or as Athena prints them. A row
//! whose primary key is missing or does not parse is rejected whole; nothing is half-appended.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    ListBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use super::{Attempt, Record, Reject, Text, attempt_json};
use crate::error::{Error, Result};
use crate::schema::TableDef;

/// How an export is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// JSON objects, one per line (or concatenated, or in an array), optionally gzip.
    Ndjson,
    /// CSV with a header row, optionally gzip.
    Csv,
    /// Parquet (Athena `UNLOAD`, Spark, DuckDB).
    Parquet,
}

/// What an epoch number in a timestamp column counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EpochUnit {
    S,
    #[default]
    Ms,
    Us,
}

impl EpochUnit {
    fn micros(self) -> i64 {
        match self {
            EpochUnit::S => 1_000_000,
            EpochUnit::Ms => 1_000,
            EpochUnit::Us => 1,
        }
    }
}

/// The format of an object: Parquet's magic bytes first, then the name's extension, then the
/// first byte of the (decompressed) text: `{` or `[` is JSON, anything else CSV.
pub fn detect_format(name: &str, text: &[u8]) -> InputFormat {
    if text.starts_with(b"PAR1") {
        return InputFormat::Parquet;
    }
    let lower = name.to_ascii_lowercase();
    let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
    if stem.ends_with(".parquet") {
        InputFormat::Parquet
    } else if stem.ends_with(".csv") {
        InputFormat::Csv
    } else if [".json", ".ndjson", ".jsonl"]
        .iter()
        .any(|e| stem.ends_with(e))
    {
        InputFormat::Ndjson
    } else {
        let first = text
            .iter()
            .find(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF));
        match first {
            Some(b'{' | b'[') => InputFormat::Ndjson,
            _ => InputFormat::Csv,
        }
    }
}

/// One cell as an export spelled it, before it is given the column's type.
enum Cell<'a> {
    Null,
    Text(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Already a UTC instant (a Parquet timestamp).
    Micros(i64),
    /// A calendar date (days since 1970-01-01): midnight UTC as a timestamp, `YYYY-MM-DD` as text.
    Date(i32),
    List(Vec<Option<String>>),
    /// A JSON object or nested value no column type accepts.
    Other(&'static str),
}

/// A cell given its column's type.
enum Typed<'a> {
    Null,
    Str(Cow<'a, str>),
    Ts(i64),
    I64(i64),
    F64(f64),
    Bool(bool),
    List(Vec<Option<String>>),
}

enum Builder {
    Str(StringBuilder),
    Ts(TimestampMicrosecondBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    List(ListBuilder<StringBuilder>),
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Ts,
    I32,
    I64,
    F64,
    Bool,
    List,
}

/// Accumulates rows of one table from any export format.
pub struct RowDecoder {
    table: &'static TableDef,
    schema: SchemaRef,
    kinds: Vec<Kind>,
    builders: Vec<Builder>,
    /// Lower-case column name → index.
    by_name: HashMap<String, usize>,
    epoch: EpochUnit,
    rows: usize,
}

impl RowDecoder {
    pub fn new(table: &'static TableDef, epoch: EpochUnit) -> Result<Self> {
        let schema = table.arrow_schema()?;
        let kinds = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 => Ok(Kind::Str),
                DataType::Timestamp(TimeUnit::Microsecond, _) => Ok(Kind::Ts),
                DataType::Int32 => Ok(Kind::I32),
                DataType::Int64 => Ok(Kind::I64),
                DataType::Float64 => Ok(Kind::F64),
                DataType::Boolean => Ok(Kind::Bool),
                DataType::List(item) if item.data_type() == &DataType::Utf8 => Ok(Kind::List),
                other => Err(Error::Schema {
                    table: table.name.clone(),
                    reason: format!("column {}: {other} is not loadable from exports", f.name()),
                }),
            })
            .collect::<Result<Vec<_>>>()?;
        let by_name = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name().to_ascii_lowercase(), i))
            .collect();
        let mut decoder = RowDecoder {
            table,
            schema,
            kinds,
            builders: Vec::new(),
            by_name,
            epoch,
            rows: 0,
        };
        decoder.builders = decoder.new_builders();
        Ok(decoder)
    }

    fn new_builders(&self) -> Vec<Builder> {
        self.kinds
            .iter()
            .zip(self.schema.fields())
            .map(|(kind, field)| match kind {
                Kind::Str => Builder::Str(StringBuilder::new()),
                Kind::Ts => Builder::Ts(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
                Kind::I32 => Builder::I32(Int32Builder::new()),
                Kind::I64 => Builder::I64(Int64Builder::new()),
                Kind::F64 => Builder::F64(Float64Builder::new()),
                Kind::Bool => Builder::Bool(BooleanBuilder::new()),
                Kind::List => {
                    let item = match field.data_type() {
                        DataType::List(item) => item.clone(),
                        _ => Arc::new(Field::new("item", DataType::Utf8, true)),
                    };
                    Builder::List(ListBuilder::new(StringBuilder::new()).with_field(item))
                }
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The rows so far as one batch; the decoder starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let fresh = self.new_builders();
        let builders = std::mem::replace(&mut self.builders, fresh);
        let columns: Vec<ArrayRef> = builders
            .into_iter()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Str(mut b) => Arc::new(b.finish()),
                    Builder::Ts(mut b) => Arc::new(b.finish()),
                    Builder::I32(mut b) => Arc::new(b.finish()),
                    Builder::I64(mut b) => Arc::new(b.finish()),
                    Builder::F64(mut b) => Arc::new(b.finish()),
                    Builder::Bool(mut b) => Arc::new(b.finish()),
                    Builder::List(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }

    /// Types every cell of a row (`cells[i]` for column `i`, `None` when the input has no such
    /// column), then appends the row; on the first bad cell nothing is appended.
    fn push(&mut self, cells: Vec<Option<Cell<'_>>>) -> std::result::Result<(), String> {
        let mut typed = Vec::with_capacity(cells.len());
        for (i, cell) in cells.into_iter().enumerate() {
            let field = self.schema.field(i);
            let (name, required) = (field.name(), !field.is_nullable());
            let value = match cell {
                None if required => {
                    let what = if self.table.primary_key.contains(name) {
                        "primary-key column"
                    } else {
                        "required column"
                    };
                    return Err(format!("missing {what} {name}"));
                }
                None => Typed::Null,
                Some(cell) => to_typed(cell, self.kinds[i], self.epoch)
                    .map_err(|reason| format!("{name}: {reason}"))?,
            };
            if matches!(value, Typed::Null) && required {
                return Err(format!("{name} is empty"));
            }
            // The day a row lands in must be one Connect data can have (and Athena's
            // partition projection shows).
            if let Typed::Ts(t) = value
                && *name == self.table.partition_timestamp
                && !super::plausible(t)
            {
                return Err(format!(
                    "{name}: {} is outside {}",
                    super::show_micros(t),
                    super::PLAUSIBLE
                ));
            }
            typed.push(value);
        }
        for (b, v) in self.builders.iter_mut().zip(typed) {
            append(b, v);
        }
        self.rows += 1;
        Ok(())
    }

    /// Decodes one JSON object record at the start of `bytes` (see [`super::split_records`]).
    pub fn attempt_json(&mut self, record: Record<'_>) -> Attempt {
        attempt_json::<Fields>(record, |object| {
            let mut cells: Vec<Option<Cell>> = (0..self.kinds.len()).map(|_| None).collect();
            for (key, value) in object.0 {
                // Exports spell names in lower case; other spellings cost a lower-casing.
                let column = match self.by_name.get(key.as_ref()) {
                    Some(&i) => Some(i),
                    None => self.by_name.get(&key.to_ascii_lowercase()).copied(),
                };
                if let Some(i) = column {
                    cells[i] = Some(value);
                }
            }
            self.push(cells)
        })
    }

    /// Decodes a CSV export with a header row. `on_batch` is called whenever
    /// [`ROWS`](super::agent_events::ROWS) rows are ready.
    pub fn decode_csv(
        &mut self,
        text: &[u8],
        mut on_batch: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<(u64, Vec<Reject>)> {
        let mut rejects = Vec::new();
        let mut records = 0u64;
        // Offsets count from the object's first byte, a byte-order mark included.
        let bom = if text.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let text = &text[bom..];
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(text);
        let header = match reader.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                rejects.push(Reject {
                    offset: 0,
                    in_rows: false,
                    reason: format!("CSV header: {e}"),
                    raw: text[..text.len().min(4096)].to_vec(),
                });
                return Ok((1, rejects));
            }
        };
        let columns: Vec<Option<usize>> = header
            .iter()
            .map(|h| {
                let name = String::from_utf8_lossy(h).trim().to_ascii_lowercase();
                self.by_name.get(&name).copied()
            })
            .collect();
        let mut record = csv::ByteRecord::new();
        loop {
            let start = reader.position().byte() as usize;
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    // A CSV syntax error ends what can be read of the object.
                    records += 1;
                    rejects.push(Reject {
                        offset: (start + bom) as u64,
                        in_rows: false,
                        reason: format!("CSV: {e}"),
                        raw: text[start.min(text.len())..].to_vec(),
                    });
                    break;
                }
            }
            records += 1;
            let end = (reader.position().byte() as usize).min(text.len());
            let outcome = if record.len() != header.len() {
                Err(format!(
                    "{} fields where the header has {}",
                    record.len(),
                    header.len()
                ))
            } else {
                self.csv_row(&record, &columns)
            };
            if let Err(reason) = outcome {
                let mut raw = &text[start.min(end)..end];
                while let [rest @ .., b'\n' | b'\r'] = raw {
                    raw = rest;
                }
                rejects.push(Reject {
                    offset: (start + bom) as u64,
                    in_rows: false,
                    reason,
                    raw: raw.to_vec(),
                });
            }
            if self.rows >= super::agent_events::ROWS {
                on_batch(self)?;
            }
        }
        Ok((records, rejects))
    }

    fn csv_row(
        &mut self,
        record: &csv::ByteRecord,
        columns: &[Option<usize>],
    ) -> std::result::Result<(), String> {
        let mut cells: Vec<Option<Cell>> = (0..self.kinds.len()).map(|_| None).collect();
        for (field, column) in record.iter().zip(columns) {
            let Some(i) = *column else { continue };
            let text = std::str::from_utf8(field).map_err(|e| {
                format!(
                    "{}: invalid UTF-8 at byte {}",
                    self.schema.field(i).name(),
                    e.valid_up_to()
                )
            })?;
            // CSV has no null: an empty field is one, and so are `\N` (Hive and Athena
            // TEXTFILE) and `NULL` where the column may be null.
            let null_word = (text == "\\N" || text == "NULL") && self.schema.field(i).is_nullable();
            cells[i] = Some(if text.is_empty() || null_word {
                Cell::Null
            } else {
                Cell::Text(Cow::Borrowed(text))
            });
        }
        self.push(cells)
    }

    /// Decodes a Parquet export. Offsets in its rejects are row numbers, not bytes. A file
    /// that cannot be read from some row on keeps the rows (and rejects) before it, and the
    /// rest is one reject at that row; an error of `on_batch` (staging, spill) is the run's.
    pub fn decode_parquet(
        &mut self,
        bytes: Bytes,
        mut on_batch: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<(u64, Vec<Reject>)> {
        let mut rejects = Vec::new();
        let reader = match ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|b| b.with_batch_size(8192).build())
        {
            Ok(reader) => reader,
            Err(e) => {
                rejects.push(Reject {
                    offset: 0,
                    in_rows: true,
                    reason: format!("Parquet: {e}"),
                    raw: Vec::new(),
                });
                return Ok((1, rejects));
            }
        };
        let mut row_number = 0u64;
        for batch in reader {
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    rejects.push(Reject {
                        offset: row_number,
                        in_rows: true,
                        reason: format!(
                            "Parquet: the file cannot be read from row {row_number} on: {e}"
                        ),
                        raw: Vec::new(),
                    });
                    return Ok((row_number + 1, rejects));
                }
            };
            let schema = batch.schema();
            let columns: Vec<(usize, &ArrayRef)> = schema
                .fields()
                .iter()
                .zip(batch.columns())
                .filter_map(|(f, a)| {
                    self.by_name
                        .get(&f.name().to_ascii_lowercase())
                        .map(|&i| (i, a))
                })
                .collect();
            for row in 0..batch.num_rows() {
                let mut cells: Vec<Option<Cell>> = (0..self.kinds.len()).map(|_| None).collect();
                for (i, array) in &columns {
                    cells[*i] = Some(arrow_cell(array, row));
                }
                if let Err(reason) = self.push(cells) {
                    let raw = row_json(&batch, row);
                    rejects.push(Reject {
                        offset: row_number,
                        in_rows: true,
                        reason,
                        raw: raw.into_bytes(),
                    });
                }
                row_number += 1;
                if self.rows >= super::agent_events::ROWS {
                    on_batch(self)?;
                }
            }
        }
        Ok((row_number, rejects))
    }
}

fn append(b: &mut Builder, v: Typed) {
    match (b, v) {
        (Builder::Str(b), Typed::Str(s)) => b.append_value(s.as_ref()),
        (Builder::Ts(b), Typed::Ts(t)) => b.append_value(t),
        (Builder::I32(b), Typed::I64(n)) => b.append_value(n as i32),
        (Builder::I64(b), Typed::I64(n)) => b.append_value(n),
        (Builder::F64(b), Typed::F64(f)) => b.append_value(f),
        (Builder::Bool(b), Typed::Bool(v)) => b.append_value(v),
        (Builder::List(b), Typed::List(items)) => {
            for item in items {
                b.values().append_option(item);
            }
            b.append(true);
        }
        (Builder::Str(b), _) => b.append_null(),
        (Builder::Ts(b), _) => b.append_null(),
        (Builder::I32(b), _) => b.append_null(),
        (Builder::I64(b), _) => b.append_null(),
        (Builder::F64(b), _) => b.append_null(),
        (Builder::Bool(b), _) => b.append_null(),
        (Builder::List(b), _) => b.append(false),
    }
}

/// A JSON object record as (key, cell) pairs, strings borrowed from the input where they
/// have no escapes: no map and no per-value allocation.
struct Fields<'a>(Vec<(Cow<'a, str>, Cell<'a>)>);

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Fields<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    out.push((key.0, map.next_value::<Cell<'de>>()?));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> serde::Deserialize<'de> for Cell<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Cell<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Cell<'de>, E> {
                Ok(Cell::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Cell<'de>, E> {
                Ok(Cell::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<Cell<'de>, E> {
                Ok(Cell::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<Cell<'de>, E> {
                Ok(Cell::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<Cell<'de>, E> {
                Ok(i64::try_from(v).map_or(Cell::Float(v as f64), Cell::Int))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<Cell<'de>, E> {
                Ok(Cell::Float(v))
            }
            fn visit_unit<E>(self) -> std::result::Result<Cell<'de>, E> {
                Ok(Cell::Null)
            }
            fn visit_none<E>(self) -> std::result::Result<Cell<'de>, E> {
                Ok(Cell::Null)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Cell<'de>, A::Error> {
                let mut list = Vec::new();
                let mut nested = false;
                while let Some(item) = seq.next_element::<Cell<'de>>()? {
                    list.push(match item {
                        Cell::Null => None,
                        Cell::Text(s) => Some(s.into_owned()),
                        Cell::Int(n) => Some(n.to_string()),
                        Cell::Float(f) => Some(f.to_string()),
                        Cell::Bool(b) => Some(b.to_string()),
                        _ => {
                            nested = true;
                            None
                        }
                    });
                }
                Ok(if nested {
                    Cell::Other("a nested list")
                } else {
                    Cell::List(list)
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Cell<'de>, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Cell::Other("an object"))
            }
        }
        d.deserialize_any(V)
    }
}

fn arrow_cell(array: &ArrayRef, row: usize) -> Cell<'_> {
    use arrow::datatypes::*;
    if array.is_null(row) {
        return Cell::Null;
    }
    let micros = |v: i64, unit: &TimeUnit| match unit {
        TimeUnit::Second => v.saturating_mul(1_000_000),
        TimeUnit::Millisecond => v.saturating_mul(1_000),
        TimeUnit::Microsecond => v,
        TimeUnit::Nanosecond => v.div_euclid(1_000),
    };
    match array.data_type() {
        DataType::Utf8 => Cell::Text(Cow::Borrowed(array.as_string::<i32>().value(row))),
        DataType::LargeUtf8 => Cell::Text(Cow::Borrowed(array.as_string::<i64>().value(row))),
        DataType::Utf8View => Cell::Text(Cow::Borrowed(array.as_string_view().value(row))),
        DataType::Int8 => Cell::Int(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Cell::Int(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Cell::Int(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Cell::Int(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt32 => Cell::Int(array.as_primitive::<UInt32Type>().value(row).into()),
        DataType::Float32 => Cell::Float(array.as_primitive::<Float32Type>().value(row).into()),
        DataType::Float64 => Cell::Float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Boolean => Cell::Bool(array.as_boolean().value(row)),
        // A timestamp with no zone is read as UTC, as the lake stores everything.
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(row)
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(row)
                }
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
            };
            Cell::Micros(micros(v, unit))
        }
        DataType::Date32 => Cell::Date(array.as_primitive::<Date32Type>().value(row)),
        DataType::List(_) => list_cell(&array.as_list::<i32>().value(row)),
        DataType::LargeList(_) => list_cell(&array.as_list::<i64>().value(row)),
        // Parquet UUIDs (DuckDB writes its UUID columns so): the usual dashed spelling.
        DataType::FixedSizeBinary(16) => {
            let bytes = array.as_fixed_size_binary().value(row);
            match uuid::Uuid::from_slice(bytes) {
                Ok(id) => Cell::Text(Cow::Owned(id.to_string())),
                Err(_) => Cell::Other("a 16-byte value that is not a UUID"),
            }
        }
        // Anything else (decimals, dates with times, dictionaries…) as the text Arrow prints.
        _ => {
            match arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &Default::default())
            {
                Ok(f) => Cell::Text(Cow::Owned(f.value(row).to_string())),
                Err(_) => Cell::Other("a value of an unsupported Parquet type"),
            }
        }
    }
}

fn list_cell(items: &ArrayRef) -> Cell<'static> {
    let formatter =
        match arrow::util::display::ArrayFormatter::try_new(items.as_ref(), &Default::default()) {
            Ok(f) => f,
            Err(_) => return Cell::Other("a list of an unsupported type"),
        };
    Cell::List(
        (0..items.len())
            .map(|i| (!items.is_null(i)).then(|| formatter.value(i).to_string()))
            .collect(),
    )
}

/// A rejected Parquet row as a JSON object of its values' text, for the rejects file.
fn row_json(batch: &RecordBatch, row: usize) -> String {
    let mut object = serde_json::Map::new();
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        let value = if array.is_null(row) {
            Value::Null
        } else {
            arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &Default::default())
                .map_or(Value::Null, |f| Value::String(f.value(row).to_string()))
        };
        object.insert(field.name().clone(), value);
    }
    Value::Object(object).to_string()
}

fn to_typed(
    cell: Cell<'_>,
    kind: Kind,
    epoch: EpochUnit,
) -> std::result::Result<Typed<'_>, String> {
    Ok(match (kind, cell) {
        (_, Cell::Null) => Typed::Null,
        (_, Cell::Other(what)) => return Err(format!("{what} is not a value of this column")),
        (Kind::Str, Cell::Text(s)) => Typed::Str(s),
        (Kind::Str, Cell::Int(n)) => Typed::Str(n.to_string().into()),
        (Kind::Str, Cell::Float(f)) => Typed::Str(f.to_string().into()),
        (Kind::Str, Cell::Bool(b)) => Typed::Str(b.to_string().into()),
        (Kind::Str, Cell::Micros(t)) => Typed::Str(
            chrono::DateTime::from_timestamp_micros(t)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                .unwrap_or_default()
                .into(),
        ),
        (Kind::Str, Cell::Date(d)) => Typed::Str(crate::partition::dt_label(d).into()),
        (Kind::Str, Cell::List(_)) => return Err("a list where a string belongs".into()),
        (Kind::Ts, Cell::Micros(t)) => Typed::Ts(t),
        (Kind::Ts, Cell::Date(d)) => Typed::Ts(i64::from(d) * 86_400_000_000),
        (Kind::Ts, Cell::Int(n)) => Typed::Ts(epoch_micros(n as f64, epoch)?),
        (Kind::Ts, Cell::Float(f)) => Typed::Ts(epoch_micros(f, epoch)?),
        (Kind::Ts, Cell::Text(s)) => match parse_time_text(&s, epoch)? {
            Some(t) => Typed::Ts(t),
            None => Typed::Null,
        },
        (Kind::Ts, _) => return Err("not a timestamp".into()),
        (Kind::I32 | Kind::I64, Cell::Int(n)) => Typed::I64(n),
        (Kind::I32 | Kind::I64, Cell::Text(s)) => Typed::I64(
            s.trim()
                .parse()
                .map_err(|_| format!("{s:?} is not an integer"))?,
        ),
        (Kind::I32 | Kind::I64, _) => return Err("not an integer".into()),
        (Kind::F64, Cell::Int(n)) => Typed::F64(n as f64),
        (Kind::F64, Cell::Float(f)) => Typed::F64(f),
        (Kind::F64, Cell::Text(s)) => Typed::F64(
            s.trim()
                .parse()
                .map_err(|_| format!("{s:?} is not a number"))?,
        ),
        (Kind::F64, _) => return Err("not a number".into()),
        (Kind::Bool, Cell::Bool(b)) => Typed::Bool(b),
        (Kind::Bool, Cell::Text(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Typed::Bool(true),
            "false" | "f" | "0" => Typed::Bool(false),
            _ => return Err(format!("{s:?} is not a boolean")),
        },
        (Kind::Bool, _) => return Err("not a boolean".into()),
        (Kind::List, Cell::List(items)) => Typed::List(items),
        (Kind::List, Cell::Text(s)) => Typed::List(parse_list_text(&s)),
        (Kind::List, _) => return Err("not a list".into()),
    })
}

/// An epoch number as UTC micros under `unit`, refused when the instant is not one Connect
/// data can have (2000 to 2100): the reason names the unit under which it would be.
fn epoch_micros(value: f64, unit: EpochUnit) -> std::result::Result<i64, String> {
    let name = |u: EpochUnit| match u {
        EpochUnit::S => "seconds",
        EpochUnit::Ms => "milliseconds",
        EpochUnit::Us => "microseconds",
    };
    let micros = (value * unit.micros() as f64).round();
    if micros.is_finite() && super::plausible(micros as i64) {
        return Ok(micros as i64);
    }
    let fits = [
        (EpochUnit::S, "s"),
        (EpochUnit::Ms, "ms"),
        (EpochUnit::Us, "us"),
    ]
    .into_iter()
    .find(|(u, _)| super::plausible((value * u.micros() as f64).round() as i64));
    let hint = match fits {
        Some((u, flag)) => format!("looks like epoch {}: use --epoch-unit {flag}", name(u)),
        None if super::plausible((value / 1000.0).round() as i64) => {
            "looks like epoch nanoseconds, which --epoch-unit does not take: divide by 1000 to microseconds".into()
        }
        None => "no epoch unit puts it there".into(),
    };
    Err(format!(
        "epoch {value} in {} is outside {} ({hint})",
        name(unit),
        super::PLAUSIBLE
    ))
}

/// A timestamp cell as text: empty is null, a number is epoch, else ISO-8601 — with `T` or a
/// space, a zone offset, `Z`, ` UTC` (as Athena prints), or none (read as UTC).
fn parse_time_text(text: &str, epoch: EpochUnit) -> std::result::Result<Option<i64>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let numeric = t.len() < 21
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.');
    if let Some(v) = numeric.then(|| t.parse::<f64>().ok()).flatten() {
        return epoch_micros(v, epoch).map(Some);
    }
    let mut iso = Cow::Borrowed(t.strip_suffix(" UTC").unwrap_or(t));
    if iso.as_bytes().get(10) == Some(&b' ') {
        let mut s = iso.into_owned();
        s.replace_range(10..11, "T");
        iso = Cow::Owned(s);
    }
    // A bare date is its midnight, UTC.
    let date = || {
        chrono::NaiveDate::parse_from_str(&iso, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_micros())
    };
    super::agent_events::parse_timestamp(&iso)
        .or_else(date)
        .map(Some)
        .ok_or_else(|| format!("timestamp does not parse: {t:?}"))
}

/// A list cell as text: a JSON array (`["a","b"]`), or Athena's rendering (`[a, b]`); empty
/// is null and anything else is a list of one.
fn parse_list_text(text: &str) -> Vec<Option<String>> {
    let t = text.trim();
    if let Ok(items) = serde_json::from_str::<Vec<Option<String>>>(t) {
        return items;
    }
    match t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some("") => Vec::new(),
        Some(inner) => inner
            .split(',')
            .map(|s| Some(s.trim().to_string()))
            .collect(),
        None => vec![Some(t.to_string())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;

    fn decoder() -> RowDecoder {
        RowDecoder::new(
            schema::table("connect_test_case_execution_results").unwrap(),
            EpochUnit::Ms,
        )
        .unwrap()
    }

    #[test]
    fn formats_are_told_by_magic_extension_then_content() {
        assert_eq!(detect_format("x", b"PAR1...."), InputFormat::Parquet);
        assert_eq!(detect_format("a.CSV", b"{"), InputFormat::Csv);
        assert_eq!(detect_format("a.ndjson.gz", b"x"), InputFormat::Ndjson);
        assert_eq!(
            detect_format("export-0001", b"  {\"a\":1}"),
            InputFormat::Ndjson
        );
        assert_eq!(detect_format("export-0001", b"a,b\n1,2"), InputFormat::Csv);
    }

    #[test]
    fn timestamps_in_every_spelling_agree() {
        let want = Some(1_732_500_000_123_000);
        for text in [
            "2024-11-25T02:00:00.123Z",
            "2024-11-25 02:00:00.123",
            "2024-11-25 02:00:00.123 UTC",
            "2024-11-25T03:00:00.123+01:00",
            "1732500000123",
        ] {
            assert_eq!(
                parse_time_text(text, EpochUnit::Ms).unwrap(),
                want,
                "{text}"
            );
        }
        assert_eq!(
            parse_time_text("1732500000.123", EpochUnit::S).unwrap(),
            want
        );
        assert_eq!(parse_time_text("", EpochUnit::Ms).unwrap(), None);
        assert_eq!(
            parse_time_text("2024-11-25", EpochUnit::Ms).unwrap(),
            Some(1_732_492_800_000_000)
        );
        assert!(parse_time_text("yesterday", EpochUnit::Ms).is_err());
        assert!(
            epoch_micros(1.7e18, EpochUnit::Ms).is_err(),
            "ns read as ms"
        );
    }

    #[test]
    fn lists_parse_as_json_or_as_athena_prints_them() {
        let some = |v: &[&str]| v.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
        assert_eq!(parse_list_text(r#"["a","b c"]"#), some(&["a", "b c"]));
        assert_eq!(parse_list_text("[a, b c]"), some(&["a", "b c"]));
        assert_eq!(parse_list_text("[]"), some(&[]));
        assert_eq!(parse_list_text("solo"), some(&["solo"]));
    }

    #[test]
    fn a_row_without_its_key_is_rejected_whole_and_others_load() {
        let mut d = decoder();
        let csv = b"Connect_Test_Case_Resource_ARN,connect_test_case_execution_start_timestamp,connect_test_case_execution_id,connect_test_case_failure_reasons,extra\n\
arn:tc/1,2024-11-25T02:00:00Z,e1,\"[\"\"timeout\"\"]\",x\n\
,2024-11-25T02:00:00Z,e2,,x\n\
arn:tc/1,not a time,e3,,x\n";
        let (records, rejects) = d.decode_csv(csv, |_| Ok(())).unwrap();
        assert_eq!(records, 3);
        assert_eq!(d.len(), 1);
        let reasons: Vec<_> = rejects.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "connect_test_case_resource_arn is empty",
                "connect_test_case_execution_start_timestamp: timestamp does not parse: \"not a time\""
            ]
        );
        assert_eq!(rejects[0].raw, b",2024-11-25T02:00:00Z,e2,,x");
        let batch = d.finish().unwrap();
        let reasons = batch
            .column_by_name("connect_test_case_failure_reasons")
            .unwrap()
            .as_list::<i32>()
            .value(0);
        assert_eq!(reasons.as_string::<i32>().value(0), "timeout");
    }

    #[test]
    fn a_missing_key_column_rejects_every_row() {
        let mut d = decoder();
        let out = d.attempt_json(Record::Text(r#"{"connect_test_case_execution_id":"e"}"#));
        match out {
            Attempt::Invalid { reason, .. } => assert_eq!(
                reason,
                "missing primary-key column connect_test_case_resource_arn"
            ),
            _ => panic!("not rejected"),
        }
        assert!(d.is_empty());
    }
}
