//! Records as Amazon Connect really sends them (issue 14): LOGIN and LOGOUT with
//! `"CurrentAgentSnapshot": null`, the first STATE_CHANGE after a login with no previous
//! snapshot, optional fields of the wrong type, masked values, events at one instant. Fixtures
//! from `tests/data/make_real_record_fixtures.py`; expected reports checked by hand against
//! spec/reports.md sections 0 and 1.

use std::path::Path;

use crate::support::*;

const NOW: &str = "2026-03-12T00:00:00Z";

fn lake_of(fixture_name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    etl(&lake, &[&fixture(fixture_name)]);
    (dir, lake)
}

fn report(lake: &Path, args: &[&str]) -> String {
    let mut all = vec!["report", args[0], "--lake", lake.to_str().unwrap()];
    if !args.contains(&"--now") {
        all.extend(["--now", NOW]);
    }
    all.extend(&args[1..]);
    let r = run(&all);
    assert_eq!(r.code, 0, "{all:?}: {}", r.stderr);
    r.stdout
}

fn login_logout(lake: &Path, day: &str, filters: &[&str]) -> String {
    let next = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .succ_opt()
        .unwrap()
        .to_string();
    let (from, to) = (format!("{day}T00:00"), format!("{next}T00:00"));
    let mut args = vec!["login-logout", "--from", &from, "--to", &to];
    args.extend(filters);
    report(lake, &args)
}

#[test]
fn a_login_without_a_snapshot_takes_the_agent_of_its_next_event() {
    let (_d, lake) = lake_of("login-without-snapshot.ndjson");
    // The table keeps what the records said: the LOGIN and the LOGOUT name nobody.
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM agent_events WHERE username IS NULL"
        ),
        2
    );
    // The audit starts at the login, in the status the agent started in.
    let audit = report(&lake, &["audit", "--agent", "dana", "--date", "2026-03-08"]);
    assert_eq!(
        audit,
        expected("login-without-snapshot.audit-dana-2026-03-08.csv")
    );
    // Every filter finds the session: by name, hierarchy group (any level) and profile.
    let want = expected("login-without-snapshot.login-logout-2026-03-08.csv");
    for filters in [
        &["--agent", "dana"][..],
        &["--hierarchy", "Seattle"],
        &["--hierarchy", "North America"],
        &["--routing-profile", "Support Profile"],
    ] {
        assert_eq!(
            login_logout(&lake, "2026-03-08", filters),
            want,
            "{filters:?}"
        );
    }
    // No interval without a username or a status.
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM agent_status_intervals WHERE username IS NULL OR status IS NULL"
        ),
        0
    );
}

#[test]
fn an_agent_named_only_by_a_heartbeat_is_found_by_name() {
    let (_d, lake) = lake_of("named-only-by-heartbeat.ndjson");
    let audit = report(&lake, &["audit", "--agent", "erin", "--date", "2026-03-09"]);
    assert_eq!(
        audit,
        expected("named-only-by-heartbeat.audit-erin-2026-03-09.csv")
    );
    assert_eq!(
        login_logout(
            &lake,
            "2026-03-09",
            &["--agent", "erin", "--hierarchy", "Dublin"]
        ),
        expected("named-only-by-heartbeat.login-logout-2026-03-09.csv")
    );
}

#[test]
fn a_login_whose_first_named_event_is_the_next_day() {
    let (_d, lake) = lake_of("login-named-next-day.ndjson");
    // Two partitions: the LOGIN's day knows nothing of the agent but its ARN.
    assert_eq!(
        scalar(&lake, "SELECT count(DISTINCT dt) FROM agent_events"),
        2
    );
    let audit = report(&lake, &["audit", "--agent", "finn", "--date", "2026-03-09"]);
    assert_eq!(
        audit,
        expected("login-named-next-day.audit-finn-2026-03-09.csv")
    );
    assert_eq!(
        login_logout(
            &lake,
            "2026-03-09",
            &["--agent", "finn", "--hierarchy", "Dallas"]
        ),
        expected("login-named-next-day.login-logout-2026-03-09.csv")
    );
}

#[test]
fn an_audit_reads_on_to_the_event_that_names_a_bare_login_days_later() {
    let (_d, lake) = lake_of("login-named-days-later.ndjson");
    // The LOGIN at 23:00 takes its status from the first event with a snapshot, two and a
    // half days later; the days between hold nothing of hers.
    let now = "2026-03-13T00:00:00Z";
    let audit = |date| {
        report(
            &lake,
            &["audit", "--agent", "hana", "--date", date, "--now", now],
        )
    };
    assert_eq!(
        audit("2026-03-09"),
        "agent_username,status,start_time,end_time,duration_seconds,channel,contact_id\n\
         hana,Available,2026-03-09T20:00:00.000+00:00,2026-03-09T21:00:00.000+00:00,3600.000,,\n\
         hana,Training,2026-03-09T23:00:00.000+00:00,2026-03-10T00:00:00.000+00:00,3600.000,,\n"
    );
    // A day inside the gap: the status in force since the LOGIN, all day.
    assert_eq!(
        audit("2026-03-10"),
        "agent_username,status,start_time,end_time,duration_seconds,channel,contact_id\n\
         hana,Training,2026-03-10T00:00:00.000+00:00,2026-03-11T00:00:00.000+00:00,86400.000,,\n"
    );
}

#[test]
fn reports_whose_day_ends_settled_do_not_read_the_next_days_rows() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    // dana on 2026-03-08 (her bare LOGOUT takes the snapshot before it); erin on 03-09.
    etl(
        &lake,
        &[
            &fixture("login-without-snapshot.ndjson"),
            &fixture("named-only-by-heartbeat.ndjson"),
        ],
    );
    // Damage every column chunk of 03-09's agent events, footer left whole: its summary
    // still reads, its rows do not.
    let part = lake.join("agent_events/dt=2026-03-09/part-0.parquet");
    let mut bytes = std::fs::read(&part).unwrap();
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes.clone())).unwrap();
    for column in reader.metadata().row_group(0).columns() {
        let (start, len) = column.byte_range();
        bytes[start as usize..(start + len) as usize].fill(0xFF);
    }
    std::fs::write(&part, bytes).unwrap();
    let l = lake.to_str().unwrap();
    let args = |agent, date| {
        vec![
            "report", "audit", "--lake", l, "--agent", agent, "--date", date, "--now", NOW,
        ]
    };
    let r = run(&args("dana", "2026-03-08"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        expected("login-without-snapshot.audit-dana-2026-03-08.csv")
    );
    // The Login/Logout report of her day ends there too (a range to midnight ends the day
    // before, and no LOGIN of hers waits for a later snapshot).
    assert_eq!(
        login_logout(&lake, "2026-03-08", &["--agent", "dana"]),
        expected("login-without-snapshot.login-logout-2026-03-08.csv")
    );
    // The damage is real: the audit that needs those rows fails, and says how to find the
    // file (DataFusion's error does not name it).
    let r = run(&args("erin", "2026-03-09"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("connect-lake check --lake"),
        "{}",
        r.stderr
    );
    let r = run(&["check", "--lake", l]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("dt=2026-03-09/part-0.parquet"), "{said}");
}

#[test]
fn an_optional_field_of_the_wrong_type_keeps_its_event_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let fixture = fixture("hierarchy-null-string.ndjson");
    let summary = lake.with_extension("summary.json");
    let r = run(&[
        "etl",
        "--source",
        "agent-events",
        "--lake",
        lake.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(json["written"], 3);
    assert_eq!(json["rejected"], 0);
    assert_eq!(json["warnings"], 1);
    assert!(r.stdout.contains("0 rejected; 1 warnings;"), "{}", r.stdout);
    let data = fixture.parent().unwrap().parent().unwrap();
    insta::assert_snapshot!(
        "wrong_type_warning",
        r.stderr.replace(&data.display().to_string(), "[DATA]")
    );
    // The event is there, its hierarchy null, its other fields as sent.
    assert_eq!(
        query(
            &lake,
            "csv",
            "SELECT username, hierarchy_level1_name, routing_profile_name, agent_status_name \
             FROM agent_events WHERE event_id = 'g-02'"
        ),
        "username,hierarchy_level1_name,routing_profile_name,agent_status_name\ngus,,Support Profile,Available\n"
    );
    assert_eq!(
        login_logout(&lake, "2026-03-09", &["--agent", "gus"]),
        expected("hierarchy-null-string.login-logout-2026-03-09.csv")
    );
    // Nothing went to the rejects.
    assert!(!lake.join("_rejected").exists());
}

#[test]
fn masked_values_are_kept_as_sent() {
    let (_d, lake) = lake_of("masked-account.ndjson");
    assert_eq!(
        query(
            &lake,
            "csv",
            "SELECT aws_account_id, version, default_outbound_queue_name, \
             inbound_queues[1]['name'] IS NULL AS own_queue_unnamed, inbound_queues[2]['name'] AS queue \
             FROM agent_events WHERE event_id = 'h-02'"
        ),
        "aws_account_id,version,default_outbound_queue_name,own_queue_unnamed,queue\n\
         ************,2017-10-01,(Removed),true,Support\n"
    );
    assert_eq!(
        login_logout(&lake, "2026-03-09", &["--agent", "hana"]),
        expected("masked-account.login-logout-2026-03-09.csv")
    );
}

#[test]
fn events_at_one_instant_set_one_status() {
    let (_d, lake) = lake_of("same-instant-contacts.ndjson");
    let audit = report(&lake, &["audit", "--agent", "ivy", "--date", "2026-03-11"]);
    assert_eq!(
        audit,
        expected("same-instant-contacts.audit-ivy-2026-03-11.csv")
    );
    // No zero-length interval, and no two neighbours with the same status and contact.
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM agent_status_intervals WHERE end_timestamp <= start_timestamp"
        ),
        0
    );
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM (SELECT status, contact_id, end_timestamp, \
             lead(status) OVER (PARTITION BY agent_arn ORDER BY start_timestamp) AS next_status, \
             lead(contact_id) OVER (PARTITION BY agent_arn ORDER BY start_timestamp) AS next_contact, \
             lead(start_timestamp) OVER (PARTITION BY agent_arn ORDER BY start_timestamp) AS next_start \
             FROM agent_status_intervals) t \
             WHERE next_start = end_timestamp AND next_status = status \
             AND next_contact IS NOT DISTINCT FROM contact_id"
        ),
        0
    );
}

/// `fixture` with every LOGIN and LOGOUT stripped of its snapshots, as Connect sends them.
fn strip_session_snapshots(fixture: &Path, out: &Path) {
    let text = std::fs::read_to_string(fixture).unwrap();
    let mut lines = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut e: serde_json::Value = serde_json::from_str(line).unwrap();
        if matches!(e["EventType"].as_str(), Some("LOGIN" | "LOGOUT")) {
            e["CurrentAgentSnapshot"] = serde_json::Value::Null;
            e["PreviousAgentSnapshot"] = serde_json::Value::Null;
        }
        lines.push(e.to_string());
    }
    std::fs::write(out, lines.join("\n") + "\n").unwrap();
}

#[test]
fn report_fixtures_without_login_snapshots_give_the_same_names_profiles_and_hierarchies() {
    let dir = tempfile::tempdir().unwrap();
    let stripped = dir.path().join("report-scenarios.ndjson");
    strip_session_snapshots(&fixture("report-scenarios.ndjson"), &stripped);
    let lake = dir.path().join("lake");
    etl(&lake, &[&stripped]);
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM agent_events WHERE event_type IN ('LOGIN', 'LOGOUT') AND username IS NOT NULL"
        ),
        0
    );
    let csv = report(
        &lake,
        &[
            "login-logout",
            "--range",
            "yesterday",
            "--now",
            "2026-11-25T09:30:00Z",
        ],
    );
    assert_eq!(csv, expected("report-scenarios.login-logout-yesterday.csv"));
    // The audits name their agent on every row, the login's interval included.
    for (agent, date) in [
        ("alice", "2026-11-24"),
        ("bob", "2026-11-24"),
        ("carol", "2026-11-24"),
    ] {
        let audit = report(&lake, &["audit", "--agent", agent, "--date", date]);
        let rows: Vec<&str> = audit.lines().skip(1).collect();
        assert!(!rows.is_empty(), "{agent}");
        assert!(
            rows.iter().all(|r| r.starts_with(&format!("{agent},"))),
            "{audit}"
        );
    }
}

/// Every agent's audit of every day, the login-logout report of the whole range and the whole
/// status view of one generated stream, as text.
fn reports_of(lake: &Path) -> String {
    let mut out = query(
        lake,
        "csv",
        "SELECT username, status, contact_id, start_timestamp, end_timestamp FROM agent_status_intervals \
         ORDER BY agent_arn, start_timestamp",
    );
    let r = run(&[
        "report",
        "login-logout",
        "--lake",
        lake.to_str().unwrap(),
        "--from",
        "2026-11-20T00:00",
        "--to",
        "2026-11-26T00:00",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    out.push_str(&r.stdout);
    let agents = query(
        lake,
        "csv",
        "SELECT DISTINCT username FROM agent_events WHERE username IS NOT NULL ORDER BY 1",
    );
    for agent in agents.lines().skip(1).take(4) {
        for date in ["2026-11-22", "2026-11-23"] {
            let r = run(&[
                "report",
                "audit",
                "--lake",
                lake.to_str().unwrap(),
                "--agent",
                agent,
                "--date",
                date,
                "--tz",
                "America/New_York",
            ]);
            assert_eq!(r.code, 0, "{}", r.stderr);
            out.push_str(&r.stdout);
        }
    }
    out
}

#[test]
fn generated_streams_without_login_snapshots_give_the_reports_of_full_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for mode in ["all", "none", "some"] {
        let input = dir.path().join(format!("in-{mode}"));
        let r = run(&[
            "generate",
            "--out",
            input.to_str().unwrap(),
            "--agents",
            "6",
            "--days",
            "2",
            "--start",
            "2026-11-22",
            "--seed",
            "11",
            "--login-snapshots",
            mode,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let lake = dir.path().join(format!("lake-{mode}"));
        etl(&lake, &[&input]);
        let named = scalar(
            &lake,
            "SELECT count(*) FROM agent_events WHERE event_type IN ('LOGIN', 'LOGOUT') AND username IS NOT NULL",
        );
        let sessions = scalar(
            &lake,
            "SELECT count(*) FROM agent_events WHERE event_type IN ('LOGIN', 'LOGOUT')",
        );
        match mode {
            "all" => assert_eq!(named, sessions),
            "none" => assert_eq!(named, 0),
            _ => assert!(named > 0 && named < sessions, "{named} of {sessions}"),
        }
        results.push(reports_of(&lake));
    }
    assert!(results[0].lines().count() > 100);
    assert_eq!(results[0], results[1], "none differs from all");
    assert_eq!(results[0], results[2], "some differs from all");
}
