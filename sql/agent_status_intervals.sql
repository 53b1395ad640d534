-- Every status an agent was in, as intervals (spec/reports.md §1). An event's status is its
-- highest-ranked contact's label, else its agent status name (resolved for events without a
-- snapshot, §0); HEART_BEATs change nothing; of an agent's events at one instant only the last
-- sets a status (no zero-length intervals), though a LOGOUT among them still ends the open
-- interval; a LOGOUT ends the open interval; equal consecutive (status, contact) make one
-- interval; the last interval stays open (end_timestamp null).
CREATE OR REPLACE VIEW agent_status_intervals AS
WITH picked AS (
  -- An event's contacts ordered by rank; the first one gives the event its status. The order
  -- runs within the agent (an event is one agent's), not within each event: one window over
  -- a few hundred agents instead of a partition per event, about 1 s of CPU on a 10-day lake.
  SELECT event_id, agent_arn, contact_id, channel, status
  FROM (
    SELECT event_id, agent_arn, contact_id, channel, status,
           lag(event_id) OVER (
             PARTITION BY agent_arn
             ORDER BY event_id, status_rank, state_start_timestamp DESC NULLS LAST, contact_id
           ) AS previous_event_id
    FROM agent_contact_status
  ) ranked
  WHERE previous_event_id IS NULL OR previous_event_id <> event_id
),
statuses AS (
  SELECT e.instance_id, e.agent_arn, e.agent_id, e.username, e.event_id, e.event_type, e.event_timestamp,
         CASE WHEN e.event_type = 'LOGOUT' THEN NULL ELSE coalesce(p.status, e.agent_status_name) END AS status,
         CASE WHEN e.event_type = 'LOGOUT' THEN NULL ELSE p.contact_id END AS contact_id,
         CASE WHEN e.event_type = 'LOGOUT' THEN NULL ELSE p.channel END AS channel,
         lead(e.event_timestamp) OVER (PARTITION BY e.agent_arn ORDER BY e.event_timestamp, e.event_id)
           AS next_event_timestamp
  FROM agent_events_resolved e
  LEFT JOIN picked p ON p.event_id = e.event_id AND p.agent_arn = e.agent_arn
  WHERE e.event_type IN ('LOGIN', 'LOGOUT', 'STATE_CHANGE')
),
-- Events at one instant: the last one sets the status; a LOGOUT always counts.
settled AS (
  SELECT * FROM statuses
  WHERE event_type = 'LOGOUT' OR next_event_timestamp IS NULL OR next_event_timestamp > event_timestamp
),
marked AS (
  SELECT *,
         lag(event_type) OVER (PARTITION BY agent_arn ORDER BY event_timestamp, event_id) AS prev_type,
         lag(status) OVER (PARTITION BY agent_arn ORDER BY event_timestamp, event_id) AS prev_status,
         lag(contact_id) OVER (PARTITION BY agent_arn ORDER BY event_timestamp, event_id) AS prev_contact
  FROM settled
),
boundaries AS (
  SELECT *,
         lead(event_timestamp) OVER (PARTITION BY agent_arn ORDER BY event_timestamp, event_id) AS end_timestamp
  FROM marked
  WHERE event_type = 'LOGOUT'
     OR prev_type IS NULL
     OR prev_type = 'LOGOUT'
     OR (status IS DISTINCT FROM prev_status)
     OR (contact_id IS DISTINCT FROM prev_contact)
)
SELECT instance_id, agent_arn, agent_id, username, status, contact_id, channel,
       event_timestamp AS start_timestamp, end_timestamp
FROM boundaries
WHERE event_type <> 'LOGOUT'
