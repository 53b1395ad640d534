//! Command-line behaviour: read-only SQL, formats, stdin, and error messages as snapshots.

use crate::support::*;

fn lake_with_scenarios() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    etl(&lake, &[&fixture("report-scenarios.ndjson")]);
    (dir, lake)
}

#[test]
fn query_refuses_every_kind_of_write_and_writes_nothing() {
    let (dir, lake) = lake_with_scenarios();
    let before = snapshot_tree(&lake);
    let out = dir.path().join("copied.csv");
    let statements = [
        "CREATE TABLE t AS SELECT 1".to_string(),
        "CREATE VIEW v AS SELECT 1".to_string(),
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/tmp/x.csv'".to_string(),
        "INSERT INTO agent_events SELECT * FROM agent_events".to_string(),
        format!("COPY (SELECT 1) TO '{}'", out.display()),
        "SET datafusion.execution.batch_size = 1".to_string(),
        "DROP VIEW login_logout_sessions".to_string(),
    ];
    let mut messages = Vec::new();
    for sql in &statements {
        let r = run(&["query", "--lake", lake.to_str().unwrap(), sql]);
        assert_eq!(r.code, 2, "{sql}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
        messages.push(r.stderr);
    }
    assert!(!out.exists());
    assert_eq!(snapshot_tree(&lake), before);
    insta::assert_snapshot!("read_only_refusals", messages.concat());
}

#[test]
fn show_tables_and_describe_work() {
    let (_dir, lake) = lake_with_scenarios();
    let tables = query(
        &lake,
        "csv",
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'lake' ORDER BY 1",
    );
    insta::assert_snapshot!("tables", tables);
    let r = run(&["query", "--lake", lake.to_str().unwrap(), "SHOW TABLES"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("login_logout_sessions"));
    let describe = query(&lake, "csv", "DESCRIBE agent_events");
    insta::assert_snapshot!("describe_agent_events", describe);
}

#[test]
fn sql_comes_from_an_argument_a_file_or_stdin_in_every_format() {
    let (dir, lake) = lake_with_scenarios();
    let sql =
        "SELECT username, count(*) AS events FROM agent_events GROUP BY username ORDER BY username";
    let l = lake.to_str().unwrap();
    let from_arg = run(&["query", "--lake", l, "--format", "csv", sql]).stdout;
    let file = dir.path().join("q.sql");
    std::fs::write(&file, sql).unwrap();
    let from_file = run(&[
        "query",
        "--lake",
        l,
        "--format",
        "csv",
        "-f",
        file.to_str().unwrap(),
    ])
    .stdout;
    let from_stdin = run_with_stdin(&["query", "--lake", l, "--format", "csv"], Some(sql)).stdout;
    assert_eq!(from_arg, "username,events\nalice,24\nbob,8\ncarol,9\n");
    assert_eq!(from_file, from_arg);
    assert_eq!(from_stdin, from_arg);
    let json: serde_json::Value =
        serde_json::from_str(&run(&["query", "--lake", l, "--format", "json", sql]).stdout)
            .unwrap();
    assert_eq!(
        json[2],
        serde_json::json!({"username": "carol", "events": 9})
    );
    let ndjson = run(&["query", "--lake", l, "--format", "ndjson", sql]).stdout;
    assert_eq!(
        ndjson.lines().nth(1),
        Some(r#"{"username":"bob","events":8}"#)
    );
    let table = run(&["query", "--lake", l, sql]).stdout;
    assert!(table.contains("| alice    | 24     |"), "{table}");
}

#[test]
fn usage_errors_are_one_line_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let not_a_lake = d.join("stuff");
    std::fs::create_dir(&not_a_lake).unwrap();
    std::fs::write(not_a_lake.join("notes.txt"), "mine").unwrap();
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "query_missing_lake",
            vec![
                "query".into(),
                "--lake".into(),
                d.join("nowhere").display().to_string(),
                "SELECT 1".into(),
            ],
        ),
        (
            "query_not_a_lake",
            vec![
                "query".into(),
                "--lake".into(),
                not_a_lake.display().to_string(),
                "SELECT 1".into(),
            ],
        ),
        (
            "etl_into_foreign_folder",
            vec![
                "etl".into(),
                "--source".into(),
                "agent-events".into(),
                "--lake".into(),
                not_a_lake.display().to_string(),
                fixture("json-array.json").display().to_string(),
            ],
        ),
        (
            "etl_missing_input",
            vec![
                "etl".into(),
                "--source".into(),
                "agent-events".into(),
                "--lake".into(),
                d.join("lake").display().to_string(),
                d.join("no-such-input").display().to_string(),
            ],
        ),
        (
            "etl_bad_url_scheme",
            vec![
                "etl".into(),
                "--source".into(),
                "agent-events".into(),
                "--lake".into(),
                d.join("lake").display().to_string(),
                "ftp://host/x".into(),
            ],
        ),
    ];
    let mut all = String::new();
    for (name, args) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&args);
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{name}: {}", r.stderr);
        all.push_str(&format!("{name}: {}", redact(&r.stderr, d)));
    }
    insta::assert_snapshot!("usage_errors", all);
    // The refused foreign folder is untouched.
    assert_eq!(std::fs::read_dir(&not_a_lake).unwrap().count(), 1);
}

#[test]
fn unknown_source_is_a_usage_error() {
    let r = run(&["etl", "--source", "contact-records", "x"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("invalid value 'contact-records' for '--source <SOURCE>'"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let (_dir, lake) = lake_with_scenarios();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_connect-lake"))
        .args(["query", "--lake", lake.to_str().unwrap(), "--format", "csv", "SELECT a.event_id, b.event_id, c.inbound_queues FROM agent_events a CROSS JOIN agent_events b CROSS JOIN agent_events c"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ddl_for_athena_and_spark_comes_from_the_schemas() {
    let athena = run(&[
        "ddl",
        "--engine",
        "athena",
        "--location",
        "s3://bucket/lake/",
        "--database",
        "connect",
    ]);
    assert_eq!(athena.code, 0, "{}", athena.stderr);
    insta::assert_snapshot!("ddl_athena", athena.stdout);
    let spark = run(&["ddl", "--engine", "spark", "--location", "/data/lake"]);
    assert_eq!(spark.code, 0, "{}", spark.stderr);
    insta::assert_snapshot!("ddl_spark", spark.stdout);
    let bad = run(&[
        "ddl",
        "--engine",
        "spark",
        "--location",
        "/l",
        "--database",
        "a-b",
    ]);
    assert_eq!(bad.code, 2);
    insta::assert_snapshot!("ddl_bad_database", bad.stderr);
}
