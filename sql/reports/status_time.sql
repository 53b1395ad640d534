-- Report `status-time` (spec/reports.md section 4), after status_intervals_in_range.sql: the
-- clipped status intervals split at the slots of report_slots (as in agent_activity.sql: $7
-- microseconds each, one row per slot with its interval) and summed per agent, interval and
-- status.
, slotted AS (
  SELECT username, status, from_us, to_us,
         unnest(generate_series(from_us / $7, (to_us - 1) / $7)) AS slot
  FROM (SELECT username, status, unix_micros(part_from) AS from_us, unix_micros(part_to) AS to_us
        FROM clipped) c
  WHERE to_us > from_us
),
pieces AS (
  SELECT c.username, c.status, b.interval_start, b.interval_end,
         least(c.to_us, b.slot_to_us) - greatest(c.from_us, b.slot_from_us) AS micros
  FROM slotted c
  JOIN report_slots b ON b.slot = c.slot
)
SELECT username AS agent_username, interval_start, interval_end, status,
       CAST(CAST(sum(micros) AS DECIMAL(20, 0)) / 1000000 AS DECIMAL(18, 3)) AS seconds
FROM pieces
GROUP BY username, interval_start, interval_end, status
HAVING sum(micros) > 0
ORDER BY interval_start, username, status
