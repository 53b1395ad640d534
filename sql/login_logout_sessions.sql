-- One row per login session (spec/reports.md §2). Over an agent's LOGIN and LOGOUT events in
-- order: a LOGIN with no open session opens one, a LOGIN inside a session changes nothing, a
-- LOGOUT closes the open session, a LOGOUT with no open session is a session whose login is
-- older than the data. Name, routing profile and hierarchy come from the opening event, as
-- resolved when its record had no snapshot (spec/reports.md section 0).
CREATE OR REPLACE VIEW login_logout_sessions AS
WITH logins AS (
  SELECT *,
         lag(event_type) OVER (PARTITION BY agent_arn ORDER BY event_timestamp, event_id) AS prev_type
  FROM agent_events_resolved
  WHERE event_type IN ('LOGIN', 'LOGOUT')
),
-- The events that open or close a session: LOGINs with no session open, and every LOGOUT.
keyed AS (
  SELECT * FROM logins
  WHERE event_type = 'LOGOUT' OR prev_type IS NULL OR prev_type = 'LOGOUT'
),
paired AS (
  SELECT *,
         lead(event_type) OVER (PARTITION BY agent_arn ORDER BY event_timestamp, event_id) AS next_type,
         lead(event_timestamp) OVER (PARTITION BY agent_arn ORDER BY event_timestamp, event_id) AS next_timestamp,
         lag(event_type) OVER (PARTITION BY agent_arn ORDER BY event_timestamp, event_id) AS prev_keyed_type
  FROM keyed
),
sessions AS (
  SELECT *,
         CASE WHEN event_type = 'LOGIN' THEN event_timestamp END AS login_timestamp,
         CASE WHEN event_type = 'LOGOUT' THEN event_timestamp
              WHEN next_type = 'LOGOUT' THEN next_timestamp END AS logout_timestamp
  FROM paired
  WHERE event_type = 'LOGIN' OR prev_keyed_type IS NULL OR prev_keyed_type = 'LOGOUT'
),
-- An open session is the agent's last: every later event, HEART_BEATs included, is in it.
last_event AS (
  SELECT agent_arn, max(event_timestamp) AS last_timestamp
  FROM agent_events
  GROUP BY agent_arn
)
SELECT s.instance_id, s.agent_arn, s.agent_id, s.username, s.first_name, s.last_name,
       s.routing_profile_name,
       s.hierarchy_level1_name AS hierarchy_level1,
       s.hierarchy_level2_name AS hierarchy_level2,
       s.hierarchy_level3_name AS hierarchy_level3,
       s.hierarchy_level4_name AS hierarchy_level4,
       s.hierarchy_level5_name AS hierarchy_level5,
       s.login_timestamp,
       s.logout_timestamp,
       CAST(CAST(unix_millis(s.logout_timestamp) - unix_millis(s.login_timestamp) AS DECIMAL(18, 0)) / 1000 AS DECIMAL(18, 3))
         AS duration_seconds,
       coalesce(s.logout_timestamp, l.last_timestamp) AS last_seen_timestamp
FROM sessions s
JOIN last_event l ON l.agent_arn = s.agent_arn
