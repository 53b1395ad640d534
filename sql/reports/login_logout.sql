-- Report `login-logout` (spec/reports.md §2): the sessions whose login or logout falls in
-- [$1, $2) (UTC), so a session that logs in before the range and out inside it shows both
-- times and one that spans the whole range is not shown. Filters are lists, OR within a
-- list, AND across lists; an empty list does not filter.
--   $3  usernames    $4  hierarchy group names (any level)    $5  routing profile names
SELECT username AS agent_username,
       first_name,
       last_name,
       routing_profile_name AS routing_profile,
       concat_ws(' / ', nullif(hierarchy_level1, ''), nullif(hierarchy_level2, ''), nullif(hierarchy_level3, ''),
                 nullif(hierarchy_level4, ''), nullif(hierarchy_level5, '')) AS hierarchy,
       login_timestamp AS login_time,
       logout_timestamp AS logout_time,
       duration_seconds,
       last_seen_timestamp AS last_seen_time
FROM login_logout_sessions
WHERE ((login_timestamp >= $1 AND login_timestamp < $2) OR (logout_timestamp >= $1 AND logout_timestamp < $2))
  AND (cardinality($3) = 0 OR array_has($3, username))
  AND (cardinality($4) = 0
       OR array_has($4, hierarchy_level1) OR array_has($4, hierarchy_level2) OR array_has($4, hierarchy_level3)
       OR array_has($4, hierarchy_level4) OR array_has($4, hierarchy_level5))
  AND (cardinality($5) = 0 OR array_has($5, routing_profile_name))
ORDER BY login_timestamp NULLS FIRST, username
