#!/usr/bin/env python3
"""Writes the hostile-input fixtures of issue 11 (tests/data/hostile/): a gzip Firehose object
cut at two thirds, two gzip members of which the second is damaged, a flow export in epoch
seconds, a CSV with Hive's \\N and NULL, agent events at year 0000 and 9999. Deterministic;
the output is committed."""
import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "hostile")
AGENT = os.path.join(HERE, "agent_events")
FLOWS = os.path.join(HERE, "contact_flow_events")


def gz(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


records = open(os.path.join(AGENT, "report-scenarios.ndjson"), "rb").read()
whole = gz(records)
with open(os.path.join(OUT, "gzip-cut-at-two-thirds.json.gz"), "wb") as f:
    f.write(whole[: len(whole) * 2 // 3])

first = gz(open(os.path.join(AGENT, "crosses-utc-midnight.ndjson"), "rb").read())
second = bytearray(gz(open(os.path.join(AGENT, "dst-days.ndjson"), "rb").read()))
for i in range(len(second) // 2, len(second) // 2 + 16):
    second[i] ^= 0x5A
with open(os.path.join(OUT, "two-gzip-members-second-damaged.json.gz"), "wb") as f:
    f.write(first + bytes(second))

lines = open(os.path.join(FLOWS, "epoch-millis.csv")).read().splitlines()
header, rows = lines[0], lines[1:]
cols = header.split(",")
ts = [i for i, c in enumerate(cols) if c.endswith("_timestamp")]


def seconds(row):
    cells = row.split(",")
    for i in ts:
        if cells[i]:
            cells[i] = str(int(cells[i]) // 1000)
    return ",".join(cells)


with open(os.path.join(OUT, "flow-export-in-epoch-seconds.csv"), "w") as f:
    f.write("\n".join([header] + [seconds(r) for r in rows]) + "\n")


def hive_nulls(row):
    cells = row.split(",")
    for name in ("module_resource_id", "next_queue_resource_id", "sub_type"):
        i = cols.index(name)
        if not cells[i]:
            cells[i] = "\\N"
    i = cols.index("next_flow_resource_id")
    if not cells[i]:
        cells[i] = "NULL"
    return ",".join(cells)


# With a byte-order mark, as Excel and some exporters write, so offsets must count it.
with open(os.path.join(OUT, "hive-nulls-with-bom.csv"), "wb") as f:
    f.write(b"\xef\xbb\xbf" + ("\n".join([header] + [hive_nulls(r) for r in rows]) + "\n").encode())

arn = "arn:aws:connect:us-east-1:123456789012:instance/11111111-2222-3333-4444-555555555555/agent/aaaaaaaa-0000-0000-0000-00000000000f"
events = [
    {"EventId": "y-0000", "EventType": "HEART_BEAT", "EventTimestamp": "0000-01-01T00:00:00.000Z", "AgentARN": arn},
    {"EventId": "y-9999", "EventType": "HEART_BEAT", "EventTimestamp": "9999-12-31T23:59:59.999Z", "AgentARN": arn},
    {"EventId": "y-1970", "EventType": "HEART_BEAT", "EventTimestamp": "1970-01-21T12:00:00.000Z", "AgentARN": arn},
    {"EventId": "y-2026", "EventType": "HEART_BEAT", "EventTimestamp": "2026-11-24T12:00:00.000Z", "AgentARN": arn},
]
with open(os.path.join(OUT, "agent-events-at-year-0000-and-9999.ndjson"), "w") as f:
    for e in events:
        f.write(json.dumps(e) + "\n")
