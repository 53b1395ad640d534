//! Synthetic data-lake exports that agree with the generated agent events: the flow events of
//! every contact the agents handled (same instance, contact ids and queues, timed around the
//! contact's queue and connection times) and test case executions with their own contacts'
//! flow events. Written one file per UTC day per table as NDJSON or CSV, the way an Athena
//! export lands; reprocessed copies (a later `data_lake_last_processed_timestamp`) and rows
//! without their key come at the duplicate and bad rates.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::{ACCOUNT, ContactState, MS, World, ts, uuid};
use crate::error::{Error, Result};
use crate::schema;

pub const FLOW_TABLE: &str = "contact_flow_events";
pub const TEST_TABLE: &str = "connect_test_case_execution_results";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Ndjson,
    Csv,
}

/// The flows of the generated instance: (name, flow type).
const FLOWS: &[(&str, &str)] = &[
    ("Main IVR", "CONTACT_FLOW"),
    ("Route to queue", "CONTACT_FLOW"),
    ("Customer queue", "CUSTOMER_QUEUE"),
    ("Agent whisper", "AGENT_WHISPER"),
    ("Outbound whisper", "OUTBOUND_WHISPER"),
];
const MAIN_IVR: usize = 0;
const ROUTE: usize = 1;
const CUSTOMER_QUEUE: usize = 2;
const AGENT_WHISPER: usize = 3;
const OUTBOUND_WHISPER: usize = 4;

const TEST_CASES: &[(&str, &str, &str)] = &[
    ("Main IVR happy path", "ExperienceTest", "Voice"),
    ("Authentication fails", "FlowTest", "Voice"),
    ("After-hours message", "FlowTest", "Voice"),
    ("Chat greeting", "BotTest", "Chat"),
    ("Callback offered", "FlowTest", "Voice"),
    ("VIP routing", "ExperienceTest", "Voice"),
];
const FAILURES: &[&str] = &[
    "Expected prompt not played",
    "Timeout waiting for agent",
    "Unexpected flow outcome",
    "Bot intent not recognised",
];

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DataLakeStats {
    pub flow_rows: u64,
    pub test_rows: u64,
    pub duplicates: u64,
    pub bad: u64,
}

/// The contact a flow event belongs to.
#[derive(Clone, Copy)]
struct Who<'a> {
    contact: &'a str,
    channel: &'a str,
    method: &'a str,
}

/// One step of a contact's path: a flow (or a module inside it), when, how it ended and,
/// optionally, what it named next (`("flow" | "queue", id)`).
#[derive(Default)]
struct Step<'a> {
    flow: usize,
    module: bool,
    start: i64,
    end: i64,
    outcome: &'a str,
    next: Option<(&'a str, String)>,
}

/// Collects rows by the UTC day of the export file they go to, and writes days out.
pub struct DataLakeWriter {
    out: PathBuf,
    format: ExportFormat,
    rng: ChaCha8Rng,
    flow_ids: Vec<String>,
    module_id: String,
    test_case_ids: Vec<String>,
    dup_rate: f64,
    bad_rate: f64,
    /// (table, file day) → rows.
    pending: BTreeMap<(&'static str, i64), Vec<Map<String, Value>>>,
    pub stats: DataLakeStats,
}

impl DataLakeWriter {
    pub fn new(
        out: PathBuf,
        format: ExportFormat,
        seed: u64,
        dup_rate: f64,
        bad_rate: f64,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xF10E_5EED);
        let flow_ids = FLOWS.iter().map(|_| uuid(&mut rng)).collect();
        let module_id = uuid(&mut rng);
        let test_case_ids = TEST_CASES.iter().map(|_| uuid(&mut rng)).collect();
        DataLakeWriter {
            out,
            format,
            rng,
            flow_ids,
            module_id,
            test_case_ids,
            dup_rate,
            bad_rate,
            pending: BTreeMap::new(),
            stats: DataLakeStats::default(),
        }
    }

    /// One flow event row of a contact.
    fn flow_row(&mut self, world: &World, who: Who<'_>, step: Step<'_>) {
        let Who {
            contact,
            channel,
            method,
        } = who;
        let Step {
            flow,
            module,
            start,
            end,
            outcome,
            next,
        } = step;
        let (next_flow, next_queue, next_type) = match &next {
            Some(("queue", id)) => (Value::Null, json!(id), json!("queue")),
            Some((kind, id)) => (json!(id), Value::Null, json!(kind)),
            None => (Value::Null, Value::Null, Value::Null),
        };
        let processed = end + self.rng.random_range(3600 * MS..6 * 3600 * MS);
        let mut row = Map::new();
        let mut put = |k: &str, v: Value| {
            row.insert(k.to_string(), v);
        };
        put("instance_id", json!(world.instance_id));
        put("event_id", json!(uuid(&mut self.rng)));
        put("aws_account_id", json!(ACCOUNT));
        put("instance_arn", json!(world.instance_arn()));
        put("contact_id", json!(contact));
        put("flow_resource_id", json!(self.flow_ids[flow]));
        put(
            "module_resource_id",
            if module {
                json!(self.module_id)
            } else {
                Value::Null
            },
        );
        put("resource_version", json!("4"));
        put(
            "resource_type",
            json!(if module { "module" } else { "flow" }),
        );
        put("channel", json!(channel));
        put("start_timestamp", json!(ts(start)));
        put("end_timestamp", json!(ts(end)));
        put("next_flow_resource_id", next_flow);
        put("next_queue_resource_id", next_queue);
        put("next_resource_type", next_type);
        put("flow_language_version", json!("2019-10-30"));
        put("flow_outcome", json!(outcome));
        put(
            "sub_type",
            match channel {
                "CHAT" => json!("connect:Chat"),
                _ => Value::Null,
            },
        );
        put("flow_type", json!(FLOWS[flow].1));
        put("initiation_method", json!(method));
        put(
            "resource_published_timestamp",
            json!("2026-10-01T12:00:00.000Z"),
        );
        put("data_lake_last_processed_timestamp", json!(ts(processed)));
        self.add(FLOW_TABLE, start, row, "event_id", |row, rng| {
            // Reprocessed by the data lake a day later: same row, later processing time.
            row.insert(
                "data_lake_last_processed_timestamp".into(),
                json!(ts(processed + 86_400 * MS + rng.random_range(0..3600 * MS))),
            );
        });
    }

    /// Files a row under its day, with a reprocessed copy in the next day's file at the
    /// duplicate rate and a keyless copy at the bad rate.
    fn add(
        &mut self,
        table: &'static str,
        at: i64,
        row: Map<String, Value>,
        key: &str,
        reprocess: impl Fn(&mut Map<String, Value>, &mut ChaCha8Rng),
    ) {
        let day = at.div_euclid(86_400 * MS);
        if self.rng.random_bool(self.dup_rate) {
            let mut again = row.clone();
            reprocess(&mut again, &mut self.rng);
            self.pending
                .entry((table, day + 1))
                .or_default()
                .push(again);
            self.stats.duplicates += 1;
        }
        if self.rng.random_bool(self.bad_rate) {
            let mut keyless = row.clone();
            keyless.remove(key);
            self.pending.entry((table, day)).or_default().push(keyless);
            self.stats.bad += 1;
        }
        match table {
            FLOW_TABLE => self.stats.flow_rows += 1,
            _ => self.stats.test_rows += 1,
        }
        self.pending.entry((table, day)).or_default().push(row);
    }

    /// The flow events of one contact an agent handled, around its queue and connect times.
    pub fn contact(&mut self, world: &World, c: &ContactState, ended: i64) {
        let who = Who {
            contact: &c.id,
            channel: c.channel,
            method: c.method,
        };
        if c.method == "OUTBOUND" {
            let start = c.offered - self.rng.random_range(2 * MS..6 * MS);
            self.flow_row(
                world,
                who,
                Step {
                    flow: OUTBOUND_WHISPER,
                    start,
                    end: c.offered,
                    outcome: "Success",
                    ..Step::default()
                },
            );
            return;
        }
        let route_start = c.queued - self.rng.random_range(2 * MS..10 * MS);
        let ivr_start = route_start - self.rng.random_range(15 * MS..120 * MS);
        let route_id = self.flow_ids[ROUTE].clone();
        self.flow_row(
            world,
            who,
            Step {
                flow: MAIN_IVR,
                start: ivr_start,
                end: route_start,
                outcome: "Success",
                next: Some(("flow", route_id)),
                ..Step::default()
            },
        );
        if c.channel == "VOICE" && self.rng.random_bool(0.5) {
            let auth_end = (ivr_start + self.rng.random_range(5 * MS..20 * MS)).min(route_start);
            self.flow_row(
                world,
                who,
                Step {
                    flow: MAIN_IVR,
                    module: true,
                    start: ivr_start + 2 * MS,
                    end: auth_end,
                    outcome: "Authenticated",
                    ..Step::default()
                },
            );
        }
        let queue_id = world.queue_ids[c.queue].clone();
        self.flow_row(
            world,
            who,
            Step {
                flow: ROUTE,
                start: route_start,
                end: c.queued,
                outcome: "Queued",
                next: Some(("queue", queue_id)),
                ..Step::default()
            },
        );
        let (queue_end, outcome) = match c.connected {
            Some(t) => (t, "AgentConnected"),
            None => (ended.max(c.offered), "CustomerDisconnected"),
        };
        self.flow_row(
            world,
            who,
            Step {
                flow: CUSTOMER_QUEUE,
                start: c.queued,
                end: queue_end,
                outcome,
                ..Step::default()
            },
        );
        if let Some(t) = c.connected {
            self.flow_row(
                world,
                who,
                Step {
                    flow: AGENT_WHISPER,
                    start: t - 2 * MS,
                    end: t,
                    outcome: "Success",
                    ..Step::default()
                },
            );
        }
    }

    /// `runs` test case executions spread over the UTC day starting at `day_start`, each with
    /// the flow events of the contacts it made.
    pub fn test_runs(&mut self, world: &World, day_start: i64, runs: u32) {
        for _ in 0..runs {
            let case = self.rng.random_range(0..TEST_CASES.len());
            let (name, kind, channel) = TEST_CASES[case];
            let start = day_start + self.rng.random_range(0..86_400 * MS - 300 * MS);
            let end = start + self.rng.random_range(10 * MS..120 * MS);
            let initial = uuid(&mut self.rng);
            let mut contacts = vec![initial.clone()];
            let contact_channel = if channel == "Chat" { "CHAT" } else { "VOICE" };
            let ivr_end = start + (end - start) / 2;
            let route_id = self.flow_ids[ROUTE].clone();
            self.flow_row(
                world,
                Who {
                    contact: &initial,
                    channel: contact_channel,
                    method: "API",
                },
                Step {
                    flow: MAIN_IVR,
                    start: start + MS,
                    end: ivr_end,
                    outcome: "Success",
                    next: Some(("flow", route_id)),
                    ..Step::default()
                },
            );
            if self.rng.random_bool(0.3) {
                let transferred = uuid(&mut self.rng);
                self.flow_row(
                    world,
                    Who {
                        contact: &transferred,
                        channel: contact_channel,
                        method: "TRANSFER",
                    },
                    Step {
                        flow: ROUTE,
                        start: ivr_end,
                        end,
                        outcome: "Transferred",
                        ..Step::default()
                    },
                );
                contacts.push(transferred);
            }
            let roll: f64 = self.rng.random();
            let (status, result, reasons): (&str, &str, Vec<&str>) = if roll < 0.8 {
                ("Completed", "Passed", vec![])
            } else if roll < 0.95 {
                let first = self.rng.random_range(0..FAILURES.len());
                let mut reasons = vec![FAILURES[first]];
                if self.rng.random_bool(0.3) {
                    reasons.push(FAILURES[(first + 1) % FAILURES.len()]);
                }
                ("Failed", "Failed", reasons)
            } else {
                ("Aborted", "Aborted", vec![])
            };
            let created = end + self.rng.random_range(MS..30 * MS);
            let mut row = Map::new();
            let mut put = |k: &str, v: Value| {
                row.insert(k.to_string(), v);
            };
            put("instance_id", json!(world.instance_id));
            put("instance_arn", json!(world.instance_arn()));
            put("aws_account_id", json!(ACCOUNT));
            put(
                "connect_test_case_resource_arn",
                json!(format!(
                    "{}/test-case/{}",
                    world.instance_arn(),
                    self.test_case_ids[case]
                )),
            );
            put("connect_test_case_resource_name", json!(name));
            put(
                "connect_test_case_execution_start_timestamp",
                json!(ts(start)),
            );
            put("connect_test_case_execution_end_timestamp", json!(ts(end)));
            put("connect_test_case_status", json!(status));
            put("connect_test_case_result", json!(result));
            put("connect_test_case_execution_id", json!(uuid(&mut self.rng)));
            put("connect_test_case_failure_reasons", json!(reasons));
            put("connect_test_case_type", json!(kind));
            put("connect_test_case_execution_method", json!("Scheduled"));
            put("connect_test_case_execution_channel", json!(channel));
            put("connect_test_case_execution_channel_subtype", Value::Null);
            put(
                "connect_test_case_associated_initial_contact_id",
                json!(initial),
            );
            put("connect_test_case_associated_contact_ids", json!(contacts));
            put(
                "connect_test_case_initiating_flow_id",
                json!(self.flow_ids[MAIN_IVR]),
            );
            put("record_creation_timestamp", json!(ts(created)));
            put(
                "data_lake_last_processed_timestamp",
                json!(ts(created + 3600 * MS)),
            );
            self.add(
                TEST_TABLE,
                start,
                row,
                "connect_test_case_execution_id",
                move |row, _| {
                    // The record as first written, while the test ran: older, so it must lose.
                    row.insert("connect_test_case_status".into(), json!("InProgress"));
                    row.insert("connect_test_case_result".into(), Value::Null);
                    row.insert(
                        "connect_test_case_execution_end_timestamp".into(),
                        Value::Null,
                    );
                    row.insert("record_creation_timestamp".into(), json!(ts(start + MS)));
                },
            );
        }
    }

    /// Writes the files of every day before `before` (all when `None`).
    pub fn flush(&mut self, before: Option<i64>) -> Result<()> {
        let days: Vec<(&'static str, i64)> = self
            .pending
            .keys()
            .filter(|(_, d)| before.is_none_or(|b| *d < b))
            .copied()
            .collect();
        for key in days {
            let Some(rows) = self.pending.remove(&key) else {
                continue;
            };
            let (table, day) = key;
            let dir = self.out.join(table);
            std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            let label = crate::partition::dt_label(day as i32);
            let ext = match self.format {
                ExportFormat::Ndjson => "ndjson",
                ExportFormat::Csv => "csv",
            };
            let path = dir.join(format!("{table}-{label}.{ext}"));
            let body = match self.format {
                ExportFormat::Ndjson => {
                    let mut out = Vec::new();
                    for row in &rows {
                        serde_json::to_writer(&mut out, row)
                            .map_err(|e| Error::Other(e.to_string()))?;
                        out.push(b'\n');
                    }
                    out
                }
                ExportFormat::Csv => csv_body(table, &rows)?,
            };
            std::fs::write(&path, body).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Rows as CSV with the table's columns as header; lists as JSON arrays, nulls as empty.
fn csv_body(table: &str, rows: &[Map<String, Value>]) -> Result<Vec<u8>> {
    let def = schema::table(table)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| Error::Other(format!("CSV: {e}"));
    w.write_record(def.columns.iter().map(|c| c.name.as_str()))
        .map_err(csv_err)?;
    for row in rows {
        let cells = def.columns.iter().map(|c| match row.get(&c.name) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        });
        w.write_record(cells).map_err(csv_err)?;
    }
    w.into_inner()
        .map_err(|e| Error::Other(format!("CSV: {e}")))
}
