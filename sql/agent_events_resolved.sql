-- Every agent event with its agent's identity and status resolved (spec/reports.md section 0).
-- Real LOGIN and LOGOUT records can arrive with "CurrentAgentSnapshot": null: such an event
-- takes the username, names, routing profile, hierarchy groups and agent status of the same
-- agent's nearest event that has a snapshot (HEART_BEATs included): for a LOGIN the first one
-- after it (the agent's state as the session begins), for any other event the last one before
-- it, else the first after. An event has a snapshot when it names the agent, its status or its
-- routing profile. The agent_events table keeps what the records said; the other agent views
-- read this one.
CREATE OR REPLACE VIEW agent_events_resolved AS
WITH flagged AS (
  SELECT *,
         (username IS NOT NULL OR agent_status_name IS NOT NULL OR routing_profile_arn IS NOT NULL) AS has_snapshot
  FROM agent_events
),
-- Snapshots counted at or before each event and at or after it: the events of an agent that
-- share snapshots_before follow one snapshot event (which is among them), those that share
-- snapshots_after lead up to one, so a max over each group reads that one event's values.
counted AS (
  SELECT *,
         sum(CASE WHEN has_snapshot THEN 1 ELSE 0 END) OVER (
           PARTITION BY agent_arn ORDER BY event_timestamp, event_id
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS snapshots_before,
         sum(CASE WHEN has_snapshot THEN 1 ELSE 0 END) OVER (
           PARTITION BY agent_arn ORDER BY event_timestamp DESC, event_id DESC
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS snapshots_after
  FROM flagged
),
near AS (
  SELECT instance_id, agent_arn, agent_id, event_id, event_type, event_timestamp, contact_count, dt,
         has_snapshot,
         username,
         first_name,
         last_name,
         routing_profile_arn,
         routing_profile_name,
         hierarchy_level1_name,
         hierarchy_level2_name,
         hierarchy_level3_name,
         hierarchy_level4_name,
         hierarchy_level5_name,
         agent_status_arn,
         agent_status_name,
         agent_status_type,
         (event_type = 'LOGIN' AND snapshots_after > 0) OR snapshots_before = 0 AS from_after,
         max(CASE WHEN has_snapshot THEN username END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_username,
         max(CASE WHEN has_snapshot THEN username END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_username,
         max(CASE WHEN has_snapshot THEN first_name END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_first_name,
         max(CASE WHEN has_snapshot THEN first_name END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_first_name,
         max(CASE WHEN has_snapshot THEN last_name END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_last_name,
         max(CASE WHEN has_snapshot THEN last_name END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_last_name,
         max(CASE WHEN has_snapshot THEN routing_profile_arn END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_routing_profile_arn,
         max(CASE WHEN has_snapshot THEN routing_profile_arn END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_routing_profile_arn,
         max(CASE WHEN has_snapshot THEN routing_profile_name END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_routing_profile_name,
         max(CASE WHEN has_snapshot THEN routing_profile_name END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_routing_profile_name,
         max(CASE WHEN has_snapshot THEN hierarchy_level1_name END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_hierarchy_level1_name,
         max(CASE WHEN has_snapshot THEN hierarchy_level1_name END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_hierarchy_level1_name,
         max(CASE WHEN has_snapshot THEN hierarchy_level2_name END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_hierarchy_level2_name,
         max(CASE WHEN has_snapshot THEN hierarchy_level2_name END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_hierarchy_level2_name,
         max(CASE WHEN has_snapshot THEN hierarchy_level3_name END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_hierarchy_level3_name,
         max(CASE WHEN has_snapshot THEN hierarchy_level3_name END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_hierarchy_level3_name,
         max(CASE WHEN has_snapshot THEN hierarchy_level4_name END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_hierarchy_level4_name,
         max(CASE WHEN has_snapshot THEN hierarchy_level4_name END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_hierarchy_level4_name,
         max(CASE WHEN has_snapshot THEN hierarchy_level5_name END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_hierarchy_level5_name,
         max(CASE WHEN has_snapshot THEN hierarchy_level5_name END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_hierarchy_level5_name,
         max(CASE WHEN has_snapshot THEN agent_status_arn END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_agent_status_arn,
         max(CASE WHEN has_snapshot THEN agent_status_arn END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_agent_status_arn,
         max(CASE WHEN has_snapshot THEN agent_status_name END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_agent_status_name,
         max(CASE WHEN has_snapshot THEN agent_status_name END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_agent_status_name,
         max(CASE WHEN has_snapshot THEN agent_status_type END) OVER (PARTITION BY agent_arn, snapshots_before) AS before_agent_status_type,
         max(CASE WHEN has_snapshot THEN agent_status_type END) OVER (PARTITION BY agent_arn, snapshots_after) AS after_agent_status_type
  FROM counted
)
SELECT instance_id, agent_arn, agent_id, event_id, event_type, event_timestamp, has_snapshot,
       CASE WHEN has_snapshot THEN username WHEN from_after THEN after_username ELSE before_username END AS username,
       CASE WHEN has_snapshot THEN first_name WHEN from_after THEN after_first_name ELSE before_first_name END AS first_name,
       CASE WHEN has_snapshot THEN last_name WHEN from_after THEN after_last_name ELSE before_last_name END AS last_name,
       CASE WHEN has_snapshot THEN routing_profile_arn WHEN from_after THEN after_routing_profile_arn ELSE before_routing_profile_arn END AS routing_profile_arn,
       CASE WHEN has_snapshot THEN routing_profile_name WHEN from_after THEN after_routing_profile_name ELSE before_routing_profile_name END AS routing_profile_name,
       CASE WHEN has_snapshot THEN hierarchy_level1_name WHEN from_after THEN after_hierarchy_level1_name ELSE before_hierarchy_level1_name END AS hierarchy_level1_name,
       CASE WHEN has_snapshot THEN hierarchy_level2_name WHEN from_after THEN after_hierarchy_level2_name ELSE before_hierarchy_level2_name END AS hierarchy_level2_name,
       CASE WHEN has_snapshot THEN hierarchy_level3_name WHEN from_after THEN after_hierarchy_level3_name ELSE before_hierarchy_level3_name END AS hierarchy_level3_name,
       CASE WHEN has_snapshot THEN hierarchy_level4_name WHEN from_after THEN after_hierarchy_level4_name ELSE before_hierarchy_level4_name END AS hierarchy_level4_name,
       CASE WHEN has_snapshot THEN hierarchy_level5_name WHEN from_after THEN after_hierarchy_level5_name ELSE before_hierarchy_level5_name END AS hierarchy_level5_name,
       CASE WHEN has_snapshot THEN agent_status_arn WHEN from_after THEN after_agent_status_arn ELSE before_agent_status_arn END AS agent_status_arn,
       CASE WHEN has_snapshot THEN agent_status_name WHEN from_after THEN after_agent_status_name ELSE before_agent_status_name END AS agent_status_name,
       CASE WHEN has_snapshot THEN agent_status_type WHEN from_after THEN after_agent_status_type ELSE before_agent_status_type END AS agent_status_type,
       contact_count,
       dt
FROM near
