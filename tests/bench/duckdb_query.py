#!/usr/bin/env python3
"""Ad-hoc SQL over a connect-lake lake as a data engineer would run it in DuckDB: a view per
table over its Parquet files (hive partitioning gives `dt`), then the report views of `sql/`
in connect-lake's order, then one query; prints its result as CSV. Run by bench.py as its own
process, Python start included.

Usage: duckdb_query.py LAKE QUERY VIEW...

The view files are DataFusion SQL. Two spellings differ in DuckDB and are rewritten here, and
nothing else: `lag(x) IGNORE NULLS OVER` is `lag(x IGNORE NULLS) OVER`, and `unix_millis` is
`epoch_ms`.
"""
import csv
import glob
import os
import re
import sys

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
SQL = os.path.join(ROOT, "sql")
# The lake's tables, as schemas/ defines them (file stem = table name).
TABLES = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "schemas", "*.json")))


def duckdb_dialect(sql):
    # `lag(<expr>) IGNORE NULLS OVER` -> `lag(<expr> IGNORE NULLS) OVER`: find the call's closing
    # parenthesis by depth, since <expr> holds parentheses of its own.
    out, i = [], 0
    pattern = re.compile(r"\b(lag|lead)\(", re.IGNORECASE)
    while True:
        m = pattern.search(sql, i)
        if not m:
            out.append(sql[i:])
            break
        depth, j = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[j], 0)
            j += 1
        rest = re.match(r"\s*IGNORE NULLS", sql[j:], re.IGNORECASE)
        if rest:
            out.append(sql[i:j - 1] + " IGNORE NULLS)")
            i = j + rest.end()
        else:
            out.append(sql[i:j])
            i = j
    return re.sub(r"\bunix_millis\(", "epoch_ms(", "".join(out))


def main():
    lake, query, views = sys.argv[1], sys.argv[2], sys.argv[3:]
    con = duckdb.connect()
    con.execute(f"SET threads TO {os.cpu_count()}")
    for table in TABLES:
        files = os.path.join(lake, table, "dt=*", "*.parquet")
        if not glob.glob(files):
            continue  # a table the lake has no rows of; the views read only the agent tables
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{files}', hive_partitioning = true)")
    for view in views:
        with open(os.path.join(SQL, f"{view}.sql")) as f:
            con.execute(duckdb_dialect(f.read()))
    cur = con.execute(query)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow([d[0] for d in cur.description])
    for row in cur.fetchall():
        out.writerow(row)


if __name__ == "__main__":
    main()
