//! `report agent-activity` and `report status-time` (spec/reports.md section 4): expected
//! files for every metric condition at 15m, 60m and 1d on both US daylight-saving days in
//! New York and a day in a +05:45 zone (checked by hand, see tests/data/expected/README.md),
//! filters, errors as snapshots, and the team picture rendered to pixels.

use std::path::{Path, PathBuf};

use crate::support::*;

const NOW: &str = "2026-12-01T00:00:00Z";
const HEADER: &str = "agent_username,interval_start,interval_end,online_seconds,on_contact_seconds,idle_seconds,incoming_seconds,after_contact_work_seconds,non_productive_seconds,error_seconds,occupancy,contacts_handled";
const DAYS: &[(&str, &str, &str)] = &[
    (
        "activity-us-spring-forward",
        "2026-03-08",
        "America/New_York",
    ),
    ("activity-us-fall-back", "2026-11-01", "America/New_York"),
    ("activity-kathmandu", "2026-11-24", "Asia/Kathmandu"),
];

fn lake_of(fixtures: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let paths: Vec<PathBuf> = fixtures
        .iter()
        .map(|f| fixture(&format!("{f}.ndjson")))
        .collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    etl(&lake, &refs);
    (dir, lake)
}

fn report(lake: &Path, kind: &str, args: &[&str]) -> Run {
    let mut all = vec![
        "report",
        kind,
        "--lake",
        lake.to_str().unwrap(),
        "--now",
        NOW,
    ];
    all.extend(args);
    run(&all)
}

#[test]
fn every_metric_at_every_interval_on_daylight_saving_days_and_a_quarter_hour_zone() {
    for (name, date, tz) in DAYS {
        let (_d, lake) = lake_of(&[name]);
        for interval in ["15m", "60m", "1d"] {
            let r = report(
                &lake,
                "agent-activity",
                &["--interval", interval, "--date", date, "--tz", tz],
            );
            assert_eq!(r.code, 0, "{}", r.stderr);
            assert_eq!(r.stdout.lines().next(), Some(HEADER));
            assert_eq!(
                r.stdout,
                expected(&format!("{name}.agent-activity-{interval}.csv")),
                "{name} {interval}"
            );
        }
        let r = report(
            &lake,
            "status-time",
            &["--interval", "60m", "--date", date, "--tz", tz],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            r.stdout.lines().next(),
            Some("agent_username,interval_start,interval_end,status,seconds")
        );
        assert_eq!(
            r.stdout,
            expected(&format!("{name}.status-time-60m.csv")),
            "{name}"
        );
    }
}

#[test]
fn intervals_sum_to_the_day_and_status_time_to_online_time() {
    // The 15-minute rows of a day add up to its 1d row, column by column.
    let (_d, lake) = lake_of(&["activity-us-spring-forward"]);
    let sums = |interval: &str| -> Vec<f64> {
        let r = report(
            &lake,
            "agent-activity",
            &[
                "--interval",
                interval,
                "--date",
                "2026-03-08",
                "--tz",
                "America/New_York",
            ],
        );
        let mut total = vec![0.0; 7];
        for line in r.stdout.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            for (t, c) in total.iter_mut().zip(&cells[3..10]) {
                *t += c.parse::<f64>().unwrap();
            }
        }
        total
    };
    let (quarter, day) = (sums("15m"), sums("1d"));
    for (q, d) in quarter.iter().zip(&day) {
        assert!((q - d).abs() < 1e-6, "{quarter:?} vs {day:?}");
    }
    // Every second of online time is in some status of the audit's.
    let r = report(
        &lake,
        "status-time",
        &[
            "--interval",
            "1d",
            "--date",
            "2026-03-08",
            "--tz",
            "America/New_York",
        ],
    );
    let status_total: f64 = r
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(status_total >= day[0], "{status_total} < {}", day[0]);
}

#[test]
fn filters_keep_their_agents_and_ranges_cut_the_time() {
    let (_d, lake) = lake_of(&[
        "activity-us-spring-forward",
        "activity-us-fall-back",
        "activity-kathmandu",
    ]);
    let agents = |args: &[&str]| -> Vec<String> {
        let mut all = vec![
            "--interval",
            "1d",
            "--from",
            "2026-03-01T00:00",
            "--to",
            "2026-12-01T00:00",
        ];
        all.extend(args);
        let r = report(&lake, "agent-activity", &all);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let a: std::collections::BTreeSet<String> = r
            .stdout
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect();
        a.into_iter().collect::<Vec<_>>()
    };
    assert_eq!(agents(&[]), ["kim", "lee", "mia"]);
    assert_eq!(agents(&["--agent", "lee"]), ["lee"]);
    assert_eq!(agents(&["--hierarchy", "Kathmandu"]), ["mia"]);
    assert_eq!(
        agents(&["--hierarchy", "North America", "--agent", "mia"]),
        Vec::<String>::new()
    );
    assert_eq!(
        agents(&[
            "--routing-profile",
            "Support Profile",
            "--hierarchy",
            "Dallas"
        ]),
        ["lee"]
    );
    // A range that cuts a bucket counts only its own time, and shows the whole bucket.
    let r = report(
        &lake,
        "agent-activity",
        &[
            "--interval",
            "60m",
            "--from",
            "2026-11-24T03:10:00Z",
            "--to",
            "2026-11-24T03:40:00Z",
            "--tz",
            "Asia/Kathmandu",
        ],
    );
    assert_eq!(
        r.stdout.lines().nth(1).unwrap(),
        "mia,2026-11-24T08:00:00.000+05:45,2026-11-24T09:00:00.000+05:45,300.000,0.000,300.000,0.000,0.000,0.000,0.000,0.0000,0"
    );
    assert_eq!(
        r.stdout.lines().nth(2).unwrap(),
        "mia,2026-11-24T09:00:00.000+05:45,2026-11-24T10:00:00.000+05:45,1500.000,1200.000,300.000,0.000,0.000,0.000,0.000,0.8000,1"
    );
}

#[test]
fn activity_errors_are_one_line() {
    let (_d, lake) = lake_of(&["activity-kathmandu"]);
    let lake = lake.to_str().unwrap();
    let mut out = String::new();
    for args in [
        &[
            "report",
            "agent-activity",
            "--lake",
            lake,
            "--interval",
            "45m",
            "--date",
            "2026-11-24",
        ][..],
        &[
            "report",
            "agent-activity",
            "--lake",
            lake,
            "--interval",
            "15m",
            "--from",
            "2026-11-25T00:00",
            "--to",
            "2026-11-24T00:00",
        ],
        &[
            "report",
            "status-time",
            "--lake",
            lake,
            "--interval",
            "60m",
            "--date",
            "2026-11-24",
            "--agent",
            "mai",
        ],
        &[
            "report",
            "agent-activity",
            "--lake",
            lake,
            "--interval",
            "60m",
            "--date",
            "2026-11-24",
            "--format",
            "svg",
        ],
    ] {
        let r = run(args);
        out.push_str(&format!(
            "$ {}\nexit {}\n{}\n",
            args[1..].join(" ").replace(lake, "LAKE"),
            r.code,
            r.stderr.replace(lake, "LAKE").trim_end()
        ));
    }
    insta::assert_snapshot!("activity_errors", out);
}

/// The colour of pixel (x, y) of an SVG rendered at its own size.
fn pixel(svg: &str, x: f64, y: f64) -> [u8; 3] {
    let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default()).unwrap();
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    let p = pixmap.pixel(x as u32, y as u32).unwrap();
    [p.red(), p.green(), p.blue()]
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

#[test]
fn the_team_picture_draws_each_interval_in_its_colour_at_its_place() {
    use chrono::TimeZone;
    let (_d, lake) = lake_of(&[
        "activity-us-spring-forward",
        "activity-us-fall-back",
        "activity-kathmandu",
    ]);
    let r = report(
        &lake,
        "status-time",
        &[
            "--interval",
            "60m",
            "--date",
            "2026-03-08",
            "--tz",
            "America/New_York",
            "--format",
            "svg",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let svg = r.stdout;
    assert!(
        svg.contains("<title>kim: On Hold 2026-03-08 03:05:00 – 03:06:00</title>"),
        "local times in titles"
    );
    let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let day =
        connect_lake::report::local_day(chrono::NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(), tz);
    // Only kim worked that day: one row.
    let row = connect_lake::timeline::team::row_height(1);
    let y = connect_lake::timeline::team::TOP + row * 0.4;
    let at = |h, m| {
        connect_lake::timeline::team_x(
            day,
            chrono::Utc.with_ymd_and_hms(2026, 3, 8, h, m, 0).unwrap(),
        )
    };
    // 07:08 UTC: the call, connected (on contact); 10:45: Ready (a renamed status, drawn as
    // custom); 09:30: Available.
    assert_eq!(
        pixel(&svg, at(7, 8), y),
        rgb(connect_lake::timeline::colour_of("Busy"))
    );
    assert_eq!(
        pixel(&svg, at(10, 45), y),
        rgb(connect_lake::timeline::colour_of("Ready"))
    );
    assert_eq!(
        pixel(&svg, at(9, 30), y),
        rgb(connect_lake::timeline::colour_of("Available"))
    );
    // 13:20 UTC: logged out: the row's empty band, not a status colour.
    assert_eq!(pixel(&svg, at(13, 20), y), rgb("#f1f3f4"));
    // 23 hour ticks and the 24th boundary on the 23-hour day.
    assert_eq!(svg.matches("<line ").count(), 24);
}

/// Renders `CONNECT_LAKE_SVG` to `CONNECT_LAKE_PNG` (for a person to look at a picture).
#[test]
#[ignore]
fn render_an_svg_to_png() {
    let (Ok(svg), Ok(png)) = (
        std::env::var("CONNECT_LAKE_SVG"),
        std::env::var("CONNECT_LAKE_PNG"),
    ) else {
        return;
    };
    let text = std::fs::read_to_string(svg).unwrap();
    let tree = resvg::usvg::Tree::from_str(&text, &resvg::usvg::Options::default()).unwrap();
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap.save_png(png).unwrap();
}
