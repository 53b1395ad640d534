//! ETL guarantees on fixtures: framings, dedup, late data, rejects, idempotence, atomicity.

use crate::support::*;

#[test]
fn connect_doc_samples_load_with_parsed_ids() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let s = etl(&lake, &[&fixture("connect-doc-samples.json")]);
    assert_eq!(
        (s["records_read"].as_u64(), s["written"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(s["child_rows_written"], 1);
    let csv = query(
        &lake,
        "csv",
        "SELECT event_type, instance_id, agent_id, username, routing_profile_name, \
        cardinality(inbound_queues) AS queues, contact_count, dt FROM agent_events ORDER BY event_timestamp",
    );
    assert_eq!(
        csv,
        "event_type,instance_id,agent_id,username,routing_profile_name,queues,contact_count,dt\n\
        STATE_CHANGE,aaaaaaaa-bbbb-cccc-dddd-111111111111,agent-ARN,(username),Basic Routing Profile,1,1,2019-05-25\n\
        HEART_BEAT,aaaaaaaa-bbbb-cccc-dddd-111111111111,agent-ARN,(username),Basic Routing Profile,1,0,2019-05-25\n"
    );
    let csv = query(
        &lake,
        "csv",
        "SELECT contact_id, channel, state, queue_name, connected_to_agent_timestamp FROM agent_event_contacts",
    );
    assert_eq!(
        csv,
        "contact_id,channel,state,queue_name,connected_to_agent_timestamp\n\
        0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d,VOICE,CONNECTED,BasicQueue,2019-05-25T18:44:12.049Z\n"
    );
}

#[test]
fn every_framing_loads_the_same_events() {
    for (name, events) in [
        ("firehose-concatenated.json", 8),
        ("json-array.json", 3),
        ("gzip-no-extension.json", 3),
        ("crosses-utc-midnight.ndjson", 9),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        let s = etl(&lake, &[&fixture(name)]);
        assert_eq!(s["written"], events, "{name}: {s}");
        assert_eq!(s["rejected"], 0, "{name}");
        assert_eq!(
            scalar(&lake, "SELECT count(*) FROM agent_events"),
            events,
            "{name}"
        );
    }
}

#[test]
fn duplicates_across_files_are_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    // a.ndjson holds events 1-3, b.ndjson events 2-4: four distinct events, two redelivered.
    let s = etl(&lake, &[&fixture("duplicates")]);
    assert_eq!(
        (
            s["records_read"].as_u64(),
            s["written"].as_u64(),
            s["duplicates"].as_u64()
        ),
        (Some(6), Some(4), Some(2))
    );
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(DISTINCT event_id) - count(*) FROM agent_events"
        ),
        0
    );
    assert_eq!(
        scalar(&lake, "SELECT count(*) FROM agent_event_contacts"),
        1
    );
}

#[test]
fn a_late_event_lands_in_its_own_day_and_leaves_other_days_alone() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    etl(&lake, &[&fixture("late-event/night1.ndjson")]);
    let day = lake.join("agent_events/dt=2026-11-24/part-0.parquet");
    let before = std::fs::read(&day).unwrap();
    let s = etl(&lake, &[&fixture("late-event/night2.ndjson")]);
    // night2: one event of the 23rd (late) and four of the 24th.
    assert!(
        s["partitions_touched"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "agent_events/dt=2026-11-23"),
        "{s}"
    );
    let csv = query(
        &lake,
        "csv",
        "SELECT dt, count(*) AS n FROM agent_events GROUP BY dt ORDER BY dt",
    );
    assert_eq!(csv, "dt,n\n2026-11-23,1\n2026-11-24,8\n");
    assert_ne!(std::fs::read(&day).unwrap(), before, "the 24th gained rows");
    assert!(!lake.join("agent_events/dt=2026-11-25").exists());
}

#[test]
fn truncated_and_garbage_records_are_quarantined_and_the_rest_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let input = fixture("truncated-and-garbage.json");
    let s = etl(&lake, &[&input]);
    assert_eq!(
        (
            s["records_read"].as_u64(),
            s["written"].as_u64(),
            s["rejected"].as_u64()
        ),
        (Some(10), Some(5), Some(5))
    );
    let rejected: Vec<_> = std::fs::read_dir(lake.join("_rejected/agent_events"))
        .unwrap()
        .collect();
    assert_eq!(rejected.len(), 1);
    let text = std::fs::read_to_string(rejected[0].as_ref().unwrap().path()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    let url = format!(
        "file://{}",
        std::fs::canonicalize(&input).unwrap().display()
    );
    let bytes = std::fs::read(&input).unwrap();
    for line in &lines {
        assert_eq!(line["source"], url.as_str());
        let offset = line["offset"].as_u64().unwrap() as usize;
        // The raw text is the input at that offset: nothing invented, nothing lost.
        match (line.get("raw"), line.get("raw_base64")) {
            (Some(raw), None) => assert!(
                bytes[offset..].starts_with(raw.as_str().unwrap().as_bytes()),
                "{line}"
            ),
            (None, Some(_)) => assert!(
                line["reason"].as_str().unwrap().contains("unicode"),
                "{line}"
            ),
            _ => panic!("{line}"),
        }
    }
    let reasons: Vec<&str> = lines
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("not a JSON object")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("EventTimestamp does not parse")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("truncated")),
        "{reasons:?}"
    );
}

#[test]
fn a_rerun_leaves_the_lake_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let inputs = [
        fixture("report-scenarios.ndjson"),
        fixture("truncated-and-garbage.json"),
    ];
    let inputs: Vec<&std::path::Path> = inputs.iter().map(|p| p.as_path()).collect();
    let first = etl(&lake, &inputs);
    let before = snapshot_tree(&lake);
    let second = etl(&lake, &inputs);
    assert_eq!(snapshot_tree(&lake), before);
    assert_eq!(second["written"], 0);
    assert_eq!(
        second["duplicates"].as_u64().unwrap(),
        first["written"].as_u64().unwrap() + first["duplicates"].as_u64().unwrap()
    );
    assert_eq!(second["partitions_touched"].as_array().unwrap().len(), 0);
}

#[test]
fn an_agent_day_across_utc_midnight_splits_into_two_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    etl(&lake, &[&fixture("crosses-utc-midnight.ndjson")]);
    for table in ["agent_events", "agent_event_contacts"] {
        for day in ["2026-11-24", "2026-11-25"] {
            let dir = lake.join(format!("{table}/dt={day}"));
            let files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(files, vec!["part-0.parquet"], "{}", dir.display());
        }
    }
    let csv = query(
        &lake,
        "csv",
        "SELECT dt, min(event_timestamp) AS first, max(event_timestamp) AS last FROM agent_events GROUP BY dt ORDER BY dt",
    );
    assert_eq!(
        csv,
        "dt,first,last\n2026-11-24,2026-11-24T22:30:00Z,2026-11-24T23:55:00Z\n2026-11-25,2026-11-25T00:05:00Z,2026-11-25T00:10:30Z\n"
    );
}

#[test]
fn leftovers_of_a_crashed_commit_are_invisible_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    etl(&lake, &[&fixture("late-event/night1.ndjson")]);
    // A crash between writing the new version and renaming it leaves only the staged file.
    let tmp = lake.join("_staging/crashed-run/0.tmp");
    std::fs::create_dir_all(tmp.parent().unwrap()).unwrap();
    std::fs::write(&tmp, b"half a parquet file").unwrap();
    // And object_store's own upload temporary of an interrupted marker write.
    let upload = lake.join("_connect_lake.json#3");
    std::fs::write(&upload, b"{").unwrap();
    assert_eq!(scalar(&lake, "SELECT count(*) FROM agent_events"), 4);
    etl(&lake, &[&fixture("late-event/night2.ndjson")]);
    assert!(!tmp.parent().unwrap().exists());
    assert!(!upload.exists());
    assert_eq!(scalar(&lake, "SELECT count(*) FROM agent_events"), 9);
}

#[test]
fn generated_input_with_every_defect_accounts_for_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let lake = dir.path().join("lake");
    let r = run(&[
        "generate",
        "--out",
        input.to_str().unwrap(),
        "--agents",
        "4",
        "--days",
        "2",
        "--start",
        "2026-11-22",
        "--seed",
        "3",
        "--gzip",
        "--dup-rate",
        "0.05",
        "--late-rate",
        "0.05",
        "--bad-rate",
        "0.01",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let generated: Vec<u64> = r
        .stdout
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let (events, dups, bad) = (generated[0], generated[1], generated[3]);
    let s = etl(&lake, &[&input]);
    assert_eq!(s["records_read"].as_u64().unwrap(), events + dups);
    assert_eq!(s["rejected"].as_u64().unwrap(), bad);
    // A corrupted record can be the only copy or one of two: the rest all arrive once.
    let written = s["written"].as_u64().unwrap();
    assert!(
        written <= events && written + bad >= events,
        "{s} vs {}",
        r.stdout
    );
    assert_eq!(
        scalar(&lake, "SELECT count(*) FROM agent_events"),
        written as i64
    );
    // Every agent's sessions come out of the view.
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(DISTINCT username) FROM login_logout_sessions"
        ),
        4
    );
}

/// What Athena, Spark and DuckDB need of a file (tests/interop reads them with the real
/// readers): INT64 microsecond timestamps adjusted to UTC, lower_snake_case names, `dt` only
/// in the folder name; with `--no-page-index` no column or offset index.
#[test]
fn parquet_files_fit_the_downstream_readers() {
    use parquet::basic::{LogicalType, TimeUnit};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::serialized_reader::ReadOptionsBuilder;

    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture("connect-doc-samples.json");
    for page_index in [true, false] {
        let lake = dir.path().join(format!("lake-{page_index}"));
        let extra: &[&str] = if page_index {
            &[]
        } else {
            &["--no-page-index"]
        };
        etl_source("agent-events", &lake, &[&fixture], extra);
        let files: Vec<String> = snapshot_tree(&lake)
            .into_keys()
            .filter(|k| k.ends_with(".parquet"))
            .collect();
        assert_eq!(files.len(), 2, "{files:?}");
        for rel in files {
            assert!(
                rel.contains("/dt=") && rel.ends_with("/part-0.parquet"),
                "{rel}"
            );
            let file = std::fs::File::open(lake.join(&rel)).unwrap();
            let options = ReadOptionsBuilder::new().with_page_index().build();
            let reader = SerializedFileReader::new_with_options(file, options).unwrap();
            let meta = reader.metadata();
            let schema = meta.file_metadata().schema_descr();
            let mut timestamps = 0;
            for column in schema.columns() {
                let name = column.path().parts()[0].clone();
                assert!(
                    name.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                        && name != "dt",
                    "{rel}: column {name}"
                );
                if let Some(LogicalType::Timestamp(t)) = column.logical_type_ref() {
                    timestamps += 1;
                    assert!(t.is_adjusted_to_u_t_c, "{rel}: {name} not UTC-adjusted");
                    assert!(
                        matches!(t.unit, TimeUnit::MICROS),
                        "{rel}: {name} in {:?}",
                        t.unit
                    );
                }
            }
            assert!(timestamps >= 4, "{rel}: {timestamps} timestamp columns");
            assert_eq!(
                meta.column_index().is_some(),
                page_index,
                "{rel}: column index"
            );
            assert_eq!(
                meta.offset_index().is_some(),
                page_index,
                "{rel}: offset index"
            );
        }
    }
}

/// `--zstd-level` trades CPU for size and nothing else: the same rows at any level, every page
/// zstd, a level zstd does not have refused before anything is written.
#[test]
fn zstd_level_changes_the_bytes_not_the_rows() {
    use parquet::basic::Compression;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let dir = tempfile::tempdir().unwrap();
    let input = generated(&dir.path().join("in"), 6, 1, "2026-11-02", 5);
    let rows = "SELECT event_id, event_type, agent_arn, username, agent_status_name, event_timestamp, \
                cardinality(inbound_queues) AS queues, dt FROM agent_events ORDER BY event_id";
    let mut seen = Vec::new();
    for level in ["1", "19"] {
        let lake = dir.path().join(format!("lake-{level}"));
        etl_source("agent-events", &lake, &[&input], &["--zstd-level", level]);
        let mut bytes = Vec::new();
        for (rel, content) in snapshot_tree(&lake) {
            if !rel.ends_with(".parquet") {
                continue;
            }
            let reader = SerializedFileReader::new(bytes::Bytes::from(content.clone())).unwrap();
            for rg in reader.metadata().row_groups() {
                for chunk in rg.columns() {
                    assert!(
                        matches!(chunk.compression(), Compression::ZSTD(_)),
                        "{rel}: {:?}",
                        chunk.compression()
                    );
                }
            }
            bytes.push(content);
        }
        assert!(!bytes.is_empty());
        seen.push((query(&lake, "csv", rows), bytes));
    }
    assert_eq!(seen[0].0, seen[1].0, "the rows differ between levels");
    assert_ne!(
        seen[0].1, seen[1].1,
        "level 19 wrote the same bytes as level 1"
    );

    let lake = dir.path().join("lake-0");
    let r = run(&[
        "etl",
        "--source",
        "agent-events",
        "--lake",
        lake.to_str().unwrap(),
        "--zstd-level",
        "0",
        input.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--zstd-level"), "{}", r.stderr);
    assert!(!lake.exists(), "a refused run created the lake");
}
