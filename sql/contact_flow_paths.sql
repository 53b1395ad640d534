-- One row per flow event of a contact, in the order the contact went through them: the step
-- number, how long the step took, and what came next. What came next is what the event itself
-- names (next_resource_type flow or queue, with its id); when it names nothing, the contact's
-- next step (a flow or a module); the last step of a path has none.
CREATE OR REPLACE VIEW contact_flow_paths AS
WITH ordered AS (
  SELECT *,
         row_number() OVER (PARTITION BY instance_id, contact_id
                            ORDER BY start_timestamp, end_timestamp NULLS LAST, event_id) AS step,
         lead(resource_type) OVER (PARTITION BY instance_id, contact_id
                                   ORDER BY start_timestamp, end_timestamp NULLS LAST, event_id) AS following_type,
         lead(coalesce(module_resource_id, flow_resource_id)) OVER (PARTITION BY instance_id, contact_id
                                   ORDER BY start_timestamp, end_timestamp NULLS LAST, event_id) AS following_id
  FROM contact_flow_events
  WHERE contact_id IS NOT NULL
)
SELECT instance_id,
       contact_id,
       step,
       event_id,
       resource_type,
       flow_resource_id,
       module_resource_id,
       flow_type,
       channel,
       initiation_method,
       start_timestamp,
       end_timestamp,
       CAST(CAST(unix_millis(end_timestamp) - unix_millis(start_timestamp) AS DECIMAL(18, 0)) / 1000 AS DECIMAL(18, 3))
         AS duration_seconds,
       flow_outcome,
       CASE WHEN lower(next_resource_type) = 'queue' THEN 'queue'
            WHEN lower(next_resource_type) = 'flow' THEN 'flow'
            ELSE lower(following_type) END AS next_type,
       CASE WHEN lower(next_resource_type) = 'queue' THEN next_queue_resource_id
            WHEN lower(next_resource_type) = 'flow' THEN next_flow_resource_id
            ELSE following_id END AS next_resource_id,
       dt
FROM ordered
