-- Report `agent-activity` (spec/reports.md section 4): per agent and interval, the seconds of
-- each metric condition of agent_activity_segments, occupancy and contacts handled. Segments
-- are clipped to the range and split at the interval bounds; only time inside the range
-- counts, and an agent's last segment runs to the end of the range, or to now.
-- The intervals come as the table report_slots (made by the report for its zone and interval):
-- every interval cut into slots of $7 microseconds counted from the epoch (15 minutes, or
-- less where an interval bound is off that grid), one row per slot with its interval. A
-- segment is split into the slots it overlaps and joined to them on the slot number: an
-- equality join, where overlap conditions would compare every segment with every interval.
--   $1 range start (UTC)   $2 range end   $3 where an open segment ends: min(range end, now)
--   $4 usernames   $5 hierarchy group names (any level)   $6 routing profile names
--   $7 slot length (µs)
WITH segments AS (
  SELECT agent_arn, username, online, on_contact, idle, incoming, after_contact_work,
         non_productive, error,
         CASE WHEN start_timestamp < $1 THEN $1 ELSE start_timestamp END AS seg_from,
         CASE WHEN coalesce(end_timestamp, $3) > $2 THEN $2 ELSE coalesce(end_timestamp, $3) END AS seg_to
  FROM agent_activity_segments
  WHERE start_timestamp < $2
    AND coalesce(end_timestamp, $3) > $1
    AND (cardinality($4) = 0 OR array_has($4, username))
    AND (cardinality($5) = 0
         OR array_has($5, hierarchy_level1_name) OR array_has($5, hierarchy_level2_name)
         OR array_has($5, hierarchy_level3_name) OR array_has($5, hierarchy_level4_name)
         OR array_has($5, hierarchy_level5_name))
    AND (cardinality($6) = 0 OR array_has($6, routing_profile_name))
),
slotted AS (
  SELECT agent_arn, username, online, on_contact, idle, incoming, after_contact_work,
         non_productive, error, from_us, to_us,
         unnest(generate_series(from_us / $7, (to_us - 1) / $7)) AS slot
  FROM (SELECT *, unix_micros(seg_from) AS from_us, unix_micros(seg_to) AS to_us FROM segments) s
  WHERE to_us > from_us
),
pieces AS (
  SELECT s.agent_arn, s.username, b.interval_start, b.interval_end,
         least(s.to_us, b.slot_to_us) - greatest(s.from_us, b.slot_from_us) AS micros,
         s.online, s.on_contact, s.idle, s.incoming, s.after_contact_work, s.non_productive, s.error
  FROM slotted s
  JOIN report_slots b ON b.slot = s.slot
),
sums AS (
  SELECT agent_arn, username, interval_start, interval_end,
         sum(CASE WHEN online THEN micros ELSE 0 END) AS online_us,
         sum(CASE WHEN on_contact THEN micros ELSE 0 END) AS on_contact_us,
         sum(CASE WHEN idle THEN micros ELSE 0 END) AS idle_us,
         sum(CASE WHEN incoming THEN micros ELSE 0 END) AS incoming_us,
         sum(CASE WHEN after_contact_work THEN micros ELSE 0 END) AS acw_us,
         sum(CASE WHEN non_productive THEN micros ELSE 0 END) AS non_productive_us,
         sum(CASE WHEN error THEN micros ELSE 0 END) AS error_us
  FROM pieces
  GROUP BY agent_arn, username, interval_start, interval_end
),
-- Contacts an agent was connected to in each interval (and in the range).
handled AS (
  SELECT c.agent_arn, b.interval_start, count(DISTINCT c.contact_id) AS contacts_handled
  FROM agent_event_contacts c
  JOIN report_slots b ON b.slot = unix_micros(c.connected_to_agent_timestamp) / $7
  WHERE c.connected_to_agent_timestamp >= $1 AND c.connected_to_agent_timestamp < $2
  GROUP BY c.agent_arn, b.interval_start
)
SELECT s.username AS agent_username,
       s.interval_start,
       s.interval_end,
       CAST(CAST(s.online_us AS DECIMAL(20, 0)) / 1000000 AS DECIMAL(18, 3)) AS online_seconds,
       CAST(CAST(s.on_contact_us AS DECIMAL(20, 0)) / 1000000 AS DECIMAL(18, 3)) AS on_contact_seconds,
       CAST(CAST(s.idle_us AS DECIMAL(20, 0)) / 1000000 AS DECIMAL(18, 3)) AS idle_seconds,
       CAST(CAST(s.incoming_us AS DECIMAL(20, 0)) / 1000000 AS DECIMAL(18, 3)) AS incoming_seconds,
       CAST(CAST(s.acw_us AS DECIMAL(20, 0)) / 1000000 AS DECIMAL(18, 3)) AS after_contact_work_seconds,
       CAST(CAST(s.non_productive_us AS DECIMAL(20, 0)) / 1000000 AS DECIMAL(18, 3)) AS non_productive_seconds,
       CAST(CAST(s.error_us AS DECIMAL(20, 0)) / 1000000 AS DECIMAL(18, 3)) AS error_seconds,
       CASE WHEN s.on_contact_us + s.idle_us = 0 THEN NULL
            ELSE CAST(CAST(s.on_contact_us AS DOUBLE) / CAST(s.on_contact_us + s.idle_us AS DOUBLE) AS DECIMAL(10, 4))
       END AS occupancy,
       coalesce(h.contacts_handled, 0) AS contacts_handled
FROM sums s
LEFT JOIN handled h ON h.agent_arn = s.agent_arn AND h.interval_start = s.interval_start
WHERE s.online_us + s.on_contact_us + s.idle_us + s.incoming_us + s.acw_us + s.non_productive_us + s.error_us > 0
ORDER BY s.interval_start, s.username, s.agent_arn
