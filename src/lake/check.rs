//! `connect-lake check`: reads every file of every table and reports, one line each, what a
//! lake should never hold: unreadable partition files (not Parquet, truncated, the wrong
//! schema), files the lake does not own (a second `.parquet` in a partition, which queries read
//! but no run deduplicates), duplicate primary keys, rows in the wrong `dt`, temporary objects
//! left by interrupted runs, and a stale writer lease. `--repair` does the safe repairs only:
//! removes temporaries (a stale lease is taken over by the repair's own lease and released),
//! and moves foreign and unreadable files to `_quarantine/` with a note beside each.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::Serialize;

use super::publish::{Publisher, STAGING};
use super::{MARKER, REJECTED_DIR, lease};
use crate::commit::{self, PART_FILE};
use crate::error::{Error, Result};
use crate::partition;
use crate::schema;
use crate::store::Location;
use crate::summary;

/// Where `--repair` moves files the lake cannot use: `_quarantine/<their path>`.
pub const QUARANTINE: &str = "_quarantine";
/// Top-level folders of the lake's own (not tables).
const OWN_DIRS: &[&str] = &[REJECTED_DIR, "_ledger", QUARANTINE, STAGING];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    Unreadable,
    Foreign,
    DuplicateKeys,
    WrongDay,
    WrongSummary,
    Temporary,
    StaleLease,
}

impl Problem {
    fn label(self) -> &'static str {
        match self {
            Problem::Unreadable => "unreadable",
            Problem::Foreign => "foreign file",
            Problem::DuplicateKeys => "duplicate keys",
            Problem::WrongDay => "rows in the wrong dt",
            Problem::WrongSummary => "agent summary differs from the rows",
            Problem::Temporary => "temporary",
            Problem::StaleLease => "stale lease",
        }
    }

    /// What `--repair` does about it, if anything.
    fn repair(self) -> Option<&'static str> {
        match self {
            Problem::Unreadable | Problem::Foreign => Some("moved to _quarantine/"),
            Problem::Temporary => Some("removed"),
            Problem::StaleLease => Some("taken over and released"),
            Problem::DuplicateKeys | Problem::WrongDay | Problem::WrongSummary => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub problem: Problem,
    pub url: String,
    pub detail: String,
    /// Set when `--repair` fixed it.
    pub repaired: bool,
}

impl Finding {
    pub fn line(&self) -> String {
        let repaired = match (self.repaired, self.problem.repair()) {
            (true, Some(what)) => format!(" [{what}]"),
            _ => String::new(),
        };
        format!(
            "check: {}: {}: {}{repaired}",
            self.problem.label(),
            self.url,
            self.detail
        )
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub files: usize,
    pub rows: u64,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Clean: nothing found, or everything found repaired.
    pub fn clean(&self) -> bool {
        self.findings.iter().all(|f| f.repaired)
    }

    pub fn summary(&self) -> String {
        let open = self.findings.iter().filter(|f| !f.repaired).count();
        let repaired = self.findings.len() - open;
        format!(
            "check: {} table files, {} rows read: {} problems{}",
            self.files,
            self.rows,
            open,
            if repaired > 0 {
                format!(" ({repaired} repaired)")
            } else {
                String::new()
            }
        )
    }
}

/// Checks the lake; with `repair`, a publisher holding the lease, repairs what is safe.
/// `lease_before` is what the lease object said before the repair took the lease.
pub async fn check(
    lake: &Location,
    repair: Option<&Publisher<'_>>,
    lease_before: Option<(Option<lease::Holder>, bool)>,
) -> Result<Report> {
    let mut report = Report::default();
    if let Some((holder, true)) = &lease_before {
        report.findings.push(Finding {
            problem: Problem::StaleLease,
            url: lake.url_of(&lake.child(lease::LEASE)),
            detail: match holder {
                Some(h) => format!("left by {}, expired {}", h.describe(), h.expires),
                None => "unreadable and expired".into(),
            },
            // The repair's own lease took it over.
            repaired: repair.is_some(),
        });
    }
    if let Some(p) = repair.filter(|p| p.removed_staging > 0) {
        report.findings.push(Finding {
            problem: Problem::Temporary,
            url: lake.url_of(&lake.child(STAGING)),
            detail: format!(
                "{} files left by interrupted runs (staged files, upload temporaries at the root)",
                p.removed_staging
            ),
            repaired: true,
        });
    }
    // object_store's local listing hides its own upload temporaries (`name#N`): a local lake
    // is walked on disk for them.
    if let Some(root) = lake.fs_path(&lake.prefix) {
        for path in walk(&root).into_iter().filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains('#'))
        }) {
            let mut finding = Finding {
                problem: Problem::Temporary,
                url: format!("file://{}", path.display()),
                detail: "left by an interrupted write".into(),
                repaired: false,
            };
            if repair.is_some() {
                std::fs::remove_file(&path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                finding.repaired = true;
            }
            report.findings.push(finding);
        }
    }
    let objects: Vec<object_store::ObjectMeta> = lake
        .store
        .list(Some(&lake.prefix))
        .try_collect()
        .await
        .map_err(|e| lake.store_error(e))?;
    let tables: BTreeMap<&str, _> = schema::tables()?
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let own_run = repair.map(|p| p.lease().holder().run_id.clone());
    for meta in objects {
        let Some(relative) = meta
            .location
            .prefix_match(&lake.prefix)
            .map(|parts| parts.map(|p| p.as_ref().to_string()).collect::<Vec<_>>())
        else {
            continue;
        };
        let url = lake.url_of(&meta.location);
        let name = relative.last().cloned().unwrap_or_default();
        let top = relative.first().map(String::as_str).unwrap_or_default();
        let temporary = name.contains('#')
            || (top == STAGING && own_run.as_deref() != relative.get(1).map(String::as_str))
            || (tables.contains_key(top) && name.starts_with('_'));
        if temporary {
            report.findings.push(Finding {
                problem: Problem::Temporary,
                url,
                detail: "left by an interrupted write".into(),
                repaired: false,
            });
            if let Some(p) = repair {
                remove(lake, &meta.location).await?;
                let _ = p;
                if let Some(f) = report.findings.last_mut() {
                    f.repaired = true;
                }
            }
            continue;
        }
        if relative.len() == 1 && (name == MARKER || name == lease::LEASE) {
            continue;
        }
        if OWN_DIRS.contains(&top) {
            continue;
        }
        let Some(table) = tables.get(top) else {
            report.findings.push(Finding {
                problem: Problem::Foreign,
                url,
                detail: "not a file of any table (left in place)".into(),
                repaired: false,
            });
            continue;
        };
        let day = relative
            .get(1)
            .and_then(|d| d.strip_prefix(&format!("{}=", schema::PARTITION_COLUMN)))
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let owned = relative.len() == 3 && name == PART_FILE && day.is_some();
        if !owned {
            let finding = Finding {
                problem: Problem::Foreign,
                url,
                detail: format!(
                    "not the partition's {PART_FILE}: queries read it but no run deduplicates it"
                ),
                repaired: false,
            };
            quarantine_or_report(lake, repair, &meta.location, finding, &mut report).await?;
            continue;
        }
        report.files += 1;
        let schema = table.arrow_schema()?;
        let bytes = match lake.store.get(&meta.location).await {
            Ok(got) => got.bytes().await.map_err(|e| lake.store_error(e))?,
            Err(e) => return Err(lake.store_error(e)),
        };
        let footer = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&bytes)
            .ok();
        let batch = match commit::decode_file(bytes, &schema, &url) {
            Ok(batch) => batch,
            Err(e) => {
                let detail = match e {
                    Error::Parquet { source, .. } => source.to_string(),
                    other => other.to_string(),
                };
                let finding = Finding {
                    problem: Problem::Unreadable,
                    url,
                    detail,
                    repaired: false,
                };
                quarantine_or_report(lake, repair, &meta.location, finding, &mut report).await?;
                continue;
            }
        };
        report.rows += batch.num_rows() as u64;
        let duplicates = commit::duplicate_keys(&batch, table)?;
        if duplicates > 0 {
            report.findings.push(Finding {
                problem: Problem::DuplicateKeys,
                url: url.clone(),
                detail: format!(
                    "{duplicates} rows repeat a primary key ({})",
                    table.primary_key.join(", ")
                ),
                repaired: false,
            });
        }
        // Reports choose the days and agents they read by the footer's summary: one that
        // does not describe the rows would make them miss some.
        if let Some(said) = footer.as_ref().and_then(summary::in_footer) {
            let mut rows = summary::Builder::default();
            rows.add(&batch)?;
            if rows.finish().as_version(said.version) != said {
                report.findings.push(Finding {
                    problem: Problem::WrongSummary,
                    url: url.clone(),
                    detail: format!(
                        "the footer's {} does not describe the file's rows; reports may miss agents of this day",
                        summary::KEY
                    ),
                    repaired: false,
                });
            }
        }
        let folder_day = day.map(|d| {
            partition::day_of(
                d.and_hms_opt(0, 0, 0)
                    .map_or(0, |t| t.and_utc().timestamp_micros()),
            )
        });
        let wrong = partition::split_by_day(&batch, &table.partition_timestamp)?
            .into_iter()
            .filter(|(d, _)| Some(*d) != folder_day)
            .map(|(_, b)| b.num_rows())
            .sum::<usize>();
        if wrong > 0 {
            report.findings.push(Finding {
                problem: Problem::WrongDay,
                url,
                detail: format!(
                    "{wrong} rows whose {} is not on this day",
                    table.partition_timestamp
                ),
                repaired: false,
            });
        }
    }
    report
        .findings
        .sort_by(|a, b| (a.problem, &a.url).cmp(&(b.problem, &b.url)));
    Ok(report)
}

/// Every file under `dir` on the local file system.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

async fn remove(lake: &Location, path: &Path) -> Result<()> {
    match lake.store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(lake.store_error(e)),
    }
}

/// Moves a file to `_quarantine/<its path in the lake>` with `<…>.note.json` beside it
/// saying why, when repairing; else reports it.
async fn quarantine_or_report(
    lake: &Location,
    repair: Option<&Publisher<'_>>,
    path: &Path,
    mut finding: Finding,
    report: &mut Report,
) -> Result<()> {
    if let Some(publisher) = repair {
        let relative: Vec<String> = path
            .prefix_match(&lake.prefix)
            .map(|p| p.map(|x| x.as_ref().to_string()).collect())
            .unwrap_or_default();
        let target = lake.child(&format!("{QUARANTINE}/{}", relative.join("/")));
        let note = lake.child(&format!("{QUARANTINE}/{}.note.json", relative.join("/")));
        let text = serde_json::json!({
            "moved_from": finding.url,
            "problem": finding.problem,
            "reason": finding.detail,
            "moved_at": chrono::Utc::now().to_rfc3339(),
            "by_run": publisher.lease().holder().run_id,
        })
        .to_string();
        publisher
            .put(&note, bytes::Bytes::from(text + "\n"))
            .await?;
        lake.store
            .rename(path, &target)
            .await
            .map_err(|e| lake.store_error(e))?;
        finding.repaired = true;
    }
    report.findings.push(finding);
    Ok(())
}
