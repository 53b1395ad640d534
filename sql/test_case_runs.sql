-- One row per test case execution: its result and duration, its failure reasons, and the
-- flow events of the contacts it made (the initial contact and every associated contact):
-- how many, how many in the flow the test started with, the path of flows and modules in
-- order, and the outcome of the last one.
CREATE OR REPLACE VIEW test_case_runs AS
WITH run_contacts AS (
  SELECT instance_id, connect_test_case_resource_arn, connect_test_case_execution_start_timestamp,
         connect_test_case_execution_id, connect_test_case_initiating_flow_id,
         connect_test_case_associated_initial_contact_id AS contact_id
  FROM connect_test_case_execution_results
  WHERE connect_test_case_associated_initial_contact_id IS NOT NULL
  UNION
  SELECT instance_id, connect_test_case_resource_arn, connect_test_case_execution_start_timestamp,
         connect_test_case_execution_id, connect_test_case_initiating_flow_id,
         unnest(connect_test_case_associated_contact_ids) AS contact_id
  FROM connect_test_case_execution_results
),
run_flows AS (
  SELECT r.connect_test_case_resource_arn, r.connect_test_case_execution_start_timestamp,
         r.connect_test_case_execution_id,
         count(*) AS flow_events,
         sum(CASE WHEN f.flow_resource_id = r.connect_test_case_initiating_flow_id THEN 1 ELSE 0 END)
           AS initiating_flow_events,
         array_agg(coalesce(f.module_resource_id, f.flow_resource_id)
                   ORDER BY f.start_timestamp, f.event_id) AS flow_path,
         last_value(f.flow_outcome ORDER BY f.start_timestamp, f.event_id) AS last_flow_outcome,
         max(f.end_timestamp) AS flows_end_timestamp
  FROM run_contacts r
  JOIN contact_flow_events f
    ON f.contact_id = r.contact_id
   AND (r.instance_id IS NULL OR f.instance_id = r.instance_id)
  GROUP BY 1, 2, 3
)
SELECT t.instance_id,
       t.connect_test_case_resource_arn AS test_case_arn,
       t.connect_test_case_resource_name AS test_case_name,
       t.connect_test_case_execution_id AS execution_id,
       t.connect_test_case_type AS test_type,
       t.connect_test_case_execution_method AS execution_method,
       t.connect_test_case_execution_channel AS channel,
       t.connect_test_case_status AS status,
       t.connect_test_case_result AS result,
       t.connect_test_case_execution_start_timestamp AS start_timestamp,
       t.connect_test_case_execution_end_timestamp AS end_timestamp,
       CAST(CAST(unix_millis(t.connect_test_case_execution_end_timestamp)
                  - unix_millis(t.connect_test_case_execution_start_timestamp) AS DECIMAL(18, 0)) / 1000
            AS DECIMAL(18, 3)) AS duration_seconds,
       t.connect_test_case_failure_reasons AS failure_reasons,
       t.connect_test_case_associated_initial_contact_id AS initial_contact_id,
       t.connect_test_case_associated_contact_ids AS associated_contact_ids,
       t.connect_test_case_initiating_flow_id AS initiating_flow_id,
       coalesce(f.flow_events, 0) AS flow_events,
       coalesce(f.initiating_flow_events, 0) AS initiating_flow_events,
       f.flow_path,
       f.last_flow_outcome,
       f.flows_end_timestamp,
       t.dt
FROM connect_test_case_execution_results t
LEFT JOIN run_flows f
  ON f.connect_test_case_resource_arn = t.connect_test_case_resource_arn
 AND f.connect_test_case_execution_start_timestamp = t.connect_test_case_execution_start_timestamp
 AND f.connect_test_case_execution_id = t.connect_test_case_execution_id
