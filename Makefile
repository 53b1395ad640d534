# connect-lake: `make demo` runs the main job on a local default, `make test` passes the tests.
# Everything the targets need is installed here: a venv (.venv) with tests/requirements.txt
# (DuckDB, SeaweedFS's `weed`, PySpark); Java 17 for Spark is on the machine.

CARGO  ?= cargo
BIN    := target/debug/connect-lake
RBIN   := target/release/connect-lake
VENV   := .venv
PY     := $(VENV)/bin/python
VENV_OK := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help demo test interop check bench bench-memory bench-reports bench-queries build clean-demo fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

build: ## build the debug binary
	$(CARGO) build

demo: build ## generate 3 days for 20 agents (+ flow and test exports), load them into ./lake, show the views, a query and the reports
	rm -rf demo lake
	$(BIN) generate --out demo/input --agents 20 --days 3 --start 2026-11-22 --seed 7 \
	    --dup-rate 0.01 --late-rate 0.01 --bad-rate 0.001 --data-lake-out demo/exports
	$(BIN) etl --source agent-events --lake ./lake demo/input --summary-json demo/etl-summary.json
	$(BIN) etl --source contact-flow-events --lake ./lake demo/exports/contact_flow_events
	$(BIN) etl --source test-case-results --lake ./lake demo/exports/connect_test_case_execution_results
	@echo; echo "== agent_status_intervals (one agent, first rows)"
	$(BIN) query --lake ./lake "SELECT username, status, channel, start_timestamp, end_timestamp \
	    FROM agent_status_intervals WHERE username = (SELECT min(username) FROM agent_events) \
	    ORDER BY start_timestamp LIMIT 12"
	@echo; echo "== login_logout_sessions"
	$(BIN) query --lake ./lake "SELECT username, routing_profile_name, login_timestamp, logout_timestamp, \
	    duration_seconds, last_seen_timestamp FROM login_logout_sessions ORDER BY login_timestamp NULLS FIRST, username LIMIT 10"
	@echo; echo "== time in each status, all agents, by day"
	$(BIN) query --lake ./lake "SELECT date_trunc('day', start_timestamp) AS day, status, \
	    round(sum(date_part('epoch', end_timestamp) - date_part('epoch', start_timestamp)) / 3600, 1) AS hours \
	    FROM agent_status_intervals WHERE end_timestamp IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 3 DESC LIMIT 15"
	@echo; echo "== report audit: one agent's day in New York"
	$(BIN) report audit --lake ./lake --agent ana.patel0 --date 2026-11-23 --tz America/New_York --format table
	$(BIN) report audit --lake ./lake --agent ana.patel0 --date 2026-11-23 --tz America/New_York --format svg \
	    --output demo/ana.patel0-2026-11-23.svg
	@echo; echo "== report login-logout: yesterday in New York, two hierarchy groups"
	$(BIN) report login-logout --lake ./lake --range yesterday --now 2026-11-24T12:00:00Z --tz America/New_York \
	    --hierarchy Seattle --hierarchy Dublin --format table
	@echo; echo "== report agent-activity: one agent's day hour by hour in New York (Connect's agent metrics)"
	$(BIN) report agent-activity --lake ./lake --interval 60m --date 2026-11-23 --tz America/New_York \
	    --agent ana.patel0 --format table
	$(BIN) report status-time --lake ./lake --interval 60m --date 2026-11-23 --tz America/New_York --format svg \
	    --output demo/team-2026-11-23.svg
	@echo; echo "== contact_flow_paths: one contact's way through the flows"
	$(BIN) query --lake ./lake "SELECT step, resource_type, flow_type, start_timestamp, duration_seconds, flow_outcome, \
	    next_type FROM contact_flow_paths WHERE contact_id = (SELECT min(contact_id) FROM contact_flow_paths \
	    WHERE channel = 'VOICE' AND initiation_method = 'INBOUND') ORDER BY step"
	@echo; echo "== test_case_runs: results by test case"
	$(BIN) query --lake ./lake "SELECT test_case_name, result, count(*) AS runs, round(avg(duration_seconds), 1) AS avg_seconds, \
	    sum(flow_events) AS flow_events FROM test_case_runs GROUP BY 1, 2 ORDER BY 1, 2"
	@echo; echo "== contact_journeys: time in flows and in queue, by queue and channel"
	$(BIN) query --lake ./lake "SELECT queue_name, channel, count(*) AS contacts, round(avg(time_in_flows_seconds), 1) AS in_flows_s, \
	    round(avg(time_queued_seconds), 1) AS queued_s, count(DISTINCT agent_username) AS agents FROM contact_journeys \
	    WHERE agent_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
	@echo; echo "demo: the lake is in ./lake, the input in demo/input, timelines in demo/ana.patel0-2026-11-23.svg and demo/team-2026-11-23.svg"

test: $(VENV_OK) ## run every test: unit, integration (S3 on a local SeaweedFS), snapshots, then interop
	CONNECT_LAKE_WEED=$(abspath $(VENV)/bin/weed) $(CARGO) test --locked
	$(MAKE) --no-print-directory interop

interop: $(VENV_OK) build ## Spark and DuckDB read a generated lake and agree with connect-lake
	$(PY) tests/interop/readers.py --bin $(BIN)

FUZZ_SECONDS ?= 60
fuzz: ## run the input fuzzer of the tests for FUZZ_SECONDS (default 60) with fresh seeds
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --locked --test it fuzz::fuzz_for_a_while -- --ignored --nocapture

check: ## formatting and lints
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

$(VENV_OK): tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

bench: $(VENV_OK) ## time the ETL on ~1 GB of generated events against DuckDB (release build)
	$(CARGO) build --release --locked
	$(PY) tests/bench/bench.py --bin $(RBIN) --data bench-data

bench-memory: $(VENV_OK) ## peak RSS of a 1,600-agent day into an empty lake, then merged with another (release build)
	$(CARGO) build --release --locked
	$(PY) tests/bench/bench.py --bin $(RBIN) --data bench-data --only memory

bench-reports: $(VENV_OK) ## time only the reports (audit, login-logout, agent-activity, status-time) on the 10- and 60-day bench lakes (release build)
	$(CARGO) build --release --locked
	$(PY) tests/bench/bench.py --bin $(RBIN) --data bench-data --only reports

bench-queries: $(VENV_OK) ## time ad-hoc view queries against DuckDB running the same SQL files on the 10-day bench lake (release build)
	$(CARGO) build --release --locked
	$(PY) tests/bench/bench.py --bin $(RBIN) --data bench-data --only queries
