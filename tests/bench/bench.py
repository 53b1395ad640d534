#!/usr/bin/env python3
"""`make bench`: the agent-event ETL of connect-lake next to the same ETL in DuckDB, on the same
generated input, measured in the same run.

Each tool runs as its own process, alternating, REPEAT times; CPU seconds (user + sys) and peak
RSS come from wait4(2) of that process. Medians are reported, and ratios of medians. The input
(about 1 GB of NDJSON) is generated once and kept under --data.
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def measured(cmd):
    """Runs cmd, returns wall seconds, CPU seconds and peak RSS (MiB) of that process tree."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return wall, out.decode()


def run_child(cmd):
    """wait4-based measurement: CPU and max RSS of exactly this child."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvp(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited with {os.waitstatus_to_exitcode(status)}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024}


def input_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--agents", type=int, default=170)
    ap.add_argument("--days", type=int, default=6)
    ap.add_argument("--only", choices=["etl", "large", "reports", "memory", "queries"], help="run one part of the benchmark")
    args = ap.parse_args()
    if args.only == "reports":
        reports(args.bin, os.path.abspath(args.data), args.repeat)
        return
    if args.only == "memory":
        memory(args.bin, os.path.abspath(args.data), args.repeat)
        return
    if args.only == "queries":
        queries(args.bin, os.path.abspath(args.data), max(args.repeat, 5))
        return

    data = os.path.abspath(args.data)
    if args.only != "large":
        etl_vs_duckdb(args.bin, data, "input", "compact", args.agents, args.days, args.repeat)
    if args.only in (None, "large"):
        # Records of about 5 KB (five hierarchy levels, two to six queues, long names), as larger
        # centres send: about 2.5 GB.
        etl_vs_duckdb(args.bin, data, "input-large", "large", 240, 6, args.repeat)
    if args.only is not None:
        return
    data_lake(args.bin, data, args.repeat)
    memory(args.bin, data, args.repeat)
    reports(args.bin, data, args.repeat)
    queries(args.bin, data, max(args.repeat, 5))


def memory(binary, data, repeat):
    """Peak RSS of a big day at the default memory budget: one UTC day of 1,600 agents into an
    empty lake, then another 1,600 agents' events (another instance) merged into that day."""
    days = []
    for name, seed in (("day-a", 21), ("day-b", 22)):
        inp = os.path.join(data, name)
        stamp = os.path.join(data, f"{name}.json")
        params = {"agents": 1600, "days": 1, "start": "2026-11-03", "seed": seed}
        if not (os.path.exists(stamp) and json.load(open(stamp)) == params):
            shutil.rmtree(inp, ignore_errors=True)
            print(f"bench: generating {name} ({params}) ...", flush=True)
            _, out = measured([binary, "generate", "--out", inp, "--agents", "1600", "--days", "1",
                               "--start", "2026-11-03", "--seed", str(seed), "--format", "ndjson"])
            print(out.strip())
            json.dump(params, open(stamp, "w"))
        days.append(inp)
    lake = os.path.join(data, "lake-big-day")
    summary = os.path.join(data, "big-day-summary.json")
    first, merge = [], []
    written = []
    for _ in range(repeat):
        shutil.rmtree(lake, ignore_errors=True)
        first.append(run_child([binary, "etl", "--quiet", "--source", "agent-events", "--lake", lake,
                                "--summary-json", summary, days[0]]))
        written.append(json.load(open(summary))["written"])
        merge.append(run_child([binary, "etl", "--quiet", "--source", "agent-events", "--lake", lake,
                                "--summary-json", summary, days[1]]))
        written.append(json.load(open(summary))["written"])
    print()
    print(f"one UTC day of 1,600 agents ({input_bytes(days[0]) / 1e9:.2f} GB NDJSON, {written[0]:,} events), "
          f"default budget (--memory-mib 256); median of {repeat} runs")
    print(f"{'run':<44}{'wall s':>9}{'CPU s':>9}{'peak RSS MiB':>14}")
    for name, runs in (("into an empty lake", first), ("another 1,600 agents merged into that day", merge)):
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        rss = statistics.median(r["rss_mib"] for r in runs)
        print(f"{name:<44}{wall:>9.2f}{cpu:>9.2f}{rss:>14.0f}")



def etl_vs_duckdb(binary, data, name, shape, agents, days, repeat):
    """The agent-event ETL of connect-lake and of DuckDB on one generated input, alternately."""
    inp = os.path.join(data, name)
    params = {"agents": agents, "days": days, "seed": 11}
    if shape != "compact":
        params["shape"] = shape
        params["names"] = 2  # longer names in the large shape: regenerate
    stamp = os.path.join(data, f"{name}.json")
    if not (os.path.exists(stamp) and json.load(open(stamp)) == params):
        shutil.rmtree(inp, ignore_errors=True)
        os.makedirs(data, exist_ok=True)
        print(f"bench: generating {name} ({params}) ...", flush=True)
        _, out = measured([binary, "generate", "--out", inp, "--agents", str(agents), "--days",
                           str(days), "--start", "2026-11-01", "--seed", "11", "--format", "ndjson",
                           "--shape", shape, "--dup-rate", "0.01", "--late-rate", "0.01",
                           "--bad-rate", "0.0005"])
        print(out.strip())
        json.dump(params, open(stamp, "w"))
    size = input_bytes(inp)
    mb = size / 1e6

    ours_lake = os.path.join(data, "lake-connect-lake")
    duck_out = os.path.join(data, "lake-duckdb")
    summary = os.path.join(data, "summary.json")
    ours, duck = [], []
    for i in range(repeat):
        shutil.rmtree(ours_lake, ignore_errors=True)
        ours.append(run_child([binary, "etl", "--quiet", "--source", "agent-events", "--lake", ours_lake,
                               "--summary-json", summary, inp]))
        shutil.rmtree(duck_out, ignore_errors=True)
        duck.append(run_child([sys.executable, os.path.join(HERE, "duckdb_etl.py"), inp, duck_out]))
        print(f"bench: run {i + 1}/{repeat}: connect-lake {ours[-1]['cpu']:.1f} CPU-s, "
              f"duckdb {duck[-1]['cpu']:.1f} CPU-s", flush=True)
    s = json.load(open(summary))
    events = s["written"] + s["duplicates"] + s["rejected"]

    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    rows = []
    for tool, runs in (("connect-lake", ours), ("duckdb", duck)):
        cpu, wall, rss = med(runs, "cpu"), med(runs, "wall"), med(runs, "rss_mib")
        rows.append((tool, wall, cpu, events / cpu, mb / cpu, rss))
    print()
    print(f"input ({shape} records, {size / events / 1e3:.1f} KB each): {mb:,.0f} MB of agent events, "
          f"{events:,} records ({s['written']:,} written, {s['duplicates']:,} duplicates, "
          f"{s['rejected']:,} rejected); median of {repeat} runs")
    print(f"{'tool':<14}{'wall s':>9}{'CPU s':>9}{'events/CPU-s':>15}{'MB/CPU-s':>11}{'peak RSS MiB':>14}")
    for tool, wall, cpu, eps, mbps, rss in rows:
        print(f"{tool:<14}{wall:>9.2f}{cpu:>9.2f}{eps:>15,.0f}{mbps:>11.1f}{rss:>14.0f}")
    print(f"ratio (connect-lake / duckdb) per CPU-second: {rows[0][4] / rows[1][4]:.2f}x; "
          f"peak RSS: {rows[0][5] / rows[1][5]:.2f}x")
    print("note: connect-lake also writes agent_event_contacts; the DuckDB script writes agent_events only.")

def data_lake(binary, data, repeat):
    """The two data-lake tables, ~1 M rows each from NDJSON exports, next to DuckDB."""
    inp = os.path.join(data, "data-lake-input")
    stamp = os.path.join(data, "data-lake-input.json")
    # One agent for 6 days and 166,667 test runs a day: 1 M test results; each run's contacts
    # add their flow events (1.3 per run), so the flow table gets about 1.3 M rows.
    params = {"agents": 1, "days": 6, "test_runs_per_day": 166667, "seed": 13}
    if not (os.path.exists(stamp) and json.load(open(stamp)) == params):
        shutil.rmtree(inp, ignore_errors=True)
        print(f"bench: generating data-lake exports ({params}) ...", flush=True)
        _, out = measured([binary, "generate", "--out", os.path.join(data, "unused-agent-events"), "--no-agent-events",
                           "--agents", "1", "--days", "6", "--start", "2026-11-01", "--seed", "13",
                           "--test-runs-per-day", "166667", "--dup-rate", "0.01", "--bad-rate", "0.0005",
                           "--data-lake-out", inp])
        print(out.strip())
        json.dump(params, open(stamp, "w"))
    print()
    print(f"data-lake tables from NDJSON exports; median of {repeat} runs")
    print(f"{'table':<38}{'tool':<14}{'rows':>11}{'CPU s':>8}{'rows/CPU-s':>12}{'peak RSS MiB':>14}")
    for source, table in (("contact-flow-events", "contact_flow_events"),
                          ("test-case-results", "connect_test_case_execution_results")):
        src = os.path.join(inp, table)
        ours_lake = os.path.join(data, f"dl-lake-{table}")
        duck_out = os.path.join(data, f"dl-duckdb-{table}")
        summary = os.path.join(data, f"dl-summary-{table}.json")
        ours, duck = [], []
        for _ in range(repeat):
            shutil.rmtree(ours_lake, ignore_errors=True)
            ours.append(run_child([binary, "etl", "--quiet", "--source", source, "--lake", ours_lake,
                                   "--summary-json", summary, src]))
            shutil.rmtree(duck_out, ignore_errors=True)
            duck.append(run_child([sys.executable, os.path.join(HERE, "duckdb_data_lake.py"), table, src, duck_out]))
        s = json.load(open(summary))
        rows = s["records_read"]
        med = {}
        for name, runs in (("connect-lake", ours), ("duckdb", duck)):
            cpu = statistics.median(r["cpu"] for r in runs)
            rss = statistics.median(r["rss_mib"] for r in runs)
            med[name] = rows / cpu
            print(f"{table:<38}{name:<14}{rows:>11,}{cpu:>8.2f}{rows / cpu:>12,.0f}{rss:>14.0f}")
        print(f"{table:<38}{'ratio':<14}{'':>11}{'':>8}{med['connect-lake'] / med['duckdb']:>11.2f}x")


def report_lake(binary, data, days):
    """The lake the reports and queries run on: 170 agents for `days` days ending 2026-11-10
    (the same agents and the same last days whatever its age), built once and kept."""
    name = "report-lake" if days == 10 else f"report-lake-{days}d"
    inp = os.path.join(data, name.replace("lake", "input"))
    lake = os.path.join(data, name)
    stamp = os.path.join(data, f"{name}.json")
    first = (datetime.date(2026, 11, 11) - datetime.timedelta(days=days)).isoformat()
    # "layout" changes when the file layout does (sort order, page size): the lake is rebuilt.
    # layout 3: LOGIN and LOGOUT records without a snapshot, as Connect sends them.
    # layout 4: agent summaries in the footers.
    params = {"agents": 170, "days": days, "start": first, "seed": 5, "layout": 4}
    if not (os.path.exists(stamp) and json.load(open(stamp)) == params):
        shutil.rmtree(inp, ignore_errors=True)
        shutil.rmtree(lake, ignore_errors=True)
        print(f"bench: building {name} ({params}) ...", flush=True)
        measured([binary, "generate", "--out", inp, "--agents", "170", "--days", str(days), "--start", first,
                  "--seed", "5", "--format", "firehose", "--gzip"])
        measured([binary, "etl", "--quiet", "--source", "agent-events", "--lake", lake, inp])
        shutil.rmtree(inp, ignore_errors=True)
        json.dump(params, open(stamp, "w"))
    return lake


def report_cases(binary, lake):
    _, out = measured([binary, "query", "--lake", lake, "--format", "csv",
                       "SELECT min(username) FROM agent_events WHERE dt = '2026-11-06'"])
    agent = out.splitlines()[1]
    return [
        ("report audit (1 agent, 1 day)", [binary, "report", "audit", "--lake", lake, "--agent", agent,
                                           "--date", "2026-11-06", "--tz", "America/New_York"]),
        # As in production: run the morning after the last day of data.
        ("report login-logout --range yesterday", [binary, "report", "login-logout", "--lake", lake, "--range",
                                                   "yesterday", "--now", "2026-11-11T12:00:00Z", "--tz", "America/New_York"]),
        # A past day with six more days of data after it (their logouts and last-seen are read too).
        ("  same, --now mid-lake (2026-11-07)", [binary, "report", "login-logout", "--lake", lake, "--range",
                                                 "yesterday", "--now", "2026-11-07T12:00:00Z", "--tz", "America/New_York"]),
        ("report agent-activity --interval 30m", [binary, "report", "agent-activity", "--lake", lake, "--interval",
                                                  "30m", "--range", "yesterday", "--now", "2026-11-11T12:00:00Z",
                                                  "--tz", "America/New_York"]),
        ("report status-time --interval 60m", [binary, "report", "status-time", "--lake", lake, "--interval",
                                               "60m", "--range", "yesterday", "--now", "2026-11-11T12:00:00Z",
                                               "--tz", "America/New_York"]),
        # The floor under every report: process start, opening the lake, one trivial query.
        ("query SELECT 1 (start + session)", [binary, "query", "--lake", lake, "SELECT 1"]),
    ]


def reports(binary, data, repeat):
    """Whole-process times of the reports on a lake of 10 days x 170 agents and on one of 60 days
    of the same agents (same last days), runs of the two alternated; median of 15."""
    lakes = {days: report_lake(binary, data, days) for days in (10, 60)}
    cases = {days: report_cases(binary, lake) for days, lake in lakes.items()}
    print()
    print("reports on lakes of 10 and 60 days x 170 agents (same agents, same last days); "
          "median of 15 runs, whole process, the two lakes alternated")
    print(f"{'report':<40}{'10d wall':>9}{'spread':>12}{'CPU':>6}{'60d wall':>9}{'spread':>12}{'CPU':>6}"
          f"{'60d/10d':>8}{'RSS MiB':>8}")
    for i, (name, _) in enumerate(cases[10]):
        runs = {10: [], 60: []}
        for _ in range(15):
            for days in (10, 60):
                runs[days].append(run_child(cases[days][i][1]))
        row = f"{name:<40}"
        walls = {}
        for days in (10, 60):
            ws = sorted(r["wall"] * 1000 for r in runs[days])
            walls[days] = statistics.median(ws)
            cpu = statistics.median(r["cpu"] for r in runs[days]) * 1000
            row += f"{walls[days]:>9.0f}{f'{ws[0]:.0f}-{ws[-1]:.0f}':>12}{cpu:>6.0f}"
        rss = statistics.median(r["rss_mib"] for r in runs[10])
        print(f"{row}{walls[60] / walls[10]:>7.2f}x{rss:>8.0f}", flush=True)


# Ad-hoc SQL over the report views, in connect-lake and in DuckDB running the same view files
# (tests/bench/duckdb_query.py) over the same Parquet files.
QUERIES = [
    ("hours per status (agent_status_intervals)",
     "SELECT status, round(sum(date_part('epoch', end_timestamp) - date_part('epoch', start_timestamp)) / 3600, 3) "
     "AS hours FROM agent_status_intervals WHERE end_timestamp IS NOT NULL GROUP BY status ORDER BY status",
     ["agent_contact_status", "agent_events_resolved", "agent_status_intervals"]),
    ("sessions per routing profile (login_logout_sessions)",
     "SELECT routing_profile_name, count(*) AS sessions, round(sum(duration_seconds) / 3600, 3) AS hours "
     "FROM login_logout_sessions GROUP BY routing_profile_name ORDER BY routing_profile_name",
     ["agent_events_resolved", "login_logout_sessions"]),
]


def queries(binary, data, repeat):
    """Whole-process times of ad-hoc view queries on the 10-day report lake: connect-lake query
    against DuckDB (Python start included) running the same SQL, alternated; results compared."""
    lake = report_lake(binary, data, 10)
    duck = [sys.executable, os.path.join(HERE, "duckdb_query.py"), lake]
    print()
    print(f"ad-hoc view queries on the 10-day x 170-agent lake; median of {repeat}, whole process, alternated")
    print(f"{'query':<52}{'c-l wall':>9}{'CPU':>7}{'DuckDB wall':>12}{'CPU':>7}{'CPU ratio':>10}")
    for name, sql, views in QUERIES:
        _, ours = measured([binary, "query", "--lake", lake, "--format", "csv", sql])
        _, theirs = measured(duck + [sql] + views)
        if normalized(ours) != normalized(theirs):
            sys.exit(f"bench: {name}: connect-lake and DuckDB disagree:\n{ours}\n{theirs}")
        runs = {"ours": [], "duck": []}
        for _ in range(repeat):
            runs["ours"].append(run_child([binary, "query", "--lake", lake, "--format", "csv", sql]))
            runs["duck"].append(run_child(duck + [sql] + views))
        med = {k: (statistics.median(r["wall"] for r in v), statistics.median(r["cpu"] for r in v))
               for k, v in runs.items()}
        print(f"{name:<52}{med['ours'][0]:>9.2f}{med['ours'][1]:>7.2f}{med['duck'][0]:>12.2f}"
              f"{med['duck'][1]:>7.2f}{med['duck'][1] / med['ours'][1]:>9.2f}x", flush=True)


def normalized(text):
    """CSV rows with numbers as numbers (the two print 1.5 and 1.500 alike), header dropped."""
    rows = []
    for line in text.strip().splitlines()[1:]:
        cells = []
        for c in line.split(","):
            try:
                cells.append(round(float(c), 3))
            except ValueError:
                cells.append(c)
        rows.append(cells)
    return rows


if __name__ == "__main__":
    main()
