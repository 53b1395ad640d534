//! The report views on hand-built scenarios, against expected CSV files that were checked by
//! hand against spec/reports.md (see tests/data/expected/README.md for what each row pins).

use crate::support::*;

fn scenario_lake() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    etl(&lake, &[&fixture("report-scenarios.ndjson")]);
    (dir, lake)
}

#[test]
fn agent_status_intervals_match_the_expected_file() {
    let (_dir, lake) = scenario_lake();
    let csv = query(
        &lake,
        "csv",
        "SELECT username, status, contact_id, channel, start_timestamp, end_timestamp \
        FROM agent_status_intervals ORDER BY username, start_timestamp",
    );
    assert_eq!(csv, expected("report-scenarios.agent_status_intervals.csv"));
}

#[test]
fn login_logout_sessions_match_the_expected_file() {
    let (_dir, lake) = scenario_lake();
    let csv = query(
        &lake,
        "csv",
        "SELECT username, first_name, last_name, routing_profile_name, \
        hierarchy_level1, hierarchy_level2, hierarchy_level3, hierarchy_level4, hierarchy_level5, \
        login_timestamp, logout_timestamp, duration_seconds, last_seen_timestamp \
        FROM login_logout_sessions ORDER BY username, login_timestamp NULLS FIRST",
    );
    assert_eq!(csv, expected("report-scenarios.login_logout_sessions.csv"));
}

#[test]
fn view_columns_are_the_interface_the_spec_names() {
    let (_dir, lake) = scenario_lake();
    let header = |view: &str| {
        query(&lake, "csv", &format!("SELECT * FROM {view} LIMIT 0"))
            .trim()
            .to_string()
    };
    assert_eq!(
        header("agent_status_intervals"),
        "instance_id,agent_arn,agent_id,username,status,contact_id,channel,start_timestamp,end_timestamp"
    );
    assert_eq!(
        header("login_logout_sessions"),
        "instance_id,agent_arn,agent_id,username,first_name,last_name,routing_profile_name,hierarchy_level1,\
hierarchy_level2,hierarchy_level3,hierarchy_level4,hierarchy_level5,login_timestamp,logout_timestamp,\
duration_seconds,last_seen_timestamp"
    );
}

#[test]
fn intervals_of_an_agent_tile_time_without_gaps_or_overlaps() {
    let (_dir, lake) = scenario_lake();
    // Within a session each interval ends where the next begins; only LOGOUT leaves a gap.
    let gaps = scalar(
        &lake,
        "SELECT count(*) FROM ( \
        SELECT end_timestamp, lead(start_timestamp) OVER (PARTITION BY agent_arn ORDER BY start_timestamp) AS next \
        FROM agent_status_intervals) t WHERE end_timestamp > next",
    );
    assert_eq!(gaps, 0);
}

/// The README's DataFusion CLI steps: a plain `CREATE EXTERNAL TABLE … PARTITIONED BY (dt)`
/// over a table folder reads the same rows, day by day, as connect-lake's own catalog.
#[test]
fn the_readme_datafusion_cli_statement_reads_the_lake() {
    let (_dir, lake) = scenario_lake();
    let counts = "SELECT dt, count(*) AS n FROM agent_events GROUP BY dt ORDER BY dt";
    let want = query(&lake, "csv", counts);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let got = rt.block_on(async {
        let ctx = datafusion::prelude::SessionContext::new();
        let create = format!(
            "CREATE EXTERNAL TABLE agent_events STORED AS PARQUET PARTITIONED BY (dt) LOCATION '{}/agent_events/'",
            lake.display()
        );
        ctx.sql(&create).await.unwrap().collect().await.unwrap();
        let batches = ctx.sql(counts).await.unwrap().collect().await.unwrap();
        let mut out = Vec::new();
        {
            let mut writer = arrow::csv::Writer::new(&mut out);
            for b in &batches {
                writer.write(b).unwrap();
            }
        }
        String::from_utf8(out).unwrap()
    });
    assert!(want.lines().count() > 2, "{want}");
    assert_eq!(got, want);
}
