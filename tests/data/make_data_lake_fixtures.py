"""Writes the data-lake fixtures (contact_flow_events, test case results and the agent events
that meet them) from the rows below. Rerun after changing a row; the Parquet exports need
DuckDB: `.venv/bin/python tests/data/make_data_lake_fixtures.py` (the venv `make bench` makes).
Each file is one case; tests/data/expected/README.md says what the expected views pin."""
import csv, io, json, os, datetime as dt

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "123456789012"
INSTANCE = "11111111-2222-3333-4444-555555555555"
IARN = f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/{INSTANCE}"
F_MAIN, F_ROUTE, F_QUEUE = "flow-main-ivr", "flow-route", "flow-customer-queue"
M_AUTH = "module-authenticate"
Q_SUPPORT, Q_SALES = "queue-support", "queue-sales"

def ms(text):
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(round(t.timestamp() * 1000))

def flow(event_id, contact, channel, rtype, fid, start, end, outcome, *, module=None,
         ftype="CONTACT_FLOW", next_type=None, next_flow=None, next_queue=None,
         processed="2026-11-22T01:00:00.000Z", method="INBOUND"):
    return {
        "instance_id": INSTANCE, "event_id": event_id, "aws_account_id": ACCOUNT,
        "instance_arn": IARN, "contact_id": contact, "flow_resource_id": fid,
        "module_resource_id": module, "resource_version": "3", "resource_type": rtype,
        "channel": channel, "start_timestamp": start, "end_timestamp": end,
        "next_flow_resource_id": next_flow, "next_queue_resource_id": next_queue,
        "next_resource_type": next_type, "flow_language_version": "2019-10-30",
        "flow_outcome": outcome, "sub_type": "connect:Chat" if channel == "CHAT" else None,
        "flow_type": ftype, "initiation_method": method,
        "resource_published_timestamp": "2026-10-01T12:00:00.000Z",
        "data_lake_last_processed_timestamp": processed,
    }

FLOWS = [
    # c-voice-1: IVR with an authentication module, routed to Support, then queued.
    flow("ev-1", "c-voice-1", "VOICE", "flow", F_MAIN, "2026-11-20T10:00:00.000Z", "2026-11-20T10:00:42.500Z",
         "Success", next_type="flow", next_flow=F_ROUTE),
    flow("ev-2", "c-voice-1", "VOICE", "module", F_MAIN, "2026-11-20T10:00:05.000Z", "2026-11-20T10:00:20.250Z",
         "Authenticated", module=M_AUTH),
    flow("ev-3", "c-voice-1", "VOICE", "flow", F_ROUTE, "2026-11-20T10:00:42.500Z", "2026-11-20T10:00:50.000Z",
         "Queued", next_type="queue", next_queue=Q_SUPPORT),
    flow("ev-4", "c-voice-1", "VOICE", "flow", F_QUEUE, "2026-11-20T10:00:50.000Z", "2026-11-20T10:02:10.000Z",
         "AgentConnected", ftype="CUSTOMER_QUEUE"),
    # c-chat-2: a chat whose path crosses UTC midnight: its rows land in two days.
    flow("ev-5", "c-chat-2", "CHAT", "flow", F_MAIN, "2026-11-20T23:59:58.000Z", "2026-11-21T00:00:03.000Z",
         "Success", next_type="queue", next_queue=Q_SALES),
    flow("ev-6", "c-chat-2", "CHAT", "flow", F_QUEUE, "2026-11-21T00:00:03.000Z", "2026-11-21T00:01:00.000Z",
         "CustomerDisconnected", ftype="CUSTOMER_QUEUE"),
    # t-contact-1 and t-contact-2: the contacts of test run exec-1.
    flow("ev-7", "t-contact-1", "VOICE", "flow", F_MAIN, "2026-11-21T08:00:00.000Z", "2026-11-21T08:00:30.000Z",
         "Success", next_type="flow", next_flow=F_ROUTE, method="API"),
    flow("ev-8", "t-contact-2", "VOICE", "flow", F_ROUTE, "2026-11-21T08:00:31.000Z", "2026-11-21T08:00:40.000Z",
         "Transferred", method="TRANSFER"),
]

def tc(arn_n, name, exec_id, start, end, status, result, reasons, initial, associated, created,
       processed=None):
    return {
        "instance_id": INSTANCE, "instance_arn": IARN, "aws_account_id": ACCOUNT,
        "connect_test_case_resource_arn": f"{IARN}/test-case/tc-{arn_n}",
        "connect_test_case_resource_name": name,
        "connect_test_case_execution_start_timestamp": start,
        "connect_test_case_execution_end_timestamp": end,
        "connect_test_case_status": status, "connect_test_case_result": result,
        "connect_test_case_execution_id": exec_id,
        "connect_test_case_failure_reasons": reasons,
        "connect_test_case_type": "FlowTest", "connect_test_case_execution_method": "Scheduled",
        "connect_test_case_execution_channel": "Voice",
        "connect_test_case_execution_channel_subtype": None,
        "connect_test_case_associated_initial_contact_id": initial,
        "connect_test_case_associated_contact_ids": associated,
        "connect_test_case_initiating_flow_id": F_MAIN,
        "record_creation_timestamp": created,
        "data_lake_last_processed_timestamp": processed,
    }

RUNS = [
    tc(1, "Main IVR happy path", "exec-1", "2026-11-21T08:00:00.000Z", "2026-11-21T08:00:45.250Z",
       "Completed", "Passed", [], "t-contact-1", ["t-contact-1", "t-contact-2"], "2026-11-21T08:01:00.000Z"),
    tc(2, "Authentication fails", "exec-2", "2026-11-21T09:00:00.000Z", "2026-11-21T09:00:10.000Z",
       "Failed", "Failed", ["Expected prompt not played", "Timeout"], "t-contact-3", ["t-contact-3"],
       "2026-11-21T09:00:20.000Z"),
]
# exec-2 as first recorded while in progress: an older record_creation_timestamp, so it loses.
RUN2_IN_PROGRESS = dict(RUNS[1], connect_test_case_status="InProgress", connect_test_case_result=None,
                        connect_test_case_failure_reasons=None, connect_test_case_execution_end_timestamp=None,
                        record_creation_timestamp="2026-11-21T09:00:01.000Z")

def write(path, text):
    with open(os.path.join(HERE, path), "w", newline="") as f:
        f.write(text)

def ndjson(rows, upper_keys=False):
    out = []
    for r in rows:
        r = {(k.upper() if upper_keys else k): v for k, v in r.items()}
        out.append(json.dumps(r))
    return "\n".join(out) + "\n"

def to_csv(rows, epoch=False):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keys = list(rows[0].keys())
    w.writerow(keys)
    for r in rows:
        cells = []
        for k in keys:
            v = r[k]
            if v is None: cells.append("")
            elif isinstance(v, list): cells.append(json.dumps(v))
            elif epoch and k.endswith("_timestamp"): cells.append(str(ms(v)))
            else: cells.append(v)
        w.writerow(cells)
    return buf.getvalue()

# contact_flow_events: the same rows as NDJSON with ISO timestamps and upper-case keys, and as
# CSV with epoch milliseconds; loading both must give the rows once.
write("contact_flow_events/iso-timestamps.ndjson", ndjson(FLOWS, upper_keys=True))
write("contact_flow_events/epoch-millis.csv", to_csv(FLOWS, epoch=True))
older = dict(FLOWS[2], flow_outcome="Queued (first processing)",
             data_lake_last_processed_timestamp="2026-11-21T01:00:00.000Z")
write("contact_flow_events/older-version.ndjson", ndjson([older]))
newer = dict(FLOWS[2], flow_outcome="Queued (reprocessed)",
             data_lake_last_processed_timestamp="2026-11-23T01:00:00.000Z")
write("contact_flow_events/newer-version.ndjson", ndjson([newer]))
no_key = dict(FLOWS[0]); del no_key["event_id"]
bad_ts = dict(FLOWS[1], event_id="ev-bad", start_timestamp="20/11/2026 10:00")
write("contact_flow_events/missing-key-and-bad-timestamp.ndjson", ndjson([no_key, FLOWS[0], bad_ts]))

# test case results: CSV (ISO, lists as JSON), NDJSON with the older exec-2 version after the newer.
write("test_case_results/runs.csv", to_csv(RUNS))
write("test_case_results/in-progress-version.ndjson", ndjson([RUN2_IN_PROGRESS]))

# Parquet exports, as another engine writes them (DuckDB: TIMESTAMPTZ, VARCHAR[]).
try:
    import duckdb
except ImportError:
    print("duckdb not installed: Parquet fixtures left as they are")
else:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    for src, dst, lists in [
        ("contact_flow_events/iso-timestamps.ndjson", "contact_flow_events/duckdb-export.parquet", []),
        ("test_case_results/runs.csv", "test_case_results/duckdb-export.parquet",
         ["connect_test_case_failure_reasons", "connect_test_case_associated_contact_ids"]),
    ]:
        path = os.path.join(HERE, src)
        if src.endswith(".csv"):
            rel = f"read_csv('{path}', header=true, all_varchar=true)"
        else:
            rel = f"read_json('{path}', format='newline_delimited')"
        cols = con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
        exprs = []
        for name, typ, *_ in cols:
            low = name.lower()
            if low.endswith("_timestamp"):
                exprs.append(f'CAST("{name}" AS TIMESTAMPTZ) AS {low}')
            elif low in lists:
                exprs.append(f'CAST(json("{name}") AS VARCHAR[]) AS {low}')
            else:
                exprs.append(f'"{name}" AS {low}')
        con.execute(f"COPY (SELECT {', '.join(exprs)} FROM {rel}) TO '{os.path.join(HERE, dst)}' (FORMAT parquet)")

# Agent events that meet the flows: agent ana takes c-voice-1 from Support at 10:02:10.
AARN = f"{IARN}/agent/agent-ana"
def agent_event(eid, ts, state, connected):
    contact = {"ContactId": "c-voice-1", "InitialContactId": None, "Channel": "VOICE",
               "InitiationMethod": "INBOUND", "State": state, "StateStartTimestamp": ts,
               "QueueTimestamp": "2026-11-20T10:00:50.000Z",
               "Queue": {"ARN": f"{IARN}/queue/{Q_SUPPORT}", "Name": "Support"}}
    if connected:
        contact["ConnectedToAgentTimestamp"] = connected
    return {"AWSAccountId": ACCOUNT, "AgentARN": AARN, "EventId": eid, "EventType": "STATE_CHANGE",
            "EventTimestamp": ts, "InstanceARN": IARN, "Version": "2019-05-25",
            "CurrentAgentSnapshot": {
                "AgentStatus": {"ARN": f"{IARN}/agent-state/available", "Name": "Available",
                                "StartTimestamp": "2026-11-20T09:00:00.000Z", "Type": "ROUTABLE"},
                "Configuration": {"Username": "ana", "FirstName": "Ana", "LastName": "Silva",
                                  "RoutingProfile": {"ARN": f"{IARN}/routing-profile/rp", "Name": "Support Profile",
                                                     "InboundQueues": []}},
                "Contacts": [contact]}}
write("agent_events/meets-contact-flows.ndjson", ndjson([
    agent_event("ae-1", "2026-11-20T10:02:05.000Z", "CONNECTING", None),
    agent_event("ae-2", "2026-11-20T10:02:10.000Z", "CONNECTED", "2026-11-20T10:02:10.000Z"),
]))
