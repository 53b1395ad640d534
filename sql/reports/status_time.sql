-- Report `status-time` (spec/reports.md section 4), after status_intervals_in_range.sql: the
-- clipped status intervals split at the bounds of each interval of report_buckets and summed
-- per agent, interval and status.
, pieces AS (
  SELECT c.username, c.status, b.interval_start, b.interval_end,
         unix_micros(CASE WHEN c.part_to < b.interval_end THEN c.part_to ELSE b.interval_end END)
           - unix_micros(CASE WHEN c.part_from > b.interval_start THEN c.part_from ELSE b.interval_start END)
           AS micros
  FROM clipped c
  JOIN report_buckets b ON c.part_from < b.interval_end AND c.part_to > b.interval_start
)
SELECT username AS agent_username, interval_start, interval_end, status,
       CAST(CAST(sum(micros) AS DECIMAL(20, 0)) / 1000000 AS DECIMAL(18, 3)) AS seconds
FROM pieces
GROUP BY username, interval_start, interval_end, status
HAVING sum(micros) > 0
ORDER BY interval_start, username, status
