#!/usr/bin/env python3
"""Writes the fixtures of real record shapes (tests/data/agent_events/*.ndjson) that issue 14
pins: LOGIN and LOGOUT records with "CurrentAgentSnapshot": null, the first STATE_CHANGE after
a login without a PreviousAgentSnapshot, optional fields of the wrong type, masked values, and
events of one agent at one instant. Run it from anywhere; the output is committed."""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent_events")
INSTANCE = "arn:aws:connect:us-east-1:123456789012:instance/99999999-8888-7777-6666-555555555555"


def agent_arn(n):
    return f"{INSTANCE}/agent/dddddddd-0000-0000-0000-00000000000{n}"


def config(user, first, last, levels=("North America", "Seattle")):
    groups = {f"Level{i + 1}": {"ARN": f"{INSTANCE}/agent-group/{name.lower().replace(' ', '-')}", "Name": name}
              for i, name in enumerate(levels)}
    return {
        "AgentHierarchyGroups": groups,
        "FirstName": first,
        "LastName": last,
        "RoutingProfile": {
            "ARN": f"{INSTANCE}/routing-profile/support",
            "DefaultOutboundQueue": {"ARN": f"{INSTANCE}/queue/outbound", "Name": "Outbound"},
            # The agent's own queue is listed with no name, as Connect sends it.
            "InboundQueues": [{"ARN": f"{INSTANCE}/queue/agent/{user}", "Name": None},
                              {"ARN": f"{INSTANCE}/queue/support", "Name": "Support"}],
            "Name": "Support Profile",
        },
        "Username": user,
    }


STATUS = {"Available": "ROUTABLE", "Offline": "OFFLINE"}


def snapshot(conf, status, since, contacts=()):
    return {
        "AgentStatus": {"ARN": f"{INSTANCE}/agent-state/{status.lower()}", "Name": status,
                        "StartTimestamp": since, "Type": STATUS.get(status, "CUSTOM")},
        "Configuration": conf,
        "Contacts": list(contacts),
    }


def contact(cid, state, since, channel="CHAT", connected=None):
    return {"Channel": channel, "ConnectedToAgentTimestamp": connected, "ContactId": cid,
            "InitialContactId": None, "InitiationMethod": "INBOUND",
            "Queue": {"ARN": f"{INSTANCE}/queue/support", "Name": "Support"},
            "QueueTimestamp": since, "State": state, "StateStartTimestamp": since}


def event(eid, etype, ts, n, current, previous=None, account="123456789012"):
    e = {"AWSAccountId": account, "AgentARN": agent_arn(n), "CurrentAgentSnapshot": current,
         "EventId": eid, "EventTimestamp": ts, "EventType": etype, "InstanceARN": INSTANCE,
         "Version": "2017-10-01"}
    if previous is not None or current is None:
        e["PreviousAgentSnapshot"] = previous
    return e


def write(name, events):
    with open(os.path.join(OUT, name), "w") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")


def prev(status, since):
    return {"AgentStatus": {"Name": status, "StartTimestamp": since, "Type": STATUS.get(status, "CUSTOM")}}


# dana: a LOGIN with null snapshots, the STATE_CHANGE after it without a previous snapshot,
# HEART_BEATs, and a LOGOUT with no snapshot.
dana = config("dana", "Dana", "Lee")
write("login-without-snapshot.ndjson", [
    event("d-01", "LOGIN", "2026-03-08T07:24:48.181Z", 1, None),
    event("d-02", "STATE_CHANGE", "2026-03-08T07:24:48.950Z", 1, snapshot(dana, "Offline", "2026-03-08T07:24:48.950Z")),
    event("d-03", "STATE_CHANGE", "2026-03-08T07:25:10.000Z", 1, snapshot(dana, "Available", "2026-03-08T07:25:10.000Z"),
          prev("Offline", "2026-03-08T07:24:48.950Z")),
    event("d-04", "HEART_BEAT", "2026-03-08T07:27:10.000Z", 1, snapshot(dana, "Available", "2026-03-08T07:25:10.000Z")),
    event("d-05", "HEART_BEAT", "2026-03-08T07:29:10.000Z", 1, snapshot(dana, "Available", "2026-03-08T07:25:10.000Z")),
    event("d-06", "STATE_CHANGE", "2026-03-08T07:30:00.000Z", 1, snapshot(dana, "Offline", "2026-03-08T07:30:00.000Z"),
          prev("Available", "2026-03-08T07:25:10.000Z")),
    event("d-07", "LOGOUT", "2026-03-08T07:30:05.000Z", 1, None),
])

# erin: the only event that names her is a HEART_BEAT.
erin = config("erin", "Erin", "Moss", ("EMEA", "Dublin"))
write("named-only-by-heartbeat.ndjson", [
    event("e-01", "LOGIN", "2026-03-09T10:00:00.000Z", 2, None),
    event("e-02", "HEART_BEAT", "2026-03-09T10:02:00.000Z", 2, snapshot(erin, "Available", "2026-03-09T10:00:00.000Z")),
    event("e-03", "LOGOUT", "2026-03-09T10:03:00.000Z", 2, None),
])

# finn: a LOGIN without a snapshot two seconds before UTC midnight; the first event that
# names him is in the next day's partition.
finn = config("finn", "Finn", "Park", ("North America", "Dallas"))
write("login-named-next-day.ndjson", [
    event("f-01", "LOGIN", "2026-03-09T23:59:58.500Z", 3, None),
    event("f-02", "STATE_CHANGE", "2026-03-10T00:00:03.000Z", 3, snapshot(finn, "Available", "2026-03-10T00:00:03.000Z")),
    event("f-03", "STATE_CHANGE", "2026-03-10T01:00:00.000Z", 3, snapshot(finn, "Offline", "2026-03-10T01:00:00.000Z"),
          prev("Available", "2026-03-10T00:00:03.000Z")),
    event("f-04", "LOGOUT", "2026-03-10T01:00:02.000Z", 3, None),
])

# hana: a LOGIN without a snapshot in the evening, and no event that names her until two days
# later (a gap in the stream, or the next days not yet delivered): the audit of the LOGIN's day
# reads on to that event, past the days after it.
hana = config("hana", "Hana", "Ito", ("North America", "Denver"))
write("login-named-days-later.ndjson", [
    event("h-01", "STATE_CHANGE", "2026-03-09T20:00:00.000Z", 7, snapshot(hana, "Available", "2026-03-09T20:00:00.000Z")),
    event("h-02", "LOGOUT", "2026-03-09T21:00:00.000Z", 7, None),
    event("h-03", "LOGIN", "2026-03-09T23:00:00.000Z", 7, None),
    event("h-04", "STATE_CHANGE", "2026-03-12T14:00:00.000Z", 7, snapshot(hana, "Training", "2026-03-12T14:00:00.000Z")),
    event("h-05", "LOGOUT", "2026-03-12T15:00:00.000Z", 7, None),
])

# gus: the string "null" where the hierarchy object belongs (optional: the event is kept).
gus = config("gus", "Gus", "Ortiz")
gus_odd = dict(gus, AgentHierarchyGroups="null")
write("hierarchy-null-string.ndjson", [
    event("g-01", "LOGIN", "2026-03-09T12:00:00.000Z", 4, None),
    event("g-02", "STATE_CHANGE", "2026-03-09T12:00:00.400Z", 4, snapshot(gus_odd, "Available", "2026-03-09T12:00:00.400Z")),
    event("g-03", "STATE_CHANGE", "2026-03-09T12:30:00.000Z", 4, snapshot(gus, "Offline", "2026-03-09T12:30:00.000Z"),
          prev("Available", "2026-03-09T12:00:00.400Z")),
])

# hana: a masked account id (as shared samples print it) and a removed queue's name.
hana = config("hana", "Hana", "Quist")
hana["RoutingProfile"]["DefaultOutboundQueue"]["Name"] = "(Removed)"
write("masked-account.ndjson", [
    event("h-01", "LOGIN", "2026-03-09T08:00:00.000Z", 5, None, account="************"),
    event("h-02", "STATE_CHANGE", "2026-03-09T08:00:01.000Z", 5, snapshot(hana, "Available", "2026-03-09T08:00:01.000Z"),
          account="************"),
])

# ivy: events of one agent at one instant. At 09:05 two snapshots of the same millisecond
# (ACW of c1 with c2 still connecting, then c2 connected): only the last sets the status, so
# no zero-length ACW. At 09:10 a snapshot showing c2 in ACW and one showing it connected again:
# the last one is the status in force, equal to the one before, so Connected c2 goes on as one
# interval. At 09:20 a STATE_CHANGE to Offline and the LOGOUT at the same instant: the LOGOUT
# ends the interval.
ivy = config("ivy", "Ivy", "Rowe")
c1_on = contact("c1", "CONNECTED", "2026-03-11T09:00:00.000Z", connected="2026-03-11T09:00:00.000Z")
c1_acw = contact("c1", "ENDED", "2026-03-11T09:05:00.000Z", connected="2026-03-11T09:00:00.000Z")
c2_in = contact("c2", "CONNECTING", "2026-03-11T09:04:58.000Z")
c2_on = contact("c2", "CONNECTED", "2026-03-11T09:05:00.000Z", connected="2026-03-11T09:05:00.000Z")
c2_acw = contact("c2", "ENDED", "2026-03-11T09:10:00.000Z", connected="2026-03-11T09:05:00.000Z")
c2_acw_later = contact("c2", "ENDED", "2026-03-11T09:12:00.000Z", connected="2026-03-11T09:05:00.000Z")
avail = "2026-03-11T08:59:30.000Z"
write("same-instant-contacts.ndjson", [
    event("i-01", "LOGIN", "2026-03-11T08:59:00.000Z", 6, snapshot(ivy, "Offline", "2026-03-11T08:59:00.000Z")),
    event("i-02", "STATE_CHANGE", avail, 6, snapshot(ivy, "Available", avail)),
    event("i-03", "STATE_CHANGE", "2026-03-11T09:00:00.000Z", 6, snapshot(ivy, "Available", avail, [c1_on])),
    event("i-05a", "STATE_CHANGE", "2026-03-11T09:05:00.000Z", 6, snapshot(ivy, "Available", avail, [c1_acw, c2_in])),
    event("i-05b", "STATE_CHANGE", "2026-03-11T09:05:00.000Z", 6, snapshot(ivy, "Available", avail, [c1_acw, c2_on])),
    event("i-06", "STATE_CHANGE", "2026-03-11T09:06:00.000Z", 6, snapshot(ivy, "Available", avail, [c2_on])),
    event("i-10a", "STATE_CHANGE", "2026-03-11T09:10:00.000Z", 6, snapshot(ivy, "Available", avail, [c2_acw])),
    event("i-10b", "STATE_CHANGE", "2026-03-11T09:10:00.000Z", 6, snapshot(ivy, "Available", avail, [c2_on])),
    event("i-12", "STATE_CHANGE", "2026-03-11T09:12:00.000Z", 6, snapshot(ivy, "Available", avail, [c2_acw_later])),
    event("i-13", "STATE_CHANGE", "2026-03-11T09:13:00.000Z", 6, snapshot(ivy, "Available", avail)),
    event("i-20a", "STATE_CHANGE", "2026-03-11T09:20:00.000Z", 6, snapshot(ivy, "Offline", "2026-03-11T09:20:00.000Z")),
    event("i-20b", "LOGOUT", "2026-03-11T09:20:00.000Z", 6, None),
])
