//! DDL for the engines that read the lake: `CREATE EXTERNAL TABLE` statements for Athena
//! (with partition projection on `dt`) and Spark (with partition recovery), derived from
//! `schemas/` so that every engine sees the columns, types and descriptions defined there.

use crate::catalog;
use crate::error::{Error, Result};
use crate::schema::{self, PARTITION_COLUMN, TableDef};

/// The engine a DDL script is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    Athena,
    Spark,
}

/// The whole script: one statement (or two, for Spark) per table, in `schemas/` order.
pub fn script(engine: Engine, location: &str, database: Option<&str>) -> Result<String> {
    let location = location.trim_end_matches('/');
    if location.is_empty() {
        return Err(Error::usage("--location is empty"));
    }
    let plain =
        |db: &str| !db.is_empty() && db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if let Some(db) = database.filter(|db| !plain(db)) {
        return Err(Error::usage(format!(
            "--database {db:?}: use letters, digits and underscores"
        )));
    }
    let mut out = String::new();
    if let Some(db) = database {
        out.push_str(&match engine {
            Engine::Athena => format!("CREATE DATABASE IF NOT EXISTS `{db}`;\n\n"),
            Engine::Spark => format!("CREATE DATABASE IF NOT EXISTS {db};\n\n"),
        });
    }
    for table in schema::tables()? {
        out.push_str(&match engine {
            Engine::Athena => athena(table, location, database)?,
            Engine::Spark => spark(table, location, database)?,
        });
        out.push('\n');
    }
    if engine == Engine::Spark {
        out.push_str(&spark_views(database));
    }
    Ok(out)
}

/// The views of `sql/` written in SQL that Spark runs as it is: the two report views and the
/// contact mapping under them. (The data-lake views use DataFusion's ordered `array_agg` and
/// `unnest`, which Spark spells differently, so they stay DataFusion's.)
pub const SPARK_VIEWS: &[&str] = &[
    "agent_contact_status",
    "agent_events_resolved",
    "agent_status_intervals",
    "login_logout_sessions",
    "agent_activity_segments",
];

/// The report views, the same text DataFusion runs (`unix_micros`/`unix_millis` are Spark's
/// own functions, which connect-lake adds to DataFusion). Unqualified table names in a Spark
/// view resolve in the database current at creation, hence the `USE`.
fn spark_views(database: Option<&str>) -> String {
    let mut out = String::from("-- The report views, as connect-lake defines them in sql/.\n");
    if let Some(db) = database {
        out.push_str(&format!("USE {db};\n\n"));
    }
    for (name, sql) in catalog::VIEWS
        .iter()
        .filter(|(name, _)| SPARK_VIEWS.contains(name))
    {
        out.push_str(&format!(
            "-- sql/{name}.sql\n{};\n\n",
            sql.trim_end().trim_end_matches(';')
        ));
    }
    out
}

/// A SQL string literal: single quotes doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Athena (Hive DDL) quotes names with backticks and spells types in lower case, as
/// `schemas/` does; Spark takes the same spellings.
fn column_type(table: &TableDef, type_name: &str) -> Result<String> {
    // Validate through the one parser, so an unknown type fails here, not in the engine.
    schema::parse_type(type_name).map_err(|reason| Error::Schema {
        table: table.name.clone(),
        reason,
    })?;
    Ok(type_name.replace(' ', ""))
}

fn qualified(name: &str, database: Option<&str>, quote: &str) -> String {
    match database {
        Some(db) => format!("{quote}{db}{quote}.{quote}{name}{quote}"),
        None => format!("{quote}{name}{quote}"),
    }
}

fn columns(table: &TableDef, quote: &str) -> Result<String> {
    let lines = table
        .columns
        .iter()
        .map(|c| {
            Ok(format!(
                "  {quote}{}{quote} {} COMMENT {}",
                c.name,
                column_type(table, &c.type_name)?,
                literal(&c.description)
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(lines.join(",\n"))
}

fn athena(table: &TableDef, location: &str, database: Option<&str>) -> Result<String> {
    let dir = format!("{location}/{}", table.name);
    Ok(format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {name} (\n{columns}\n)\n\
         COMMENT {comment}\n\
         PARTITIONED BY (`{dt}` string COMMENT 'UTC day of {ts}, YYYY-MM-DD')\n\
         STORED AS PARQUET\n\
         LOCATION {location}\n\
         TBLPROPERTIES (\n  \
         'projection.enabled' = 'true',\n  \
         'projection.{dt}.type' = 'date',\n  \
         'projection.{dt}.format' = 'yyyy-MM-dd',\n  \
         'projection.{dt}.range' = '2015-01-01,NOW',\n  \
         'projection.{dt}.interval' = '1',\n  \
         'projection.{dt}.interval.unit' = 'DAYS',\n  \
         'storage.location.template' = {template},\n  \
         'parquet.compression' = 'ZSTD'\n);\n",
        name = qualified(&table.name, database, "`"),
        columns = columns(table, "`")?,
        comment = literal(&table.description),
        dt = PARTITION_COLUMN,
        ts = table.partition_timestamp,
        location = literal(&format!("{dir}/")),
        template = literal(&format!(
            "{dir}/{PARTITION_COLUMN}=${{{PARTITION_COLUMN}}}/"
        )),
    ))
}

fn spark(table: &TableDef, location: &str, database: Option<&str>) -> Result<String> {
    let name = qualified(&table.name, database, "`");
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {name} (\n{columns},\n  `{dt}` string COMMENT 'UTC day of {ts}, YYYY-MM-DD'\n)\n\
         USING PARQUET\n\
         PARTITIONED BY (`{dt}`)\n\
         LOCATION {location}\n\
         COMMENT {comment};\n\
         ALTER TABLE {name} RECOVER PARTITIONS;\n",
        columns = columns(table, "`")?,
        dt = PARTITION_COLUMN,
        ts = table.partition_timestamp,
        location = literal(&format!("{location}/{}", table.name)),
        comment = literal(&table.description),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_and_column_is_declared_with_its_comment() {
        for engine in [Engine::Athena, Engine::Spark] {
            let ddl = script(engine, "s3://bucket/lake/", Some("connect")).unwrap();
            for t in schema::tables().unwrap() {
                assert!(
                    ddl.contains(&format!("`connect`.`{}`", t.name)),
                    "{engine:?}"
                );
                for c in &t.columns {
                    assert!(
                        ddl.contains(&format!("`{}` {}", c.name, c.type_name)),
                        "{}",
                        c.name
                    );
                }
            }
            assert!(!ddl.contains("lake//"), "no doubled slash");
        }
        let athena = script(Engine::Athena, "s3://b/l", None).unwrap();
        assert!(athena.contains("'storage.location.template' = 's3://b/l/agent_events/dt=${dt}/'"));
        assert!(athena.contains("'projection.dt.type' = 'date'"));
        let spark = script(Engine::Spark, "/data/lake", None).unwrap();
        assert!(spark.contains("ALTER TABLE `agent_events` RECOVER PARTITIONS;"));
        for view in SPARK_VIEWS {
            assert!(spark.contains(&format!("CREATE OR REPLACE VIEW {view} AS")));
        }
        assert!(!spark.contains("arrow_cast"), "DataFusion-only functions");
        assert!(
            !athena.contains("CREATE OR REPLACE VIEW"),
            "Athena gets tables only"
        );
        assert!(spark.contains("'\"Creation\" or \"revision\" date of the flow itself.'"));
    }

    #[test]
    fn quotes_in_descriptions_are_doubled_and_bad_names_refused() {
        assert_eq!(literal("agent's"), "'agent''s'");
        assert!(script(Engine::Spark, "/l", Some("x; DROP")).is_err());
        assert!(script(Engine::Athena, "", None).is_err());
    }
}
