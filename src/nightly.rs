//! The nightly batch job: ingest the input objects not yet in the lake's ledger, then deliver
//! every scheduled report that is due, catching up the days a missed night skipped. Each step
//! is safe to repeat: the ledger is written after the data is committed (a failed run is run
//! again), and a report already delivered is not produced twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use object_store::ObjectStoreExt;

use crate::config::{Config, Kind, SavedReport};
use crate::error::Result;
use crate::etl::{self, EtlOptions, SourceKind, Summary};
use crate::lake::{self, lease::LeaseOptions, publish::Publisher};
use crate::ledger::{self, Ledger, LedgerEntry, Pending};
use crate::output::{self, Format};
use crate::report;
use crate::source::{self, InputObject};
use crate::store::{Location, S3Options};

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
                "nightly: ingest: {url} FAILED in earlier nights, not retried (remove its lines under _ledger/ to retry): {reason}"
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
        let ledger = Ledger::read(lake).await?;
        // Each input from where the last night's listing ended (less the look-back; see
        // `ledger`), and every object still pending a retry, wherever it sorts.
        let mut objects = Vec::new();
        let mut cursors = BTreeMap::new();
        for input in &inputs {
            let offset = ledger.start_after(input);
            let listed = source::list_input_after(input, offset.as_ref()).await?;
            if listed.is_empty() && offset.is_none() {
                return Err(source::no_objects(input));
            }
            if let Some(last) = listed.last() {
                cursors.insert(input.url.clone(), last.meta.location.to_string());
            }
            objects.extend(listed);
        }
        let listed: std::collections::HashSet<String> =
            objects.iter().map(InputObject::url).collect();
        let mut retry = Vec::new();
        for entry in ledger.entries() {
            let Some(p) = entry.pending.as_ref() else {
                continue;
            };
            if p.failed {
                outcome
                    .failed_before
                    .push((entry.url.clone(), p.reason.clone()));
            } else if !listed.contains(&entry.url) {
                retry.push(entry.url.clone());
            }
        }
        for url in retry {
            if let Some(object) = pending_object(&inputs, &url).await? {
                objects.push(object);
            }
        }
        // Known: ingested, or given up on. Objects that failed to read on fewer nights than
        // allowed are tried again.
        let (known, new): (Vec<InputObject>, Vec<InputObject>) =
            objects.into_iter().partition(|o| {
                ledger
                    .get(o)
                    .is_some_and(|e| e.pending.as_ref().is_none_or(|p| p.failed))
            });
        outcome.known_objects = known.len();
        outcome.new_objects = new.len();
        let mut lines = Vec::new();
        if !new.is_empty() {
            let etl_options = EtlOptions {
                source: SourceKind::AgentEvents,
                lake: lake.clone(),
                inputs,
                write: crate::commit::WriteOptions {
                    page_index: ingest.page_index,
                    zstd_level: ingest.zstd_level,
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
                let (path, size, version) = ledger::key_of(o);
                let url = o.url();
                let pending = match unreadable.get(url.as_str()) {
                    None => None,
                    Some(reason) => {
                        let attempts = ledger
                            .get(o)
                            .and_then(|e| e.pending.as_ref())
                            .map_or(0, |p| p.attempts)
                            + 1;
                        let failed = attempts >= options.max_attempts;
                        outcome.unreadable.push((
                            url.clone(),
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
                lines.push(LedgerEntry {
                    url,
                    path: Some(path),
                    size,
                    version,
                    pending,
                });
            }
            outcome.ingest = Some(summary);
        }
        ledger.append(publisher, lake, lines, cursors).await?;
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

/// The object behind a pending ledger line that tonight's listings did not reach (it sorts
/// before their start): looked up in the input its URL is under. Gone is `None`: the line
/// stays pending and the object is not counted.
async fn pending_object(inputs: &[Location], url: &str) -> Result<Option<InputObject>> {
    for input in inputs {
        let Some(rest) = url.strip_prefix(input.url.trim_end_matches('/')) else {
            continue;
        };
        let path = if rest.is_empty() {
            input.prefix.clone()
        } else {
            input.child(rest.trim_start_matches('/'))
        };
        return match input.store.head(&path).await {
            Ok(meta) => Ok(Some(InputObject {
                location: input.clone(),
                meta,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(input.store_error(e)),
        };
    }
    Ok(None)
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
