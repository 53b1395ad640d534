//! Hostile input (issue 11): damaged gzip keeps what inflated, a bomb stops at the cap, wrong
//! epoch units and impossible years are refused with the unit that fits, CSV nulls as exporters
//! write them, a Parquet export that fails part-way keeps its rows. Fixtures from
//! `tests/data/make_hostile_fixtures.py`.

use std::path::{Path, PathBuf};

use crate::support::*;

fn hostile(name: &str) -> PathBuf {
    data("hostile", name)
}

/// The reject lines of a lake for `table`.
fn rejects(lake: &Path, table: &str) -> Vec<serde_json::Value> {
    let dir = lake.join("_rejected").join(table);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            out.push(serde_json::from_str(line).unwrap());
        }
    }
    out
}

/// The events of `fixture` whose record ends before byte `end` of it.
fn event_ids_before(fixture: &Path, end: usize) -> Vec<String> {
    let text = std::fs::read_to_string(fixture).unwrap();
    let mut ids = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        at += line.len();
        if at <= end {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            ids.push(v["EventId"].as_str().unwrap().to_string());
        }
    }
    ids
}

#[test]
fn a_gzip_object_cut_short_loads_every_record_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let s = etl(&lake, &[&hostile("gzip-cut-at-two-thirds.json.gz")]);
    let rejected = rejects(&lake, "agent_events");
    let gzip = rejected
        .iter()
        .find(|r| {
            r["reason"]
                .as_str()
                .unwrap()
                .contains("gzip stream damaged or truncated")
        })
        .expect("a reject for the damage");
    // Everything that inflated whole before the damage is in the lake.
    let inflated = gzip["offset"].as_u64().unwrap() as usize;
    let want = event_ids_before(&fixture("report-scenarios.ndjson"), inflated);
    assert!(want.len() > 15, "{}", want.len());
    assert_eq!(s["written"].as_u64().unwrap() as usize, want.len());
    let got = query(
        &lake,
        "csv",
        "SELECT event_id FROM agent_events ORDER BY event_id",
    );
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got.lines().skip(1).collect::<Vec<_>>(), want_sorted);
    // The raw bytes kept are the compressed tail, capped, not the whole object inflated.
    assert!(gzip.get("raw_base64").is_some());
    assert_eq!(
        s["rejected"], 2,
        "the cut record and the damaged stream: {s}"
    );
}

#[test]
fn a_damaged_second_gzip_member_keeps_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let s = etl(
        &lake,
        &[&hostile("two-gzip-members-second-damaged.json.gz")],
    );
    let first = event_ids_before(&fixture("crosses-utc-midnight.ndjson"), usize::MAX);
    for id in &first {
        assert_eq!(
            scalar(
                &lake,
                &format!("SELECT count(*) FROM agent_events WHERE event_id = '{id}'")
            ),
            1,
            "{id}"
        );
    }
    assert!(s["rejected"].as_u64().unwrap() >= 1);
}

#[test]
fn a_gzip_bomb_stops_at_the_cap_and_keeps_what_came_before() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    // Real records, then 64 MiB of spaces: a small object that inflates far past 1 MiB.
    let records = std::fs::read(fixture("report-scenarios.ndjson")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&records).unwrap();
    enc.write_all(&vec![b' '; 64 << 20]).unwrap();
    enc.write_all(&records).unwrap();
    let bomb = dir.path().join("bomb.json.gz");
    std::fs::write(&bomb, enc.finish().unwrap()).unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let lake = dir.path().join("lake");
    let s = etl_source("agent-events", &lake, &[&bomb], &["--max-object-mib", "1"]);
    assert_eq!(s["written"], 41, "{s}");
    let reasons: Vec<String> = rejects(&lake, "agent_events")
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "inflates past --max-object-mib 1 (1048576 bytes): the rest of the object is not read"
        ]
    );
}

#[test]
fn epoch_seconds_read_as_milliseconds_are_refused_with_the_unit_that_fits() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let input = hostile("flow-export-in-epoch-seconds.csv");
    let s = etl_source("contact-flow-events", &lake, &[&input], &[]);
    assert_eq!(s["written"], 0);
    let rows = s["records_read"].as_u64().unwrap();
    assert_eq!(s["rejected"].as_u64().unwrap(), rows);
    for r in rejects(&lake, "contact_flow_events") {
        assert!(
            r["reason"]
                .as_str()
                .unwrap()
                .contains("looks like epoch seconds: use --epoch-unit s"),
            "{r}"
        );
    }
    // No partition in 1970.
    assert!(!lake.join("contact_flow_events/dt=1970-01-21").exists());
    // With the unit it names, the same file loads.
    let lake = dir.path().join("lake-s");
    let s = etl_source(
        "contact-flow-events",
        &lake,
        &[&input],
        &["--epoch-unit", "s"],
    );
    assert_eq!(s["written"].as_u64().unwrap(), rows);
}

#[test]
fn agent_events_at_impossible_years_are_rejected_not_partitioned() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let s = etl(
        &lake,
        &[&hostile("agent-events-at-year-0000-and-9999.ndjson")],
    );
    assert_eq!(
        (s["written"].as_u64(), s["rejected"].as_u64()),
        (Some(1), Some(3))
    );
    let partitions: Vec<String> = std::fs::read_dir(lake.join("agent_events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(partitions, vec!["dt=2026-11-24"]);
    for r in rejects(&lake, "agent_events") {
        assert!(
            r["reason"]
                .as_str()
                .unwrap()
                .contains("is outside 2000-01-01..2100-01-01"),
            "{r}"
        );
    }
}

#[test]
fn csv_nulls_as_exporters_write_them_and_offsets_count_the_bom() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let input = hostile("hive-nulls-with-bom.csv");
    let s = etl_source("contact-flow-events", &lake, &[&input], &[]);
    assert_eq!(s["rejected"], 0);
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM contact_flow_events WHERE module_resource_id = '\\N' \
             OR next_flow_resource_id = 'NULL' OR sub_type = '\\N'"
        ),
        0
    );
    let plain = dir.path().join("plain");
    etl_source(
        "contact-flow-events",
        &plain,
        &[&data("contact_flow_events", "epoch-millis.csv")],
        &[],
    );
    let cols = "SELECT event_id, module_resource_id, next_flow_resource_id, next_queue_resource_id, sub_type \
                FROM contact_flow_events ORDER BY event_id";
    assert_eq!(query(&lake, "csv", cols), query(&plain, "csv", cols));
    // A bad row after a byte-order mark: its offset counts the mark.
    let text = std::fs::read(&input).unwrap();
    let mut bad = text.clone();
    let second_row = bad
        .windows(6)
        .position(|w| w == b"\nffff-" || w == b"\n11111")
        .unwrap()
        + 1;
    bad.splice(second_row..second_row, b"broken,row\n".iter().copied());
    let bad_input = dir.path().join("bad.csv");
    std::fs::write(&bad_input, &bad).unwrap();
    let lake = dir.path().join("lake-bad");
    etl_source("contact-flow-events", &lake, &[&bad_input], &[]);
    let r = &rejects(&lake, "contact_flow_events")[0];
    assert_eq!(r["offset"].as_u64().unwrap() as usize, second_row, "{r}");
    assert_eq!(r["raw"], "broken,row");
}

#[test]
fn a_parquet_export_that_fails_part_way_keeps_the_rows_before() {
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    let r = run(&[
        "generate",
        "--out",
        dir.path().join("unused").to_str().unwrap(),
        "--no-agent-events",
        "--data-lake-out",
        exports.to_str().unwrap(),
        "--days",
        "1",
        "--agents",
        "1",
        "--test-runs-per-day",
        "20000",
        "--start",
        "2026-11-24",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A lake partition is a Parquet file of the table: load the export, take its file.
    let lake = dir.path().join("lake");
    let whole = etl_source(
        "contact-flow-events",
        &lake,
        &[&exports.join("contact_flow_events")],
        &[],
    );
    let part = std::fs::read_dir(lake.join("contact_flow_events"))
        .unwrap()
        .map(|e| e.unwrap().path().join("part-0.parquet"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&part).unwrap();
    let rows_in_file = scalar(
        &lake,
        &format!(
            "SELECT count(*) FROM contact_flow_events WHERE dt = '{}'",
            part.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("dt=")
        ),
    );
    assert!(rows_in_file > 10_000, "{rows_in_file}");
    // Damage one data page halfway down the column with the most pages (the page index
    // says where it is): reading fails there, part-way.
    let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
        .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required)
        .parse_and_finish(&bytes::Bytes::from(bytes.clone()))
        .unwrap();
    let column = &metadata.offset_index().unwrap()[0]
        .iter()
        .max_by_key(|c| c.page_locations().len())
        .unwrap()
        .page_locations()
        .clone();
    let page = &column[column.len() / 2];
    assert!(page.first_row_index > 0);
    let start = page.offset as usize + 20;
    for b in &mut bytes[start..start + 64] {
        *b ^= 0xA5;
    }
    let damaged = dir.path().join("damaged.parquet");
    std::fs::write(&damaged, &bytes).unwrap();
    let lake2 = dir.path().join("lake2");
    let s = etl_source("contact-flow-events", &lake2, &[&damaged], &[]);
    let written = s["written"].as_u64().unwrap();
    assert!(written > 0 && (written as i64) < rows_in_file, "{s}");
    let rejected = rejects(&lake2, "contact_flow_events");
    let last = rejected.last().unwrap();
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("cannot be read from row"),
        "{last}"
    );
    assert_eq!(last["offset_unit"], "row");
    assert_eq!(
        last["offset"].as_u64().unwrap(),
        s["records_read"].as_u64().unwrap() - 1
    );
    let _ = whole;
}
