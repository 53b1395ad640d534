//! The write protocol (issue 10) with real processes: concurrent writers, `kill -9` at
//! instants spread over whole runs, a reader looping while a writer commits, damaged files
//! for `check`. Local file system here; the same on SeaweedFS is in `s3.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_connect-lake"));
    cmd.env("CI", "1").env_remove("RUST_LOG");
    cmd
}

/// `generate` into `dir/name`: `agents` agents, one day from 2026-11-24, with duplicates.
fn input(dir: &Path, name: &str, agents: &str, seed: &str) -> PathBuf {
    let out = dir.join(name);
    let r = run(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--agents",
        agents,
        "--days",
        "2",
        "--start",
        "2026-11-24",
        "--seed",
        seed,
        "--dup-rate",
        "0.02",
        "--format",
        "ndjson",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    out
}

fn spawn_etl(lake: &Path, inputs: &[&Path], extra: &[&str]) -> Child {
    let mut cmd = bin();
    cmd.args([
        "etl",
        "--source",
        "agent-events",
        "--lake",
        lake.to_str().unwrap(),
    ])
    .args(extra)
    .args(inputs.iter().map(|p| p.to_str().unwrap()))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

fn finish(child: Child) -> Run {
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every table file of a lake (partition files only), by relative path.
fn table_files(lake: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot_tree(lake)
        .into_iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .collect()
}

/// What a crash must never leave behind once a later run is done: staging and temporaries.
fn leftovers(lake: &Path) -> Vec<String> {
    snapshot_tree(lake)
        .into_keys()
        .filter(|k| k.starts_with("_staging") || k.contains('#') || k.ends_with(".tmp"))
        .collect()
}

#[test]
fn concurrent_writers_lose_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = (0..4)
        .map(|i| input(dir.path(), &format!("in{i}"), "3", &format!("{}", 100 + i)))
        .collect();
    // The same inputs one after the other: what the lake must hold.
    let sequential = dir.path().join("sequential");
    for i in &inputs {
        etl(&sequential, &[i]);
    }
    // Four runs started together on a new, empty lake: one creates it, the others wait for
    // the lease; all succeed.
    let lake = dir.path().join("lake");
    let children: Vec<Child> = inputs
        .iter()
        .map(|i| spawn_etl(&lake, &[i], &["--lock-wait", "120s"]))
        .collect();
    for child in children {
        let r = finish(child);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let all = "SELECT event_id, event_type, event_timestamp, username FROM agent_events ORDER BY event_id";
    let contacts = "SELECT event_id, contact_id, state FROM agent_event_contacts ORDER BY event_id, contact_id";
    assert!(scalar(&sequential, "SELECT count(*) FROM agent_events") > 1000);
    assert_eq!(query(&lake, "csv", all), query(&sequential, "csv", all));
    assert_eq!(
        query(&lake, "csv", contacts),
        query(&sequential, "csv", contacts)
    );
    // Same rows, same sorted files: byte for byte what one writer at a time produces.
    assert_eq!(table_files(&lake), table_files(&sequential));
    assert!(leftovers(&lake).is_empty(), "{:?}", leftovers(&lake));
    assert!(!lake.join("_connect_lake.lock").exists());
}

#[test]
fn a_second_writer_is_refused_naming_the_holder_and_waits_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path(), "in", "2", "7");
    let lake = dir.path().join("lake");
    etl(&lake, &[&fixture("report-scenarios.ndjson")]);
    // Someone holds the lease: an OS lock on the lease file, as a running etl holds it.
    let lock = lake.join("_connect_lake.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .read(true)
        .open(&lock)
        .unwrap();
    file.lock().unwrap();
    std::fs::write(
        &lock,
        r#"{"run_id":"11111111-2222-3333-4444-555555555555","host":"host-a","pid":4242,"command":"etl","started":"2026-12-01T20:00:00Z","expires":"2026-12-01T20:02:00Z"}"#,
    )
    .unwrap();
    let before = table_files(&lake);
    let r = finish(spawn_etl(&lake, &[&input], &[]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!("second_writer_refused", redact(&r.stderr, dir.path()));
    assert_eq!(table_files(&lake), before, "a refused run writes nothing");
    // With --lock-wait it waits, and goes on once the holder is gone.
    let waiting = spawn_etl(&lake, &[&input], &["--lock-wait", "60s"]);
    std::thread::sleep(Duration::from_millis(300));
    drop(file);
    std::fs::remove_file(&lock).unwrap();
    let r = finish(waiting);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_ne!(table_files(&lake), before);
}

#[test]
fn kill_9_at_any_instant_leaves_a_readable_lake_that_a_rerun_converges() {
    let dir = tempfile::tempdir().unwrap();
    let first = input(dir.path(), "first", "4", "21");
    let second = input(dir.path(), "second", "4", "22");
    // Uninterrupted: the first input, then the second merged into the same days.
    let reference = dir.path().join("reference");
    etl(&reference, &[&first]);
    let started = Instant::now();
    etl(&reference, &[&second]);
    let took = started.elapsed();
    let want = table_files(&reference);
    let kills = 12;
    let mut interrupted = 0;
    for k in 0..kills {
        let lake = dir.path().join(format!("lake{k}"));
        etl(&lake, &[&first]);
        let mut child = spawn_etl(&lake, &[&second], &[]);
        // Instants spread over the whole second run, commits included.
        std::thread::sleep(took.mul_f64(k as f64 / kills as f64));
        let _ = child.kill();
        let status = child.wait().unwrap();
        interrupted += usize::from(!status.success());
        // Readable at once, whatever the instant: every partition old or new, never doubled.
        let count = scalar(&lake, "SELECT count(*) FROM agent_events");
        let distinct = scalar(&lake, "SELECT count(DISTINCT event_id) FROM agent_events");
        assert_eq!(count, distinct, "kill {k}: a row twice");
        // Every event visible has its contacts (children are committed first).
        assert_eq!(
            scalar(
                &lake,
                "SELECT count(*) FROM agent_events e WHERE e.contact_count > 0 AND NOT EXISTS \
                 (SELECT 1 FROM agent_event_contacts c WHERE c.event_id = e.event_id)"
            ),
            0,
            "kill {k}: an event without its contacts"
        );
        // A rerun converges to the uninterrupted lake, and leaves nothing temporary.
        etl(&lake, &[&second]);
        assert_eq!(table_files(&lake), want, "kill {k}: rerun differs");
        assert!(
            leftovers(&lake).is_empty(),
            "kill {k}: {:?}",
            leftovers(&lake)
        );
    }
    assert!(
        interrupted > kills / 3,
        "only {interrupted} runs were really interrupted"
    );
}

#[test]
fn a_reader_looping_during_commits_never_sees_a_torn_or_doubled_partition() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = (0..5)
        .map(|i| input(dir.path(), &format!("in{i}"), "2", &format!("{}", 300 + i)))
        .collect();
    let lake = dir.path().join("lake");
    etl(&lake, &[&inputs[0]]);
    let lake_text = lake.to_str().unwrap().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut reads, mut retries) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) || reads < 3 {
                let r = run(&[
                    "query",
                    "--lake",
                    &lake_text,
                    "--format",
                    "csv",
                    "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM agent_events",
                ]);
                if r.code == 0 {
                    let row: Vec<i64> = r
                        .stdout
                        .lines()
                        .nth(1)
                        .unwrap()
                        .split(',')
                        .map(|v| v.parse().unwrap())
                        .collect();
                    assert_eq!(row[0], row[1], "a row seen twice");
                    reads += 1;
                } else {
                    // The one failure allowed: a file replaced mid-read, said as such.
                    assert!(r.stderr.contains("run the query again"), "{}", r.stderr);
                    retries += 1;
                }
            }
            (reads, retries)
        })
    };
    for i in &inputs[1..] {
        etl(&lake, &[i]);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (reads, _retries) = reader.join().unwrap();
    assert!(reads >= 3);
}

#[test]
fn a_damaged_file_names_itself_and_check_reports_and_repairs() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    etl(&lake, &[&fixture("report-scenarios.ndjson")]);
    let part = lake.join("agent_events/dt=2026-11-24/part-0.parquet");
    let bytes = std::fs::read(&part).unwrap();
    std::fs::write(&part, &bytes[..bytes.len() / 2]).unwrap();
    let before = snapshot_tree(&lake);
    let r = finish(spawn_etl(
        &lake,
        &[&fixture("crosses-utc-midnight.ndjson")],
        &[],
    ));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    insta::assert_snapshot!("damaged_file", redact(&r.stderr, dir.path()));
    assert_eq!(snapshot_tree(&lake), before, "nothing written");

    // More trouble: a second Parquet file in a partition, a crashed run's staging file,
    // an object_store temporary.
    std::fs::copy(
        lake.join("agent_event_contacts/dt=2026-11-24/part-0.parquet"),
        lake.join("agent_event_contacts/dt=2026-11-24/export-by-spark.parquet"),
    )
    .unwrap();
    std::fs::create_dir_all(lake.join("_staging/dead-run")).unwrap();
    std::fs::write(lake.join("_staging/dead-run/0.tmp"), b"half").unwrap();
    std::fs::write(
        lake.join("agent_events/dt=2026-11-25/part-0.parquet#7"),
        b"x",
    )
    .unwrap();
    // A day's file in another day's folder, and a lease a crashed run left (nobody locks it).
    let wrong = lake.join("agent_event_contacts/dt=2026-11-20");
    std::fs::create_dir_all(&wrong).unwrap();
    std::fs::copy(
        lake.join("agent_event_contacts/dt=2026-11-24/part-0.parquet"),
        wrong.join("part-0.parquet"),
    )
    .unwrap();
    std::fs::write(
        lake.join("_connect_lake.lock"),
        r#"{"run_id":"dead","host":"h","pid":1,"command":"etl","started":"2026-12-01T20:00:00Z","expires":"2026-12-01T20:02:00Z"}"#,
    )
    .unwrap();
    let lake_text = lake.to_str().unwrap();
    let r = run(&["check", "--lake", lake_text]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!("check_findings", redact(&r.stdout, dir.path()));
    // The safe repairs only: rows in the wrong day stay for a person to decide.
    let r = run(&["check", "--lake", lake_text, "--repair"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    insta::assert_snapshot!("check_repairs", redact(&r.stdout, dir.path()));
    assert!(!lake.join("_connect_lake.lock").exists());
    std::fs::remove_dir_all(&wrong).unwrap();
    assert!(
        lake.join("_quarantine/agent_events/dt=2026-11-24/part-0.parquet")
            .exists()
    );
    let note = std::fs::read_to_string(
        lake.join("_quarantine/agent_events/dt=2026-11-24/part-0.parquet.note.json"),
    )
    .unwrap();
    assert!(note.contains("\"problem\":\"unreadable\""), "{note}");
    let r = run(&["check", "--lake", lake_text]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // The lake takes the day again.
    etl(&lake, &[&fixture("report-scenarios.ndjson")]);
    assert!(
        scalar(
            &lake,
            "SELECT count(*) FROM agent_events WHERE dt = '2026-11-24'"
        ) > 0
    );
}
