-- Report `audit`, the agent activity audit (spec/reports.md §1): the status intervals of one
-- agent that overlap a local day, clipped to it, so the status in force at local midnight
-- starts the day however long before it began.
--   $1  the agent's username
--   $2  the day's first instant (UTC)       $3  the next day's first instant (UTC)
--   $4  where an interval still open at the end of the data ends: the day's end, or now
SELECT agent_username, status, start_time, end_time,
       CAST(CAST(unix_millis(end_time) - unix_millis(start_time) AS DECIMAL(18, 0)) / 1000
            AS DECIMAL(18, 3)) AS duration_seconds,
       channel, contact_id
FROM (
  SELECT username AS agent_username,
         status,
         CASE WHEN start_timestamp < $2 THEN $2 ELSE start_timestamp END AS start_time,
         CASE WHEN coalesce(end_timestamp, $4) > $3 THEN $3 ELSE coalesce(end_timestamp, $4) END AS end_time,
         channel,
         contact_id
  FROM agent_status_intervals
  WHERE username = $1
    AND start_timestamp < $3
    AND coalesce(end_timestamp, $4) > $2
) clipped
WHERE end_time > start_time
ORDER BY start_time
