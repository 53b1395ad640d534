//! `report audit` and `report login-logout`: the spec's rules on hand-built scenarios, with
//! expected CSV files (checked by hand against spec/reports.md) and exact headers.

use crate::support::*;

const AUDIT_HEADER: &str =
    "agent_username,status,start_time,end_time,duration_seconds,channel,contact_id";
const LOGIN_LOGOUT_HEADER: &str = "agent_username,first_name,last_name,routing_profile,hierarchy,login_time,logout_time,duration_seconds,last_seen_time";

fn lake_of(fixture_name: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    etl(&lake, &[&fixture(fixture_name)]);
    let lake = lake.display().to_string();
    (dir, lake)
}

fn report(args: &[&str]) -> String {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    r.stdout
}

#[test]
fn audit_of_a_day_in_new_york_matches_the_expected_file() {
    let (_d, lake) = lake_of("report-scenarios.ndjson");
    let csv = report(&[
        "report",
        "audit",
        "--lake",
        &lake,
        "--agent",
        "alice",
        "--date",
        "2026-11-24",
        "--tz",
        "America/New_York",
    ]);
    assert_eq!(csv.lines().next(), Some(AUDIT_HEADER));
    assert_eq!(
        csv,
        expected("report-scenarios.audit-alice-2026-11-24-new-york.csv")
    );
}

#[test]
fn audit_starts_with_the_status_in_force_at_midnight_and_runs_an_open_interval_to_now() {
    let (_d, lake) = lake_of("report-scenarios.ndjson");
    let csv = report(&[
        "report",
        "audit",
        "--lake",
        &lake,
        "--agent",
        "carol",
        "--date",
        "2026-11-25",
        "--now",
        "2026-11-25T00:20:00Z",
    ]);
    assert_eq!(
        csv,
        expected("report-scenarios.audit-carol-2026-11-25-utc-today.csv")
    );
    // On a day already over, the open interval runs to the end of the day.
    let csv = report(&[
        "report",
        "audit",
        "--lake",
        &lake,
        "--agent",
        "carol",
        "--date",
        "2026-11-25",
        "--now",
        "2026-11-27T00:00:00Z",
    ]);
    assert!(csv.trim_end().ends_with("carol,Available,2026-11-25T00:06:30.000+00:00,2026-11-26T00:00:00.000+00:00,86010.000,,"), "{csv}");
}

#[test]
fn audit_days_in_new_york_are_23_and_25_hours_at_the_clock_changes() {
    let (_d, lake) = lake_of("dst-days.ndjson");
    let day = |date: &str| {
        report(&[
            "report",
            "audit",
            "--lake",
            &lake,
            "--agent",
            "dana",
            "--date",
            date,
            "--tz",
            "America/New_York",
        ])
    };
    assert_eq!(
        day("2026-03-08"),
        format!(
            "{AUDIT_HEADER}\ndana,Available,2026-03-08T00:00:00.000-05:00,2026-03-09T00:00:00.000-04:00,82800.000,,\n"
        )
    );
    assert_eq!(
        day("2026-11-01"),
        format!(
            "{AUDIT_HEADER}\ndana,Available,2026-11-01T00:00:00.000-04:00,2026-11-02T00:00:00.000-05:00,90000.000,,\n"
        )
    );
}

#[test]
fn a_renamed_default_status_shows_its_new_name() {
    let (_d, lake) = lake_of("renamed-default-status.ndjson");
    let csv = report(&[
        "report",
        "audit",
        "--lake",
        &lake,
        "--agent",
        "alice",
        "--date",
        "2026-11-23",
    ]);
    assert!(
        csv.contains(
            "\nalice,Ready,2026-11-23T09:00:10.000+00:00,2026-11-23T09:30:00.000+00:00,1790.000,,\n"
        ),
        "{csv}"
    );
}

#[test]
fn login_logout_presets_follow_now() {
    let (_d, lake) = lake_of("report-scenarios.ndjson");
    let preset = |range: &str| {
        let csv = report(&[
            "report",
            "login-logout",
            "--lake",
            &lake,
            "--range",
            range,
            "--now",
            "2026-11-25T09:30:00Z",
        ]);
        assert_eq!(csv.lines().next(), Some(LOGIN_LOGOUT_HEADER));
        csv.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                format!("{} {}→{}", f[0], f[5], f[6])
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(preset("today"), Vec::<String>::new());
    let last_24h = vec![
        "alice 2026-11-24T09:00:00.000+00:00→2026-11-24T10:00:10.000+00:00",
        "bob 2026-11-24T09:00:00.000+00:00→2026-11-24T11:00:00.000+00:00",
        "carol 2026-11-24T22:30:00.000+00:00→",
    ];
    assert_eq!(preset("last-24h"), last_24h);
    let all: Vec<String> = std::iter::once("bob →2026-11-24T08:00:00.000+00:00")
        .chain(last_24h.iter().copied())
        .map(String::from)
        .collect();
    assert_eq!(preset("yesterday"), all);
    assert_eq!(preset("last-2-days"), all);
    assert_eq!(preset("last-3-days"), all);
    let csv = report(&[
        "report",
        "login-logout",
        "--lake",
        &lake,
        "--range",
        "yesterday",
        "--now",
        "2026-11-25T09:30:00Z",
    ]);
    assert_eq!(csv, expected("report-scenarios.login-logout-yesterday.csv"));
}

#[test]
fn login_logout_shows_sessions_that_log_in_or_out_in_the_range_only() {
    let (_d, lake) = lake_of("login-logout-ranges.ndjson");
    let csv = report(&[
        "report",
        "login-logout",
        "--lake",
        &lake,
        "--from",
        "2026-11-24T10:00:00Z",
        "--to",
        "2026-11-24T12:00:00Z",
    ]);
    // erin's session from before the range shows both times; finn's that spans it does not,
    // nor does finn's login at the (exclusive) end of the range.
    assert_eq!(csv, expected("login-logout-ranges.custom-10-12.csv"));
    // Local times in another zone: the same range written in Dublin time (UTC+0 in November)
    // and in New York time select the same sessions.
    let ny = report(&[
        "report",
        "login-logout",
        "--lake",
        &lake,
        "--tz",
        "America/New_York",
        "--from",
        "2026-11-24T05:00",
        "--to",
        "2026-11-24T07:00",
    ]);
    assert_eq!(ny.lines().count(), csv.lines().count());
    assert!(ny.contains("2026-11-24T04:00:00.000-05:00"), "{ny}");
}

#[test]
fn login_logout_filters_or_within_a_kind_and_and_across_kinds() {
    let (_d, lake) = lake_of("report-scenarios.ndjson");
    let users = |extra: &[&str]| {
        let mut args = vec![
            "report",
            "login-logout",
            "--lake",
            lake.as_str(),
            "--range",
            "yesterday",
            "--now",
            "2026-11-25T09:30:00Z",
        ];
        args.extend_from_slice(extra);
        let csv = report(&args);
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(users(&["--agent", "alice"]), ["alice"]);
    assert_eq!(
        users(&["--agent", "alice", "--agent", "carol"]),
        ["alice", "carol"]
    );
    assert_eq!(users(&["--hierarchy", "Dallas"]), ["bob", "bob"]);
    assert_eq!(
        users(&["--hierarchy", "Late", "--hierarchy", "Dublin"]),
        ["bob", "bob", "carol"]
    );
    assert_eq!(
        users(&["--routing-profile", "Support Profile"]),
        ["bob", "bob", "carol"]
    );
    assert_eq!(
        users(&[
            "--routing-profile",
            "Support Profile",
            "--hierarchy",
            "EMEA"
        ]),
        ["carol"]
    );
    assert_eq!(
        users(&["--routing-profile", "Sales Profile", "--hierarchy", "EMEA"]),
        Vec::<String>::new()
    );
    assert_eq!(
        users(&[
            "--agent",
            "bob",
            "--routing-profile",
            "Support Profile",
            "--hierarchy",
            "North America"
        ]),
        ["bob", "bob"]
    );
}

#[test]
fn login_logout_has_no_row_cap() {
    // 10,001 sessions: the console fails past 10,000 rows.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("many-sessions.ndjson");
    let mut text = String::new();
    let base = chrono::DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z").unwrap();
    for i in 0..10_001i64 {
        let agent = i % 20;
        let arn = format!("arn:aws:connect:us-east-1:1:instance/i/agent/a{agent}");
        for (k, kind) in ["LOGIN", "LOGOUT"].iter().enumerate() {
            let t = base + chrono::Duration::minutes(i / 20 * 10 + k as i64 * 5);
            text.push_str(&format!(
                "{{\"EventId\":\"e{i}-{k}\",\"EventType\":\"{kind}\",\"EventTimestamp\":\"{}\",\"AgentARN\":\"{arn}\",\
                 \"CurrentAgentSnapshot\":{{\"Configuration\":{{\"Username\":\"user{agent}\"}}}}}}\n",
                t.format("%Y-%m-%dT%H:%M:%S%.3fZ")
            ));
        }
    }
    std::fs::write(&input, text).unwrap();
    let lake = dir.path().join("lake");
    etl(&lake, &[&input]);
    let out = dir.path().join("out/report.csv");
    let r = run(&[
        "report",
        "login-logout",
        "--lake",
        lake.to_str().unwrap(),
        "--from",
        "2026-11-01",
        "--to",
        "2026-12-31",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().count(), 10_002);
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .ends_with(",300.000,2026-11-20T00:05:00.000+00:00"),
        "{}",
        csv.lines().nth(1).unwrap()
    );
}

#[test]
fn report_formats_and_errors() {
    let (d, lake) = lake_of("report-scenarios.ndjson");
    let args = [
        "report",
        "audit",
        "--lake",
        &lake,
        "--agent",
        "bob",
        "--date",
        "2026-11-24",
    ];
    let json: serde_json::Value =
        serde_json::from_str(&report(&[&args[..], &["--format", "json"]].concat())).unwrap();
    assert_eq!(json[2]["status"], "Calling Customer");
    assert_eq!(json[2]["start_time"], "2026-11-24T09:40:00.000+00:00");
    let table = report(&[&args[..], &["--format", "table"]].concat());
    assert!(table.contains("| Telecom issue "), "{table}");

    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "unknown_agent",
            vec![
                "report",
                "audit",
                "--lake",
                &lake,
                "--agent",
                "alise",
                "--date",
                "2026-11-24",
            ],
        ),
        (
            "unknown_zone",
            vec![
                "report",
                "audit",
                "--lake",
                &lake,
                "--agent",
                "alice",
                "--date",
                "2026-11-24",
                "--tz",
                "Mars/Olympus",
            ],
        ),
        (
            "bad_date",
            vec![
                "report",
                "audit",
                "--lake",
                &lake,
                "--agent",
                "alice",
                "--date",
                "2026-02-30",
            ],
        ),
        (
            "from_after_to",
            vec![
                "report",
                "login-logout",
                "--lake",
                &lake,
                "--from",
                "2026-11-25",
                "--to",
                "2026-11-24",
            ],
        ),
        ("no_range", vec!["report", "login-logout", "--lake", &lake]),
        (
            "missing_lake",
            vec![
                "report",
                "login-logout",
                "--lake",
                "/no/such/lake",
                "--range",
                "today",
            ],
        ),
    ];
    let mut all = String::new();
    for (name, args) in cases {
        let r = run(&args);
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        let first = r.stderr.lines().next().unwrap_or_default();
        all.push_str(&format!("{name}: {}\n", redact(first, d.path())));
    }
    insta::assert_snapshot!("report_errors", all);
}

#[test]
fn audit_reads_only_the_partitions_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    etl(&lake, &[&fixture("dst-days.ndjson")]);
    // Damage the March days: an audit of November 1st must not touch them.
    for table in ["agent_events", "agent_event_contacts"] {
        let part = lake.join(format!("{table}/dt=2026-03-08/part-0.parquet"));
        if part.exists() {
            std::fs::write(&part, b"not parquet").unwrap();
        }
    }
    let l = lake.to_str().unwrap();
    let csv = report(&[
        "report",
        "audit",
        "--lake",
        l,
        "--agent",
        "dana",
        "--date",
        "2026-11-01",
        "--tz",
        "America/New_York",
    ]);
    assert!(csv.contains(",90000.000,"), "{csv}");
    // An audit that needs the damaged day fails loudly instead of guessing.
    let r = run(&[
        "report",
        "audit",
        "--lake",
        l,
        "--agent",
        "dana",
        "--date",
        "2026-03-09",
        "--tz",
        "America/New_York",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("Parquet"), "{}", r.stderr);
}

#[test]
fn audit_draws_the_day_as_an_svg_timeline() {
    let (_d, lake) = lake_of("dst-days.ndjson");
    let svg = report(&[
        "report",
        "audit",
        "--lake",
        &lake,
        "--agent",
        "dana",
        "--date",
        "2026-11-01",
        "--tz",
        "America/New_York",
        "--format",
        "svg",
    ]);
    assert!(svg.starts_with("<svg "), "{svg}");
    assert!(
        svg.contains("dana — 2026-11-01 (America/New_York, 25 h)"),
        "{svg}"
    );
    assert_eq!(svg.matches("<line ").count(), 26);
    assert_eq!(
        svg.matches("<title>Available 00:00:00 – 00:00:00</title>")
            .count(),
        1,
        "{svg}"
    );
    let r = run(&[
        "report",
        "login-logout",
        "--lake",
        &lake,
        "--range",
        "today",
        "--format",
        "svg",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn login_logout_finds_logins_days_before_the_range() {
    // gus: LOGOUT on the 20th, LOGIN on the 21st (browser closed, session stays open), LOGIN
    // again on the 23rd (inside the session: ignored), LOGOUT on the 24th inside the range.
    // hal: LOGIN on the 22nd, LOGOUT on the 22nd, LOGIN on the 24th in the range, still open.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("long-sessions.ndjson");
    let events = [
        ("gus", "LOGOUT", "2026-11-20T18:00:00.000Z"),
        ("gus", "LOGIN", "2026-11-21T09:00:00.000Z"),
        ("gus", "HEART_BEAT", "2026-11-22T09:00:00.000Z"),
        ("gus", "LOGIN", "2026-11-23T09:00:00.000Z"),
        ("gus", "LOGOUT", "2026-11-24T12:00:00.000Z"),
        ("hal", "LOGIN", "2026-11-22T09:00:00.000Z"),
        ("hal", "LOGOUT", "2026-11-22T17:00:00.000Z"),
        ("hal", "LOGIN", "2026-11-24T09:00:00.000Z"),
        ("hal", "HEART_BEAT", "2026-11-25T01:00:00.000Z"),
    ];
    let text: String = events
        .iter()
        .enumerate()
        .map(|(i, (user, kind, ts))| {
            format!(
                "{{\"EventId\":\"e{i}\",\"EventType\":\"{kind}\",\"EventTimestamp\":\"{ts}\",\
                 \"AgentARN\":\"arn:aws:connect:us-east-1:1:instance/i/agent/{user}\",\
                 \"CurrentAgentSnapshot\":{{\"Configuration\":{{\"Username\":\"{user}\"}}}}}}\n"
            )
        })
        .collect();
    std::fs::write(&input, text).unwrap();
    let lake = dir.path().join("lake");
    etl(&lake, &[&input]);
    let csv = report(&[
        "report",
        "login-logout",
        "--lake",
        lake.to_str().unwrap(),
        "--range",
        "yesterday",
        "--now",
        "2026-11-25T08:00:00Z",
    ]);
    let rows: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{} {}→{} last {}", f[0], f[5], f[6], f[8])
        })
        .collect();
    assert_eq!(
        rows,
        [
            "gus 2026-11-21T09:00:00.000+00:00→2026-11-24T12:00:00.000+00:00 last 2026-11-24T12:00:00.000+00:00",
            "hal 2026-11-24T09:00:00.000+00:00→ last 2026-11-25T01:00:00.000+00:00",
        ],
        "{csv}"
    );
}

/// A username is looked for in the newest week of partitions first; one seen only before that
/// is still found (the whole lake is read then), and an unknown one is still refused.
#[test]
fn agents_are_found_in_recent_partitions_first_and_in_old_ones_too() {
    let dir = tempfile::tempdir().unwrap();
    let input = generated(&dir.path().join("recent"), 2, 9, "2026-11-26", 3);
    let lake = dir.path().join("lake");
    // alice is only in 2026-11-24, more than a week before the newest partitions.
    etl(&lake, &[&fixture("report-scenarios.ndjson"), &input]);
    let lake = lake.to_str().unwrap();
    let days = scalar(
        std::path::Path::new(lake),
        "SELECT count(DISTINCT dt) FROM agent_events WHERE dt > '2026-11-24'",
    );
    assert!(days >= 7, "{days}");
    let recent = scalar(
        std::path::Path::new(lake),
        "SELECT count(*) FROM agent_events WHERE username = 'alice' AND dt > '2026-11-24'",
    );
    assert_eq!(recent, 0);
    let found = report(&[
        "report",
        "login-logout",
        "--lake",
        lake,
        "--from",
        "2026-11-24",
        "--to",
        "2026-11-25",
        "--agent",
        "alice",
    ]);
    assert!(
        found.lines().skip(1).all(|l| l.starts_with("alice,")),
        "{found}"
    );
    assert!(found.lines().count() > 1, "{found}");
    let unknown = run(&[
        "report",
        "login-logout",
        "--lake",
        lake,
        "--range",
        "yesterday",
        "--agent",
        "alicia",
    ]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("closest usernames: alice"),
        "{}",
        unknown.stderr
    );
}

/// Reports choose their days and agents from the summary in each agent_events file's footer.
/// A file without one (written before summaries existed) is summarised from its rows, with
/// the same reports; a summary that does not describe its rows is what `check` reports.
#[test]
fn reports_take_their_scope_from_footer_summaries_or_from_the_rows_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = generated(&dir.path().join("input"), 4, 4, "2026-11-20", 11);
    let lake = dir.path().join("lake");
    etl(&lake, &[&input]);
    let l = lake.to_str().unwrap();
    let agent = query(&lake, "csv", "SELECT min(username) FROM agent_events");
    let agent = agent.lines().nth(1).unwrap().to_string();
    let reports: [Vec<&str>; 3] = [
        vec![
            "report",
            "audit",
            "--lake",
            l,
            "--agent",
            &agent,
            "--date",
            "2026-11-22",
            "--tz",
            "America/New_York",
        ],
        vec![
            "report",
            "login-logout",
            "--lake",
            l,
            "--from",
            "2026-11-21T12:00",
            "--to",
            "2026-11-23",
            "--tz",
            "UTC",
        ],
        vec![
            "report",
            "login-logout",
            "--lake",
            l,
            "--range",
            "yesterday",
            "--now",
            "2026-11-23T12:00:00Z",
            "--agent",
            &agent,
        ],
    ];
    let debug = [("RUST_LOG", "connect_lake=debug")];
    let mut before = Vec::new();
    for args in &reports {
        let r = run_env(args, &debug);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(
            !r.stderr.contains("agent summary: from the rows"),
            "{}",
            r.stderr
        );
        assert!(r.stdout.lines().count() > 1, "{args:?}: {}", r.stdout);
        before.push(r.stdout);
    }
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(lake.join("agent_events"))
        .unwrap()
        .map(|d| d.unwrap().path().join("part-0.parquet"))
        .collect();
    assert_eq!(files.len(), 4);
    for f in &files {
        rewrite_summary(f, None);
    }
    for (args, want) in reports.iter().zip(&before) {
        let r = run_env(args, &debug);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("agent summary: from the rows"),
            "{}",
            r.stderr
        );
        assert_eq!(&r.stdout, want, "{args:?}");
    }
    let r = run(&["check", "--lake", l]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // A summary that leaves every agent out: reports would miss them, check says so.
    let tampered = lake.join("agent_events/dt=2026-11-22/part-0.parquet");
    rewrite_summary(&tampered, Some(r#"{"version":1,"agents":[]}"#));
    let r = run(&["check", "--lake", l]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("agent summary differs from the rows")
            && r.stdout.contains("dt=2026-11-22"),
        "{}",
        r.stdout
    );
    // A new commit to the day writes the summary of its rows again.
    let late = dir.path().join("late.ndjson");
    std::fs::write(
        &late,
        "{\"EventId\":\"late-1\",\"EventType\":\"HEART_BEAT\",\"EventTimestamp\":\"2026-11-22T23:59:00.000Z\",\
         \"AgentARN\":\"arn:aws:connect:us-east-1:1:instance/i/agent/late\"}\n",
    )
    .unwrap();
    etl(&lake, &[&late]);
    let r = run(&["check", "--lake", l]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

/// Each day file is sorted by agent, time and event id, and the report sessions declare it:
/// the window that resolves identities merges the day files instead of sorting them. The
/// merged plan and the sorted one (every file in one partition, so the order does not hold)
/// give the same rows.
#[test]
fn login_logout_merges_the_sorted_day_files_and_agrees_with_a_sorted_plan() {
    let dir = tempfile::tempdir().unwrap();
    let input = generated(&dir.path().join("in"), 4, 4, "2026-11-01", 31);
    let lake = dir.path().join("lake");
    etl(&lake, &[&input]);
    let args = [
        "report",
        "login-logout",
        "--lake",
        lake.to_str().unwrap(),
        "--range",
        "yesterday",
        "--now",
        "2026-11-03T12:00:00Z",
        "--tz",
        "America/New_York",
    ];
    let merged = run_env(&args, &[("CONNECT_LAKE_EXPLAIN", "1")]);
    assert_eq!(merged.code, 0, "{}", merged.stderr);
    let plan: Vec<&str> = merged
        .stderr
        .lines()
        .filter(|l| l.contains("Exec"))
        .collect();
    let window = plan
        .iter()
        .position(|l| l.contains("BoundedWindowAggExec: wdw=[lag(CASE WHEN"))
        .unwrap_or_else(|| panic!("no identity window in\n{}", merged.stderr));
    assert!(
        plan[window + 1].contains("SortPreservingMergeExec"),
        "the identity window's input is not a merge of the files:\n{}",
        plan[window..].join("\n")
    );
    let sorted = run_env(
        &args,
        &[(
            "CONNECT_LAKE_DATAFUSION",
            "datafusion.execution.target_partitions=1",
        )],
    );
    assert_eq!(sorted.code, 0, "{}", sorted.stderr);
    assert!(merged.stdout.lines().count() > 1, "{}", merged.stdout);
    assert_eq!(merged.stdout, sorted.stdout);
}

/// The footers a report's lookups read (agent_events) and prefetch (agent_event_contacts)
/// are kept in the session's footer cache with their page indexes, valid for the files the
/// scans list, so no scan reads a footer again.
#[tokio::test]
async fn a_report_session_keeps_the_footers_it_read_with_their_page_indexes() {
    use connect_lake::store::Location;
    use datafusion::datasource::physical_plan::parquet::metadata::CachedParquetMetaData;
    use object_store::ObjectStoreExt;
    let dir = tempfile::tempdir().unwrap();
    let input = generated(&dir.path().join("in"), 3, 3, "2026-11-01", 9);
    let lake = dir.path().join("lake");
    etl(&lake, &[&input]);
    let loc = Location::parse(lake.to_str().unwrap(), &Default::default(), false).unwrap();
    let ctx = connect_lake::catalog::open_raw(&loc).await.unwrap();
    let days = connect_lake::summary::Days::list(&ctx, &loc).await.unwrap();
    let all = days.all();
    assert!(all.len() >= 3, "{all:?}");
    assert_eq!(
        days.summaries(&ctx, &loc, &all).await.unwrap().len(),
        all.len()
    );
    connect_lake::catalog::prefetch_footers(&ctx, &loc, "agent_event_contacts", &all)
        .unwrap()
        .await
        .unwrap();
    let cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
    for table in ["agent_events", "agent_event_contacts"] {
        for day in &all {
            let path = loc.child(&format!("{table}/dt={day}/part-0.parquet"));
            let entry = cache
                .get(&path)
                .unwrap_or_else(|| panic!("{path} not cached"));
            assert!(entry.is_valid_for(&loc.store.head(&path).await.unwrap()));
            let footer = entry
                .file_metadata
                .as_any()
                .downcast_ref::<CachedParquetMetaData>()
                .unwrap()
                .parquet_metadata();
            assert!(
                footer.column_index().is_some() && footer.offset_index().is_some(),
                "{path}"
            );
        }
    }
}
