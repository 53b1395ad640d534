//! Agent activity by interval (spec/reports.md section 4): the `agent-activity` and
//! `status-time` reports. Owns the intervals of a report (local-time buckets aligned on local
//! midnight, split again at every local midnight so 23- and 25-hour days come out right) and
//! what part of the lake the reports read; the metrics themselves are SQL
//! (`sql/agent_activity_segments.sql`, `sql/reports/agent_activity.sql`, `status_time.sql`).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::scalar::ScalarValue;
use serde::{Deserialize, Serialize};

use super::{Window, check_agents, dt_of, list_param, local_date, local_day, run, ts_param};
use crate::catalog;
use crate::error::{Error, Result};
use crate::store::Location;

const AGENT_ACTIVITY_SQL: &str = include_str!("../../sql/reports/agent_activity.sql");
/// Both status reports continue the one definition of their clipped, filtered intervals.
const STATUS_TIME_SQL: &str = concat!(
    include_str!("../../sql/reports/status_intervals_in_range.sql"),
    include_str!("../../sql/reports/status_time.sql")
);
const TEAM_TIMELINE_SQL: &str = concat!(
    include_str!("../../sql/reports/status_intervals_in_range.sql"),
    include_str!("../../sql/reports/team_timeline.sql")
);
const ACTIVITY_VIEWS: &[&str] = &["agent_events_resolved", "agent_activity_segments"];
const STATUS_VIEWS: &[&str] = &[
    "agent_contact_status",
    "agent_events_resolved",
    "agent_status_intervals",
];

/// How long a report's intervals are. Buckets are aligned on local midnight; `1d` is a local
/// day (23 or 25 hours on a daylight-saving day); the others are elapsed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
pub enum Interval {
    #[value(name = "15m")]
    #[serde(rename = "15m")]
    M15,
    #[value(name = "30m")]
    #[serde(rename = "30m")]
    M30,
    #[value(name = "60m")]
    #[serde(rename = "60m")]
    M60,
    #[value(name = "1d")]
    #[serde(rename = "1d")]
    Day,
}

impl Interval {
    fn minutes(self) -> Option<i64> {
        match self {
            Interval::M15 => Some(15),
            Interval::M30 => Some(30),
            Interval::M60 => Some(60),
            Interval::Day => None,
        }
    }
}

/// The intervals of `window` in `tz`: every bucket that overlaps it, whole (a bucket keeps its
/// bounds where the range cuts it; only time inside the range counts).
pub fn buckets(window: Window, tz: Tz, interval: Interval) -> Vec<Window> {
    let mut out = Vec::new();
    if window.to <= window.from {
        return out;
    }
    let mut day = local_date(window.from, tz);
    let last = local_date(window.to - Duration::microseconds(1), tz);
    while day <= last {
        let whole = local_day(day, tz);
        match interval.minutes() {
            None => out.push(whole),
            Some(minutes) => {
                let mut t = whole.from;
                while t < whole.to {
                    let end = (t + Duration::minutes(minutes)).min(whole.to);
                    out.push(Window { from: t, to: end });
                    t = end;
                }
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    out.retain(|b| b.from < window.to && b.to > window.from);
    out
}

/// `report agent-activity` and `report status-time`: a range, a zone, an interval, filters.
#[derive(Debug, Clone)]
pub struct Activity {
    pub window: Window,
    pub tz: Tz,
    pub interval: Interval,
    pub now: DateTime<Utc>,
    pub agents: Vec<String>,
    pub hierarchy: Vec<String>,
    pub routing_profiles: Vec<String>,
}

/// How far before a range a report looks for the event that starts the segment in force at
/// its start: the UTC day before. A logged-in agent's state changes many times a day; one that
/// has not changed for longer is counted from its first change in the scope (each day more of
/// lookback costs about a third more time on the bench lake).
const LOOKBACK_DAYS: i64 = 1;

/// The longest slot: no report interval is shorter.
const MAX_SLOT_MICROS: i64 = 15 * 60 * 1_000_000;

/// The slot length of `buckets`: the longest that divides every bound (counted from the
/// epoch), at most 15 minutes. Every zone's offset since 1980 is a multiple of 15 minutes, so
/// this is 15 minutes in practice; a bound off that grid makes the slots shorter, not wrong.
pub fn slot_micros(buckets: &[Window]) -> i64 {
    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    buckets
        .iter()
        .flat_map(|b| [b.from, b.to])
        .fold(MAX_SLOT_MICROS, |g, t| {
            gcd(g, t.timestamp_micros().rem_euclid(g))
        })
}

/// One row per slot of each bucket: `(slot number, interval_start, interval_end)`; the table
/// adds the slot's bounds in µs.
fn slot_rows(buckets: &[Window], slot: i64) -> Vec<(i64, i64, i64)> {
    let mut out = Vec::new();
    for b in buckets {
        let (from, to) = (b.from.timestamp_micros(), b.to.timestamp_micros());
        out.extend((from / slot..to / slot).map(|n| (n, from, to)));
    }
    out
}

/// A session over the days the report needs, with its intervals as the table `report_slots`
/// (see `sql/reports/agent_activity.sql`); returns the slot length too.
async fn session(
    lake: &Location,
    request: &Activity,
    views: &[&str],
) -> Result<(SessionContext, i64)> {
    let ctx = catalog::open_raw_parallel(lake).await?;
    if !request.agents.is_empty() {
        let days = crate::summary::Days::list(&ctx, lake).await?;
        check_agents(&ctx, lake, &days, &request.agents).await?;
    }
    let scope = catalog::Scope {
        dt_from: dt_of(request.window.from - Duration::days(LOOKBACK_DAYS)),
        // A day past the end: the event that ends the last segment, and the first named event
        // of a late LOGIN without a snapshot.
        dt_to: Some(dt_of(request.window.to + Duration::days(1))),
        agent_arns: None,
        agent_days: Vec::new(),
    };
    catalog::scope(&ctx, &scope, views).await?;
    let list = buckets(request.window, request.tz, request.interval);
    let slot = slot_micros(&list);
    let rows = slot_rows(&list, slot);
    let ts = |values: Vec<i64>| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
    };
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("slot", DataType::Int64, false),
        Field::new("slot_from_us", DataType::Int64, false),
        Field::new("slot_to_us", DataType::Int64, false),
        Field::new("interval_start", utc.clone(), false),
        Field::new("interval_end", utc, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.0 * slot),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| (r.0 + 1) * slot),
            )),
            ts(rows.iter().map(|r| r.1).collect()),
            ts(rows.iter().map(|r| r.2).collect()),
        ],
    )?;
    ctx.register_table(
        "report_slots",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;
    Ok((ctx, slot))
}

fn params(request: &Activity) -> Vec<ScalarValue> {
    let open_end = request.now.min(request.window.to);
    vec![
        ts_param(request.window.from),
        ts_param(request.window.to),
        ts_param(open_end),
        list_param(&request.agents),
        list_param(&request.hierarchy),
        list_param(&request.routing_profiles),
    ]
}

/// The parameters of the queries that split time at the slots: [`params`] and the slot length.
fn slot_params(request: &Activity, slot: i64) -> Vec<ScalarValue> {
    let mut out = params(request);
    out.push(ScalarValue::Int64(Some(slot)));
    out
}

fn check(request: &Activity) -> Result<()> {
    if request.window.from >= request.window.to {
        return Err(Error::usage(
            "the range is empty: --from must be before --to",
        ));
    }
    Ok(())
}

/// Runs `agent-activity`: one row per agent and interval, times in the report's zone.
pub async fn agent_activity(
    lake: &Location,
    request: &Activity,
) -> Result<SendableRecordBatchStream> {
    check(request)?;
    let (ctx, slot) = session(lake, request, ACTIVITY_VIEWS).await?;
    run(
        &ctx,
        AGENT_ACTIVITY_SQL,
        slot_params(request, slot),
        request.tz,
    )
    .await
}

/// Runs `status-time`: seconds per agent, interval and audit status.
pub async fn status_time(lake: &Location, request: &Activity) -> Result<SendableRecordBatchStream> {
    check(request)?;
    let (ctx, slot) = session(lake, request, STATUS_VIEWS).await?;
    run(
        &ctx,
        STATUS_TIME_SQL,
        slot_params(request, slot),
        request.tz,
    )
    .await
}

/// The status intervals of every (filtered) agent clipped to the range, for the team picture:
/// `(agent, slices)` in username order.
pub async fn team_timeline(
    lake: &Location,
    request: &Activity,
) -> Result<Vec<(String, Vec<crate::timeline::Slice>)>> {
    check(request)?;
    let (ctx, _) = session(lake, request, STATUS_VIEWS).await?;
    let stream = run(&ctx, TEAM_TIMELINE_SQL, params(request), request.tz).await?;
    let mut out: Vec<(String, Vec<crate::timeline::Slice>)> = Vec::new();
    for (agent, slice) in super::agent_slices(stream).await? {
        match out.last_mut() {
            Some((a, slices)) if *a == agent => slices.push(slice),
            _ => out.push((agent, vec![slice])),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn day(y: i32, m: u32, d: u32, tz: Tz) -> Window {
        local_day(NaiveDate::from_ymd_opt(y, m, d).unwrap(), tz)
    }

    #[test]
    fn buckets_follow_local_midnight_and_daylight_saving() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // Spring forward: 23 hours, fall back: 25.
        assert_eq!(buckets(day(2026, 3, 8, ny), ny, Interval::M60).len(), 23);
        assert_eq!(buckets(day(2026, 11, 1, ny), ny, Interval::M60).len(), 25);
        assert_eq!(buckets(day(2026, 11, 1, ny), ny, Interval::M15).len(), 100);
        let d = buckets(day(2026, 11, 1, ny), ny, Interval::Day);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].to - d[0].from).num_hours(), 25);
        // Buckets tile the day with no gap.
        let b = buckets(day(2026, 3, 8, ny), ny, Interval::M30);
        assert!(b.windows(2).all(|w| w[0].to == w[1].from));
        // A +05:45 zone: buckets start at its local midnight, 18:15 UTC the day before.
        let kathmandu: Tz = "Asia/Kathmandu".parse().unwrap();
        let b = buckets(day(2026, 11, 24, kathmandu), kathmandu, Interval::M60);
        assert_eq!(
            b[0].from,
            Utc.with_ymd_and_hms(2026, 11, 23, 18, 15, 0).unwrap()
        );
        assert_eq!(b.len(), 24);
        // A range that cuts buckets keeps them whole, and only those it overlaps.
        let w = Window {
            from: Utc.with_ymd_and_hms(2026, 11, 24, 10, 10, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 11, 24, 11, 5, 0).unwrap(),
        };
        let b = buckets(w, chrono_tz::UTC, Interval::M30);
        assert_eq!(b.len(), 3);
        assert_eq!(
            b[0].from,
            Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
        );
        assert_eq!(
            b[2].to,
            Utc.with_ymd_and_hms(2026, 11, 24, 11, 30, 0).unwrap()
        );
    }

    #[test]
    fn slots_tile_every_bucket_on_the_coarsest_grid_that_fits() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let kathmandu: Tz = "Asia/Kathmandu".parse().unwrap();
        for (tz, interval) in [
            (ny, Interval::M60),
            (kathmandu, Interval::M15),
            (ny, Interval::Day),
        ] {
            let b = buckets(day(2026, 11, 1, tz), tz, interval);
            assert_eq!(slot_micros(&b), MAX_SLOT_MICROS);
        }
        // A zone off the quarter-hour grid (local mean time, before 1900): shorter slots.
        let lmt = buckets(day(1890, 6, 1, kathmandu), kathmandu, Interval::M60);
        let slot = slot_micros(&lmt);
        assert!(
            slot < MAX_SLOT_MICROS && MAX_SLOT_MICROS % slot == 0,
            "{slot}"
        );
        // Every slot lies in its bucket and the slots of a bucket cover it exactly.
        let b = buckets(day(2026, 3, 8, ny), ny, Interval::M30);
        let rows = slot_rows(&b, MAX_SLOT_MICROS);
        assert_eq!(rows.len(), 23 * 4);
        for (n, from, to) in &rows {
            assert!(n * MAX_SLOT_MICROS >= *from && (n + 1) * MAX_SLOT_MICROS <= *to);
        }
        for w in &b {
            let covered: i64 = rows
                .iter()
                .filter(|r| r.1 == w.from.timestamp_micros())
                .map(|_| MAX_SLOT_MICROS)
                .sum();
            assert_eq!(covered, (w.to - w.from).num_microseconds().unwrap());
        }
    }
}
