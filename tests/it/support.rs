//! Helpers: run the binary, find fixtures, read a lake back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/agent_events")
        .join(name)
}

pub fn expected(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/expected")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(args: &[&str]) -> Run {
    run_with_stdin(args, None)
}

/// Runs the binary in folder `dir` (for commands that read `connect-lake.toml` from there).
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    spawn(args, None, Some(dir), &[])
}

pub fn run_with_stdin(args: &[&str], stdin: Option<&str>) -> Run {
    spawn(args, stdin, None, &[])
}

/// Runs the binary with extra environment variables (S3 credentials, `RUST_LOG`).
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    spawn(args, None, None, env)
}

fn spawn(args: &[&str], stdin: Option<&str>, dir: Option<&Path>, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_connect-lake"));
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd.args(args)
        .env("CI", "1")
        .env_remove("RUST_LOG")
        .env_remove("AWS_ENDPOINT_URL");
    // Hermetic: no credentials or profile from the developer's shell.
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("binary runs");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs `etl --source agent-events` into `lake` and returns the parsed `--summary-json`.
pub fn etl(lake: &Path, inputs: &[&Path]) -> serde_json::Value {
    etl_source("agent-events", lake, inputs, &[])
}

/// A data-lake export fixture: `tests/data/<folder>/<name>`.
pub fn data(folder: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(folder)
        .join(name)
}

/// Runs `etl --source SOURCE [extra…]` into `lake` and returns the parsed `--summary-json`,
/// having checked that the run accounts for every record.
pub fn etl_source(
    source: &str,
    lake: &Path,
    inputs: &[&Path],
    extra: &[&str],
) -> serde_json::Value {
    let summary = lake.with_extension("summary.json");
    let mut args = vec![
        "etl",
        "--source",
        source,
        "--lake",
        lake.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    args.extend(extra);
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    let r = run(&args);
    assert_eq!(r.code, 0, "etl failed: {}", r.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    // Every run accounts for its records.
    let n = |k: &str| json[k].as_u64().unwrap();
    assert_eq!(
        n("records_read"),
        n("written") + n("duplicates") + n("rejected"),
        "{json}"
    );
    json
}

pub fn query(lake: &Path, format: &str, sql: &str) -> String {
    let r = run(&[
        "query",
        "--lake",
        lake.to_str().unwrap(),
        "--format",
        format,
        sql,
    ]);
    assert_eq!(r.code, 0, "query failed: {}", r.stderr);
    r.stdout
}

/// The single number a `SELECT count(*)`-like query returns.
pub fn scalar(lake: &Path, sql: &str) -> i64 {
    let csv = query(lake, "csv", sql);
    csv.lines()
        .nth(1)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {csv}"))
}

/// Every file under `dir` with its bytes, by relative path.
pub fn snapshot_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// Replaces a temp folder in a message so it can be a snapshot.
pub fn redact(text: &str, dir: &Path) -> String {
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    text.replace(&canonical.display().to_string(), "[TMP]")
        .replace(&dir.display().to_string(), "[TMP]")
}

/// Rewrites a lake file with the same rows and its agent summary replaced by `summary`, or
/// without one (as a file written before summaries existed).
pub fn rewrite_summary(file: &Path, summary: Option<&str>) {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap()).unwrap();
    let schema = reader.schema().clone();
    let batches: Vec<_> = reader.build().unwrap().map(|b| b.unwrap()).collect();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, None).unwrap();
    for b in &batches {
        writer.write(b).unwrap();
    }
    if let Some(text) = summary {
        writer.append_key_value_metadata(parquet::file::metadata::KeyValue::new(
            connect_lake::summary::KEY.to_string(),
            text.to_string(),
        ));
    }
    writer.close().unwrap();
    std::fs::write(file, out).unwrap();
}

/// `generate` output of `agents` agents for `days` days from `start` with `seed`, in `out`.
pub fn generated(out: &Path, agents: u32, days: u32, start: &str, seed: u64) -> PathBuf {
    let made = run(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--agents",
        &agents.to_string(),
        "--days",
        &days.to_string(),
        "--start",
        start,
        "--seed",
        &seed.to_string(),
    ]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    out.to_path_buf()
}
