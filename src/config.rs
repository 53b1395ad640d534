//! Saved reports: `connect-lake.toml` declares the lake, the nightly input and named reports
//! (kind, zone, range, filters, an optional schedule and delivery prefix). Parsing and
//! validation only; running them is `report` and `nightly`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{NaiveDate, Weekday};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::report::Preset;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The lake: a folder, file:// or s3:// URL.
    #[serde(default = "default_lake")]
    pub lake: String,
    /// Where scheduled reports go: `<reports_root>/Reports/<prefix>/<name>-YYYY-MM-DD.csv`.
    #[serde(default = "default_reports_root")]
    pub reports_root: String,
    /// How many past days `nightly` looks back for scheduled runs it missed.
    #[serde(default = "default_catch_up")]
    pub catch_up_days: u32,
    #[serde(default)]
    pub ingest: Option<Ingest>,
    #[serde(default)]
    pub reports: BTreeMap<String, SavedReport>,
}

fn default_lake() -> String {
    "./lake".into()
}
fn default_reports_root() -> String {
    "./reports".into()
}
fn default_catch_up() -> u32 {
    7
}

/// What `nightly` ingests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ingest {
    /// Only agent events today.
    pub source: String,
    pub inputs: Vec<String>,
    /// `false` writes Parquet without page indexes, for old parquet-java readers (as
    /// `etl --no-page-index`).
    #[serde(default = "default_page_index")]
    pub page_index: bool,
    /// zstd level of the Parquet pages (as `etl --zstd-level`).
    #[serde(default = "default_zstd_level")]
    pub zstd_level: i32,
}

fn default_page_index() -> bool {
    true
}
fn default_zstd_level() -> i32 {
    crate::commit::WriteOptions::default().zstd_level
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Audit,
    LoginLogout,
    AgentActivity,
    StatusTime,
}

/// What a saved report is delivered as: CSV, or (status-time only) the team picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SavedFormat {
    #[default]
    Csv,
    Svg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    Daily,
    Weekly,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedReport {
    pub kind: Kind,
    #[serde(default = "default_tz")]
    pub tz: String,
    /// Login/Logout: a preset range (when run by hand; a scheduled run covers the previous day).
    pub range: Option<Preset>,
    /// Login/Logout: a custom range instead of a preset.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Audit: the agent (required). Login/Logout: agents to keep.
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub agents: Vec<String>,
    #[serde(default)]
    pub hierarchy: Vec<String>,
    #[serde(default)]
    pub routing_profiles: Vec<String>,
    pub schedule: Option<Schedule>,
    /// With `schedule = "weekly"`: the days it runs (`mon` … `sun`).
    #[serde(default)]
    pub days: Vec<String>,
    /// The folder under `<reports_root>/Reports/` scheduled runs are delivered to.
    #[serde(default)]
    pub prefix: String,
    /// Agent activity and status time: the length of each interval (`15m`, `30m`, `60m`, `1d`).
    pub interval: Option<crate::report::activity::Interval>,
    /// `svg` delivers status time as the team picture (`<name>-YYYY-MM-DD.svg`).
    #[serde(default)]
    pub format: SavedFormat,
}

fn default_tz() -> String {
    "UTC".into()
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::usage(format!("{}: no such config file", path.display()))
            } else {
                Error::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            let place = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].lines().count().max(1);
                    let report = text[..s.start.min(text.len())]
                        .lines()
                        .rev()
                        .find_map(|l| {
                            l.trim()
                                .strip_prefix("[reports.")
                                .and_then(|r| r.strip_suffix(']'))
                        })
                        .map(|r| format!(" (report {r})"))
                        .unwrap_or_default();
                    format!(" line {line}{report}")
                })
                .unwrap_or_default();
            Error::usage(format!("{origin}:{place}: {message}"))
        })?;
        for (name, report) in &config.reports {
            report
                .validate()
                .map_err(|e| Error::usage(format!("{origin}: report {name}: {e}")))?;
        }
        if let Some(ingest) = config
            .ingest
            .as_ref()
            .filter(|i| i.source != "agent-events")
        {
            return Err(Error::usage(format!(
                "{origin}: ingest.source: {:?} is not a source (agent-events)",
                ingest.source
            )));
        }
        if let Some(ingest) = config
            .ingest
            .as_ref()
            .filter(|i| !crate::commit::ZSTD_LEVELS.contains(&i.zstd_level))
        {
            return Err(Error::usage(format!(
                "{origin}: ingest.zstd_level: {} is not a zstd level ({} to {})",
                ingest.zstd_level,
                crate::commit::ZSTD_LEVELS.start(),
                crate::commit::ZSTD_LEVELS.end()
            )));
        }
        Ok(config)
    }

    pub fn report(&self, name: &str) -> Result<&SavedReport> {
        self.reports.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.reports.keys().map(String::as_str).collect();
            Error::usage_with_hint(
                format!("no saved report named {name:?}"),
                if names.is_empty() {
                    "the config declares no reports".into()
                } else {
                    format!("reports: {}", names.join(", "))
                },
            )
        })
    }
}

impl SavedReport {
    /// Field-level checks serde cannot express; the error names the field.
    fn validate(&self) -> std::result::Result<(), String> {
        crate::report::parse_tz(&self.tz)
            .map_err(|_| format!("field tz: unknown time zone {:?}", self.tz))?;
        match self.kind {
            Kind::Audit => {
                if self.agent.is_none() {
                    return Err("field agent: an audit report needs the agent's username".into());
                }
            }
            Kind::LoginLogout | Kind::AgentActivity | Kind::StatusTime => {
                if self.agent.is_some() {
                    return Err(
                        "field agent: this kind of report filters with agents = [...]".into(),
                    );
                }
                let activity = matches!(self.kind, Kind::AgentActivity | Kind::StatusTime);
                if activity && self.interval.is_none() {
                    return Err(
                        "field interval: give interval = \"15m\", \"30m\", \"60m\" or \"1d\""
                            .into(),
                    );
                }
                if !activity && self.interval.is_some() {
                    return Err("field interval: only for agent-activity and status-time".into());
                }
                match (&self.range, &self.from, &self.to) {
                    (Some(_), None, None) | (None, Some(_), Some(_)) => {}
                    (None, None, None) if self.schedule.is_some() => {}
                    _ => return Err("field range: give range, or from and to".into()),
                }
            }
        }
        if self.format == SavedFormat::Svg && self.kind != Kind::StatusTime {
            return Err("field format: svg is for status-time reports".into());
        }
        match self.schedule {
            Some(Schedule::Weekly) => {
                if self.days.is_empty() {
                    return Err(
                        "field days: a weekly schedule needs days, e.g. [\"mon\", \"thu\"]".into(),
                    );
                }
                self.weekdays()?;
            }
            _ if !self.days.is_empty() => {
                return Err("field days: only for schedule = \"weekly\"".into());
            }
            _ => {}
        }
        if self.prefix.contains("..") || self.prefix.starts_with('/') {
            return Err(format!(
                "field prefix: {:?} must be a relative folder",
                self.prefix
            ));
        }
        Ok(())
    }

    pub fn weekdays(&self) -> std::result::Result<Vec<Weekday>, String> {
        self.days
            .iter()
            .map(|d| {
                d.parse::<Weekday>()
                    .map_err(|_| format!("field days: {d:?} is not a weekday (mon … sun)"))
            })
            .collect()
    }

    /// Whether a scheduled run happens at 00:00 of `day` (local).
    pub fn runs_on(&self, day: NaiveDate) -> bool {
        use chrono::Datelike;
        match self.schedule {
            Some(Schedule::Daily) => true,
            Some(Schedule::Weekly) => self.weekdays().is_ok_and(|w| w.contains(&day.weekday())),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
lake = "./lake"
reports_root = "./out"

[ingest]
source = "agent-events"
inputs = ["./firehose"]

[reports.daily-logins]
kind = "login-logout"
tz = "America/New_York"
range = "yesterday"
hierarchy = ["Seattle"]
schedule = "daily"
prefix = "ops"

[reports.alice]
kind = "audit"
agent = "alice"
schedule = "weekly"
days = ["mon", "thu"]
"#;

    #[test]
    fn a_config_with_both_kinds_parses() {
        let c = Config::parse(GOOD, "t.toml").unwrap();
        assert_eq!(c.reports.len(), 2);
        assert_eq!(c.ingest.as_ref().map(|i| i.zstd_level), Some(1));
        let r = c.report("alice").unwrap();
        assert!(r.runs_on(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())); // a Monday
        assert!(!r.runs_on(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()));
        assert!(
            c.report("daily-logins")
                .unwrap()
                .runs_on(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
        );
        assert!(
            c.report("nope")
                .unwrap_err()
                .to_string()
                .contains("no saved report")
        );
    }

    #[test]
    fn errors_name_the_report_and_the_field() {
        let cases = [
            (
                GOOD.replace("range = \"yesterday\"", "range = \"last-week\""),
                "report daily-logins",
            ),
            (
                GOOD.replace("tz = \"America/New_York\"", "tz = \"Mars/Base\""),
                "report daily-logins: field tz",
            ),
            (
                GOOD.replace("agent = \"alice\"\n", ""),
                "report alice: field agent",
            ),
            (
                GOOD.replace("days = [\"mon\", \"thu\"]", "days = [\"funday\"]"),
                "report alice: field days",
            ),
            (
                GOOD.replace("prefix = \"ops\"", "prefix = \"ops\"\ncolour = \"red\""),
                "report daily-logins",
            ),
            (
                GOOD.replace(
                    "inputs = [\"./firehose\"]",
                    "inputs = [\"./firehose\"]\nzstd_level = 0",
                ),
                "ingest.zstd_level: 0 is not a zstd level",
            ),
        ];
        for (text, want) in cases {
            let e = Config::parse(&text, "t.toml").unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} lacks {want:?}");
            assert!(e.starts_with("t.toml"), "{e}");
        }
    }
}
