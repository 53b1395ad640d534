//! Saved reports and the nightly job: the ledger (nothing ingested twice, new objects picked
//! up), scheduled deliveries named as Connect names them, missed days caught up.

use crate::support::*;

const CONFIG: &str = r#"
lake = "./lake"
reports_root = "./delivered"
catch_up_days = 2

[ingest]
source = "agent-events"
inputs = ["./in"]

[reports.logins]
kind = "login-logout"
range = "yesterday"
hierarchy = ["Dallas", "Seattle"]
schedule = "daily"
prefix = "ops"

[reports.alice-audit]
kind = "audit"
agent = "alice"
tz = "America/New_York"
schedule = "weekly"
days = ["wed"]
"#;

fn delivered(dir: &std::path::Path) -> Vec<String> {
    snapshot_tree(&dir.join("delivered")).into_keys().collect()
}

#[test]
fn nightly_ingests_each_object_once_and_catches_up_missed_days() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("in")).unwrap();
    std::fs::copy(fixture("report-scenarios.ndjson"), d.join("in/a.ndjson")).unwrap();
    std::fs::write(d.join("connect-lake.toml"), CONFIG).unwrap();

    // Wednesday 2026-11-26 01:00 in New York: the daily report is due for the 24th-26th (two
    // days of catch-up), the weekly audit for Wednesday the 25th.
    let first = run_in(d, &["nightly", "--now", "2026-11-26T06:00:00Z"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stdout
            .contains("nightly: ingest: 1 new objects (0 already in the ledger)"),
        "{}",
        first.stdout
    );
    assert_eq!(
        delivered(d),
        [
            "Reports/alice-audit-2026-11-25.csv",
            "Reports/ops/logins-2026-11-24.csv",
            "Reports/ops/logins-2026-11-25.csv",
            "Reports/ops/logins-2026-11-26.csv",
        ]
    );
    // The run of the 25th covers the 24th: the same rows as the report run by hand.
    let by_hand = run_in(
        d,
        &[
            "report",
            "login-logout",
            "--lake",
            "lake",
            "--from",
            "2026-11-24",
            "--to",
            "2026-11-25",
            "--hierarchy",
            "Dallas",
            "--hierarchy",
            "Seattle",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(d.join("delivered/Reports/ops/logins-2026-11-25.csv")).unwrap(),
        by_hand.stdout
    );
    assert_eq!(by_hand.stdout.lines().count(), 4, "{}", by_hand.stdout);
    let audit =
        std::fs::read_to_string(d.join("delivered/Reports/alice-audit-2026-11-25.csv")).unwrap();
    assert!(
        audit.contains("alice,Lunch,2026-11-24T04:17:00.000-05:00"),
        "{audit}"
    );

    // A second run the same night ingests nothing and delivers nothing.
    let lake_before = snapshot_tree(&d.join("lake"));
    let second = run_in(d, &["nightly", "--now", "2026-11-26T06:30:00Z"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second
            .stdout
            .contains("nightly: ingest: nothing new (1 objects already in the ledger)"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("nightly: reports: none due"),
        "{}",
        second.stdout
    );
    assert_eq!(snapshot_tree(&d.join("lake")), lake_before);

    // A new object is picked up; a report missing from the delivery folder is made again.
    std::fs::copy(fixture("login-logout-ranges.ndjson"), d.join("in/b.ndjson")).unwrap();
    std::fs::remove_file(d.join("delivered/Reports/ops/logins-2026-11-25.csv")).unwrap();
    let third = run_in(d, &["nightly", "--now", "2026-11-26T07:00:00Z"]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert!(
        third
            .stdout
            .contains("nightly: ingest: 1 new objects (1 already in the ledger)"),
        "{}",
        third.stdout
    );
    assert!(
        third
            .stdout
            .contains("report logins of 2026-11-25: written"),
        "{}",
        third.stdout
    );
    assert!(!third.stdout.contains("of 2026-11-24"), "{}", third.stdout);
    assert_eq!(
        scalar(&d.join("lake"), "SELECT count(*) FROM agent_events"),
        41 + 7
    );

    // The next night, a missed night is caught up: two days later, two new daily reports.
    let later = run_in(d, &["nightly", "--now", "2026-11-28T06:00:00Z"]);
    assert_eq!(later.code, 0, "{}", later.stderr);
    assert!(
        later.stdout.contains("logins of 2026-11-27: written"),
        "{}",
        later.stdout
    );
    assert!(
        later.stdout.contains("logins of 2026-11-28: written"),
        "{}",
        later.stdout
    );
}

#[test]
fn saved_reports_run_by_name_and_bad_configs_name_the_report_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lake = d.join("lake");
    etl(&lake, &[&fixture("report-scenarios.ndjson")]);
    std::fs::write(d.join("connect-lake.toml"), CONFIG).unwrap();
    let saved = run_in(
        d,
        &["report", "run", "logins", "--now", "2026-11-25T09:30:00Z"],
    );
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let direct = run_in(
        d,
        &[
            "report",
            "login-logout",
            "--lake",
            "lake",
            "--range",
            "yesterday",
            "--now",
            "2026-11-25T09:30:00Z",
            "--hierarchy",
            "Dallas",
            "--hierarchy",
            "Seattle",
        ],
    );
    assert_eq!(saved.stdout, direct.stdout);
    let audit = run_in(
        d,
        &[
            "report",
            "run",
            "alice-audit",
            "--date",
            "2026-11-24",
            "--format",
            "json",
        ],
    );
    assert_eq!(audit.code, 0, "{}", audit.stderr);
    assert!(
        audit.stdout.starts_with("[{\"agent_username\":\"alice\""),
        "{}",
        audit.stdout
    );

    let mut messages = String::new();
    for (name, text) in [
        (
            "bad_range",
            CONFIG.replace("range = \"yesterday\"", "range = \"last-week\""),
        ),
        (
            "unknown_field",
            CONFIG.replace("prefix = \"ops\"", "prefix = \"ops\"\ncolour = \"red\""),
        ),
        (
            "audit_without_agent",
            CONFIG.replace("agent = \"alice\"\n", ""),
        ),
        (
            "bad_weekday",
            CONFIG.replace("days = [\"wed\"]", "days = [\"funday\"]"),
        ),
    ] {
        std::fs::write(d.join("bad.toml"), text).unwrap();
        let r = run_in(d, &["report", "run", "logins", "--config", "bad.toml"]);
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{name}: {}", r.stderr);
        messages.push_str(&format!("{name}: {}", r.stderr));
    }
    insta::assert_snapshot!("config_errors", messages);
}

/// Agent activity and status time, saved and scheduled: CSV (and the team picture as SVG)
/// delivered for the previous local day, the same rows `report run` and the command give.
#[test]
fn agent_activity_and_status_time_are_saved_and_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("in")).unwrap();
    std::fs::copy(fixture("activity-kathmandu.ndjson"), d.join("in/a.ndjson")).unwrap();
    std::fs::write(
        d.join("connect-lake.toml"),
        r#"
lake = "./lake"
reports_root = "./delivered"
catch_up_days = 0

[ingest]
source = "agent-events"
inputs = ["./in"]

[reports.activity]
kind = "agent-activity"
tz = "Asia/Kathmandu"
interval = "15m"
schedule = "daily"
prefix = "wfm"

[reports.team]
kind = "status-time"
tz = "Asia/Kathmandu"
interval = "60m"
format = "svg"
schedule = "daily"
prefix = "wfm"
"#,
    )
    .unwrap();
    // 2026-11-25 00:30 in Kathmandu: both cover the 24th.
    let r = run_in(d, &["nightly", "--now", "2026-11-24T18:45:00Z"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        delivered(d),
        [
            "Reports/wfm/activity-2026-11-25.csv",
            "Reports/wfm/team-2026-11-25.svg"
        ]
    );
    let csv =
        std::fs::read_to_string(d.join("delivered/Reports/wfm/activity-2026-11-25.csv")).unwrap();
    assert_eq!(csv, expected("activity-kathmandu.agent-activity-15m.csv"));
    let svg = std::fs::read_to_string(d.join("delivered/Reports/wfm/team-2026-11-25.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<title>mia: Connected"),
        "{svg}"
    );
    // `report run` gives the same rows for the day asked.
    let r = run_in(d, &["report", "run", "activity", "--date", "2026-11-24"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, csv);
    // A saved activity report without an interval is refused, naming the field.
    std::fs::write(
        d.join("bad.toml"),
        "[reports.x]\nkind = \"status-time\"\nrange = \"yesterday\"\n",
    )
    .unwrap();
    let r = run_in(d, &["report", "run", "x", "--config", "bad.toml"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("field interval"), "{}", r.stderr);
}

/// The ledger costs what arrived: a Firehose-named input is listed from a day before the last
/// key seen (S3 `start-after`), each night appends its own lines, and objects are known by
/// their path in the input, size and time, so a moved or restored input is not ingested again.
#[test]
fn nightly_lists_from_where_it_ended_and_a_moved_or_restored_input_is_not_ingested_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let put = |key: &str, fixture_name: &str| {
        let path = d.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::copy(fixture(fixture_name), path).unwrap();
    };
    let config = |input: &str| {
        let text = format!(
            "lake = \"./lake\"\nreports_root = \"./delivered\"\n[ingest]\nsource = \"agent-events\"\ninputs = [\"./{input}\"]\n"
        );
        std::fs::write(d.join("connect-lake.toml"), text).unwrap();
    };
    let night = |now: &str| {
        let run = run_in(d, &["nightly", "--now", now]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    };
    config("in");
    put("in/2026/11/20/10/a.ndjson", "report-scenarios.ndjson");
    let first = night("2026-11-26T06:00:00Z");
    assert!(
        first.contains("1 new objects (0 already in the ledger)"),
        "{first}"
    );
    put("in/2026/11/24/03/b.ndjson", "login-logout-ranges.ndjson");
    let second = night("2026-11-27T06:00:00Z");
    // Listed from 2026/11/19/10 on: a is seen (and known), b is new.
    assert!(
        second.contains("1 new objects (1 already in the ledger)"),
        "{second}"
    );
    let parts = snapshot_tree(&d.join("lake/_ledger"));
    let names: Vec<&String> = parts.keys().collect();
    assert_eq!(
        names,
        [
            "agent-events.cursors.json",
            "agent-events/00000000000000000001.ndjson",
            "agent-events/00000000000000000002.ndjson",
        ],
        "one part per night, no rewrite"
    );
    // An object named more than a day before the last key is past the listing's start: the
    // night lists only b (documented: load such backfills with `etl`).
    put("in/2026/11/20/11/c.ndjson", "dst-days.ndjson");
    let third = night("2026-11-28T06:00:00Z");
    assert!(
        third.contains("nothing new (1 objects already in the ledger)"),
        "{third}"
    );

    // The input moved: its new URL has no cursor, so it is listed whole; a and b are known by
    // path, size and time, only c is new.
    std::fs::rename(d.join("in"), d.join("moved")).unwrap();
    config("moved");
    let fourth = night("2026-11-29T06:00:00Z");
    assert!(
        fourth.contains("1 new objects (2 already in the ledger)"),
        "{fourth}"
    );
    // Restored from a copy that keeps times (new inodes): nothing is new.
    let copied = std::process::Command::new("cp")
        .args(["-a", "moved", "restored"])
        .current_dir(d)
        .status()
        .unwrap();
    assert!(copied.success());
    config("restored");
    let fifth = night("2026-11-30T06:00:00Z");
    assert!(
        fifth.contains("nothing new (3 objects already in the ledger)"),
        "{fifth}"
    );
    let rows = scalar(&d.join("lake"), "SELECT count(*) FROM agent_events");
    let direct = tempfile::tempdir().unwrap();
    let lake = direct.path().join("lake");
    let etl = run_in(
        d,
        &[
            "etl",
            "--quiet",
            "--source",
            "agent-events",
            "--lake",
            lake.to_str().unwrap(),
            "restored",
        ],
    );
    assert_eq!(etl.code, 0, "{}", etl.stderr);
    assert_eq!(rows, scalar(&lake, "SELECT count(*) FROM agent_events"));
}
