//! Reports: the agent activity audit and the Login/Logout report. Owns what a local day, a
//! preset range or a custom `--from/--to` means in UTC for a zone and a clock, the parameters
//! handed to the report SQL (`sql/reports/`, embedded), and printing times in the report's
//! zone. The logic that derives statuses and sessions stays in the SQL views.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMicrosecondType};
use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use datafusion::common::ParamValues;
use datafusion::execution::context::SessionContext;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::scalar::ScalarValue;
use futures::StreamExt;

pub mod activity;
mod lookup;

use crate::catalog;
use crate::error::{Error, Result};
use crate::store::Location;
use crate::summary;

const AUDIT_SQL: &str = include_str!("../../sql/reports/audit.sql");
const LOGIN_LOGOUT_SQL: &str = include_str!("../../sql/reports/login_logout.sql");
/// The views each report's SQL reads, with the views those read.
const AUDIT_VIEWS: &[&str] = &[
    "agent_contact_status",
    "agent_events_resolved",
    "agent_status_intervals",
];
const LOGIN_LOGOUT_VIEWS: &[&str] = &["agent_events_resolved", "login_logout_sessions"];

/// `report audit`: one agent, one local day.
#[derive(Debug, Clone)]
pub struct Audit {
    pub agent: String,
    pub date: NaiveDate,
    pub tz: Tz,
    pub now: DateTime<Utc>,
}

/// `report login-logout`: sessions in a window, filtered.
#[derive(Debug, Clone)]
pub struct LoginLogout {
    pub window: Window,
    pub tz: Tz,
    pub agents: Vec<String>,
    pub hierarchy: Vec<String>,
    pub routing_profiles: Vec<String>,
}

pub(crate) fn dt_of(t: DateTime<Utc>) -> String {
    crate::partition::dt_label(crate::partition::day_of(t.timestamp_micros()))
}

pub(crate) fn ts_param(t: DateTime<Utc>) -> ScalarValue {
    ScalarValue::TimestampMicrosecond(Some(t.timestamp_micros()), Some("UTC".into()))
}

pub(crate) fn list_param(values: &[String]) -> ScalarValue {
    let items: Vec<ScalarValue> = values
        .iter()
        .map(|v| ScalarValue::Utf8(Some(v.clone())))
        .collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&items, &DataType::Utf8))
}

/// Runs the audit and returns its rows with times in the report's zone. Reads only the days
/// from the agent's last status change before the local day up to the day's end, and only that
/// agent's rows.
pub async fn audit(lake: &Location, request: &Audit) -> Result<SendableRecordBatchStream> {
    let day = local_day(request.date, request.tz);
    let clock = std::time::Instant::now();
    let ctx = catalog::open_raw(lake).await?;
    let days = summary::Days::list(&ctx, lake).await?;
    tracing::debug!(ms = clock.elapsed().as_millis(), "audit: session open");
    // The local day's last UTC day. A LOGIN without a snapshot late in the day takes its
    // status (and the agent its name) from the agent's next event with a snapshot, which can
    // be past it: names are looked up a day further, and the scope ends on the local day's
    // last UTC day unless the summaries say an event there still waits for a later one.
    let last_day = dt_of(day.to - Duration::microseconds(1));
    let name_days_to = dt_of(day.to - Duration::microseconds(1) + Duration::days(1));
    // The status in force at midnight began at the agent's last status change before it.
    // The days' summaries give the agent's ARNs by name and that change in the two days
    // before; only when it is older does the search go further back.
    let near = dt_of(day.from - Duration::days(2));
    let recent = days
        .summaries(&ctx, lake, &days.between(&near, &name_days_to))
        .await?;
    let found = lookup::audit_agent(&recent, &request.agent, day.from.timestamp_micros());
    tracing::debug!(ms = clock.elapsed().as_millis(), "audit: agent looked up");
    let mut agent_arns = found.arns;
    let dt_from = match found.since {
        Some(dt) => dt,
        None => {
            let mut dt_from = near.clone();
            days.walk(&ctx, lake, &days.before(&near), |dt, s| {
                let arns = lookup::audit_earlier(&s, &request.agent, &agent_arns);
                if arns.is_empty() {
                    return ControlFlow::Continue(());
                }
                agent_arns.extend(arns);
                dt_from = dt;
                ControlFlow::Break(())
            })
            .await?;
            dt_from
        }
    };
    if agent_arns.is_empty() {
        check_agents(&ctx, lake, &days, std::slice::from_ref(&request.agent)).await?;
    }
    let scope_to = audit_scope_end(&ctx, lake, &days, &agent_arns, &dt_from, &last_day).await?;
    let _contacts = catalog::prefetch_footers(
        &ctx,
        lake,
        "agent_event_contacts",
        &days.between(&dt_from, scope_to.as_deref().unwrap_or("9999-12-31")),
    )?;
    let scope = catalog::Scope {
        dt_from,
        dt_to: scope_to,
        agent_arns: Some(agent_arns.into_iter().collect()),
        agent_days: Vec::new(),
    };
    catalog::scope(&ctx, &scope, AUDIT_VIEWS).await?;
    tracing::debug!(ms = clock.elapsed().as_millis(), "audit: views scoped");
    // An interval still open at the end of the data runs to the end of the day, or to now.
    let open_end = if request.now < day.to {
        request.now
    } else {
        day.to
    };
    let params = vec![
        ScalarValue::Utf8(Some(request.agent.clone())),
        ts_param(day.from),
        ts_param(day.to),
        ts_param(open_end),
    ];
    run(&ctx, AUDIT_SQL, params, request.tz).await
}

/// The audit's last day to read (`None`: to the end of the lake): `last_day`, or, while an
/// ARN's events there wait for a later snapshot (`lookup::identity_waits`), the first later
/// day on which each such ARN has one. On the bench lake this spares an audit a day's scan:
/// about a tenth of its time.
async fn audit_scope_end(
    ctx: &SessionContext,
    lake: &Location,
    days: &summary::Days,
    arns: &std::collections::BTreeSet<String>,
    dt_from: &str,
    last_day: &str,
) -> Result<Option<String>> {
    let scoped = days
        .summaries(ctx, lake, &days.between(dt_from, last_day))
        .await?;
    let mut waiting: Vec<&String> = arns
        .iter()
        .filter(|a| lookup::identity_waits(&scoped, a))
        .collect();
    let mut end = last_day.to_string();
    if !waiting.is_empty() {
        days.walk(ctx, lake, &days.after(last_day), |dt, s| {
            waiting.retain(|arn| !lookup::agent_day(&s, arn).is_some_and(|a| a.has_snapshot()));
            end = dt;
            stop_when(waiting.is_empty())
        })
        .await?;
    }
    Ok(waiting.is_empty().then_some(end))
}

/// Stops a [`summary::Days::walk`] once the search is `done`.
fn stop_when(done: bool) -> ControlFlow<()> {
    if done {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

/// Runs the Login/Logout report and returns its rows with times in the report's zone.
///
/// Sessions are derived only from the rows that can matter, decided from the days'
/// summaries: the agents with a LOGIN or LOGOUT in the range (no other has a session to
/// show), each from its last LOGOUT before the range (where its state is known: no session
/// open), searched back as far as needed, to the end of its last session in the range.
pub async fn login_logout(
    lake: &Location,
    request: &LoginLogout,
) -> Result<SendableRecordBatchStream> {
    let ctx = catalog::open_raw(lake).await?;
    let days = summary::Days::list(&ctx, lake).await?;
    check_agents(&ctx, lake, &days, &request.agents).await?;
    let from = ts_param(request.window.from);
    let from_dt = dt_of(request.window.from);
    // Agents with a LOGIN or LOGOUT in the range (the only ones with sessions to show), and
    // whether each has a LOGOUT in the two days before it (its state there is known: no
    // session open), from the days' summaries; only agents without one send the search
    // further back.
    let near = dt_of(request.window.from - Duration::days(2));
    // The range's last UTC day (the range ends before `to`: a range to midnight ends the day
    // before).
    let to_dt = dt_of(request.window.to - Duration::microseconds(1));
    let recent = days
        .summaries(&ctx, lake, &days.between(&near, &to_dt))
        .await?;
    let (from_us, to_us) = (
        request.window.from.timestamp_micros(),
        request.window.to.timestamp_micros(),
    );
    let agents = lookup::sessions_agents(&recent, from_us, to_us);
    // Each agent is read from its last LOGOUT before the range: in the two days before it,
    // or, for the few without one there (back from days off), as far back as the search goes.
    let mut first_day: BTreeMap<String, String> = BTreeMap::new();
    let mut unresolved = std::collections::BTreeSet::new();
    for (arn, agent) in &agents {
        match &agent.closed {
            Some(c) => {
                first_day.insert(arn.clone(), c.min(&from_dt).clone());
            }
            None => {
                unresolved.insert(arn.clone());
            }
        }
    }
    let mut searched_to = near.clone();
    if !unresolved.is_empty() {
        days.walk(&ctx, lake, &days.before(&near), |dt, s| {
            let closed = lookup::logged_out(&s);
            unresolved.retain(|a| {
                let open = !closed.contains(a.as_str());
                if !open {
                    first_day.insert(a.clone(), dt.clone());
                }
                open
            });
            searched_to = dt;
            stop_when(unresolved.is_empty())
        })
        .await?;
    }
    for a in unresolved {
        first_day.insert(a, searched_to.clone());
    }
    // … to the end of its last session: the day of its LOGOUT after the range when one is open
    // at the range's end, and the first later day with a snapshot (a LOGIN without one takes
    // the agent's next). An agent still open at the end of the data is read to the end (its
    // last-seen time is its last event).
    let mut until: BTreeMap<String, lookup::Until> = agents
        .iter()
        .map(|(arn, a)| (arn.clone(), lookup::Until::new(a.open_at_end)))
        .collect();
    for (dt, s) in recent.iter().filter(|(dt, _)| *dt == to_dt) {
        lookup::Until::see_day(&mut until, dt, s, to_us, &to_dt);
    }
    let all_done =
        |until: &BTreeMap<String, lookup::Until>| until.values().all(lookup::Until::done);
    if !all_done(&until) {
        days.walk(&ctx, lake, &days.after(&to_dt), |dt, s| {
            lookup::Until::see_day(&mut until, &dt, &s, to_us, &to_dt);
            stop_when(all_done(&until))
        })
        .await?;
    }
    let mut spans: BTreeMap<(String, Option<String>), Vec<String>> = BTreeMap::new();
    for (arn, from) in first_day {
        let to = until.get(&arn).and_then(lookup::Until::last_day);
        spans.entry((from, to)).or_default().push(arn);
    }
    let dt_from = spans
        .keys()
        .map(|(from, _)| from.clone())
        .min()
        .unwrap_or(from_dt);
    let dt_to = if spans.values().next().is_none() {
        Some(to_dt.clone())
    } else {
        spans
            .keys()
            .map(|(_, to)| to.clone())
            .try_fold(String::new(), |last, to| to.map(|t| last.max(t)))
    };
    let scope = catalog::Scope {
        dt_from,
        dt_to,
        // No agent with a LOGIN or LOGOUT in the range: no sessions, no rows needed.
        agent_arns: spans.is_empty().then(Vec::new),
        agent_days: spans
            .into_iter()
            .map(|((from, to), arns)| catalog::AgentDays { from, to, arns })
            .collect(),
    };
    catalog::scope(&ctx, &scope, LOGIN_LOGOUT_VIEWS).await?;
    let params = vec![
        from,
        ts_param(request.window.to),
        list_param(&request.agents),
        list_param(&request.hierarchy),
        list_param(&request.routing_profiles),
    ];
    run(&ctx, LOGIN_LOGOUT_SQL, params, request.tz).await
}

/// The audit's rows as timeline slices (status, start, end), read back from its stream.
pub async fn slices(stream: SendableRecordBatchStream) -> Result<Vec<crate::timeline::Slice>> {
    Ok(agent_slices(stream)
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect())
}

/// Rows with `agent_username`, `status`, `start_time`, `end_time` (localized text) as
/// `(agent, slice)`, in stream order.
pub(crate) async fn agent_slices(
    mut stream: SendableRecordBatchStream,
) -> Result<Vec<(String, crate::timeline::Slice)>> {
    let mut out = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let text = |name: &str| -> Result<arrow::array::StringArray> {
            let column = batch
                .column_by_name(name)
                .ok_or_else(|| Error::Other(format!("report has no column {name}")))?;
            Ok(arrow::compute::cast(column, &DataType::Utf8)?
                .as_string::<i32>()
                .clone())
        };
        let (agent, status, start, end) = (
            text("agent_username")?,
            text("status")?,
            text("start_time")?,
            text("end_time")?,
        );
        for i in 0..batch.num_rows() {
            let time = |a: &arrow::array::StringArray| {
                DateTime::parse_from_rfc3339(a.value(i))
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| Error::Other(e.to_string()))
            };
            out.push((
                agent.value(i).to_string(),
                crate::timeline::Slice {
                    status: status.value(i).to_string(),
                    start: time(&start)?,
                    end: time(&end)?,
                },
            ));
        }
    }
    Ok(out)
}

pub(crate) async fn run(
    ctx: &SessionContext,
    sql: &str,
    params: Vec<ScalarValue>,
    tz: Tz,
) -> Result<SendableRecordBatchStream> {
    let frame = ctx.sql(sql).await?.with_param_values(ParamValues::List(
        params.into_iter().map(Into::into).collect(),
    ))?;
    // For profiling a report: its plan with the time and rows of every operator, on stderr
    // (the query runs twice).
    if std::env::var_os("CONNECT_LAKE_EXPLAIN").is_some() {
        let explained = frame.clone().explain(false, true)?.collect().await?;
        eprintln!(
            "{}",
            arrow::util::pretty::pretty_format_batches(&explained)?
        );
    }
    let clock = std::time::Instant::now();
    let stream = frame.execute_stream().await?;
    tracing::debug!(ms = clock.elapsed().as_millis(), "report planned");
    Ok(localized(stream, tz))
}

/// Days of the lake's newest partitions in which a username is looked for first.
const RECENT_NAME_DAYS: usize = 7;

/// An unknown username is a usage error that names the closest ones the lake knows. The
/// names are looked for in the summaries of the newest week of partitions first, so a check
/// costs the same on a lake of any age; only a name not seen there makes it read every
/// partition's summary.
pub(crate) async fn check_agents(
    ctx: &SessionContext,
    lake: &Location,
    days: &summary::Days,
    agents: &[String],
) -> Result<()> {
    if agents.is_empty() {
        return Ok(());
    }
    let all = days.all();
    let recent = &all[all.len().saturating_sub(RECENT_NAME_DAYS)..];
    let seen = lookup::usernames(&days.summaries(ctx, lake, recent).await?);
    if agents.iter().all(|a| seen.contains(a)) {
        return Ok(());
    }
    let known = lookup::usernames(&days.summaries(ctx, lake, &all).await?);
    for agent in agents {
        if !known.iter().any(|k| k == agent) {
            let mut scored: Vec<(f64, &String)> = known
                .iter()
                .map(|k| (strsim::jaro_winkler(agent, k), k))
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
            let close: Vec<&str> = scored.iter().take(3).map(|(_, k)| k.as_str()).collect();
            let hint = if close.is_empty() {
                "the lake has no agents yet".to_string()
            } else {
                format!("closest usernames: {}", close.join(", "))
            };
            return Err(Error::usage_with_hint(
                format!("no agent with username {agent:?} in the lake"),
                hint,
            ));
        }
    }
    Ok(())
}

/// Turns every timestamp column into text in `tz` (`2026-11-24T09:15:03.120-05:00`), batch by
/// batch, so reports stream however many rows they have.
fn localized(stream: SendableRecordBatchStream, tz: Tz) -> SendableRecordBatchStream {
    let schema: SchemaRef = Arc::new(Schema::new(
        stream
            .schema()
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Timestamp(..) => Field::new(f.name(), DataType::Utf8, true),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ));
    let out_schema = schema.clone();
    let mapped = stream.map(move |batch| {
        let batch = batch?;
        let columns = batch
            .columns()
            .iter()
            .map(|c| localize_column(c, tz))
            .collect::<std::result::Result<Vec<_>, arrow::error::ArrowError>>()?;
        Ok(RecordBatch::try_new(out_schema.clone(), columns)?)
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, mapped))
}

fn localize_column(
    column: &ArrayRef,
    tz: Tz,
) -> std::result::Result<ArrayRef, arrow::error::ArrowError> {
    if !matches!(column.data_type(), DataType::Timestamp(..)) {
        return Ok(column.clone());
    }
    let micros = arrow::compute::cast(
        column,
        &DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())),
    )?;
    let micros = micros.as_primitive::<TimestampMicrosecondType>();
    let mut text = StringBuilder::with_capacity(micros.len(), micros.len() * 29);
    for value in micros.iter() {
        match value.and_then(DateTime::from_timestamp_micros) {
            Some(t) => text.append_value(format_local(t, tz)),
            None => text.append_null(),
        }
    }
    Ok(Arc::new(text.finish()))
}

/// The console's preset ranges of the Login/Logout report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Local midnight today → now.
    Today,
    /// Now − 24 h → now.
    #[value(name = "last-24h")]
    #[serde(rename = "last-24h")]
    Last24h,
    /// Local midnight yesterday → local midnight today.
    Yesterday,
    /// Now − 48 h → now.
    #[value(name = "last-2-days")]
    #[serde(rename = "last-2-days")]
    Last2Days,
    /// Now − 72 h → now.
    #[value(name = "last-3-days")]
    #[serde(rename = "last-3-days")]
    Last3Days,
}

/// A half-open UTC window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

pub fn parse_tz(text: &str) -> Result<Tz> {
    text.parse::<Tz>().map_err(|_| {
        Error::usage_with_hint(
            format!("unknown time zone {text:?}"),
            "use an IANA name such as America/New_York or UTC",
        )
    })
}

/// The first instant of a local calendar day. Where midnight does not exist (a DST gap at
/// 00:00, as in some South American zones) the day starts at the first instant after the gap.
pub fn local_midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) => return x.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => t += Duration::minutes(30),
        }
    }
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// The local day `day` in `tz` as a UTC window: 23, 24 or 25 hours long.
pub fn local_day(day: NaiveDate, tz: Tz) -> Window {
    let next = day.succ_opt().unwrap_or(day);
    Window {
        from: local_midnight(day, tz),
        to: local_midnight(next, tz),
    }
}

/// The local calendar date of an instant.
pub fn local_date(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

impl Preset {
    pub fn window(self, tz: Tz, now: DateTime<Utc>) -> Window {
        let today = local_date(now, tz);
        match self {
            Preset::Today => Window {
                from: local_midnight(today, tz),
                to: now,
            },
            Preset::Last24h => Window {
                from: now - Duration::hours(24),
                to: now,
            },
            Preset::Yesterday => local_day(today.pred_opt().unwrap_or(today), tz),
            Preset::Last2Days => Window {
                from: now - Duration::hours(48),
                to: now,
            },
            Preset::Last3Days => Window {
                from: now - Duration::hours(72),
                to: now,
            },
        }
    }
}

/// Parses `--from`, `--to` and `--now`: an instant with an offset (`2026-11-24T09:00:00-05:00`,
/// `…Z`), or a local wall-clock time in `tz` (`2026-11-24T09:00`, `2026-11-24 09:00:00`,
/// `2026-11-24`). A wall-clock time that falls in a DST gap is refused; in an overlap the
/// earlier instant is taken.
pub fn parse_instant(text: &str, tz: Tz) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
    .ok_or_else(|| {
        Error::usage_with_hint(
            format!("{text:?} is not a date or time"),
            "write 2026-11-24, 2026-11-24T09:30 (local) or 2026-11-24T09:30:00-05:00",
        )
    })?;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t.with_timezone(&Utc)),
        LocalResult::None => Err(Error::usage(format!(
            "{text} does not exist in {tz} (a daylight-saving gap)"
        ))),
    }
}

/// The window of a preset or of a custom `from`/`to` pair; `None` when neither is given.
pub fn window(
    preset: Option<Preset>,
    from: Option<&str>,
    to: Option<&str>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Option<Window>> {
    Ok(match (preset, from, to) {
        (Some(preset), _, _) => Some(preset.window(tz, now)),
        (None, Some(from), Some(to)) => Some(custom_window(
            parse_instant(from, tz)?,
            parse_instant(to, tz)?,
        )?),
        _ => None,
    })
}

pub fn custom_window(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Window> {
    if from >= to {
        return Err(Error::usage(format!(
            "--from {from} is not before --to {to}"
        )));
    }
    Ok(Window { from, to })
}

/// Formats an instant as the reports print it: local ISO-8601 with milliseconds and offset.
pub fn format_local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    const NY: Tz = chrono_tz::America::New_York;

    #[test]
    fn local_days_are_23_24_or_25_hours() {
        let hours = |d: &str| {
            let w = local_day(NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap(), NY);
            (w.to - w.from).num_hours()
        };
        assert_eq!(hours("2026-03-08"), 23); // spring forward
        assert_eq!(hours("2026-11-01"), 25); // fall back
        assert_eq!(hours("2026-11-24"), 24);
        let w = local_day(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(), NY);
        assert_eq!(w.from, utc("2026-11-24T05:00:00Z"));
    }

    #[test]
    fn presets_follow_the_console() {
        let now = utc("2026-11-24T15:30:00Z"); // 10:30 in New York
        assert_eq!(
            Preset::Today.window(NY, now),
            Window {
                from: utc("2026-11-24T05:00:00Z"),
                to: now
            }
        );
        assert_eq!(
            Preset::Yesterday.window(NY, now),
            Window {
                from: utc("2026-11-23T05:00:00Z"),
                to: utc("2026-11-24T05:00:00Z")
            }
        );
        assert_eq!(
            Preset::Last24h.window(NY, now).from,
            utc("2026-11-23T15:30:00Z")
        );
        assert_eq!(
            Preset::Last2Days.window(NY, now).from,
            utc("2026-11-22T15:30:00Z")
        );
        assert_eq!(
            Preset::Last3Days.window(NY, now).from,
            utc("2026-11-21T15:30:00Z")
        );
        // At 02:00 UTC it is still the previous evening in New York.
        let late = utc("2026-11-25T02:00:00Z");
        assert_eq!(
            Preset::Today.window(NY, late).from,
            utc("2026-11-24T05:00:00Z")
        );
    }

    #[test]
    fn instants_parse_local_or_with_offset() {
        assert_eq!(
            parse_instant("2026-11-24T09:00", NY).unwrap(),
            utc("2026-11-24T14:00:00Z")
        );
        assert_eq!(
            parse_instant("2026-11-24", NY).unwrap(),
            utc("2026-11-24T05:00:00Z")
        );
        assert_eq!(
            parse_instant("2026-11-24T09:00:00Z", NY).unwrap(),
            utc("2026-11-24T09:00:00Z")
        );
        assert!(
            parse_instant("2026-03-08T02:30", NY)
                .unwrap_err()
                .to_string()
                .contains("daylight-saving gap")
        );
        assert!(parse_instant("tomorrow", NY).unwrap_err().is_usage());
        assert!(custom_window(utc("2026-11-24T10:00:00Z"), utc("2026-11-24T09:00:00Z")).is_err());
        assert!(parse_tz("Mars/Olympus").unwrap_err().is_usage());
    }

    #[test]
    fn local_times_print_with_offset_and_milliseconds() {
        assert_eq!(
            format_local(utc("2026-11-24T14:15:03.12Z"), NY),
            "2026-11-24T09:15:03.120-05:00"
        );
        assert_eq!(
            format_local(utc("2026-11-24T14:15:03Z"), chrono_tz::UTC),
            "2026-11-24T14:15:03.000+00:00"
        );
    }
}
