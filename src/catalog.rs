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
        "agent_status_intervals",
        include_str!("../sql/agent_status_intervals.sql"),
    ),
    (
        "login_logout_sessions",
        include_str!("../sql/login_logout_sessions.sql"),
    ),
];

/// A session over the lake at `lake`: tables and views registered, ready for SQL.
pub async fn open(lake: &Location) -> Result<SessionContext> {
    lake::check_lake(lake).await?;
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("connect", "lake");
    let ctx = SessionContext::new_with_config(config);
    ctx.register_object_store(&lake.store_url, lake.store.clone());
    for table in schema::tables()? {
        let dir = lake.url_of(&lake.child(&table.name));
        let url = ListingTableUrl::parse(format!("{dir}/"))?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![(PARTITION_COLUMN.to_string(), DataType::Utf8)]);
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(table.arrow_schema()?);
        ctx.register_table(
            table.name.as_str(),
            Arc::new(ListingTable::try_new(config)?),
        )?;
    }
    for (name, sql) in VIEWS {
        ctx.sql(sql)
            .await
            .map_err(|e| Error::Other(format!("sql/{name}.sql: {e}")))?;
    }
    Ok(ctx)
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
            .map(|e| {
                e.unwrap()
                    .path()
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
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
