-- One row per contact that went through a flow: its path through flows and modules (time in
-- flows counts flow rows only, since a module runs inside a flow), the queue the flows sent it
-- to, and from the agent side (agent_event_contacts, joined on instance_id and contact_id)
-- when it was queued, the agent who took it and when it connected. Contacts no agent
-- connected to have null agent columns. time_queued_seconds runs from the queue timestamp
-- (the agent side's, else the end of the flow step that sent the contact to the queue) to the
-- connection to the agent.
CREATE OR REPLACE VIEW contact_journeys AS
WITH flows AS (
  SELECT instance_id,
         contact_id,
         first_value(channel ORDER BY start_timestamp, event_id) AS channel,
         first_value(initiation_method ORDER BY start_timestamp, event_id) AS initiation_method,
         count(*) AS flow_steps,
         array_agg(coalesce(module_resource_id, flow_resource_id) ORDER BY start_timestamp, event_id) AS flow_path,
         min(start_timestamp) AS first_flow_timestamp,
         max(end_timestamp) AS last_flow_timestamp,
         sum(CASE WHEN resource_type IS NULL OR lower(resource_type) = 'flow'
                  THEN unix_micros(end_timestamp) - unix_micros(start_timestamp) END) AS flow_micros,
         last_value(next_queue_resource_id ORDER BY start_timestamp, event_id) FILTER (WHERE next_queue_resource_id IS NOT NULL) AS queue_id,
         max(CASE WHEN lower(next_resource_type) = 'queue' THEN end_timestamp END) AS sent_to_queue_timestamp
  FROM contact_flow_events
  WHERE contact_id IS NOT NULL
  GROUP BY instance_id, contact_id
),
-- The agent side: the first snapshot in which an agent is connected to the contact.
connected AS (
  SELECT instance_id, contact_id, agent_id, agent_arn, event_id, queue_name, queue_timestamp,
         connected_to_agent_timestamp,
         row_number() OVER (PARTITION BY instance_id, contact_id
                            ORDER BY connected_to_agent_timestamp, event_timestamp, event_id) AS n
  FROM agent_event_contacts
  WHERE connected_to_agent_timestamp IS NOT NULL
)
SELECT f.instance_id,
       f.contact_id,
       f.channel,
       f.initiation_method,
       f.flow_steps,
       f.flow_path,
       f.first_flow_timestamp,
       f.last_flow_timestamp,
       CAST(CAST(f.flow_micros / 1000 AS DECIMAL(18, 0)) / 1000 AS DECIMAL(18, 3)) AS time_in_flows_seconds,
       f.queue_id,
       c.queue_name,
       coalesce(c.queue_timestamp, f.sent_to_queue_timestamp) AS queue_timestamp,
       c.connected_to_agent_timestamp,
       CAST(CAST(unix_millis(c.connected_to_agent_timestamp)
                  - unix_millis(coalesce(c.queue_timestamp, f.sent_to_queue_timestamp)) AS DECIMAL(18, 0)) / 1000
            AS DECIMAL(18, 3)) AS time_queued_seconds,
       c.agent_id,
       c.agent_arn,
       e.username AS agent_username
FROM flows f
LEFT JOIN connected c
  ON c.instance_id = f.instance_id AND c.contact_id = f.contact_id AND c.n = 1
LEFT JOIN agent_events e
  ON e.event_id = c.event_id
