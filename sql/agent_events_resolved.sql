-- Every agent event with its agent's identity and status resolved (spec/reports.md section 0).
-- Real LOGIN and LOGOUT records can arrive with "CurrentAgentSnapshot": null: such an event
-- takes the username, names, routing profile, hierarchy groups and agent status of the same
-- agent's nearest event that has a snapshot (HEART_BEATs included): for a LOGIN the first one
-- after it (the agent's state as the session begins), for any other event the last one before
-- it, else the first after. An event has a snapshot when it names the agent, its status or its
-- routing profile. The agent_events table keeps what the records said; the other agent views
-- read this one.
-- How: one pass over the agent's events in order (event_timestamp, event_id) finds, for each,
-- the last snapshot event before it and the first after it (lag and lead IGNORE NULLS, which
-- DataFusion and Spark both take, and which stream, unlike frame functions: a third of the
-- time on the bench lake). Events with a snapshot keep their own values; only the few without
-- one are joined to the event they take them from (their own columns come through the pass).
CREATE OR REPLACE VIEW agent_events_resolved AS
WITH nearest AS (
  SELECT e.instance_id, e.agent_arn, e.agent_id, e.event_id, e.event_type, e.event_timestamp,
         e.contact_count, e.dt,
         (e.username IS NOT NULL OR e.agent_status_name IS NOT NULL OR e.routing_profile_arn IS NOT NULL) AS has_snapshot,
         lag(CASE WHEN (e.username IS NOT NULL OR e.agent_status_name IS NOT NULL OR e.routing_profile_arn IS NOT NULL) THEN e.event_id END) IGNORE NULLS OVER (
           PARTITION BY e.agent_arn ORDER BY e.event_timestamp, e.event_id) AS last_snapshot_id,
         lead(CASE WHEN (e.username IS NOT NULL OR e.agent_status_name IS NOT NULL OR e.routing_profile_arn IS NOT NULL) THEN e.event_id END) IGNORE NULLS OVER (
           PARTITION BY e.agent_arn ORDER BY e.event_timestamp, e.event_id) AS next_snapshot_id
  FROM agent_events e
),
unresolved AS (
  SELECT instance_id, agent_arn, agent_id, event_id, event_type, event_timestamp, contact_count, dt,
         CASE WHEN event_type = 'LOGIN' AND next_snapshot_id IS NOT NULL THEN next_snapshot_id
              WHEN last_snapshot_id IS NOT NULL THEN last_snapshot_id
              -- The first after, or, when the agent has no snapshot at all, its own (empty) values.
              ELSE coalesce(next_snapshot_id, event_id)
         END AS source_event_id
  FROM nearest
  WHERE NOT has_snapshot
)
SELECT e.instance_id, e.agent_arn, e.agent_id, e.event_id, e.event_type, e.event_timestamp,
       TRUE AS has_snapshot,
       e.username,
       e.first_name,
       e.last_name,
       e.routing_profile_arn,
       e.routing_profile_name,
       e.hierarchy_level1_name,
       e.hierarchy_level2_name,
       e.hierarchy_level3_name,
       e.hierarchy_level4_name,
       e.hierarchy_level5_name,
       e.agent_status_arn,
       e.agent_status_name,
       e.agent_status_type,
       e.contact_count,
       e.dt
FROM agent_events e
WHERE (e.username IS NOT NULL OR e.agent_status_name IS NOT NULL OR e.routing_profile_arn IS NOT NULL)
UNION ALL
SELECT r.instance_id, r.agent_arn, r.agent_id, r.event_id, r.event_type, r.event_timestamp,
       FALSE AS has_snapshot,
       src.username,
       src.first_name,
       src.last_name,
       src.routing_profile_arn,
       src.routing_profile_name,
       src.hierarchy_level1_name,
       src.hierarchy_level2_name,
       src.hierarchy_level3_name,
       src.hierarchy_level4_name,
       src.hierarchy_level5_name,
       src.agent_status_arn,
       src.agent_status_name,
       src.agent_status_type,
       r.contact_count,
       r.dt
FROM unresolved r
JOIN agent_events src ON src.event_id = r.source_event_id
