//! The command line: clap definitions and one function per subcommand that turns arguments
//! into library calls. Validation of values (dates, URLs, rates) happens at parse time.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commit::WriteOptions;
use crate::config::{Config, Kind};
use crate::decode::lake_rows::{EpochUnit, InputFormat};
use crate::error::{Error, Result};
use crate::etl::{self, EtlOptions, SourceKind};
use crate::output::{self, Format};
use crate::store::{self, Location, S3Options};
use crate::{catalog, generate, nightly, report};

#[derive(Debug, Parser)]
#[command(
    name = "connect-lake",
    version,
    about = "Amazon Connect agent events as a daily-partitioned Parquet lake, with SQL reports"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub s3: S3Args,
    /// No progress bar.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct S3Args {
    /// S3-compatible endpoint (default: AWS_ENDPOINT_URL, else AWS).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Allow plain http to the S3 endpoint (local test servers).
    #[arg(long, global = true)]
    pub s3_allow_http: bool,
    /// Seconds one S3 request may take before it is retried.
    #[arg(long, global = true, default_value_t = store::DEFAULT_TIMEOUT_SECS, value_name = "SECS")]
    pub s3_timeout: f64,
    /// Retries of a failed S3 request (5xx, timeout), with exponential backoff.
    #[arg(long, global = true, default_value_t = store::DEFAULT_RETRIES, value_name = "N")]
    pub s3_retries: usize,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load raw input into the lake: decode, deduplicate, partition by day, commit atomically.
    #[command(
        after_help = "Example:\n  connect-lake etl --source agent-events --lake ./lake ./firehose/2026/11/24"
    )]
    Etl(EtlArgs),
    /// Run read-only SQL over the lake's tables and views.
    #[command(
        after_help = "Examples:\n  connect-lake query --lake ./lake \"SELECT status, count(*) FROM agent_status_intervals GROUP BY 1\"\n  connect-lake query --lake ./lake --format csv -f report.sql\n  echo 'SHOW TABLES' | connect-lake query --lake ./lake"
    )]
    Query(QueryArgs),
    /// The console's agent reports: activity audit and Login/Logout, with no row cap.
    #[command(subcommand)]
    Report(ReportCommand),
    /// The nightly batch job: ingest what arrived since the last run, deliver due reports.
    #[command(after_help = "Example:\n  connect-lake nightly --config connect-lake.toml")]
    Nightly(NightlyArgs),
    /// Write realistic, deterministic agent event streams laid out as Firehose objects.
    #[command(
        after_help = "Example:\n  connect-lake generate --out ./input --agents 20 --days 3 --start 2026-11-22 --seed 7 --dup-rate 0.01 --late-rate 0.01 --bad-rate 0.001"
    )]
    Generate(GenerateArgs),
    /// Read every file of every table and report what is wrong; --repair fixes what is safe.
    #[command(
        after_help = "Examples:\n  connect-lake check --lake ./lake\n  connect-lake check --lake s3://bucket/lake --repair --lock-wait 5m"
    )]
    Check(CheckArgs),
    /// Print CREATE EXTERNAL TABLE statements for Athena or Spark, from the table schemas.
    #[command(
        after_help = "Examples:\n  connect-lake ddl --engine athena --location s3://bucket/lake --database connect\n  connect-lake ddl --engine spark --location /data/lake | spark-sql -f /dev/stdin"
    )]
    Ddl(DdlArgs),
}

/// How a writing run takes the lake's writer lease.
#[derive(Debug, Args)]
pub struct LeaseArgs {
    /// How long to wait for another run's lease before giving up (e.g. 30s, 10m).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_wait: std::time::Duration,
    /// Object stores: how long a lease lives between renewals; a crashed run's lease is taken
    /// over this long after its last renewal.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub lease_ttl: std::time::Duration,
}

impl LeaseArgs {
    fn options(&self) -> crate::lake::lease::LeaseOptions {
        crate::lake::lease::LeaseOptions {
            wait: self.lock_wait,
            ttl: self.lease_ttl,
        }
    }
}

fn parse_duration(text: &str) -> std::result::Result<std::time::Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration (30s, 10m, 1h): {e}"))
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The lake: a folder, file:// or s3://bucket/prefix.
    #[arg(long, default_value = "./lake")]
    pub lake: String,
    /// Remove temporaries and stale leases, move foreign and unreadable files to _quarantine/.
    #[arg(long)]
    pub repair: bool,
    #[command(flatten)]
    pub lease: LeaseArgs,
}

#[derive(Debug, Args)]
pub struct DdlArgs {
    #[arg(long, value_enum)]
    pub engine: crate::ddl::Engine,
    /// Where the lake is, as the engine reaches it (s3://bucket/prefix, a path, …).
    #[arg(long)]
    pub location: String,
    /// Qualify every table with this database (and create it).
    #[arg(long)]
    pub database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Every status one agent was in during one local day (the agent activity audit).
    #[command(
        after_help = "Example:\n  connect-lake report audit --lake ./lake --agent jdoe --date 2026-11-24 --tz America/New_York"
    )]
    Audit(AuditArgs),
    /// One row per login session in a range, filtered by agent, hierarchy group or routing profile.
    #[command(
        after_help = "Examples:\n  connect-lake report login-logout --lake ./lake --range yesterday --tz Europe/Dublin\n  connect-lake report login-logout --lake ./lake --from 2026-11-24T08:00 --to 2026-11-24T18:00 --hierarchy Seattle --format table"
    )]
    LoginLogout(LoginLogoutArgs),
    /// Per agent and interval: online, on-contact, idle, incoming, after-contact-work,
    /// non-productive and error seconds, occupancy and contacts handled (Connect's agent
    /// metrics for any range, zone and interval).
    #[command(
        after_help = "Examples:\n  connect-lake report agent-activity --lake ./lake --interval 30m --range yesterday --tz America/New_York\n  connect-lake report agent-activity --lake ./lake --interval 1d --from 2026-11-01T00:00 --to 2026-12-01T00:00 --hierarchy Seattle"
    )]
    AgentActivity(ActivityArgs),
    /// Per agent, interval and audit status: the seconds spent in it; --format svg draws the
    /// team's day.
    #[command(
        after_help = "Examples:\n  connect-lake report status-time --lake ./lake --interval 60m --date 2026-11-24 --tz Europe/Dublin\n  connect-lake report status-time --lake ./lake --interval 1d --range yesterday --format svg --output team.svg"
    )]
    StatusTime(ActivityArgs),
    /// Run a report saved in the config file by name.
    #[command(
        after_help = "Example:\n  connect-lake report run daily-logins --config connect-lake.toml --format table"
    )]
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The report's name in the config file.
    pub name: String,
    #[arg(long, default_value = "connect-lake.toml")]
    pub config: PathBuf,
    /// The clock: an instant with an offset, or a local time in the report's zone.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// For an audit report: the local day (default: yesterday).
    #[arg(long, value_parser = parse_date)]
    pub date: Option<chrono::NaiveDate>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Csv)]
    pub format: ReportFormat,
    /// Write to this file or object-store URL (atomically) instead of stdout.
    #[arg(long, short, value_name = "PATH|URL")]
    pub output: Option<String>,
}

#[derive(Debug, Args)]
pub struct NightlyArgs {
    #[arg(long, default_value = "connect-lake.toml")]
    pub config: PathBuf,
    /// The clock, for reproducible runs (an instant with an offset).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Nights an input object that cannot be read is retried before the ledger records it
    /// as failed.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub max_attempts: u32,
    #[command(flatten)]
    pub lease: LeaseArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// CSV with the report's fixed header.
    Csv,
    /// Aligned columns for a terminal.
    Table,
    /// One JSON array of objects.
    Json,
    /// A timeline picture of the day (report audit only).
    Svg,
}

impl ReportFormat {
    fn rows(self) -> Result<Format> {
        match self {
            ReportFormat::Csv => Ok(Format::Csv),
            ReportFormat::Table => Ok(Format::Table),
            ReportFormat::Json => Ok(Format::Json),
            ReportFormat::Svg => Err(Error::usage(
                "--format svg draws an audit: use it with `report audit`",
            )),
        }
    }
}

#[derive(Debug, Args)]
pub struct ReportCommon {
    /// The lake: a folder, file:// or s3://bucket/prefix.
    #[arg(long, default_value = "./lake")]
    pub lake: String,
    /// IANA time zone the report's days and times are in.
    #[arg(long, default_value = "UTC", value_parser = parse_tz)]
    pub tz: chrono_tz::Tz,
    /// The clock, for reproducible runs: an instant with an offset, or a local time in --tz.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Csv)]
    pub format: ReportFormat,
    /// Write to this file or object-store URL (atomically) instead of stdout.
    #[arg(long, short, value_name = "PATH|URL")]
    pub output: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub common: ReportCommon,
    /// The agent's username.
    #[arg(long)]
    pub agent: String,
    /// The local day, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub date: chrono::NaiveDate,
}

/// The filters of the range reports: OR within a kind, AND across kinds.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only these agents (repeatable).
    #[arg(long = "agent", value_name = "USERNAME")]
    pub agents: Vec<String>,
    /// Only agents in a hierarchy group of this name, at any level (repeatable).
    #[arg(long = "hierarchy", value_name = "NAME")]
    pub hierarchy: Vec<String>,
    /// Only agents with this routing profile (repeatable).
    #[arg(long = "routing-profile", value_name = "NAME")]
    pub routing_profiles: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ActivityArgs {
    #[command(flatten)]
    pub common: ReportCommon,
    /// The length of each interval: buckets aligned on local midnight of --tz.
    #[arg(long, value_enum)]
    pub interval: report::activity::Interval,
    /// One local day, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date, conflicts_with_all = ["range", "from", "to"])]
    pub date: Option<chrono::NaiveDate>,
    /// A preset range, as in the console.
    #[arg(long, value_enum, conflicts_with_all = ["from", "to"], required_unless_present_any = ["from", "date"])]
    pub range: Option<crate::report::Preset>,
    /// Start of a custom range (inclusive): local time in --tz, or with an offset.
    #[arg(long, requires = "to", value_name = "TIME")]
    pub from: Option<String>,
    /// End of a custom range (exclusive).
    #[arg(long, requires = "from", value_name = "TIME")]
    pub to: Option<String>,
    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Debug, Args)]
pub struct LoginLogoutArgs {
    #[command(flatten)]
    pub common: ReportCommon,
    /// A preset range, as in the console.
    #[arg(long, value_enum, conflicts_with_all = ["from", "to"], required_unless_present_all = ["from", "to"])]
    pub range: Option<crate::report::Preset>,
    /// Start of a custom range (inclusive): local time in --tz, or with an offset.
    #[arg(long, requires = "to", value_name = "TIME")]
    pub from: Option<String>,
    /// End of a custom range (exclusive).
    #[arg(long, requires = "from", value_name = "TIME")]
    pub to: Option<String>,
    #[command(flatten)]
    pub filters: FilterArgs,
}

fn parse_tz(text: &str) -> std::result::Result<chrono_tz::Tz, String> {
    text.parse::<chrono_tz::Tz>().map_err(|_| {
        format!("{text:?} is not an IANA time zone (e.g. America/New_York, Europe/Dublin, UTC)")
    })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SourceArg {
    /// Amazon Connect agent event stream records (JSON).
    AgentEvents,
    /// Data-lake table contact_flow_events (NDJSON, CSV or Parquet exports).
    ContactFlowEvents,
    /// Data-lake table connect_test_case_execution_results (NDJSON, CSV or Parquet exports).
    TestCaseResults,
}

#[derive(Debug, Args)]
pub struct EtlArgs {
    /// What the input is.
    #[arg(long, value_enum)]
    pub source: SourceArg,
    /// The lake: a folder, file:// or s3://bucket/prefix.
    #[arg(long, default_value = "./lake")]
    pub lake: String,
    /// Input files, folders (read recursively, in name order) or object-store prefixes.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Also write the run's accounting as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// MiB of decoded rows held in memory before they spill to local disk.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub memory_mib: usize,
    /// Folder for spill files (default: the system temp folder).
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
    /// Write Parquet without page indexes (for old parquet-java readers).
    #[arg(long)]
    pub no_page_index: bool,
    /// zstd level of the Parquet pages: higher packs tighter and costs more CPU per commit.
    #[arg(long, default_value_t = crate::commit::WriteOptions::default().zstd_level,
          value_parser = clap::value_parser!(i32).range(
              i64::from(*crate::commit::ZSTD_LEVELS.start())..=i64::from(*crate::commit::ZSTD_LEVELS.end())
          ), value_name = "LEVEL")]
    pub zstd_level: i32,
    /// Data-lake exports: the input format (default: told per object by content and name).
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// Data-lake exports: what epoch numbers in timestamp columns count.
    #[arg(long, value_enum, default_value = "ms")]
    pub epoch_unit: EpochUnit,
    /// Largest a gzip object may inflate to, in MiB; past it the rest of the object is one
    /// reject (Firehose objects are at most 128 MiB).
    #[arg(long, default_value_t = crate::etl::DEFAULT_MAX_OBJECT_MIB, value_name = "MIB")]
    pub max_object_mib: usize,
    #[command(flatten)]
    pub lease: LeaseArgs,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The lake: a folder, file:// or s3://bucket/prefix.
    #[arg(long, default_value = "./lake")]
    pub lake: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Read the SQL from this file.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "sql"
    )]
    pub file: Option<PathBuf>,
    /// The SQL; read from stdin when neither it nor -f is given.
    pub sql: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output folder (Firehose layout yyyy/mm/dd/HH/ below it).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 20)]
    pub agents: u32,
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// First day, YYYY-MM-DD (UTC).
    #[arg(long, value_parser = parse_date, default_value = "2026-11-22")]
    pub start: chrono::NaiveDate,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = generate::Framing::Firehose)]
    pub format: generate::Framing,
    /// gzip every object.
    #[arg(long)]
    pub gzip: bool,
    /// Share of events delivered twice (0..1).
    #[arg(long, value_parser = parse_rate, default_value = "0")]
    pub dup_rate: f64,
    /// Share of events delivered in a later day's objects (0..1).
    #[arg(long, value_parser = parse_rate, default_value = "0")]
    pub late_rate: f64,
    /// Share of records truncated or replaced by garbage (0..1).
    #[arg(long, value_parser = parse_rate, default_value = "0")]
    pub bad_rate: f64,
    /// Which LOGIN and LOGOUT records carry a current snapshot: none (as Connect sends them),
    /// some (both shapes mixed) or all (as the documentation's samples show them).
    #[arg(long, value_enum, default_value_t = generate::LoginSnapshots::None)]
    pub login_snapshots: generate::LoginSnapshots,
    /// Agent configurations: compact (three hierarchy levels, one to three queues, records of
    /// about 2.8 KB) or large (five levels, two to six queues, long names: about 5 KB).
    #[arg(long, value_enum, default_value_t = generate::Shape::Compact)]
    pub shape: generate::Shape,
    /// Also write contact_flow_events and test case result exports of the same contacts,
    /// one file per table and UTC day, under this folder.
    #[arg(long, value_name = "DIR")]
    pub data_lake_out: Option<PathBuf>,
    /// Format of the data-lake exports.
    #[arg(long, value_enum, default_value_t = generate::ExportFormat::Ndjson)]
    pub data_lake_format: generate::ExportFormat,
    /// Test case executions per day in the data-lake exports.
    #[arg(long, default_value_t = 12, value_name = "N")]
    pub test_runs_per_day: u32,
    /// Write only the data-lake exports, not the agent events.
    #[arg(long, requires = "data_lake_out")]
    pub no_agent_events: bool,
}

fn parse_date(text: &str) -> std::result::Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("{text:?} is not a YYYY-MM-DD date: {e}"))
}

fn parse_rate(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("{text:?} is not a rate between 0 and 1")),
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    if !(cli.s3.s3_timeout.is_finite() && cli.s3.s3_timeout > 0.0) {
        return Err(Error::usage(format!(
            "--s3-timeout {}: give a number of seconds above 0",
            cli.s3.s3_timeout
        )));
    }
    let s3 = S3Options {
        endpoint: cli.s3.s3_endpoint.clone(),
        allow_http: cli.s3.s3_allow_http,
        timeout: std::time::Duration::from_secs_f64(cli.s3.s3_timeout.min(86_400.0)),
        retries: cli.s3.s3_retries,
    };
    match cli.command {
        Command::Etl(args) => etl_command(args, &s3, !cli.quiet).await,
        Command::Query(args) => query_command(args, &s3).await,
        Command::Report(ReportCommand::Audit(args)) => {
            let now = now(&args.common)?;
            let request = report::Audit {
                agent: args.agent,
                date: args.date,
                tz: args.common.tz,
                now,
            };
            let lake = Location::parse(&args.common.lake, &s3, false)?;
            let stream = report::audit(&lake, &request).await?;
            if args.common.format == ReportFormat::Svg {
                let day = report::local_day(request.date, request.tz);
                let slices = report::slices(stream).await?;
                let svg =
                    crate::timeline::svg(&request.agent, request.date, request.tz, day, &slices);
                return output::document(svg, args.common.output.as_deref(), &s3).await;
            }
            deliver(
                stream,
                args.common.format,
                args.common.output.as_deref(),
                &s3,
            )
            .await
        }
        Command::Report(ReportCommand::AgentActivity(args)) => {
            let (lake, request) = activity_request(&args, &s3)?;
            if args.common.format == ReportFormat::Svg {
                return Err(Error::usage_with_hint(
                    "--format svg draws status-time and audit reports",
                    "use `report status-time --format svg` for the team's day",
                ));
            }
            let stream = report::activity::agent_activity(&lake, &request).await?;
            deliver(
                stream,
                args.common.format,
                args.common.output.as_deref(),
                &s3,
            )
            .await
        }
        Command::Report(ReportCommand::StatusTime(args)) => {
            let (lake, request) = activity_request(&args, &s3)?;
            if args.common.format == ReportFormat::Svg {
                let rows = report::activity::team_timeline(&lake, &request).await?;
                let svg = crate::timeline::team_svg(request.tz, request.window, &rows);
                return output::document(svg, args.common.output.as_deref(), &s3).await;
            }
            let stream = report::activity::status_time(&lake, &request).await?;
            deliver(
                stream,
                args.common.format,
                args.common.output.as_deref(),
                &s3,
            )
            .await
        }
        Command::Report(ReportCommand::Run(args)) => run_saved(args, &s3).await,
        Command::Nightly(args) => {
            let config = Config::load(&args.config)?;
            let now = match &args.now {
                Some(text) => report::parse_instant(text, chrono_tz::UTC)?,
                None => chrono::Utc::now(),
            };
            let options = nightly::NightlyOptions {
                max_attempts: args.max_attempts.max(1),
                lease: args.lease.options(),
            };
            let outcome = nightly::run(&config, now, &s3, !cli.quiet, &options).await?;
            for line in outcome.lines() {
                output::line(&line)?;
            }
            if outcome.failed() {
                return Err(Error::Other(
                    "nightly: some reports failed or some input objects could not be read (see above); run it again".into(),
                ));
            }
            Ok(())
        }
        Command::Check(args) => {
            let lake = Location::parse(&args.lake, &s3, false)?;
            crate::lake::check_lake(&lake).await?;
            let lease_before = crate::lake::lease::inspect(&lake).await?;
            let report = if args.repair {
                crate::lake::write_leased(
                    &lake,
                    "check --repair",
                    &args.lease.options(),
                    async |publisher| {
                        crate::lake::check::check(&lake, Some(publisher), lease_before).await
                    },
                )
                .await?
            } else {
                crate::lake::check::check(&lake, None, lease_before).await?
            };
            for finding in &report.findings {
                output::line(&finding.line())?;
            }
            output::line(&report.summary())?;
            if report.clean() {
                Ok(())
            } else {
                Err(Error::Other(format!(
                    "{}: the lake has problems (see above)",
                    lake.url
                )))
            }
        }
        Command::Report(ReportCommand::LoginLogout(args)) => {
            let now = now(&args.common)?;
            let tz = args.common.tz;
            let window = report::window(
                args.range,
                args.from.as_deref(),
                args.to.as_deref(),
                tz,
                now,
            )?
            .ok_or_else(|| Error::usage("give --range, or --from and --to"))?;
            let request = report::LoginLogout {
                window,
                tz,
                agents: args.filters.agents,
                hierarchy: args.filters.hierarchy,
                routing_profiles: args.filters.routing_profiles,
            };
            let lake = Location::parse(&args.common.lake, &s3, false)?;
            let stream = report::login_logout(&lake, &request).await?;
            deliver(
                stream,
                args.common.format,
                args.common.output.as_deref(),
                &s3,
            )
            .await
        }
        Command::Ddl(args) => output::text(&crate::ddl::script(
            args.engine,
            &args.location,
            args.database.as_deref(),
        )?),
        Command::Generate(args) => {
            let stats = generate::generate(&generate::GenerateOptions {
                out: args.out,
                agents: args.agents,
                days: args.days,
                start: args.start,
                seed: args.seed,
                framing: args.format,
                gzip: args.gzip,
                dup_rate: args.dup_rate,
                late_rate: args.late_rate,
                bad_rate: args.bad_rate,
                login_snapshots: args.login_snapshots,
                shape: args.shape,
                data_lake_out: args.data_lake_out,
                data_lake_format: args.data_lake_format,
                test_runs_per_day: args.test_runs_per_day,
                agent_events: !args.no_agent_events,
            })?;
            output::line(&stats.line())
        }
    }
}

async fn etl_command(args: EtlArgs, s3: &S3Options, progress: bool) -> Result<()> {
    let source = match args.source {
        SourceArg::AgentEvents => SourceKind::AgentEvents,
        SourceArg::ContactFlowEvents => SourceKind::ContactFlowEvents,
        SourceArg::TestCaseResults => SourceKind::TestCaseResults,
    };
    if source == SourceKind::AgentEvents && args.format.is_some() {
        return Err(Error::usage(
            "--format is for data-lake exports; agent events are always JSON",
        ));
    }
    let inputs = args
        .inputs
        .iter()
        .map(|i| Location::parse(i, s3, false))
        .collect::<Result<Vec<_>>>()?;
    let lake = Location::parse(&args.lake, s3, true)?;
    let summary = etl::run(EtlOptions {
        source,
        lake,
        inputs,
        write: WriteOptions {
            page_index: !args.no_page_index,
            zstd_level: args.zstd_level,
        },
        memory_budget: args.memory_mib.saturating_mul(1 << 20),
        spill_dir: args.spill_dir,
        progress,
        format: args.format,
        epoch_unit: args.epoch_unit,
        lease: args.lease.options(),
        keep_going: false,
        max_object_bytes: args.max_object_mib.saturating_mul(1 << 20),
    })
    .await?;
    for message in &summary.reject_messages {
        eprintln!("connect-lake: rejected: {message}");
    }
    if summary.rejected as usize > summary.reject_messages.len() {
        eprintln!(
            "connect-lake: rejected: … and {} more (all in {}/)",
            summary.rejected as usize - summary.reject_messages.len(),
            crate::lake::REJECTED_DIR
        );
    }
    for message in &summary.warning_messages {
        eprintln!("connect-lake: warning: {message} (stored as null, event kept)");
    }
    if summary.warnings as usize > summary.warning_messages.len() {
        eprintln!(
            "connect-lake: warning: … and {} more fields of the wrong type",
            summary.warnings as usize - summary.warning_messages.len()
        );
    }
    if let Some(path) = &args.summary_json {
        let text =
            serde_json::to_string_pretty(&summary).map_err(|e| Error::Other(e.to_string()))?;
        std::fs::write(path, text + "\n").map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    }
    output::line(&format!("etl: {}", summary.line()))
}

/// `report run NAME`: a saved report, run now (an audit covers yesterday unless --date says).
async fn run_saved(args: RunArgs, s3: &S3Options) -> Result<()> {
    let config = Config::load(&args.config)?;
    let saved = config.report(&args.name)?;
    let tz = report::parse_tz(&saved.tz)?;
    let now = match &args.now {
        Some(text) => report::parse_instant(text, tz)?,
        None => chrono::Utc::now(),
    };
    let lake = Location::parse(&config.lake, s3, false)?;
    let stream = match saved.kind {
        Kind::Audit => {
            let yesterday = report::local_date(now, tz).pred_opt().unwrap_or_default();
            let request = report::Audit {
                agent: saved.agent.clone().unwrap_or_default(),
                date: args.date.unwrap_or(yesterday),
                tz,
                now,
            };
            report::audit(&lake, &request).await?
        }
        Kind::LoginLogout => {
            let window = report::window(
                saved.range,
                saved.from.as_deref(),
                saved.to.as_deref(),
                tz,
                now,
            )?
            .unwrap_or_else(|| report::Preset::Yesterday.window(tz, now));
            let request = report::LoginLogout {
                window,
                tz,
                agents: saved.agents.clone(),
                hierarchy: saved.hierarchy.clone(),
                routing_profiles: saved.routing_profiles.clone(),
            };
            report::login_logout(&lake, &request).await?
        }
        Kind::AgentActivity | Kind::StatusTime => {
            let window = match args.date {
                Some(date) => report::local_day(date, tz),
                None => report::window(
                    saved.range,
                    saved.from.as_deref(),
                    saved.to.as_deref(),
                    tz,
                    now,
                )?
                .unwrap_or_else(|| report::Preset::Yesterday.window(tz, now)),
            };
            let request = report::activity::Activity {
                window,
                tz,
                interval: saved.interval.unwrap_or(report::activity::Interval::M60),
                now,
                agents: saved.agents.clone(),
                hierarchy: saved.hierarchy.clone(),
                routing_profiles: saved.routing_profiles.clone(),
            };
            if args.format == ReportFormat::Svg {
                if saved.kind != Kind::StatusTime {
                    return Err(Error::usage("--format svg draws status-time reports"));
                }
                let rows = report::activity::team_timeline(&lake, &request).await?;
                let svg = crate::timeline::team_svg(tz, request.window, &rows);
                return output::document(svg, args.output.as_deref(), s3).await;
            }
            if saved.kind == Kind::AgentActivity {
                report::activity::agent_activity(&lake, &request).await?
            } else {
                report::activity::status_time(&lake, &request).await?
            }
        }
    };
    deliver(stream, args.format, args.output.as_deref(), s3).await
}

fn now(common: &ReportCommon) -> Result<chrono::DateTime<chrono::Utc>> {
    match &common.now {
        Some(text) => report::parse_instant(text, common.tz),
        None => Ok(chrono::Utc::now()),
    }
}

/// The lake and request of `agent-activity` and `status-time`.
fn activity_request(
    args: &ActivityArgs,
    s3: &S3Options,
) -> Result<(Location, report::activity::Activity)> {
    let now = now(&args.common)?;
    let tz = args.common.tz;
    let window = match args.date {
        Some(date) => report::local_day(date, tz),
        None => report::window(
            args.range,
            args.from.as_deref(),
            args.to.as_deref(),
            tz,
            now,
        )?
        .ok_or_else(|| Error::usage("give --date, --range or --from and --to"))?,
    };
    let lake = Location::parse(&args.common.lake, s3, false)?;
    Ok((
        lake,
        report::activity::Activity {
            window,
            tz,
            interval: args.interval,
            now,
            agents: args.filters.agents.clone(),
            hierarchy: args.filters.hierarchy.clone(),
            routing_profiles: args.filters.routing_profiles.clone(),
        },
    ))
}

/// A report's rows to stdout, streamed, or to `--output` as one atomic write.
async fn deliver(
    stream: datafusion::physical_plan::SendableRecordBatchStream,
    format: ReportFormat,
    target: Option<&str>,
    s3: &S3Options,
) -> Result<()> {
    match target {
        None => {
            let mut out = output::Stdout::lock();
            output::write_stream(stream, format.rows()?, &mut out).await
        }
        Some(target) => {
            let mut bytes = Vec::new();
            output::write_stream(stream, format.rows()?, &mut bytes).await?;
            output::write_object(target, bytes, s3).await
        }
    }
}

async fn query_command(args: QueryArgs, s3: &S3Options) -> Result<()> {
    let sql = match (&args.sql, &args.file) {
        (Some(sql), _) => sql.clone(),
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?,
        (None, None) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| Error::Io {
                    path: "<stdin>".into(),
                    source,
                })?;
            text
        }
    };
    if sql.trim().is_empty() {
        return Err(Error::usage(
            "no SQL given (as an argument, with -f FILE, or on stdin)",
        ));
    }
    let lake = Location::parse(&args.lake, s3, false)?;
    let ctx = catalog::open_for(&lake, &sql).await?;
    let plan = ctx
        .state()
        .create_logical_plan(&sql)
        .await
        .map_err(|e| Error::usage(format!("SQL: {}", plain(&e))))?;
    catalog::read_only().verify_plan(&plan).map_err(|e| {
        Error::usage_with_hint(
            format!(
                "query is read-only: {} refused",
                plain(&e).replace(" not supported", "")
            ),
            "use `connect-lake etl` to change the lake; CREATE, INSERT, COPY and SET are refused",
        )
    })?;
    let stream = ctx
        .execute_logical_plan(plan)
        .await?
        .execute_stream()
        .await?;
    let mut out = output::Stdout::lock();
    output::write_stream(stream, args.format, &mut out).await
}

/// A planning error's message without DataFusion's category prefix, on one line.
fn plain(e: &datafusion::error::DataFusionError) -> String {
    use datafusion::error::DataFusionError;
    let text = match e.find_root() {
        DataFusionError::Plan(m) | DataFusionError::SQL(_, Some(m)) => m.clone(),
        DataFusionError::SchemaError(inner, _) => inner.to_string(),
        other => other.to_string(),
    };
    text.lines().next().unwrap_or_default().to_string()
}
