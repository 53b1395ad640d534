//! The nightly batch job: ingest the input objects not yet in the lake's ledger, then deliver
//! every scheduled report that is due, catching up the days a missed night skipped. Each step
//! is safe to repeat: the ledger is written after the data is committed (a failed run is run
//! again), and a report already delivered is not produced twice.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::config::{Config, Kind, SavedReport};
use crate::error::{Error, Result};
use crate::etl::{self, EtlOptions, SourceKind, Summary};
use crate::lake;
use crate::output::{self, Format};
use crate::report;
use crate::source::{self, InputObject};
use crate::store::{Location, S3Options};

/// One ingested input object, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub url: String,
    pub size: u64,
    /// The store's ETag, or the modification time where there is none.
    pub version: String,
}

impl LedgerEntry {
    fn of(object: &InputObject) -> LedgerEntry {
        LedgerEntry {
            url: object.url(),
            size: object.meta.size,
            version: object
                .meta
                .e_tag
                .clone()
                .unwrap_or_else(|| object.meta.last_modified.to_rfc3339()),
        }
    }
}

const LEDGER: &str = "_ledger/agent-events.ndjson";

async fn read_ledger(lake: &Location) -> Result<BTreeSet<LedgerEntry>> {
    let path = lake.child(LEDGER);
    let bytes = match lake.store.get(&path).await {
        Ok(got) => got.bytes().await.map_err(|e| lake.store_error(e))?,
        Err(object_store::Error::NotFound { .. }) => return Ok(BTreeSet::new()),
        Err(e) => return Err(lake.store_error(e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::Other(format!("{}: line {}: {e}", lake.url_of(&path), i + 1)))
        })
        .collect()
}

async fn write_ledger(lake: &Location, entries: &BTreeSet<LedgerEntry>) -> Result<()> {
    let mut out = Vec::new();
    for e in entries {
        serde_json::to_writer(&mut out, e).map_err(|e| Error::Other(e.to_string()))?;
        out.push(b'\n');
    }
    let path = lake.child(LEDGER);
    lake.store
        .put(&path, PutPayload::from(out))
        .await
        .map_err(|e| lake.store_error(e))?;
    Ok(())
}

/// What one nightly run did.
#[derive(Debug, Default)]
pub struct NightlyReport {
    pub new_objects: usize,
    pub known_objects: usize,
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
        self.deliveries.iter().any(|d| d.3.is_err())
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
) -> Result<NightlyReport> {
    let lake = Location::parse(&config.lake, s3, true)?;
    lake::ensure_lake(&lake).await?;
    let mut outcome = NightlyReport::default();

    if let Some(ingest) = &config.ingest {
        let inputs = ingest
            .inputs
            .iter()
            .map(|i| Location::parse(i, s3, false))
            .collect::<Result<Vec<_>>>()?;
        let mut ledger = read_ledger(&lake).await?;
        let objects = source::list_inputs(&inputs).await?;
        let (known, new): (Vec<InputObject>, Vec<InputObject>) = objects
            .into_iter()
            .partition(|o| ledger.contains(&LedgerEntry::of(o)));
        outcome.known_objects = known.len();
        outcome.new_objects = new.len();
        if !new.is_empty() {
            let options = EtlOptions {
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
            };
            outcome.ingest = Some(etl::load(&options, &new).await?);
            // Only after the data is committed: a run that fails before this is run again whole.
            ledger.extend(new.iter().map(LedgerEntry::of));
            write_ledger(&lake, &ledger).await?;
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
            let result = deliver_scheduled(&lake, saved, day, tz, &target, s3)
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
    format!("{folder}/{name}-{day}.csv")
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
