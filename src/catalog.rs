//! The catalog: opens a lake as a DataFusion session. Every table of `schemas/` becomes a
//! listing table over its `dt=` folders with the declared schema (no inference), then the
//! views of `sql/` are created in dependency order. Knows nothing of Connect JSON.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};

use crate::error::{Error, Result};
use crate::functions;
use crate::lake;
use crate::schema::{self, PARTITION_COLUMN};
use crate::store::Location;

/// The views of `sql/`, file stem = view name, in the order they must be created.
pub const VIEWS: &[(&str, &str)] = &[
    (
        "agent_contact_status",
        include_str!("../sql/agent_contact_status.sql"),
    ),
    (
        "agent_events_resolved",
        include_str!("../sql/agent_events_resolved.sql"),
    ),
    (
        "agent_status_intervals",
        include_str!("../sql/agent_status_intervals.sql"),
    ),
    (
        "login_logout_sessions",
        include_str!("../sql/login_logout_sessions.sql"),
    ),
    (
        "agent_activity_segments",
        include_str!("../sql/agent_activity_segments.sql"),
    ),
    (
        "contact_flow_paths",
        include_str!("../sql/contact_flow_paths.sql"),
    ),
    ("test_case_runs", include_str!("../sql/test_case_runs.sql")),
    (
        "contact_journeys",
        include_str!("../sql/contact_journeys.sql"),
    ),
];

/// A session over the lake at `lake`: tables and views registered, ready for SQL.
pub async fn open(lake: &Location) -> Result<SessionContext> {
    let ctx = session(lake, "", false).await?;
    register_views(&ctx, VIEWS).await?;
    Ok(ctx)
}

/// As [`open`], with only the views `sql` reads registered (those it names and the ones they
/// read): planning a view costs about as much as a query, so `query "SELECT 1"` or one over a
/// table plans none. A statement that lists tables (`SHOW`, `DESCRIBE`, `information_schema`)
/// gets them all.
pub async fn open_for(lake: &Location, sql: &str) -> Result<SessionContext> {
    let ctx = session(lake, "", false).await?;
    register_views(&ctx, &views_read_by(sql)).await?;
    Ok(ctx)
}

/// The views of [`VIEWS`] a statement can read, in creation order. Names are matched in the
/// text (a name in a comment or a string only registers a view too many).
fn views_read_by(sql: &str) -> Vec<(&'static str, &'static str)> {
    let text = sql.to_lowercase();
    if ["information_schema", "show", "describe"]
        .iter()
        .any(|w| text.contains(w))
    {
        return VIEWS.to_vec();
    }
    let mut wanted: Vec<bool> = VIEWS.iter().map(|(name, _)| text.contains(name)).collect();
    // A view reads only views created before it: walking back adds what each wanted one reads.
    for i in (0..VIEWS.len()).rev() {
        if wanted[i] {
            for j in 0..i {
                if VIEWS[i].1.contains(VIEWS[j].0) {
                    wanted[j] = true;
                }
            }
        }
    }
    VIEWS
        .iter()
        .zip(wanted)
        .filter(|(_, w)| *w)
        .map(|(v, _)| *v)
        .collect()
}

/// A part of the lake: UTC days from `dt_from` (to `dt_to`) of some agents (or all). Reports
/// that need only that part see only it, so the scan prunes every other partition and row group.
#[derive(Debug, Clone)]
pub struct Scope {
    pub dt_from: String,
    /// The last day, or every day from `dt_from` on.
    pub dt_to: Option<String>,
    /// Only these agents, or all.
    pub agent_arns: Option<Vec<String>>,
    /// When not empty: each agent's own days (within `dt_from..=dt_to`), and no other agent.
    /// The Login/Logout report reads each agent from its last LOGOUT before the range to the
    /// end of its last session, instead of every agent over the widest of those spans.
    pub agent_days: Vec<AgentDays>,
}

/// Some agents' rows of the days `from..=to` (`to`: `None` for every later day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDays {
    pub from: String,
    pub to: Option<String>,
    pub arns: Vec<String>,
}

/// Suffix of the tables of a session opened with [`open_raw`].
pub const RAW: &str = "__lake";

/// For reports: a session with the tables registered as `<table>__lake` and no views, to look
/// up what part of the lake a report needs; [`scope`] then adds the views over that part. One
/// session for both keeps the file listings and Parquet footers it has read.
pub async fn open_raw(lake: &Location) -> Result<SessionContext> {
    session(lake, RAW, true).await
}

/// As [`open_raw`], with DataFusion's parallel plans: for reports that derive every agent's
/// day (agent-activity, status-time), where splitting the windows and joins by agent across
/// cores pays (`report agent-activity --range yesterday` on the bench lake: about 320 ms
/// against 370 ms on one stream, 7 runs each, alternated).
pub async fn open_raw_parallel(lake: &Location) -> Result<SessionContext> {
    session(lake, RAW, false).await
}

/// A report reads a few agents or a few days: splitting that work across cores costs more in
/// planning and exchange than it saves (`report login-logout --range yesterday` on the bench
/// lake: 129 ms with one stream per scan, 151 ms with repartitioning, median of 21 runs; the
/// audit unchanged). Ad-hoc `query` keeps DataFusion's defaults for whole-lake scans.
///
/// Each file is also a scan partition of its own (up to [`FILES_APART`] files a scan): the
/// files' declared order ([`file_order`]) then holds per partition, and the agent windows merge
/// the day files instead of sorting them (`report login-logout --range yesterday` on a 10-day
/// lake: 210 → 194 ms, 11 runs each, alternated; the audit unchanged).
fn small_scans(config: &mut SessionConfig) {
    config.options_mut().execution.target_partitions = FILES_APART;
    let optimizer = &mut config.options_mut().optimizer;
    optimizer.enable_round_robin_repartition = false;
    optimizer.repartition_windows = false;
    optimizer.repartition_joins = false;
    optimizer.repartition_aggregations = false;
    optimizer.repartition_sorts = false;
    optimizer.repartition_file_scans = false;
}

/// Files a report's scan keeps in partitions of their own; past it, files share partitions and
/// the windows sort them (the same rows, at the cost of a sort).
const FILES_APART: usize = 32;

/// DataFusion settings from `CONNECT_LAKE_DATAFUSION` (`key=value` pairs separated by `;`, as
/// in `datafusion.optimizer.max_passes=1`), applied over the ones above: for measuring a
/// setting, or for a lake whose queries want other ones, without a rebuild. DataFusion's own
/// `SessionConfig::from_env` (`DATAFUSION_*` variables) starts from its defaults, so the
/// settings above would override the user's instead. A key DataFusion does not know is a
/// usage error (exit code 2) naming it.
fn tuned(config: &mut SessionConfig, settings: Option<&str>) -> Result<()> {
    let Some(settings) = settings else {
        return Ok(());
    };
    for pair in settings.split(';').filter(|p| !p.trim().is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            Error::usage_with_hint(
                format!("CONNECT_LAKE_DATAFUSION: {pair:?} is not key=value"),
                "as in CONNECT_LAKE_DATAFUSION=datafusion.optimizer.max_passes=1",
            )
        })?;
        config
            .options_mut()
            .set(key.trim(), value.trim())
            .map_err(|e| Error::usage(format!("CONNECT_LAKE_DATAFUSION: {e}")))?;
    }
    Ok(())
}

/// Reads the footers (with their page indexes) of `table`'s files of `days` into the
/// session's footer cache, in the background, while the caller goes on planning: the scans
/// then open those files without a footer read of their own (about 3 ms of an audit's
/// `agent_event_contacts` scan). What fails here is left for the scan to meet and report.
pub fn prefetch_footers(
    ctx: &SessionContext,
    lake: &Location,
    table: &str,
    days: &[String],
) -> Result<tokio::task::JoinHandle<()>> {
    use object_store::ObjectStoreExt;
    let url = datafusion::execution::object_store::ObjectStoreUrl::parse(lake.store_url.as_str())?;
    let store = ctx.runtime_env().object_store(&url)?;
    let cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
    let paths: Vec<_> = days
        .iter()
        .map(|d| {
            lake.child(&format!(
                "{table}/{PARTITION_COLUMN}={d}/{}",
                crate::commit::PART_FILE
            ))
        })
        .collect();
    // The handle is for tests to wait on; dropped, the reads go on.
    let reads = futures::future::join_all(paths.into_iter().map(move |path| {
        let (store, cache) = (store.clone(), cache.clone());
        async move {
            let Ok(meta) = store.head(&path).await else {
                return;
            };
            if let Ok(Ok(footer)) = crate::commit::read_footer(&store, &path, meta.size, true).await
            {
                keep_footer(cache.as_ref(), meta, footer);
            }
        }
    }));
    Ok(tokio::spawn(async move {
        reads.await;
    }))
}

/// Puts a footer read through the session's (pinned) store into the session's footer cache,
/// keyed and validated as DataFusion's Parquet reader does: by path, size and modification
/// time of the file as listed.
pub(crate) fn keep_footer(
    cache: &datafusion::execution::cache::cache_manager::FileMetadataCache,
    meta: object_store::ObjectMeta,
    footer: parquet::file::metadata::ParquetMetaData,
) {
    use datafusion::datasource::physical_plan::parquet::metadata::CachedParquetMetaData;
    use datafusion::execution::cache::cache_manager::CachedFileMetadataEntry;
    let path = meta.location.clone();
    let footer = Arc::new(CachedParquetMetaData::new(Arc::new(footer)));
    cache.put(&path, CachedFileMetadataEntry::new(meta, footer));
}

/// Defines every table of a raw session as a view over the rows of `scope` only, then the
/// views of `sql/` that `views` names (in their order in [`VIEWS`]) on top: planning a view
/// costs about as much as a report's query, so a report registers only what it reads.
pub async fn scope(ctx: &SessionContext, scope: &Scope, views: &[&str]) -> Result<()> {
    let quote = |v: &str| format!("'{}'", v.replace('\'', "''"));
    let arn_in = |arns: &[String]| {
        if arns.is_empty() {
            "FALSE".to_string()
        } else {
            let arns: Vec<String> = arns.iter().map(|a| quote(a)).collect();
            format!("agent_arn IN ({})", arns.join(", "))
        }
    };
    let mut days = vec![format!("{PARTITION_COLUMN} >= {}", quote(&scope.dt_from))];
    if let Some(to) = &scope.dt_to {
        days.push(format!("{PARTITION_COLUMN} <= {}", quote(to)));
    }
    let mut agent_filters: Vec<String> = scope.agent_arns.iter().map(|a| arn_in(a)).collect();
    if !scope.agent_days.is_empty() {
        let spans: Vec<String> = scope
            .agent_days
            .iter()
            .map(|d| {
                let to =
                    d.to.as_ref()
                        .map(|t| format!(" AND {PARTITION_COLUMN} <= {}", quote(t)))
                        .unwrap_or_default();
                format!(
                    "({PARTITION_COLUMN} >= {}{to} AND {})",
                    quote(&d.from),
                    arn_in(&d.arns)
                )
            })
            .collect();
        agent_filters.push(format!("({})", spans.join(" OR ")));
    }
    let agents = (!agent_filters.is_empty()).then(|| agent_filters.join(" AND "));
    let wanted: Vec<(&str, &str)> = VIEWS
        .iter()
        .filter(|(name, _)| views.contains(name))
        .copied()
        .collect();
    if wanted.len() != views.len() {
        return Err(Error::Other(format!("unknown view among {views:?}")));
    }
    // Only the tables those views read get a scoped view (each costs a planning pass).
    let read = |table: &str| wanted.iter().any(|(_, sql)| sql.contains(table));
    for table in schema::tables()?.iter().filter(|t| read(&t.name)) {
        let mut filters = days.clone();
        // The agent scope applies to the agent tables; the data-lake tables have no agent.
        if let Some(agents) = agents
            .as_ref()
            .filter(|_| table.column_index("agent_arn").is_some())
        {
            filters.push(agents.clone());
        }
        let sql = format!(
            "CREATE VIEW {name} AS SELECT * FROM {name}{RAW} WHERE {}",
            filters.join(" AND "),
            name = table.name
        );
        ctx.sql(&sql).await?;
    }
    register_views(ctx, &wanted).await
}

async fn session(lake: &Location, suffix: &str, small: bool) -> Result<SessionContext> {
    lake::check_lake(lake).await?;
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("connect", "lake");
    // Report filters are selective (one agent, LOGIN/LOGOUT events, a username): evaluating
    // them while decoding skips most of the other columns' pages.
    config.options_mut().execution.parquet.pushdown_filters = true;
    config.options_mut().execution.parquet.reorder_filters = true;
    // File statistics only steer join order here (every table is small per query), and
    // computing them through plans of window views costs more than the queries themselves.
    config.options_mut().execution.collect_statistics = false;
    if small {
        small_scans(&mut config);
    }
    tuned(
        &mut config,
        std::env::var_os("CONNECT_LAKE_DATAFUSION")
            .map(|s| s.to_string_lossy().into_owned())
            .as_deref(),
    )?;
    let ctx = SessionContext::new_with_config(config);
    functions::register(&ctx);
    // Reads go through a store that pins each file to the version first seen, so a file a
    // writer replaces mid-query fails the query instead of mixing two versions.
    ctx.register_object_store(
        &lake.store_url,
        Arc::new(crate::lake::pinned::Pinned::new(lake.store.clone())),
    );
    for table in schema::tables()? {
        let dir = lake.url_of(&lake.child(&table.name));
        let url = ListingTableUrl::parse(format!("{dir}/"))?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![(PARTITION_COLUMN.to_string(), DataType::Utf8)])
            .with_file_sort_order(vec![file_order(table)]);
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(view_strings(table.arrow_schema()?));
        let listing = Arc::new(ListingTable::try_new(config)?);
        ctx.register_table(format!("{}{suffix}", table.name).as_str(), listing)?;
    }
    Ok(ctx)
}

/// The order every data file of `table` is written in (its `sort_key`, see `order.rs`):
/// declared, DataFusion merges the files of a scan instead of sorting them where a window's
/// `PARTITION BY agent_arn ORDER BY event_timestamp, event_id` wants exactly that order,
/// provided each file is a partition of its own (see [`small_scans`]). Strings compare as
/// bytes in both; a key column without nulls is declared `NULLS LAST` (the SQL default the
/// windows ask for), a nullable one `NULLS FIRST`, as the commit's row format sorts them.
fn file_order(table: &schema::TableDef) -> Vec<datafusion::logical_expr::SortExpr> {
    table
        .sort_key
        .iter()
        .map(|k| {
            let nullable = table
                .columns
                .iter()
                .find(|c| &c.name == k)
                .is_none_or(|c| c.nullable);
            datafusion::prelude::col(k.as_str()).sort(true, nullable)
        })
        .collect()
}

/// The schema a session reads a table with: top-level strings as `Utf8View`, the type the
/// Parquet reader decodes them to without copying, so sorts, windows and repartitions move
/// 16-byte views instead of the ARNs themselves.
fn view_strings(schema: arrow::datatypes::SchemaRef) -> arrow::datatypes::SchemaRef {
    let fields: Vec<arrow::datatypes::FieldRef> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View)),
            _ => f.clone(),
        })
        .collect();
    Arc::new(arrow::datatypes::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ))
}

async fn register_views(ctx: &SessionContext, views: &[(&str, &str)]) -> Result<()> {
    for (name, sql) in views {
        ctx.sql(sql)
            .await
            .map_err(|e| Error::Other(format!("sql/{name}.sql: {e}")))?;
    }
    Ok(())
}

/// Planning options for user SQL: queries only. DDL, DML, COPY and SET are refused before
/// anything runs, so `query` can never write.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sql_file_is_a_registered_view_named_after_it() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        let mut stems: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        stems.sort();
        let mut views: Vec<String> = VIEWS.iter().map(|(n, _)| n.to_string()).collect();
        views.sort();
        assert_eq!(stems, views);
        for (name, sql) in VIEWS {
            assert!(
                sql.contains(&format!("CREATE OR REPLACE VIEW {name} AS")),
                "{name}"
            );
        }
    }

    #[test]
    fn datafusion_settings_apply_over_ours_and_unknown_keys_fail() {
        let mut config = SessionConfig::new();
        small_scans(&mut config);
        tuned(
            &mut config,
            Some("datafusion.optimizer.max_passes=1; datafusion.optimizer.repartition_joins=true;"),
        )
        .unwrap();
        assert_eq!(config.options().optimizer.max_passes, 1);
        assert!(config.options().optimizer.repartition_joins);
        assert!(!config.options().optimizer.repartition_windows);
        tuned(&mut config, None).unwrap();
        assert_eq!(config.options().optimizer.max_passes, 1);
        let unknown = tuned(&mut config, Some("datafusion.optimizer.no_such=1"))
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("no_such"), "{unknown}");
        let malformed = tuned(&mut config, Some("max_passes"))
            .unwrap_err()
            .to_string();
        assert!(malformed.contains("key=value"), "{malformed}");
    }

    /// Every row of the mapping table in spec/reports.md §1, through the SQL of
    /// `agent_contact_status`: (state, channel, initiation method, connected?) → (rank, label).
    #[tokio::test]
    async fn contact_states_map_to_the_spec_labels_and_ranks() {
        use arrow::array::{RecordBatch, StringArray, TimestampMicrosecondArray, new_null_array};
        let cases: &[(&str, &str, &str, bool, i64, &str)] = &[
            ("ERROR", "VOICE", "OUTBOUND", true, 1, "Telecom issue"),
            ("ERROR", "VOICE", "CALLBACK", true, 1, "Telecom issue"),
            ("ERROR", "VOICE", "INBOUND", true, 1, "Error"),
            ("ERROR", "CHAT", "OUTBOUND", true, 1, "Error"),
            ("MISSED", "VOICE", "INBOUND", false, 2, "Agent Disconnected"),
            ("MISSED", "CHAT", "INBOUND", false, 2, "Contact Missed"),
            ("MISSED", "TASK", "API", false, 2, "Contact Missed"),
            ("MISSED", "EMAIL", "INBOUND", false, 2, "Contact Missed"),
            ("REJECTED", "TASK", "API", false, 3, "Rejected"),
            ("REJECTED", "EMAIL", "INBOUND", false, 3, "Rejected"),
            ("REJECTED", "CHAT", "INBOUND", false, 3, "Contact Missed"),
            ("CONNECTED_ONHOLD", "VOICE", "INBOUND", true, 4, "On Hold"),
            ("PAUSED", "TASK", "API", true, 4, "Paused"),
            ("CONNECTED", "CHAT", "INBOUND", true, 4, "Connected"),
            ("CONNECTED", "VOICE", "INBOUND", true, 4, "Busy"),
            ("CONNECTED", "TASK", "API", true, 4, "Busy"),
            ("CONNECTED", "EMAIL", "INBOUND", true, 4, "Busy"),
            (
                "CONNECTING",
                "VOICE",
                "OUTBOUND",
                false,
                4,
                "Calling Customer",
            ),
            ("ENDED", "VOICE", "CALLBACK", false, 5, "Missed Call Agent"),
            ("ENDED", "VOICE", "CALLBACK", true, 5, "After Contact Work"),
            ("ENDED", "CHAT", "INBOUND", true, 5, "After Contact Work"),
            ("CONNECTING", "CHAT", "INBOUND", false, 6, "Connecting"),
            ("INCOMING", "CHAT", "INBOUND", false, 6, "Connecting"),
            ("PENDING", "CHAT", "INBOUND", false, 6, "Connecting"),
            (
                "CONNECTING",
                "VOICE",
                "INBOUND",
                false,
                6,
                "Connecting Agent",
            ),
            (
                "INCOMING",
                "VOICE",
                "CALLBACK",
                false,
                6,
                "Connecting Agent",
            ),
            ("PENDING", "TASK", "API", false, 6, "Connecting Agent"),
            ("WRAPPING_UP", "VOICE", "INBOUND", true, 6, "WRAPPING_UP"),
        ];
        let schema = schema::table("agent_event_contacts")
            .unwrap()
            .arrow_schema()
            .unwrap();
        let n = cases.len();
        let text = |f: &dyn Fn(usize) -> String| -> arrow::array::ArrayRef {
            Arc::new(StringArray::from_iter_values((0..n).map(f)))
        };
        let ts = |some: &dyn Fn(usize) -> bool| -> arrow::array::ArrayRef {
            Arc::new(
                TimestampMicrosecondArray::from_iter((0..n).map(|i| some(i).then_some(1)))
                    .with_timezone("UTC"),
            )
        };
        let columns: Vec<arrow::array::ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| match f.name().as_str() {
                "event_id" | "contact_id" => text(&|i| format!("{i:02}")),
                "channel" => text(&|i| cases[i].1.to_string()),
                "initiation_method" => text(&|i| cases[i].2.to_string()),
                "state" => text(&|i| cases[i].0.to_string()),
                "connected_to_agent_timestamp" => ts(&|i| cases[i].3),
                "event_timestamp" => ts(&|_| true),
                "instance_id" | "agent_arn" | "agent_id" => text(&|_| "x".to_string()),
                _ => new_null_array(f.data_type(), n),
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let ctx = SessionContext::new();
        let table = datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        ctx.register_table("agent_event_contacts", Arc::new(table))
            .unwrap();
        ctx.sql(VIEWS[0].1).await.unwrap();
        let out = ctx
            .sql("SELECT status_rank, status FROM agent_contact_status ORDER BY contact_id")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let got = arrow::util::pretty::pretty_format_batches(&out)
            .unwrap()
            .to_string();
        let rows: Vec<(i64, String)> = got
            .lines()
            .skip(3)
            .filter(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells[1].parse().unwrap(), cells[2].to_string())
            })
            .collect();
        let want: Vec<(i64, String)> = cases.iter().map(|c| (c.4, c.5.to_string())).collect();
        assert_eq!(rows, want);
    }

    #[test]
    fn files_are_declared_in_their_sort_key_order_nulls_where_the_commit_puts_them() {
        let order = |name: &str| -> Vec<String> {
            file_order(schema::table(name).unwrap())
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        assert_eq!(
            order("agent_events"),
            [
                "agent_arn ASC NULLS LAST",
                "event_timestamp ASC NULLS LAST",
                "event_id ASC NULLS LAST"
            ]
        );
        // contact_id is nullable in flow events: the commit's row format puts nulls first.
        assert!(
            order("contact_flow_events")
                .iter()
                .any(|s| s == "contact_id ASC NULLS FIRST"),
            "{:?}",
            order("contact_flow_events")
        );
    }

    #[test]
    fn a_query_gets_the_views_it_names_and_those_they_read() {
        let names = |sql: &str| -> Vec<&str> { views_read_by(sql).iter().map(|v| v.0).collect() };
        assert!(names("SELECT 1").is_empty());
        assert!(names("SELECT count(*) FROM agent_events").is_empty());
        assert_eq!(
            names("SELECT status FROM Agent_Status_Intervals"),
            [
                "agent_contact_status",
                "agent_events_resolved",
                "agent_status_intervals"
            ]
        );
        assert_eq!(
            names("SELECT * FROM login_logout_sessions"),
            ["agent_events_resolved", "login_logout_sessions"]
        );
        assert_eq!(names("SHOW TABLES").len(), VIEWS.len());
        // The walk back relies on the order of VIEWS: no view reads one created after it.
        for (i, (name, sql)) in VIEWS.iter().enumerate() {
            for (later, _) in &VIEWS[i + 1..] {
                assert!(
                    !sql.contains(later),
                    "{name} reads {later}, created after it"
                );
            }
        }
    }

    #[tokio::test]
    async fn an_empty_lake_plans_every_view() {
        let dir = tempfile::tempdir().unwrap();
        let loc =
            Location::parse(dir.path().to_str().unwrap(), &Default::default(), false).unwrap();
        lake::ensure_lake(&loc).await.unwrap();
        let ctx = open(&loc).await.unwrap();
        for (name, _) in VIEWS {
            let rows = ctx
                .sql(&format!("SELECT count(*) FROM {name}"))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            assert_eq!(rows[0].num_rows(), 1, "{name}");
        }
    }
}
