//! Table definitions: `schemas/<table>.json`, embedded at compile time, parsed once, and turned
//! into Arrow schemas. The JSON files are the one definition of every table; this module does
//! not know how rows are decoded or queried.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use serde::Deserialize;

use crate::error::{Error, Result};

/// The partition column: a Hive path segment `dt=YYYY-MM-DD`, never stored inside files.
pub const PARTITION_COLUMN: &str = "dt";

/// Every table's JSON definition, in the order tables are registered.
const SOURCES: &[(&str, &str)] = &[
    ("agent_events", include_str!("../schemas/agent_events.json")),
    (
        "agent_event_contacts",
        include_str!("../schemas/agent_event_contacts.json"),
    ),
    (
        "contact_flow_events",
        include_str!("../schemas/contact_flow_events.json"),
    ),
    (
        "connect_test_case_execution_results",
        include_str!("../schemas/connect_test_case_execution_results.json"),
    ),
];

/// One table as `schemas/<table>.json` declares it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    pub name: String,
    pub description: String,
    pub primary_key: Vec<String>,
    pub partition_timestamp: String,
    /// Row order inside a partition file: makes files deterministic and lets row-group
    /// statistics prune on the leading column.
    pub sort_key: Vec<String>,
    /// Dedup winner: of rows with the same primary key the one with the greatest values of
    /// these timestamp columns (compared in order, null lowest) is kept; on a tie the row
    /// already in the lake, then the first in input order. Empty: the first row is kept
    /// (agent events: the same `event_id` is the same event).
    #[serde(default)]
    pub dedup_latest: Vec<String>,
    #[serde(default)]
    pub join_keys: Vec<JoinKey>,
    pub columns: Vec<ColumnDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinKey {
    pub columns: Vec<String>,
    pub table: String,
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    pub name: String,
    /// Hive/Athena type spelling: `string`, `int`, `bigint`, `double`, `boolean`, `timestamp`,
    /// `array<T>`, `struct<name:T,…>`. The same text goes into the DDL.
    #[serde(rename = "type")]
    pub type_name: String,
    pub nullable: bool,
    pub description: String,
}

impl TableDef {
    /// The Arrow schema of the table's files (without the `dt` partition column).
    pub fn arrow_schema(&self) -> Result<SchemaRef> {
        let fields = self
            .columns
            .iter()
            .map(|c| {
                let dt = parse_type(&c.type_name).map_err(|reason| Error::Schema {
                    table: self.name.clone(),
                    reason: format!("column {}: {reason}", c.name),
                })?;
                Ok(Field::new(&c.name, dt, c.nullable))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// All table definitions, parsed once. A malformed embedded schema is a build defect, caught
/// by the unit tests below; at run time it surfaces as an error, not a panic.
pub fn tables() -> Result<&'static [TableDef]> {
    static TABLES: OnceLock<std::result::Result<Vec<TableDef>, String>> = OnceLock::new();
    let parsed = TABLES.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(name, text)| {
                let def: TableDef =
                    serde_json::from_str(text).map_err(|e| format!("schemas/{name}.json: {e}"))?;
                if def.name != *name {
                    return Err(format!("schemas/{name}.json declares name {}", def.name));
                }
                Ok(def)
            })
            .collect()
    });
    parsed.as_deref().map_err(|reason| Error::Schema {
        table: "(embedded)".into(),
        reason: reason.clone(),
    })
}

pub fn table(name: &str) -> Result<&'static TableDef> {
    tables()?
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::Schema {
            table: name.into(),
            reason: "no such table".into(),
        })
}

/// Parses a Hive type spelling into an Arrow type. Timestamps are microseconds, UTC-adjusted:
/// what Spark, Athena and DuckDB all read.
pub fn parse_type(text: &str) -> std::result::Result<DataType, String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "string" => DataType::Utf8,
        "int" => DataType::Int32,
        "bigint" => DataType::Int64,
        "double" => DataType::Float64,
        "boolean" => DataType::Boolean,
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        _ if lower.starts_with("array<") && lower.ends_with('>') => {
            let inner = parse_type(&t[6..t.len() - 1])?;
            DataType::List(Arc::new(Field::new("item", inner, true)))
        }
        _ if lower.starts_with("struct<") && lower.ends_with('>') => {
            let fields = split_top_level(&t[7..t.len() - 1])
                .into_iter()
                .map(|member| {
                    let (name, ty) = member
                        .split_once(':')
                        .ok_or_else(|| format!("bad struct member {member:?}"))?;
                    Ok(Field::new(name.trim(), parse_type(ty)?, true))
                })
                .collect::<std::result::Result<Vec<_>, String>>()?;
            DataType::Struct(Fields::from(fields))
        }
        _ => return Err(format!("unknown type {t:?}")),
    })
}

/// Splits `a:int,b:struct<x:int,y:int>` at the commas that are not nested in `<…>`.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, ch) in text.char_indices() {
        match ch {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Readers cope with a grown schema only when columns are appended and nullable (Spark with
    /// `mergeSchema`, DuckDB with `union_by_name`, Athena by name): every released column stays
    /// where it was with its type, and what comes after is nullable.
    #[test]
    fn schemas_only_grow_by_appending_nullable_columns() {
        let released = include_str!("../tests/data/released_columns.tsv");
        for table in tables().unwrap() {
            let before: Vec<(&str, &str)> = released
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| {
                    let mut parts = l.split('\t');
                    (parts.next() == Some(table.name.as_str()))
                        .then(|| (parts.next().unwrap(), parts.next().unwrap()))
                })
                .collect();
            assert!(
                !before.is_empty(),
                "{}: not in released_columns.tsv",
                table.name
            );
            assert!(
                table.columns.len() >= before.len(),
                "{}: columns removed",
                table.name
            );
            for (i, (name, type_name)) in before.iter().enumerate() {
                let now = &table.columns[i];
                assert_eq!(
                    (now.name.as_str(), now.type_name.as_str()),
                    (*name, *type_name),
                    "{}: column {i} changed",
                    table.name
                );
            }
            for added in &table.columns[before.len()..] {
                assert!(
                    added.nullable,
                    "{}.{}: appended columns are nullable",
                    table.name, added.name
                );
            }
        }
    }

    #[test]
    fn every_embedded_schema_parses_and_names_existing_columns() {
        for t in tables().unwrap() {
            t.arrow_schema().unwrap();
            for key in t
                .primary_key
                .iter()
                .chain(&t.sort_key)
                .chain(&t.dedup_latest)
                .chain(t.join_keys.iter().flat_map(|j| &j.columns))
                .chain([&t.partition_timestamp])
            {
                assert!(
                    t.column_index(key).is_some(),
                    "{}: key column {key} missing",
                    t.name
                );
            }
            for j in &t.join_keys {
                assert!(
                    j.table == "*" || table(&j.table).is_ok(),
                    "{}: joins unknown table {}",
                    t.name,
                    j.table
                );
            }
            for c in &t.columns {
                assert_eq!(
                    c.name,
                    c.name.to_ascii_lowercase(),
                    "{}: names are snake_case",
                    t.name
                );
                assert!(
                    !c.description.is_empty(),
                    "{}.{} has no description",
                    t.name,
                    c.name
                );
            }
        }
    }

    #[test]
    fn nested_types_parse() {
        let dt = parse_type("array<struct<arn:string,name:string>>").unwrap();
        let DataType::List(item) = dt else {
            panic!("not a list: {dt}")
        };
        let DataType::Struct(fields) = item.data_type() else {
            panic!("not a struct")
        };
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[1].name(), "name");
        assert!(parse_type("map<string,string>").is_err());
    }
}
