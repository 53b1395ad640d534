-- The team's picture for `status-time --format svg`, after status_intervals_in_range.sql:
-- every clipped status interval, in username then time order.
SELECT username AS agent_username, status, part_from AS start_time, part_to AS end_time
FROM clipped
WHERE part_to > part_from
ORDER BY username, part_from, part_to, status
