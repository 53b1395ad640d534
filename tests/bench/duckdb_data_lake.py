#!/usr/bin/env python3
"""A data-lake table's load as a data engineer would write it in DuckDB: read the NDJSON
exports with the documented columns, keep the latest version of each primary key, COPY to zstd
Parquet partitioned by the UTC day. Run by bench.py as its own process:
duckdb_data_lake.py TABLE INPUT_DIR OUT_DIR"""
import sys

import duckdb

table, inp, out = sys.argv[1], sys.argv[2], sys.argv[3]
TS = "TIMESTAMPTZ"
if table == "contact_flow_events":
    strings = ["instance_id", "event_id", "aws_account_id", "instance_arn", "contact_id", "flow_resource_id",
               "module_resource_id", "resource_version", "resource_type", "channel", "next_flow_resource_id",
               "next_queue_resource_id", "next_resource_type", "flow_language_version", "flow_outcome", "sub_type",
               "flow_type", "initiation_method"]
    stamps = ["start_timestamp", "end_timestamp", "resource_published_timestamp", "data_lake_last_processed_timestamp"]
    lists = []
    key, part = "event_id, instance_id", "start_timestamp"
    latest = "data_lake_last_processed_timestamp DESC NULLS LAST"
else:
    strings = ["instance_id", "instance_arn", "aws_account_id", "connect_test_case_resource_arn",
               "connect_test_case_resource_name", "connect_test_case_status", "connect_test_case_result",
               "connect_test_case_execution_id", "connect_test_case_type", "connect_test_case_execution_method",
               "connect_test_case_execution_channel", "connect_test_case_execution_channel_subtype",
               "connect_test_case_associated_initial_contact_id", "connect_test_case_initiating_flow_id"]
    stamps = ["connect_test_case_execution_start_timestamp", "connect_test_case_execution_end_timestamp",
              "record_creation_timestamp", "data_lake_last_processed_timestamp"]
    lists = ["connect_test_case_failure_reasons", "connect_test_case_associated_contact_ids"]
    key = "connect_test_case_resource_arn, connect_test_case_execution_start_timestamp, connect_test_case_execution_id"
    part = "connect_test_case_execution_start_timestamp"
    latest = "record_creation_timestamp DESC NULLS LAST, data_lake_last_processed_timestamp DESC NULLS LAST"
columns = {c: "VARCHAR" for c in strings} | {c: TS for c in stamps} | {c: "VARCHAR[]" for c in lists}
cols = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
first_key = key.split(",")[0]
sql = f"""
SET TimeZone = 'UTC';
COPY (
  SELECT *, strftime({part}, '%Y-%m-%d') AS dt
  FROM read_json('{inp}/*', format = 'newline_delimited', columns = {cols}, ignore_errors = true)
  WHERE {first_key} IS NOT NULL AND {part} IS NOT NULL
  QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {latest}) = 1
) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt))
"""
duckdb.connect().execute(sql)
