#!/usr/bin/env python3
"""The agent_events ETL as a data engineer would write it in DuckDB: read_json over the Firehose
objects, flatten the current snapshot, keep one row per EventId, COPY to zstd Parquet
partitioned by dt. Run by bench.py as its own process."""
import sys

import duckdb

inp, out = sys.argv[1], sys.argv[2]
named = "STRUCT(ARN VARCHAR, Name VARCHAR)"
columns = {
    "EventId": "VARCHAR", "EventType": "VARCHAR", "EventTimestamp": "VARCHAR", "Version": "VARCHAR",
    "AWSAccountId": "VARCHAR", "InstanceARN": "VARCHAR", "AgentARN": "VARCHAR",
    "CurrentAgentSnapshot": (
        "STRUCT(AgentStatus STRUCT(ARN VARCHAR, Name VARCHAR, StartTimestamp VARCHAR, Type VARCHAR), "
        "NextAgentStatus STRUCT(Name VARCHAR, EnqueuedTimestamp VARCHAR), "
        f"Configuration STRUCT(Username VARCHAR, FirstName VARCHAR, LastName VARCHAR, "
        f"RoutingProfile STRUCT(ARN VARCHAR, Name VARCHAR, DefaultOutboundQueue {named}, InboundQueues {named}[]), "
        f"AgentHierarchyGroups STRUCT(Level1 {named}, Level2 {named}, Level3 {named}, Level4 {named}, Level5 {named})), "
        "Contacts JSON[])"
    ),
    "PreviousAgentSnapshot": "STRUCT(AgentStatus STRUCT(Name VARCHAR, StartTimestamp VARCHAR))",
}
cols = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
levels = ", ".join(
    f"c.Configuration.AgentHierarchyGroups.Level{i}.ARN AS hierarchy_level{i}_arn, "
    f"c.Configuration.AgentHierarchyGroups.Level{i}.Name AS hierarchy_level{i}_name" for i in range(1, 6))
ts = "CAST(replace({}, 'Z', '') AS TIMESTAMP)"
sql = f"""
COPY (
  SELECT EventId AS event_id, EventType AS event_type, {ts.format('EventTimestamp')} AS event_timestamp,
         Version AS version, AWSAccountId AS aws_account_id, InstanceARN AS instance_arn,
         split_part(AgentARN, '/', 2) AS instance_id, AgentARN AS agent_arn, split_part(AgentARN, '/', 4) AS agent_id,
         c.Configuration.Username AS username, c.Configuration.FirstName AS first_name,
         c.Configuration.LastName AS last_name,
         c.Configuration.RoutingProfile.ARN AS routing_profile_arn, c.Configuration.RoutingProfile.Name AS routing_profile_name,
         c.Configuration.RoutingProfile.DefaultOutboundQueue.ARN AS default_outbound_queue_arn,
         c.Configuration.RoutingProfile.DefaultOutboundQueue.Name AS default_outbound_queue_name,
         list_transform(c.Configuration.RoutingProfile.InboundQueues, lambda q: {{'arn': q.ARN, 'name': q.Name}}) AS inbound_queues,
         {levels},
         c.AgentStatus.ARN AS agent_status_arn, c.AgentStatus.Name AS agent_status_name,
         c.AgentStatus.Type AS agent_status_type, {ts.format('c.AgentStatus.StartTimestamp')} AS agent_status_start_timestamp,
         c.NextAgentStatus.Name AS next_agent_status_name,
         {ts.format('c.NextAgentStatus.EnqueuedTimestamp')} AS next_agent_status_enqueued_timestamp,
         PreviousAgentSnapshot.AgentStatus.Name AS previous_agent_status_name,
         {ts.format('PreviousAgentSnapshot.AgentStatus.StartTimestamp')} AS previous_agent_status_start_timestamp,
         coalesce(len(c.Contacts), 0) AS contact_count,
         strftime({ts.format('EventTimestamp')}, '%Y-%m-%d') AS dt
  FROM (SELECT *, CurrentAgentSnapshot AS c
        FROM read_json('{inp}/**/*', format = 'newline_delimited', columns = {cols}, ignore_errors = true))
  WHERE EventId IS NOT NULL AND EventTimestamp IS NOT NULL
  QUALIFY row_number() OVER (PARTITION BY EventId ORDER BY EventTimestamp) = 1
) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt))
"""
duckdb.connect().execute(sql)
