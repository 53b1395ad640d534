-- Agent activity segments (spec/reports.md section 4): an agent's non-HEART_BEAT events, in
-- order, cut its time into segments [event, next event). A segment that starts at a LOGOUT
-- counts nothing and is left out; every other one has the state of the event that starts it:
-- its agent status (resolved for events without a snapshot, section 0, which have no
-- contacts) and the contacts of its current snapshot. One boolean per metric condition; the
-- agent-activity report sums their lengths per interval. The last segment of an agent has no
-- end (a report runs it to the end of its range, or to now).
-- Beyond the spec's columns: the routing profile and hierarchy names of the starting event
-- (what report filters match) and its event_id.
CREATE OR REPLACE VIEW agent_activity_segments AS
WITH events AS (
  SELECT instance_id, agent_arn, agent_id, username, routing_profile_name,
         hierarchy_level1_name, hierarchy_level2_name, hierarchy_level3_name,
         hierarchy_level4_name, hierarchy_level5_name,
         event_id, event_type, event_timestamp, agent_status_name, agent_status_type,
         lead(event_timestamp) OVER (PARTITION BY agent_arn ORDER BY event_timestamp, event_id)
           AS next_timestamp
  FROM agent_events_resolved
  WHERE event_type <> 'HEART_BEAT'
),
-- Per event: which kinds of contact its snapshot holds (1 = at least one).
contact_kinds AS (
  SELECT event_id,
         max(CASE WHEN upper(state) IN ('CONNECTED', 'CONNECTED_ONHOLD', 'PAUSED', 'ENDED')
                    OR (upper(state) = 'CONNECTING' AND initiation_method = 'OUTBOUND')
                  THEN 1 ELSE 0 END) AS handling,
         max(CASE WHEN upper(state) IN ('INCOMING', 'PENDING')
                    OR (upper(state) = 'CONNECTING' AND (initiation_method IS NULL OR initiation_method <> 'OUTBOUND'))
                  THEN 1 ELSE 0 END) AS incoming,
         max(CASE WHEN upper(state) = 'ENDED' THEN 1 ELSE 0 END) AS ended,
         max(CASE WHEN upper(state) IN ('CONNECTED', 'CONNECTED_ONHOLD', 'PAUSED')
                    OR (upper(state) = 'CONNECTING' AND initiation_method = 'OUTBOUND')
                  THEN 1 ELSE 0 END) AS live,
         max(CASE WHEN upper(state) = 'ERROR' THEN 1 ELSE 0 END) AS erred,
         min(CASE WHEN upper(state) = 'ERROR' THEN 1 ELSE 0 END) AS all_erred
  FROM agent_event_contacts
  GROUP BY event_id
),
classed AS (
  SELECT e.*,
         CASE WHEN upper(e.agent_status_type) = 'OFFLINE'
                OR (e.agent_status_type IS NULL AND e.agent_status_name = 'Offline') THEN 'offline'
              WHEN upper(e.agent_status_type) = 'ROUTABLE'
                OR (e.agent_status_type IS NULL AND e.agent_status_name = 'Available') THEN 'routable'
              ELSE 'custom' END AS status_class,
         c.event_id IS NOT NULL AS has_contacts,
         coalesce(c.handling, 0) AS handling,
         coalesce(c.incoming, 0) AS incoming_contact,
         coalesce(c.ended, 0) AS ended,
         coalesce(c.live, 0) AS live,
         coalesce(c.erred, 0) AS erred,
         coalesce(c.all_erred, 0) AS all_erred
  FROM events e
  LEFT JOIN contact_kinds c ON c.event_id = e.event_id
  WHERE e.event_type <> 'LOGOUT'
)
SELECT instance_id, agent_arn, agent_id, username,
       event_timestamp AS start_timestamp,
       next_timestamp AS end_timestamp,
       status_class,
       agent_status_name,
       status_class <> 'offline' AS online,
       handling = 1 AND status_class = 'routable' AS on_contact,
       status_class = 'routable' AND (NOT has_contacts OR all_erred = 1) AS idle,
       status_class = 'routable' AND handling = 0 AND incoming_contact = 1 AS incoming,
       ended = 1 AND live = 0 AS after_contact_work,
       status_class = 'custom' AS non_productive,
       erred = 1 AS error,
       routing_profile_name,
       hierarchy_level1_name, hierarchy_level2_name, hierarchy_level3_name,
       hierarchy_level4_name, hierarchy_level5_name,
       event_id
FROM classed
