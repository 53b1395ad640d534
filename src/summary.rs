//! The agent summary of a day: who is in an `agent_events` partition, under which names,
//! from when, and with which LOGINs and LOGOUTs. The commit writes it into the footer of the
//! partition's file (key-value metadata [`KEY`], JSON), so it is published atomically with
//! the rows it describes and other engines ignore it; reports decide which days and agents
//! they need from these few kilobytes per day instead of scanning the rows. A file written
//! before summaries existed (or damaged metadata) has its summary derived from its rows.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::execution::context::SessionContext;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectMeta, ObjectStore};
use parquet::file::metadata::ParquetMetaData;
use serde::{Deserialize, Serialize};

use crate::commit::PART_FILE;
use crate::error::{Error, Result};
use crate::store::Location;

/// The footer key of the summary.
pub const KEY: &str = "connect_lake.agent_summary";
/// The table summarised.
pub const TABLE: &str = "agent_events";
/// The summary format written. Version 2 added [`AgentDay::snapshots`]; a version-1 summary
/// is still read (without it: readers assume the worst), any other is summarised from rows.
const VERSION: u32 = 2;
const READ_VERSIONS: std::ops::RangeInclusive<u32> = 1..=VERSION;
/// Files whose footers are read at once (requests in flight, on S3 each a round trip).
const CONCURRENT_READS: usize = 16;
/// Days whose summaries [`Days::walk`] reads at once when a lookup searches back or on.
const WALK_DAYS_AT_ONCE: usize = 7;

/// One agent (ARN) in one day's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentDay {
    pub arn: String,
    /// Its distinct usernames that day, sorted (an agent renamed mid-day has two).
    pub usernames: Vec<String>,
    /// Its first event that is not a HEART_BEAT (a status may change there), µs since epoch.
    pub first_change_us: Option<i64>,
    /// Its LOGIN and LOGOUT events, in file order (time, then event id).
    pub logins: Vec<Login>,
    /// Whether its events that day carry a snapshot (spec/reports.md section 0), and whether
    /// a LOGIN without one still waits for a later day's. `None` in version-1 summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<Snapshots>,
}

/// What a day's events say of an agent's identity (spec/reports.md section 0): an event
/// without a snapshot takes it from the agent's nearest event with one (a LOGIN from the next).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Snapshots {
    /// No event of the agent that day has a snapshot.
    None,
    /// Some do, and no LOGIN without one comes after the last of them.
    Settled,
    /// Some do, but a LOGIN without one comes after the last of them: it takes its identity
    /// (name, status) from a later day.
    LoginWaits,
}

impl AgentDay {
    /// Whether some event of the agent that day has a snapshot. Version-1 summaries only
    /// know the names: a snapshot names the agent.
    pub fn has_snapshot(&self) -> bool {
        match self.snapshots {
            Some(s) => s != Snapshots::None,
            None => !self.usernames.is_empty(),
        }
    }
}

/// A LOGIN or LOGOUT: `[µs since epoch, true for LOGIN]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login(pub i64, pub bool);

impl Login {
    pub fn at(self) -> i64 {
        self.0
    }
    pub fn is_logout(self) -> bool {
        !self.1
    }
}

/// The agents of one day's file, sorted by ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySummary {
    pub version: u32,
    pub agents: Vec<AgentDay>,
}

impl DaySummary {
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Other(format!("agent summary: {e}")))
    }

    /// The summary of a footer value; `None` when it is not one this version reads.
    fn from_json(text: &str) -> Option<DaySummary> {
        serde_json::from_str::<DaySummary>(text)
            .ok()
            .filter(|s| READ_VERSIONS.contains(&s.version))
    }

    /// This summary as a writer of `version` would have written it (what `lake check`
    /// compares an older footer with).
    pub fn as_version(mut self, version: u32) -> DaySummary {
        if version < 2 {
            for a in &mut self.agents {
                a.snapshots = None;
            }
        }
        self.version = version;
        self
    }
}

/// Gathers a summary from batches of `agent_events` rows (any order; the commit's are sorted
/// by ARN, so the map is looked up once per run of an agent's rows).
#[derive(Debug, Default)]
pub struct Builder {
    agents: BTreeMap<String, Gathered>,
}

#[derive(Debug, Default)]
struct Gathered {
    usernames: BTreeSet<String>,
    first_change_us: Option<i64>,
    logins: Vec<Login>,
    /// The (time, event id) of its last event with a snapshot, and of its last LOGIN without
    /// one (the views' order). The strings are reused: no allocation per row.
    last_snapshot: Option<(i64, String)>,
    last_bare_login: Option<(i64, String)>,
}

/// Keeps the later of `kept` and `(t, id)`, copying the id only when it changes.
fn keep_later(kept: &mut Option<(i64, String)>, t: i64, id: &str) {
    match kept {
        Some((kt, kid)) => {
            if (t, id) > (*kt, kid.as_str()) {
                *kt = t;
                kid.clear();
                kid.push_str(id);
            }
        }
        None => *kept = Some((t, id.to_string())),
    }
}

impl Builder {
    /// Adds rows with at least `agent_arn`, `event_id`, `event_type`, `event_timestamp` and
    /// the snapshot columns `username`, `agent_status_name`, `routing_profile_arn`.
    pub fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| Error::Other(format!("agent summary: no column {name}")))
        };
        let text = |name: &str| -> Result<arrow::array::ArrayRef> {
            Ok(arrow::compute::cast(column(name)?, &DataType::Utf8)?)
        };
        let (arn, username, event_type, event_id) = (
            text("agent_arn")?,
            text("username")?,
            text("event_type")?,
            text("event_id")?,
        );
        // An event has a snapshot when it names the agent, its status or its routing profile
        // (spec/reports.md section 0, as in sql/agent_events_resolved.sql).
        let (status, profile) = (column("agent_status_name")?, column("routing_profile_arn")?);
        let at = arrow::compute::cast(
            column("event_timestamp")?,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )?;
        let (arn, username, event_type, at) = (
            arn.as_string::<i32>(),
            username.as_string::<i32>(),
            event_type.as_string::<i32>(),
            at.as_primitive::<TimestampMicrosecondType>(),
        );
        let event_id = event_id.as_string::<i32>();
        let mut current: Option<(&str, &mut Gathered)> = None;
        for i in 0..batch.num_rows() {
            if arn.is_null(i) {
                continue;
            }
            let a = arn.value(i);
            if current.as_ref().is_none_or(|(c, _)| *c != a) {
                // A new run of rows: only now is the map looked up, and the ARN copied when new.
                if !self.agents.contains_key(a) {
                    self.agents.insert(a.to_string(), Gathered::default());
                }
                current = self.agents.get_mut(a).map(|g| (a, g));
            }
            let Some((_, agent)) = current.as_mut() else {
                continue;
            };
            if !username.is_null(i) && !agent.usernames.contains(username.value(i)) {
                agent.usernames.insert(username.value(i).to_string());
            }
            if !at.is_null(i) && !event_type.is_null(i) {
                let t = at.value(i);
                let kind = event_type.value(i);
                let id = if event_id.is_null(i) {
                    ""
                } else {
                    event_id.value(i)
                };
                if !username.is_null(i) || !status.is_null(i) || !profile.is_null(i) {
                    keep_later(&mut agent.last_snapshot, t, id);
                } else if kind == "LOGIN" {
                    keep_later(&mut agent.last_bare_login, t, id);
                }
                if kind != "HEART_BEAT" {
                    agent.first_change_us = Some(agent.first_change_us.map_or(t, |f| f.min(t)));
                    if kind == "LOGIN" || kind == "LOGOUT" {
                        agent.logins.push(Login(t, kind == "LOGIN"));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn finish(self) -> DaySummary {
        let agents = self
            .agents
            .into_iter()
            .map(|(arn, g)| {
                let snapshots = match (&g.last_snapshot, &g.last_bare_login) {
                    (None, _) => Snapshots::None,
                    (Some(s), Some(l)) if l > s => Snapshots::LoginWaits,
                    (Some(_), _) => Snapshots::Settled,
                };
                AgentDay {
                    arn,
                    usernames: g.usernames.into_iter().collect(),
                    first_change_us: g.first_change_us,
                    logins: g.logins,
                    snapshots: Some(snapshots),
                }
            })
            .collect();
        DaySummary {
            version: VERSION,
            agents,
        }
    }
}

/// The agent_events partitions of a lake as a reader session sees them: one listing, which
/// also pins every file to the version the session's queries will read.
#[derive(Debug)]
pub struct Days {
    files: BTreeMap<String, ObjectMeta>,
    store: Arc<dyn ObjectStore>,
    /// The session's cache of Parquet footers: a footer read for its summary is put there
    /// with its page index, so the report's scans of the same file (four in an audit, all
    /// opening at once, each missing the cache the others fill) find it decoded.
    footers: Arc<datafusion::execution::cache::cache_manager::FileMetadataCache>,
    /// Summaries already read: a report's lookups ask for the same recent days more than once
    /// (the username check, then the scope), and each is read once.
    read: std::sync::Mutex<BTreeMap<String, DaySummary>>,
}

impl Days {
    /// Lists `agent_events` through the session's store.
    pub async fn list(ctx: &SessionContext, lake: &Location) -> Result<Days> {
        let url =
            datafusion::execution::object_store::ObjectStoreUrl::parse(lake.store_url.as_str())?;
        let store = ctx.runtime_env().object_store(&url)?;
        let dir = lake.child(TABLE);
        let metas: Vec<ObjectMeta> = store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| lake.store_error(e))?;
        let files = metas
            .into_iter()
            .filter_map(|m| {
                let mut parts = m.location.parts();
                let dt = loop {
                    let part = parts.next()?;
                    if let Some(dt) = part.as_ref().strip_prefix("dt=") {
                        break dt.to_string();
                    }
                };
                let name = parts.next()?;
                (name.as_ref() == PART_FILE && parts.next().is_none()).then_some((dt, m))
            })
            .collect();
        Ok(Days {
            files,
            store,
            footers: ctx.runtime_env().cache_manager.get_file_metadata_cache(),
            read: Default::default(),
        })
    }

    /// Every day with a file, oldest first.
    pub fn all(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// The days from `from` to `to`, both included.
    pub fn between(&self, from: &str, to: &str) -> Vec<String> {
        if from > to {
            return Vec::new();
        }
        self.files
            .range(from.to_string()..=to.to_string())
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// The days before `before`, newest first.
    pub fn before(&self, before: &str) -> Vec<String> {
        self.files
            .range(..before.to_string())
            .rev()
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// The days after `after`, oldest first.
    pub fn after(&self, after: &str) -> Vec<String> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.files
            .range::<String, _>((Excluded(after.to_string()), Unbounded))
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// The summaries of `days` (days without a file are left out), in the order given. Footers
    /// are read concurrently; a file without a summary is summarised from its rows.
    pub async fn summaries(
        &self,
        ctx: &SessionContext,
        lake: &Location,
        days: &[String],
    ) -> Result<Vec<(String, DaySummary)>> {
        let known = |d: &String| self.read.lock().is_ok_and(|r| r.contains_key(d));
        let missing = days
            .iter()
            .filter(|d| !known(d))
            .filter_map(|d| self.files.get_key_value(d));
        let read = futures::stream::iter(missing)
            .map(|(dt, meta)| async move {
                let found = self.footer_summary(lake, meta).await?;
                Ok::<_, Error>((dt.clone(), found))
            })
            .buffered(CONCURRENT_READS)
            .try_collect::<Vec<_>>()
            .await?;
        for (dt, found) in read {
            let summary = match found {
                Some(s) => s,
                None => from_rows(ctx, &dt).await?,
            };
            self.memo()?.insert(dt, summary);
        }
        let r = self.memo()?;
        let out = days
            .iter()
            .filter_map(|d| r.get(d).map(|s| (d.clone(), s.clone())))
            .collect();
        Ok(out)
    }

    /// Hands the summaries of `days` to `visit` in their order until it breaks: the lookups
    /// that search back or on from a report's days read a week of footers at a time
    /// (concurrently), and none past the day that ends the search.
    pub async fn walk(
        &self,
        ctx: &SessionContext,
        lake: &Location,
        days: &[String],
        mut visit: impl FnMut(String, DaySummary) -> ControlFlow<()>,
    ) -> Result<()> {
        for chunk in days.chunks(WALK_DAYS_AT_ONCE) {
            for (dt, s) in self.summaries(ctx, lake, chunk).await? {
                if visit(dt, s).is_break() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn memo(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, DaySummary>>> {
        self.read
            .lock()
            .map_err(|_| Error::Other("agent summary: a reader panicked".into()))
    }

    async fn footer_summary(
        &self,
        lake: &Location,
        meta: &ObjectMeta,
    ) -> Result<Option<DaySummary>> {
        let url = lake.url_of(&meta.location);
        let metadata = crate::commit::read_footer(&self.store, &meta.location, meta.size, true)
            .await
            .map_err(|source| Error::Store {
                url: url.clone(),
                source,
            })?
            .map_err(|source| Error::Damaged {
                url,
                lake: lake.url.clone(),
                reason: source.to_string(),
            })?;
        let summary = in_footer(&metadata);
        crate::catalog::keep_footer(self.footers.as_ref(), meta.clone(), metadata);
        Ok(summary)
    }
}

/// The summary a file's footer carries, if it is one this version reads.
pub fn in_footer(metadata: &ParquetMetaData) -> Option<DaySummary> {
    metadata
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|kv| kv.key == KEY))
        .and_then(|kv| kv.value.as_deref())
        .and_then(DaySummary::from_json)
}

/// The summary of a day's rows, for files that carry none: the same builder the commit uses.
async fn from_rows(ctx: &SessionContext, dt: &str) -> Result<DaySummary> {
    tracing::debug!(dt, "agent summary: from the rows");
    let rows = ctx
        .sql(&format!(
            "SELECT agent_arn, event_id, event_type, event_timestamp, username, agent_status_name, \
             routing_profile_arn FROM {TABLE}{} WHERE dt = '{}'",
            crate::catalog::RAW,
            dt.replace('\'', "''")
        ))
        .await?
        .collect()
        .await?;
    let mut builder = Builder::default();
    for b in &rows {
        builder.add(b)?;
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema};

    /// Rows of (ARN, username, agent status, event type, time, event id); the routing
    /// profile is always null.
    type Row<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
        i64,
        &'a str,
    );

    fn batch(rows: &[Row]) -> RecordBatch {
        let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
        let schema = Arc::new(Schema::new(vec![
            text("agent_arn", true),
            Field::new("username", DataType::Utf8View, true),
            text("agent_status_name", true),
            text("routing_profile_arn", true),
            text("event_type", false),
            Field::new(
                "event_timestamp",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            text("event_id", false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(arrow::array::StringViewArray::from_iter(
                    rows.iter().map(|r| r.1),
                )),
                Arc::new(StringArray::from_iter(rows.iter().map(|r| r.2))),
                Arc::new(StringArray::from_iter(rows.iter().map(|_| None::<&str>))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.3))),
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.4))
                        .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.5))),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_summary_keeps_names_first_changes_and_logins_per_agent() {
        let mut b = Builder::default();
        // Across batches and out of order: the builder does not rely on the commit's sort.
        b.add(&batch(&[
            ("arn:b", Some("bo"), None, "HEART_BEAT", 5, "e5"),
            ("arn:a", None, None, "LOGIN", 10, "e10"),
            ("arn:a", Some("ann"), None, "STATE_CHANGE", 11, "e11"),
        ]))
        .unwrap();
        b.add(&batch(&[
            ("arn:a", Some("ann.new"), None, "LOGOUT", 30, "e30"),
            ("arn:b", Some("bo"), None, "HEART_BEAT", 6, "e6"),
            ("arn:a", Some("ann"), None, "HEART_BEAT", 3, "e3"),
        ]))
        .unwrap();
        let s = b.finish();
        assert_eq!(
            s.agents,
            vec![
                AgentDay {
                    arn: "arn:a".into(),
                    usernames: vec!["ann".into(), "ann.new".into()],
                    first_change_us: Some(10),
                    logins: vec![Login(10, true), Login(30, false)],
                    snapshots: Some(Snapshots::Settled),
                },
                AgentDay {
                    arn: "arn:b".into(),
                    usernames: vec!["bo".into()],
                    first_change_us: None,
                    logins: vec![],
                    snapshots: Some(Snapshots::Settled),
                },
            ]
        );
        let back = DaySummary::from_json(&s.to_json().unwrap()).unwrap();
        assert_eq!(back, s);
        // Another format version is not trusted: the rows are read instead.
        let other = s
            .to_json()
            .unwrap()
            .replace("\"version\":2", "\"version\":3");
        assert!(DaySummary::from_json(&other).is_none());
        assert!(DaySummary::from_json("{not json").is_none());
    }

    #[test]
    fn a_login_without_a_snapshot_after_the_last_one_waits_for_a_later_day() {
        let cases: &[(&str, &[Row], Snapshots)] = &[
            (
                "the bare LOGIN comes last: it takes its identity from the next day",
                &[
                    ("a", Some("ann"), None, "HEART_BEAT", 5, "e5"),
                    ("a", None, None, "LOGIN", 9, "e9"),
                ],
                Snapshots::LoginWaits,
            ),
            (
                "at one instant the event id orders them, as in the views",
                &[
                    ("a", None, None, "LOGIN", 9, "e1"),
                    ("a", Some("ann"), None, "HEART_BEAT", 9, "e2"),
                ],
                Snapshots::Settled,
            ),
            (
                "the same instant, the LOGIN's id last",
                &[
                    ("a", Some("ann"), None, "HEART_BEAT", 9, "e1"),
                    ("a", None, None, "LOGIN", 9, "e2"),
                ],
                Snapshots::LoginWaits,
            ),
            (
                "a status alone is a snapshot; a bare LOGOUT takes the one before it",
                &[
                    ("a", None, None, "LOGIN", 1, "e1"),
                    ("a", None, Some("Available"), "STATE_CHANGE", 2, "e2"),
                    ("a", None, None, "LOGOUT", 3, "e3"),
                ],
                Snapshots::Settled,
            ),
            (
                "no snapshot at all",
                &[("a", None, None, "LOGOUT", 3, "e3")],
                Snapshots::None,
            ),
        ];
        for (why, rows, want) in cases {
            let mut b = Builder::default();
            b.add(&batch(rows)).unwrap();
            assert_eq!(b.finish().agents[0].snapshots, Some(*want), "{why}");
        }
    }

    #[test]
    fn a_version_1_summary_is_read_and_compared_without_the_snapshot_field() {
        let v1 = r#"{"version":1,"agents":[{"arn":"a","usernames":["ann"],"first_change_us":1,"logins":[[1,true]]}]}"#;
        let s = DaySummary::from_json(v1).unwrap();
        assert_eq!(s.agents[0].snapshots, None);
        assert!(s.agents[0].has_snapshot(), "a version-1 day with a name");
        let mut b = Builder::default();
        b.add(&batch(&[("a", Some("ann"), None, "LOGIN", 1, "e1")]))
            .unwrap();
        let rows = b.finish();
        assert_ne!(rows, s);
        assert_eq!(rows.as_version(1), s);
    }
}
