//! The nightly batch job: ingest the input objects not yet in the lake's ledger, then deliver
//! every scheduled report that is due, catching up the days a missed night skipped. Each step
//! is safe to repeat: the ledger is written after the data is committed (a failed run is run
//! again), and a report already delivered is not produced twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use crate::config::{Config, Kind, SavedReport};
use crate::error::{Error, Result};
use crate::etl::{self, EtlOptions, SourceKind, Summary};
use crate::lake::{self, lease::LeaseOptions, publish::Publisher};
use crate::output::{self, Format};
use crate::report;
use crate::source::{self, InputObject};
use crate::store::{Location, S3Options};

/// One input object, as the ledger records it: ingested (every row it produced committed),
/// or not readable at all so far (`pending`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub url: String,
    pub size: u64,
    /// The store's ETag, or the modification time where there is none.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// An object that could not be read: on how many nights, why, and whether it is given up on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pending {
    pub attempts: u32,
    pub reason: String,
    /// Given up after `--max-attempts` nights: no longer retried, reported every night.
    pub failed: bool,
}

type Key = (String, u64, String);

impl LedgerEntry {
    fn key_of(object: &InputObject) -> Key {
        (
            object.url(),
            object.meta.size,
            object
                .meta
                .e_tag
                .clone()
                .unwrap_or_else(|| object.meta.last_modified.to_rfc3339()),
        )
    }
}

const LEDGER: &str = "_ledger/agent-events.ndjson";

async fn read_ledger(lake: &Location) -> Result<BTreeMap<Key, Option<Pending>>> {
    let path = lake.child(LEDGER);
    let bytes = match lake.store.get(&path).await {
        Ok(got) => got.bytes().await.map_err(|e| lake.store_error(e))?,
        Err(object_store::Error::NotFound { .. }) => return Ok(BTreeMap::new()),
        Err(e) => return Err(lake.store_error(e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str::<LedgerEntry>(l)
                .map(|e| ((e.url, e.size, e.version), e.pending))
                .map_err(|e| Error::Other(format!("{}: line {}: {e}", lake.url_of(&path), i + 1)))
        })
        .collect()
}

async fn write_ledger(
    publisher: &Publisher<'_>,
    lake: &Location,
    entries: &BTreeMap<Key, Option<Pending>>,
) -> Result<()> {
    let mut out = Vec::new();
    for ((url, size, version), pending) in entries {
        let entry = LedgerEntry {
            url: url.clone(),
            size: *size,
            version: version.clone(),
            pending: pending.clone(),
        };
        serde_json::to_writer(&mut out, &entry).map_err(|e| Error::Other(e.to_string()))?;
        out.push(b'\n');
    }
    publisher
        .put(&lake.child(LEDGER), bytes::Bytes::from(out))
        .await
}

/// How a nightly run behaves.
#[derive(Debug, Clone)]
pub struct NightlyOptions {
    /// Nights an unreadable input object is retried before it is recorded as failed.
    pub max_attempts: u32,
    pub lease: LeaseOptions,
}

/// What one nightly run did.
#[derive(Debug, Default)]
pub struct NightlyReport {
    pub new_objects: usize,
    pub known_objects: usize,
    /// Objects that could not be read tonight: URL, attempts so far, reason, given up.
    pub unreadable: Vec<(String, u32, String, bool)>,
    /// Objects given up on in earlier nights: URL and reason (reported every night).
    pub failed_before: Vec<(String, String)>,
    pub ingest: Option<Summary>,
    /// (report, run day, delivered to, outcome)
    pub deliveries: Vec<(
        String,
        chrono::NaiveDate,
        String,
        std::result::Result<(), String>,
    )>,
}

impl NightlyReport {
    pub fn failed(&self) -> bool {
        self.deliveries.iter().any(|d| d.3.is_err()) || !self.unreadable.is_empty()
    }

    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![match &self.ingest {
            Some(s) => format!(
                "nightly: ingest: {} new objects ({} already in the ledger): {}",
                self.new_objects,
                self.known_objects,
                s.line()
            ),
            None => format!(
                "nightly: ingest: nothing new ({} objects already in the ledger)",
                self.known_objects
            ),
        }];
        for (url, attempts, reason, failed) in &self.unreadable {
            lines.push(if *failed {
                format!(
                    "nightly: ingest: {url} could not be read ({attempts} nights): recorded as failed in the ledger: {reason}"
                )
            } else {
                format!(
                    "nightly: ingest: {url} could not be read (night {attempts}), retried next night: {reason}"
                )
            });
        }
        for (url, reason) in &self.failed_before {
            lines.push(format!(
                "nightly: ingest: {url} FAILED in earlier nights, not retried (remove its ledger line to retry): {reason}"
            ));
        }
        if self.deliveries.is_empty() {
            lines.push("nightly: reports: none due".into());
        }
        for (name, day, target, outcome) in &self.deliveries {
            lines.push(match outcome {
                Ok(()) => format!("nightly: report {name} of {day}: written {target}"),
                Err(e) => format!("nightly: report {name} of {day}: FAILED: {e}"),
            });
        }
        lines
    }
}

pub async fn run(
    config: &Config,
    now: DateTime<Utc>,
    s3: &S3Options,
    progress: bool,
    options: &NightlyOptions,
) -> Result<NightlyReport> {
    let lake = Location::parse(&config.lake, s3, true)?;
    lake::ensure_lake(&lake).await?;
    // One lease for the whole job: ingest, ledger and deliveries (which read the lake).
    lake::write_leased(&lake, "nightly", &options.lease, async |publisher| {
        run_leased(config, now, s3, progress, options, &lake, publisher).await
    })
    .await
}

async fn run_leased(
    config: &Config,
    now: DateTime<Utc>,
    s3: &S3Options,
    progress: bool,
    options: &NightlyOptions,
    lake: &Location,
    publisher: &Publisher<'_>,
) -> Result<NightlyReport> {
    let mut outcome = NightlyReport::default();

    if let Some(ingest) = &config.ingest {
        let inputs = ingest
            .inputs
            .iter()
            .map(|i| Location::parse(i, s3, false))
            .collect::<Result<Vec<_>>>()?;
        let mut ledger = read_ledger(lake).await?;
        let objects = source::list_inputs(&inputs).await?;
        // Known: ingested, or given up on. Objects that failed to read on fewer nights than
        // allowed are tried again.
        let (known, new): (Vec<InputObject>, Vec<InputObject>) =
            objects.into_iter().partition(|o| {
                ledger
                    .get(&LedgerEntry::key_of(o))
                    .is_some_and(|p| p.as_ref().is_none_or(|p| p.failed))
            });
        for ((url, _, _), pending) in &ledger {
            if let Some(p) = pending.as_ref().filter(|p| p.failed) {
                outcome.failed_before.push((url.clone(), p.reason.clone()));
            }
        }
        outcome.known_objects = known.len();
        outcome.new_objects = new.len();
        if !new.is_empty() {
            let etl_options = EtlOptions {
                source: SourceKind::AgentEvents,
                lake: lake.clone(),
                inputs,
                write: crate::commit::WriteOptions {
                    page_index: ingest.page_index,
                    ..Default::default()
                },
                memory_budget: 256 << 20,
                spill_dir: None,
                progress,
                format: None,
                epoch_unit: Default::default(),
                lease: options.lease.clone(),
                keep_going: true,
                max_object_bytes: etl::DEFAULT_MAX_OBJECT_MIB << 20,
            };
            let summary = etl::load(&etl_options, &new, publisher).await?;
            // Only after the data is committed: a run that fails before this is run again
            // whole, and records nothing.
            let unreadable: BTreeMap<&str, &str> = summary
                .unreadable
                .iter()
                .map(|(u, r)| (u.as_str(), r.as_str()))
                .collect();
            for o in &new {
                let key = LedgerEntry::key_of(o);
                let pending = match unreadable.get(key.0.as_str()) {
                    None => None,
                    Some(reason) => {
                        let attempts = ledger
                            .get(&key)
                            .and_then(|p| p.as_ref())
                            .map_or(0, |p| p.attempts)
                            + 1;
                        let failed = attempts >= options.max_attempts;
                        outcome.unreadable.push((
                            key.0.clone(),
                            attempts,
                            reason.to_string(),
                            failed,
                        ));
                        Some(Pending {
                            attempts,
                            reason: reason.to_string(),
                            failed,
                        })
                    }
                };
                ledger.insert(key, pending);
            }
            outcome.ingest = Some(summary);
            write_ledger(publisher, lake, &ledger).await?;
        }
    }

    let scheduled: Vec<(&String, &SavedReport)> = config
        .reports
        .iter()
        .filter(|(_, r)| r.schedule.is_some())
        .collect();
    if scheduled.is_empty() {
        return Ok(outcome);
    }
    for (name, saved) in scheduled {
        let tz = report::parse_tz(&saved.tz)?;
        let today = report::local_date(now, tz);
        for back in (0..=i64::from(config.catch_up_days)).rev() {
            let day = today - Duration::days(back);
            if !saved.runs_on(day) {
                continue;
            }
            let target = delivery_path(config, name, saved, day);
            if delivered(&target, s3).await {
                continue;
            }
            let result = deliver_scheduled(lake, saved, day, tz, &target, s3)
                .await
                .map_err(|e| e.to_string());
            outcome.deliveries.push((name.clone(), day, target, result));
        }
    }
    Ok(outcome)
}

/// `<reports_root>/Reports/<prefix>/<name>-YYYY-MM-DD.csv`, dated the day the report runs.
pub fn delivery_path(
    config: &Config,
    name: &str,
    saved: &SavedReport,
    day: chrono::NaiveDate,
) -> String {
    let root = config.reports_root.trim_end_matches('/');
    let prefix = saved.prefix.trim_matches('/');
    let folder = if prefix.is_empty() {
        format!("{root}/Reports")
    } else {
        format!("{root}/Reports/{prefix}")
    };
    let extension = match saved.format {
        crate::config::SavedFormat::Csv => "csv",
        crate::config::SavedFormat::Svg => "svg",
    };
    format!("{folder}/{name}-{day}.{extension}")
}

async fn delivered(target: &str, s3: &S3Options) -> bool {
    if target.starts_with("s3://") {
        match Location::parse(target, s3, false) {
            Ok(l) => l.store.head(&l.prefix).await.is_ok(),
            Err(_) => false,
        }
    } else {
        std::path::Path::new(target.strip_prefix("file://").unwrap_or(target)).exists()
    }
}

/// A scheduled run at 00:00 of `day` covers the previous local day.
async fn deliver_scheduled(
    lake: &Location,
    saved: &SavedReport,
    day: chrono::NaiveDate,
    tz: chrono_tz::Tz,
    target: &str,
    s3: &S3Options,
) -> Result<()> {
    let covered = day.pred_opt().unwrap_or(day);
    let run_at = report::local_midnight(day, tz);
    let stream = match saved.kind {
        Kind::Audit => {
            let request = report::Audit {
                agent: saved.agent.clone().unwrap_or_default(),
                date: covered,
                tz,
                now: run_at,
            };
            report::audit(lake, &request).await?
        }
        Kind::LoginLogout => {
            let request = report::LoginLogout {
                window: report::local_day(covered, tz),
                tz,
                agents: saved.agents.clone(),
                hierarchy: saved.hierarchy.clone(),
                routing_profiles: saved.routing_profiles.clone(),
            };
            report::login_logout(lake, &request).await?
        }
        Kind::AgentActivity | Kind::StatusTime => {
            let request = report::activity::Activity {
                window: report::local_day(covered, tz),
                tz,
                interval: saved.interval.unwrap_or(report::activity::Interval::M60),
                now: run_at,
                agents: saved.agents.clone(),
                hierarchy: saved.hierarchy.clone(),
                routing_profiles: saved.routing_profiles.clone(),
            };
            if saved.format == crate::config::SavedFormat::Svg {
                let rows = report::activity::team_timeline(lake, &request).await?;
                let svg = crate::timeline::team_svg(tz, request.window, &rows);
                return output::document(svg, Some(target), s3).await;
            }
            if saved.kind == Kind::AgentActivity {
                report::activity::agent_activity(lake, &request).await?
            } else {
                report::activity::status_time(lake, &request).await?
            }
        }
    };
    let mut bytes = Vec::new();
    output::write_stream(stream, Format::Csv, &mut bytes).await?;
    output::write_object(target, bytes, s3).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_paths_follow_connect_naming() {
        let config = Config::parse(
            "reports_root = \"s3://b/x/\"\n[reports.logins]\nkind = \"login-logout\"\nschedule = \"daily\"\nprefix = \"ops/\"\n",
            "t",
        )
        .unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(
            delivery_path(&config, "logins", config.report("logins").unwrap(), day),
            "s3://b/x/Reports/ops/logins-2026-11-25.csv"
        );
    }
}
