//! Output: query results to stdout (or any writer) as an aligned table, CSV, a JSON array or
//! NDJSON. The only module that writes results to stdout.

use std::io::Write;

use arrow::array::Array;
use arrow::record_batch::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal (reads the whole result first).
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// Set once a write to stdout found it closed (`query … | head`): the one broken pipe that
/// ends a run quietly. Decided where the write failed, never from an error's text.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether stdout was closed by its reader during this run.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Standard output for results: notes when the reader has gone away.
pub struct Stdout(std::io::StdoutLock<'static>);

impl Stdout {
    pub fn lock() -> Stdout {
        Stdout(std::io::stdout().lock())
    }

    fn note<T>(result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        result
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Self::note(self.0.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Self::note(self.0.flush())
    }
}

fn io(e: std::io::Error) -> Error {
    Error::Io {
        path: "<stdout>".into(),
        source: e,
    }
}

/// Streams `stream` to `out` in `format`; only `table` holds the result in memory.
pub async fn write_stream(
    mut stream: SendableRecordBatchStream,
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    match format {
        Format::Table => {
            let mut batches = Vec::new();
            while let Some(b) = stream.next().await {
                batches.push(b?);
            }
            write_table(&batches, &stream.schema(), out)
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            let mut wrote = false;
            while let Some(b) = stream.next().await {
                writer.write(&nested_as_text(&b?)?)?;
                wrote = true;
            }
            if !wrote {
                writer.write(&nested_as_text(&RecordBatch::new_empty(stream.schema()))?)?;
            }
            Ok(())
        }
        Format::Json => {
            let mut writer = arrow::json::ArrayWriter::new(&mut *out);
            while let Some(b) = stream.next().await {
                writer.write(&b?)?;
            }
            writer.finish()?;
            drop(writer);
            out.write_all(b"\n").map_err(io)
        }
        Format::Ndjson => {
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut *out);
            while let Some(b) = stream.next().await {
                writer.write(&b?)?;
            }
            writer.finish()?;
            Ok(())
        }
    }
}

/// CSV has no lists or structs: such columns are written as their display text
/// (`[{arn: …, name: …}]`), the way the table format shows them.
fn nested_as_text(batch: &RecordBatch) -> Result<RecordBatch> {
    use arrow::array::{ArrayRef, StringBuilder};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| f.data_type().is_nested())
    {
        return Ok(batch.clone());
    }
    let options = FormatOptions::default().with_null("");
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if field.data_type().is_nested() {
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
            let mut text = StringBuilder::new();
            for i in 0..column.len() {
                if column.is_null(i) {
                    text.append_null();
                } else {
                    text.append_value(formatter.value(i).to_string());
                }
            }
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(std::sync::Arc::new(text.finish()));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        columns,
    )?)
}

fn write_table(
    batches: &[RecordBatch],
    schema: &arrow::datatypes::SchemaRef,
    out: &mut dyn Write,
) -> Result<()> {
    let text = if batches.iter().all(|b| b.num_rows() == 0) {
        arrow::util::pretty::pretty_format_batches(&[RecordBatch::new_empty(schema.clone())])?
    } else {
        arrow::util::pretty::pretty_format_batches(batches)?
    };
    writeln!(out, "{text}").map_err(io)
}

/// Writes a finished report to a local path or an object-store URL so that a reader never sees
/// half of it: a local file is written beside its target under a hidden name and renamed; an
/// object-store PUT is atomic by itself.
pub async fn write_object(
    target: &str,
    bytes: Vec<u8>,
    s3: &crate::store::S3Options,
) -> Result<()> {
    use object_store::ObjectStoreExt;
    if target.starts_with("s3://") {
        let url = url::Url::parse(target).map_err(|e| Error::usage(format!("{target}: {e}")))?;
        let location = crate::store::Location::parse(
            &format!("s3://{}", url.host_str().unwrap_or_default()),
            s3,
            false,
        )?;
        let path = object_store::path::Path::parse(url.path().trim_start_matches('/'))
            .map_err(|e| Error::usage(format!("{target}: {e}")))?;
        location
            .store
            .put(&path, bytes.into())
            .await
            .map_err(|source| Error::Store {
                url: target.to_string(),
                source,
            })?;
        return Ok(());
    }
    let path = std::path::Path::new(target.strip_prefix("file://").unwrap_or(target));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// A whole document (e.g. an SVG): to `target` (a path or URL, written atomically) or, with
/// none, to stdout.
pub async fn document(
    text: String,
    target: Option<&str>,
    s3: &crate::store::S3Options,
) -> Result<()> {
    match target {
        None => self::text(&text),
        Some(target) => write_object(target, text.into_bytes(), s3).await,
    }
}

/// A whole document (e.g. an SVG) on stdout.
pub fn text(text: &str) -> Result<()> {
    let mut out = Stdout::lock();
    out.write_all(text.as_bytes()).map_err(io)
}

/// A line of text for the user on stdout (e.g. the accounting line of a run).
pub fn line(text: &str) -> Result<()> {
    let mut out = Stdout::lock();
    // Status lines can carry a store's error text: never a credential.
    writeln!(out, "{}", crate::secrets::redact(text)).map_err(io)
}
