//! The data-lake tables (contact_flow_events, connect_test_case_execution_results): every
//! export format, the dedup winner rule, rejects, and the three views against expected files.

use std::path::Path;

use crate::support::*;

const FLOWS: &str = "contact_flow_events";
const TESTS: &str = "test_case_results";

fn rows(lake: &Path, table: &str, order: &str) -> String {
    query(
        lake,
        "csv",
        &format!("SELECT * FROM {table} ORDER BY {order}"),
    )
}

#[test]
fn ndjson_csv_and_parquet_exports_give_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for (name, input) in [
        ("iso", "iso-timestamps.ndjson"),
        ("epoch", "epoch-millis.csv"),
        ("parquet", "duckdb-export.parquet"),
    ] {
        let lake = dir.path().join(name);
        let s = etl_source("contact-flow-events", &lake, &[&data(FLOWS, input)], &[]);
        assert_eq!(
            (s["written"].as_u64(), s["rejected"].as_u64()),
            (Some(8), Some(0)),
            "{input}: {s}"
        );
        seen.push(rows(&lake, "contact_flow_events", "event_id"));
    }
    assert_eq!(seen[0], seen[1], "ISO NDJSON and epoch CSV differ");
    assert_eq!(
        seen[0], seen[2],
        "NDJSON and a DuckDB Parquet export differ"
    );
    // The path crossing UTC midnight lands in two days.
    let days = query(
        &dir.path().join("iso"),
        "csv",
        "SELECT dt, count(*) AS n FROM contact_flow_events GROUP BY dt ORDER BY dt",
    );
    assert_eq!(days, "dt,n\n2026-11-20,5\n2026-11-21,3\n");

    let mut seen = Vec::new();
    for (name, input) in [("csv", "runs.csv"), ("parquet", "duckdb-export.parquet")] {
        let lake = dir.path().join(format!("tests-{name}"));
        let s = etl_source("test-case-results", &lake, &[&data(TESTS, input)], &[]);
        assert_eq!(s["written"].as_u64(), Some(2), "{input}: {s}");
        seen.push(rows(
            &lake,
            "connect_test_case_execution_results",
            "connect_test_case_execution_id",
        ));
    }
    assert_eq!(seen[0], seen[1]);
    assert!(
        seen[0].contains("\"[Expected prompt not played, Timeout]\""),
        "{}",
        seen[0]
    );
}

#[test]
fn the_same_rows_in_two_formats_load_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let s = etl_source(
        "contact-flow-events",
        &lake,
        &[
            &data(FLOWS, "iso-timestamps.ndjson"),
            &data(FLOWS, "epoch-millis.csv"),
        ],
        &[],
    );
    assert_eq!(
        (s["written"].as_u64(), s["duplicates"].as_u64()),
        (Some(8), Some(8))
    );
    let before = snapshot_tree(&lake);
    let s = etl_source(
        "contact-flow-events",
        &lake,
        &[&data(FLOWS, "epoch-millis.csv")],
        &[],
    );
    assert_eq!(
        (s["written"].as_u64(), s["duplicates"].as_u64()),
        (Some(0), Some(8))
    );
    assert_eq!(snapshot_tree(&lake), before, "a rerun changes no byte");
}

#[test]
fn the_newer_version_wins_whichever_file_comes_first() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = |lake: &Path| {
        query(
            lake,
            "csv",
            "SELECT flow_outcome FROM contact_flow_events WHERE event_id = 'ev-3'",
        )
    };
    let want = "flow_outcome\nQueued (reprocessed)\n";
    let (older, newer) = (
        data(FLOWS, "older-version.ndjson"),
        data(FLOWS, "newer-version.ndjson"),
    );
    let (older, newer) = (older.as_path(), newer.as_path());
    // One run, both orders.
    for (i, inputs) in [[older, newer], [newer, older]].iter().enumerate() {
        let lake = dir.path().join(format!("one-run-{i}"));
        let s = etl_source("contact-flow-events", &lake, &inputs[..], &[]);
        assert_eq!(
            (s["written"].as_u64(), s["duplicates"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(outcome(&lake), want);
    }
    // Two runs: the older first is replaced; the older second changes nothing.
    let lake = dir.path().join("older-first");
    etl_source("contact-flow-events", &lake, &[older], &[]);
    let s = etl_source("contact-flow-events", &lake, &[newer], &[]);
    assert_eq!(
        s["written"].as_u64(),
        Some(1),
        "the newer version replaces the row: {s}"
    );
    assert_eq!(outcome(&lake), want);
    let lake = dir.path().join("newer-first");
    etl_source("contact-flow-events", &lake, &[newer], &[]);
    let before = snapshot_tree(&lake);
    let s = etl_source("contact-flow-events", &lake, &[older], &[]);
    assert_eq!(
        (s["written"].as_u64(), s["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(outcome(&lake), want);
    assert_eq!(snapshot_tree(&lake), before);
    assert_eq!(scalar(&lake, "SELECT count(*) FROM contact_flow_events"), 1);

    // Test cases: record_creation_timestamp decides; the in-progress record is older.
    let lake = dir.path().join("tests");
    let s = etl_source(
        "test-case-results",
        &lake,
        &[
            &data(TESTS, "runs.csv"),
            &data(TESTS, "in-progress-version.ndjson"),
        ],
        &[],
    );
    assert_eq!(
        (s["written"].as_u64(), s["duplicates"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        query(
            &lake,
            "csv",
            "SELECT connect_test_case_status, connect_test_case_result FROM \
             connect_test_case_execution_results WHERE connect_test_case_execution_id = 'exec-2'"
        ),
        "connect_test_case_status,connect_test_case_result\nFailed,Failed\n"
    );
}

#[test]
fn rows_without_their_key_or_with_a_bad_timestamp_are_rejected_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let input = data(FLOWS, "missing-key-and-bad-timestamp.ndjson");
    let s = etl_source("contact-flow-events", &lake, &[&input], &[]);
    assert_eq!(
        (
            s["records_read"].as_u64(),
            s["written"].as_u64(),
            s["rejected"].as_u64()
        ),
        (Some(3), Some(1), Some(2))
    );
    let rejected = dir.path().join("lake/_rejected/contact_flow_events");
    let files: Vec<_> = std::fs::read_dir(&rejected).unwrap().collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["offset"], 0);
    assert_eq!(lines[0]["reason"], "missing primary-key column event_id");
    assert!(
        lines[0]["raw"]
            .as_str()
            .unwrap()
            .contains("\"flow_resource_id\": \"flow-main-ivr\"")
    );
    assert_eq!(
        lines[1]["reason"],
        "start_timestamp: timestamp does not parse: \"20/11/2026 10:00\""
    );
    // Reading epoch milliseconds as seconds gives years past 2400: every row says so.
    let lake = dir.path().join("wrong-unit");
    let s = etl_source(
        "contact-flow-events",
        &lake,
        &[&data(FLOWS, "epoch-millis.csv")],
        &["--epoch-unit", "s"],
    );
    assert_eq!(
        (s["written"].as_u64(), s["rejected"].as_u64()),
        (Some(0), Some(8))
    );
}

#[test]
fn format_can_be_forced_and_is_refused_for_agent_events() {
    let dir = tempfile::tempdir().unwrap();
    // A CSV export with no telling extension.
    let renamed = dir.path().join("export-0001");
    std::fs::copy(data(FLOWS, "epoch-millis.csv"), &renamed).unwrap();
    let lake = dir.path().join("lake");
    let s = etl_source(
        "contact-flow-events",
        &lake,
        &[&renamed],
        &["--format", "csv"],
    );
    assert_eq!(s["written"].as_u64(), Some(8));
    let r = run(&[
        "etl",
        "--source",
        "agent-events",
        "--format",
        "csv",
        "--lake",
        lake.to_str().unwrap(),
        renamed.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--format is for data-lake exports"),
        "{}",
        r.stderr
    );
}

fn views_lake(dir: &Path) -> std::path::PathBuf {
    let lake = dir.join("lake");
    etl_source(
        "contact-flow-events",
        &lake,
        &[
            &data(FLOWS, "iso-timestamps.ndjson"),
            &data(FLOWS, "newer-version.ndjson"),
        ],
        &[],
    );
    etl_source(
        "test-case-results",
        &lake,
        &[
            &data(TESTS, "runs.csv"),
            &data(TESTS, "in-progress-version.ndjson"),
        ],
        &[],
    );
    etl(&lake, &[&fixture("meets-contact-flows.ndjson")]);
    lake
}

#[test]
fn data_lake_views_match_the_expected_files() {
    let dir = tempfile::tempdir().unwrap();
    let lake = views_lake(dir.path());
    assert_eq!(
        query(
            &lake,
            "csv",
            "SELECT * FROM contact_flow_paths ORDER BY contact_id, step"
        ),
        expected("data-lake.contact_flow_paths.csv")
    );
    assert_eq!(
        query(
            &lake,
            "csv",
            "SELECT * FROM test_case_runs ORDER BY start_timestamp"
        ),
        expected("data-lake.test_case_runs.csv")
    );
    assert_eq!(
        query(
            &lake,
            "csv",
            "SELECT * FROM contact_journeys ORDER BY contact_id"
        ),
        expected("data-lake.contact_journeys.csv")
    );
}

#[test]
fn generated_exports_join_the_generated_agent_events() {
    let dir = tempfile::tempdir().unwrap();
    let (input, exports) = (dir.path().join("in"), dir.path().join("exports"));
    let r = run(&[
        "generate",
        "--out",
        input.to_str().unwrap(),
        "--agents",
        "4",
        "--days",
        "2",
        "--seed",
        "3",
        "--dup-rate",
        "0.05",
        "--bad-rate",
        "0.01",
        "--data-lake-out",
        exports.to_str().unwrap(),
        "--data-lake-format",
        "csv",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lake = dir.path().join("lake");
    etl(&lake, &[&input]);
    let flows = etl_source(
        "contact-flow-events",
        &lake,
        &[&exports.join("contact_flow_events")],
        &[],
    );
    assert!(flows["duplicates"].as_u64().unwrap() > 0, "{flows}");
    assert!(flows["rejected"].as_u64().unwrap() > 0, "{flows}");
    etl_source(
        "test-case-results",
        &lake,
        &[&exports.join("connect_test_case_execution_results")],
        &[],
    );
    // Every contact an agent connected to has its flow path and its agent; every one but the
    // outbound calls (which go through no queue) its queue.
    let unmatched = scalar(
        &lake,
        "SELECT count(*) FROM agent_event_contacts c WHERE c.connected_to_agent_timestamp IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM contact_journeys j WHERE j.contact_id = c.contact_id \
         AND j.agent_id = c.agent_id \
         AND (j.queue_id IS NOT NULL OR c.initiation_method = 'OUTBOUND'))",
    );
    assert_eq!(unmatched, 0);
    assert!(
        scalar(
            &lake,
            "SELECT count(*) FROM agent_event_contacts WHERE connected_to_agent_timestamp IS NOT NULL"
        ) > 0
    );
    assert!(
        scalar(
            &lake,
            "SELECT count(*) FROM contact_journeys WHERE time_queued_seconds >= 0"
        ) > 0
    );
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM contact_journeys WHERE time_queued_seconds < 0"
        ),
        0
    );
    // Every test run found the flow events of its contacts, starting in its initiating flow.
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM test_case_runs WHERE initiating_flow_events < 1"
        ),
        0
    );
    assert_eq!(scalar(&lake, "SELECT count(*) FROM test_case_runs"), 24);
    // No reprocessed copy survives next to its original.
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) - count(DISTINCT event_id) FROM contact_flow_events"
        ),
        0
    );
}
