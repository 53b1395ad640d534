-- Each contact of an event's current snapshot mapped to the status it gives the agent, with
-- the rank that decides between concurrent contacts (lowest wins). The mapping table of
-- spec/reports.md §1; edit it here to change how contacts read as statuses.
CREATE OR REPLACE VIEW agent_contact_status AS
SELECT
  event_id,
  event_timestamp,
  agent_arn,
  contact_id,
  channel,
  initiation_method,
  state,
  state_start_timestamp,
  CASE
    WHEN upper(state) = 'ERROR' THEN 1
    WHEN upper(state) = 'MISSED' THEN 2
    WHEN upper(state) = 'REJECTED' THEN 3
    WHEN upper(state) IN ('CONNECTED_ONHOLD', 'PAUSED', 'CONNECTED') THEN 4
    WHEN upper(state) = 'CONNECTING' AND initiation_method = 'OUTBOUND' THEN 4
    WHEN upper(state) = 'ENDED' THEN 5
    ELSE 6
  END AS status_rank,
  CASE
    WHEN upper(state) = 'ERROR' THEN
      CASE WHEN channel = 'VOICE' AND initiation_method IN ('OUTBOUND', 'CALLBACK') THEN 'Telecom issue' ELSE 'Error' END
    WHEN upper(state) = 'MISSED' THEN
      CASE WHEN channel = 'VOICE' THEN 'Agent Disconnected' ELSE 'Contact Missed' END
    WHEN upper(state) = 'REJECTED' THEN
      CASE WHEN channel IN ('TASK', 'EMAIL') THEN 'Rejected' ELSE 'Contact Missed' END
    WHEN upper(state) = 'CONNECTED_ONHOLD' THEN 'On Hold'
    WHEN upper(state) = 'PAUSED' THEN 'Paused'
    WHEN upper(state) = 'CONNECTED' THEN
      CASE WHEN channel = 'CHAT' THEN 'Connected' ELSE 'Busy' END
    WHEN upper(state) = 'CONNECTING' AND initiation_method = 'OUTBOUND' THEN 'Calling Customer'
    WHEN upper(state) = 'ENDED' THEN
      CASE WHEN initiation_method = 'CALLBACK' AND connected_to_agent_timestamp IS NULL
           THEN 'Missed Call Agent' ELSE 'After Contact Work' END
    WHEN upper(state) IN ('CONNECTING', 'INCOMING', 'PENDING') THEN
      CASE WHEN channel = 'CHAT' THEN 'Connecting' ELSE 'Connecting Agent' END
    ELSE state
  END AS status
FROM agent_event_contacts
