#!/usr/bin/env python3
"""Writes the agent-activity fixtures (spec/reports.md section 4): one agent per day, each
metric condition on a known clock, on both US daylight-saving days in America/New_York and a
day in Asia/Kathmandu (+05:45). Output committed; expected reports in ../expected/."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_real_record_fixtures import config, contact, event, prev, snapshot, write, STATUS  # noqa: E402

STATUS.update({"Ready": "ROUTABLE", "Away": "OFFLINE"})


def voice(cid, state, since, method="INBOUND", connected=None):
    c = contact(cid, state, since, channel="VOICE", connected=connected)
    c["InitiationMethod"] = method
    return c


def day(name, n, conf, steps):
    """steps: (time, type, status, contacts) with times on one day; LOGIN/LOGOUT have no snapshot."""
    events = []
    for i, (ts, etype, status, contacts) in enumerate(steps):
        eid = f"{name}-{i:02d}"
        if etype in ("LOGIN", "LOGOUT"):
            events.append(event(eid, etype, ts, n, None))
        else:
            events.append(event(eid, etype, ts, n, snapshot(conf, status, ts, contacts)))
    return events


kim = config("kim", "Kim", "Ota", ("North America", "Seattle"))
d = "2026-03-08T"
c1 = lambda s, t, **k: voice("k-c1", s, d + t, **k)
chat = lambda cid, s, t, conn=None: contact(cid, s, d + t, connected=conn)
kim_day = day("kim", 7, kim, [
    (d + "05:00:00.000Z", "LOGIN", None, []),
    (d + "05:00:00.500Z", "STATE_CHANGE", "Available", []),
    # An inbound call: incoming, connected, on hold, connected, after contact work.
    (d + "06:50:00.000Z", "STATE_CHANGE", "Available", [c1("CONNECTING", "06:50:00.000Z")]),
    (d + "06:50:10.000Z", "STATE_CHANGE", "Available", [c1("CONNECTED", "06:50:10.000Z", connected=d + "06:50:10.000Z")]),
    (d + "07:05:00.000Z", "STATE_CHANGE", "Available", [c1("CONNECTED_ONHOLD", "07:05:00.000Z", connected=d + "06:50:10.000Z")]),
    (d + "07:06:00.000Z", "STATE_CHANGE", "Available", [c1("CONNECTED", "07:06:00.000Z", connected=d + "06:50:10.000Z")]),
    (d + "07:10:00.000Z", "STATE_CHANGE", "Available", [c1("ENDED", "07:10:00.000Z", connected=d + "06:50:10.000Z")]),
    (d + "07:12:00.000Z", "STATE_CHANGE", "Available", []),
    # Concurrent chats: after contact work only once neither is live.
    (d + "08:00:00.000Z", "STATE_CHANGE", "Available", [chat("k-c2", "CONNECTED", "08:00:00.000Z", d + "08:00:00.000Z"), chat("k-c3", "CONNECTING", "08:00:00.000Z")]),
    (d + "08:05:00.000Z", "STATE_CHANGE", "Available", [chat("k-c2", "CONNECTED", "08:00:00.000Z", d + "08:00:00.000Z"), chat("k-c3", "CONNECTED", "08:05:00.000Z", d + "08:05:00.000Z")]),
    (d + "08:10:00.000Z", "STATE_CHANGE", "Available", [chat("k-c2", "ENDED", "08:10:00.000Z", d + "08:00:00.000Z"), chat("k-c3", "CONNECTED", "08:05:00.000Z", d + "08:05:00.000Z")]),
    (d + "08:12:00.000Z", "STATE_CHANGE", "Available", [chat("k-c3", "ENDED", "08:12:00.000Z", d + "08:05:00.000Z")]),
    # A missed chat: online, but neither idle nor incoming.
    (d + "08:13:00.000Z", "STATE_CHANGE", "Available", [chat("k-c4", "MISSED", "08:13:00.000Z")]),
    (d + "08:14:00.000Z", "STATE_CHANGE", "Available", []),
    # An outbound call that errors: on contact while connecting, then error (and idle).
    (d + "09:00:00.000Z", "STATE_CHANGE", "Available", [voice("k-c5", "CONNECTING", d + "09:00:00.000Z", method="OUTBOUND")]),
    (d + "09:00:20.000Z", "STATE_CHANGE", "Available", [voice("k-c5", "ERROR", d + "09:00:20.000Z", method="OUTBOUND")]),
    (d + "09:01:00.000Z", "STATE_CHANGE", "Available", []),
    # A custom status while on a contact: non-productive, not on contact.
    (d + "10:00:00.000Z", "STATE_CHANGE", "Lunch", [chat("k-c6", "CONNECTED", "10:00:00.000Z", d + "10:00:00.000Z")]),
    # Renamed default statuses, told by their Type: Ready is routable, Away is offline.
    (d + "10:30:00.000Z", "STATE_CHANGE", "Ready", []),
    (d + "11:00:00.000Z", "STATE_CHANGE", "Away", []),
    (d + "11:30:00.000Z", "LOGOUT", None, []),
    # A second session left open at the end of the data.
    (d + "20:00:00.000Z", "LOGIN", None, []),
    (d + "20:00:01.000Z", "STATE_CHANGE", "Available", []),
])
write("activity-us-spring-forward.ndjson", kim_day)

lee = config("lee", "Lee", "Park", ("North America", "Dallas"))
d = "2026-11-01T"
write("activity-us-fall-back.ndjson", day("lee", 8, lee, [
    (d + "04:30:00.000Z", "LOGIN", None, []),
    (d + "04:30:00.300Z", "STATE_CHANGE", "Available", []),
    (d + "06:30:00.000Z", "STATE_CHANGE", "Break", []),
    (d + "07:00:00.000Z", "STATE_CHANGE", "Available", []),
    (d + "07:10:00.000Z", "LOGOUT", None, []),
]))

mia = config("mia", "Mia", "Rana", ("EMEA", "Kathmandu"))
d = "2026-11-24T"
c7 = lambda s, t, conn=None: contact("m-c7", s, d + t, connected=conn)
write("activity-kathmandu.ndjson", day("mia", 9, mia, [
    (d + "03:00:00.000Z", "LOGIN", None, []),
    (d + "03:00:00.200Z", "STATE_CHANGE", "Available", []),
    (d + "03:20:00.000Z", "STATE_CHANGE", "Available", [c7("CONNECTED", "03:20:00.000Z", d + "03:20:00.000Z")]),
    (d + "03:50:00.000Z", "STATE_CHANGE", "Available", [c7("ENDED", "03:50:00.000Z", d + "03:20:00.000Z")]),
    (d + "03:55:00.000Z", "STATE_CHANGE", "Available", []),
    (d + "04:30:00.000Z", "LOGOUT", None, []),
]))
