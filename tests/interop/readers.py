"""Spark and DuckDB read the lake that connect-lake writes, and agree with it.

`make interop` runs this (and `make test` runs `make interop`). It builds a lake with
`generate` + `etl` (duplicates, late events and bad records included), then:

- Spark 4 (local, in-memory catalog) runs `connect-lake ddl --engine spark` as printed: every
  table created over the lake, partitions recovered, the report views created;
- DuckDB reads every table with `read_parquet(..., hive_partitioning = true)`;

and both must return, per table, the same per-partition row counts and the same rows (every
column: timestamps compared as microseconds since the epoch, lists and structs as values, nulls
as nulls) as `connect-lake query`. The two report views computed by Spark must equal
DataFusion's row for row. The column types each reader sees are checked too (timestamps with
time zone, never nanoseconds or NTZ). Exit status 0 when everything agrees, 1 otherwise.
"""

import argparse
import decimal
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(bin_path, *args):
    out = subprocess.run([bin_path, *args], capture_output=True, text=True, env={**os.environ, "CI": "1"})
    if out.returncode != 0:
        sys.exit(f"connect-lake {' '.join(args[:2])} failed: {out.stderr.strip()}")
    return out.stdout


def tables():
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "schemas", "*.json"))):
        with open(path) as f:
            out.append(json.load(f))
    return out


def canon(value):
    """One spelling for a value whichever engine returned it."""
    if value is None:
        return None
    if hasattr(value, "asDict"):  # a Spark Row (struct)
        value = value.asDict(recursive=True)
    if isinstance(value, dict):
        return tuple(sorted((k, canon(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(canon(v) for v in value)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        return decimal.Decimal(str(value)).normalize()
    return str(value)


def select_list(table, micros):
    """Every column, timestamps as microseconds through the engine's own function."""
    cols = []
    for c in table["columns"]:
        name = c["name"]
        if c["type"] == "timestamp":
            cols.append(f"{micros}({name}) AS {name}")
        else:
            cols.append(name)
    return ", ".join(cols + ["dt"])


def datafusion_rows(bin_path, lake, sql):
    text = run(bin_path, "query", "--lake", lake, "--format", "ndjson", sql)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def keyed(rows, names):
    """Rows as tuples in the order of `names`, sorted (engines need not agree on order)."""
    return sorted((tuple(canon(r.get(n)) for n in names) for r in rows), key=repr)


class Checks:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def equal(self, what, got, want):
        if got == want:
            self.passed += 1
            print(f"ok   {what}")
            return
        detail = ""
        if isinstance(got, list) and isinstance(want, list):
            missing = [r for r in want if r not in got][:2]
            extra = [r for r in got if r not in want][:2]
            detail = f" ({len(got)} vs {len(want)} rows; missing {missing}; extra {extra})"
        else:
            detail = f": {got!r} != {want!r}"
        self.failures.append(what)
        print(f"FAIL {what}{detail}")

    def true(self, what, cond):
        self.equal(what, bool(cond), True)


def spark_session(work):
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.warehouse.dir", os.path.join(work, "spark-warehouse"))
        .appName("connect-lake-interop")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )


def statements(script):
    """The `;`-terminated statements of a DDL script, comment lines dropped."""
    lines = [l for l in script.splitlines() if not l.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";").strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the connect-lake binary")
    parser.add_argument("--work", help="work folder (default: a temporary one)")
    args = parser.parse_args()
    bin_path = os.path.abspath(args.bin)
    temporary = args.work is None
    work = args.work or tempfile.mkdtemp(prefix="connect-lake-interop-")
    os.makedirs(work, exist_ok=True)
    lake = os.path.join(work, "lake")
    if os.path.exists(lake):
        sys.exit(f"{lake} exists: give an empty --work folder")

    # The lake: three days of eight agents with their flow and test exports, with duplicates,
    # late events and bad records.
    run(bin_path, "generate", "--out", os.path.join(work, "input"), "--agents", "8", "--days", "3",
        "--start", "2026-11-22", "--seed", "17", "--dup-rate", "0.02", "--late-rate", "0.02",
        "--bad-rate", "0.005", "--data-lake-out", os.path.join(work, "exports"), "--test-runs-per-day", "20")
    summary = os.path.join(work, "summary.json")
    run(bin_path, "etl", "--quiet", "--source", "agent-events", "--lake", lake, "--summary-json", summary,
        os.path.join(work, "input"))
    with open(summary) as f:
        s = json.load(f)
    print(f"agent events: {s['records_read']} read, {s['written']} written, "
          f"{s['duplicates']} duplicates, {s['rejected']} rejected")
    # Connect writes milliseconds; the lake keeps microseconds. A few flow events carry them.
    flows = os.path.join(work, "exports", "contact_flow_events")
    with open(sorted(glob.glob(os.path.join(flows, "*")))[0]) as f:
        row = json.loads(f.readline())
    with open(os.path.join(flows, "zz-microseconds.ndjson"), "w") as f:
        for i, (start, end) in enumerate([("10:00:00.123456", "10:00:01.999999"),
                                          ("10:00:02.000001", None), ("23:59:59.999999", "23:59:59.999999")]):
            row.update(event_id=f"{row['event_id'][:-3]}us{i}", start_timestamp=f"2026-11-23T{start}Z",
                       end_timestamp=end and f"2026-11-23T{end}Z")
            f.write(json.dumps(row) + "\n")
    for source, folder in [("contact-flow-events", "contact_flow_events"),
                           ("test-case-results", "connect_test_case_execution_results")]:
        run(bin_path, "etl", "--quiet", "--source", source, "--lake", lake,
            os.path.join(work, "exports", folder))

    checks = Checks()
    checks.true("the generated input had duplicates and rejects", s["duplicates"] > 0 and s["rejected"] > 0)
    schema = tables()

    # What connect-lake itself answers: the reference.
    reference = {}
    for t in schema:
        name = t["name"]
        counts = datafusion_rows(bin_path, lake, f"SELECT dt, count(*) AS n FROM {name} GROUP BY dt")
        rows = datafusion_rows(bin_path, lake, f"SELECT {select_list(t, 'unix_micros')} FROM {name}")
        names = [c["name"] for c in t["columns"]] + ["dt"]
        reference[name] = (keyed(counts, ["dt", "n"]), keyed(rows, names), names)
        values = [v for r in rows for v in r.values()]
        print(f"{name}: {len(rows)} rows in {len(counts)} partitions")
        checks.true(f"{name}: rows to compare", len(rows) > 0)
        has_null = any(r.get(c["name"]) is None for r in rows for c in t["columns"])
        checks.true(f"{name}: nulls among the values", has_null)
        stamps = [r.get(c["name"]) for r in rows for c in t["columns"] if c["type"] == "timestamp"]
        if name == "contact_flow_events":
            checks.true(f"{name}: sub-millisecond timestamps among the values",
                        any(v is not None and v % 1000 for v in stamps))
        if any(c["type"].startswith("array") for c in t["columns"]):
            checks.true(f"{name}: non-empty lists among the values", any(isinstance(v, list) and v for v in values))

    # DuckDB.
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for t in schema:
        name = t["name"]
        want_counts, want_rows, names = reference[name]
        source = f"read_parquet('{lake}/{name}/*/*.parquet', hive_partitioning = true)"
        types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {source})").fetchall())
        for c in t["columns"]:
            if c["type"] == "timestamp":
                checks.equal(f"duckdb {name}.{c['name']} type", types[c["name"]], "TIMESTAMP WITH TIME ZONE")
        got = con.execute(f"SELECT dt, count(*) AS n FROM {source} GROUP BY dt").fetchall()
        checks.equal(f"duckdb {name}: rows per partition", keyed([{"dt": d, "n": n} for d, n in got], ["dt", "n"]), want_counts)
        cur = con.execute(f"SELECT {select_list(t, 'epoch_us')} FROM {source}")
        cols = [d[0] for d in cur.description]
        got = [dict(zip(cols, r)) for r in cur.fetchall()]
        checks.equal(f"duckdb {name}: every row and column", keyed(got, names), want_rows)

    # Spark, from the DDL connect-lake prints.
    spark = spark_session(work)
    ddl = run(bin_path, "ddl", "--engine", "spark", "--location", lake, "--database", "connect")
    for statement in statements(ddl):
        spark.sql(statement)
    from pyspark.sql.types import TimestampType

    for t in schema:
        name = t["name"]
        want_counts, want_rows, names = reference[name]
        fields = {f.name: f.dataType for f in spark.table(f"connect.{name}").schema.fields}
        for c in t["columns"]:
            if c["type"] == "timestamp":
                checks.true(f"spark {name}.{c['name']} is TIMESTAMP (not NTZ)", type(fields[c["name"]]) is TimestampType)
        got = spark.sql(f"SELECT dt, count(*) AS n FROM connect.{name} GROUP BY dt").collect()
        checks.equal(f"spark {name}: rows per partition", keyed([r.asDict() for r in got], ["dt", "n"]), want_counts)
        got = spark.sql(f"SELECT {select_list(t, 'unix_micros')} FROM connect.{name}").collect()
        checks.equal(f"spark {name}: every row and column", keyed([r.asDict(recursive=True) for r in got], names), want_rows)

    # The report views: Spark runs the SQL of sql/ as `ddl` printed it; DataFusion is the reference.
    for view, timestamps in [
        ("agent_status_intervals", ["start_timestamp", "end_timestamp"]),
        ("login_logout_sessions", ["login_timestamp", "logout_timestamp", "last_seen_timestamp"]),
        ("agent_events_resolved", ["event_timestamp"]),
        ("agent_activity_segments", ["start_timestamp", "end_timestamp"]),
    ]:
        df = spark.table(f"connect.{view}")
        names = df.columns
        select = ", ".join(f"unix_micros({n}) AS {n}" if n in timestamps else n for n in names)
        want = datafusion_rows(bin_path, lake, f"SELECT {select} FROM {view}")
        got = [r.asDict(recursive=True) for r in spark.sql(f"SELECT {select} FROM connect.{view}").collect()]
        checks.true(f"{view}: rows to compare", len(want) > 10)
        checks.equal(f"spark {view}: same rows as DataFusion", keyed(got, names), keyed(want, names))
    spark.stop()

    print(f"{checks.passed} checks passed, {len(checks.failures)} failed")
    if temporary:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
