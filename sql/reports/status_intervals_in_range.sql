-- The status intervals of the range reports (status-time and its picture), as a leading WITH
-- that status_time.sql and team_timeline.sql continue: the audit's intervals
-- (agent_status_intervals, spec/reports.md section 1) of the agents the filters keep, clipped
-- to the range; an interval still open runs to the end of the range, or to now. Filters match
-- the identity of the event that starts each interval (resolved, section 0).
--   $1 range start (UTC)   $2 range end   $3 where an open interval ends: min(range end, now)
--   $4 usernames   $5 hierarchy group names (any level)   $6 routing profile names
WITH identity AS (
  SELECT agent_arn, event_timestamp,
         max(routing_profile_name) AS routing_profile_name,
         max(hierarchy_level1_name) AS h1, max(hierarchy_level2_name) AS h2,
         max(hierarchy_level3_name) AS h3, max(hierarchy_level4_name) AS h4,
         max(hierarchy_level5_name) AS h5
  FROM agent_events_resolved
  WHERE event_type <> 'HEART_BEAT'
  GROUP BY agent_arn, event_timestamp
),
clipped AS (
  SELECT i.username, i.status,
         CASE WHEN i.start_timestamp < $1 THEN $1 ELSE i.start_timestamp END AS part_from,
         CASE WHEN coalesce(i.end_timestamp, $3) > $2 THEN $2 ELSE coalesce(i.end_timestamp, $3) END AS part_to
  FROM agent_status_intervals i
  JOIN identity d ON d.agent_arn = i.agent_arn AND d.event_timestamp = i.start_timestamp
  WHERE i.start_timestamp < $2
    AND coalesce(i.end_timestamp, $3) > $1
    AND (cardinality($4) = 0 OR array_has($4, i.username))
    AND (cardinality($5) = 0 OR array_has($5, d.h1) OR array_has($5, d.h2) OR array_has($5, d.h3)
         OR array_has($5, d.h4) OR array_has($5, d.h5))
    AND (cardinality($6) = 0 OR array_has($6, d.routing_profile_name))
)
