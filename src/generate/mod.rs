//! Synthetic agent event streams: realistic, deterministic days of agents logging in, taking
//! voice, chat and task contacts through their states, taking breaks and logging out, written
//! as Firehose would deliver them (`yyyy/mm/dd/HH/` objects, records concatenated), with
//! optional duplicates, late deliveries and corrupt records. Used by the demo, the tests and
//! the benchmark; the same options and seed always give the same bytes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::error::{Error, Result};

mod data_lake;
pub use data_lake::{DataLakeStats, ExportFormat};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Framing {
    /// One JSON record per line.
    Ndjson,
    /// Records concatenated with nothing between them (Firehose's default).
    Firehose,
}

/// How rich an agent's configuration is. `compact`: three hierarchy levels for most agents,
/// one to three inbound queues, short names (records of about 2.8 KB). `large`, as larger
/// centres have: all five hierarchy levels, two to six inbound queues per routing profile out
/// of 18, longer names (records of about 5 KB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Shape {
    #[default]
    Compact,
    Large,
}

/// Which LOGIN and LOGOUT records carry a snapshot. Connect's own carry none
/// (`"CurrentAgentSnapshot": null`), so that is the default; `all` is the shape of the
/// documentation's samples, `some` mixes both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LoginSnapshots {
    #[default]
    None,
    Some,
    All,
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub out: PathBuf,
    pub agents: u32,
    pub days: u32,
    pub start: NaiveDate,
    pub seed: u64,
    pub framing: Framing,
    pub gzip: bool,
    pub dup_rate: f64,
    pub late_rate: f64,
    pub bad_rate: f64,
    /// Also write data-lake exports (contact_flow_events, test case results) of the same
    /// contacts under this folder.
    pub data_lake_out: Option<PathBuf>,
    pub data_lake_format: ExportFormat,
    pub test_runs_per_day: u32,
    /// Write the agent events (off: only the data-lake exports, for their benchmark).
    pub agent_events: bool,
    pub login_snapshots: LoginSnapshots,
    pub shape: Shape,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GenerateStats {
    pub events: u64,
    pub duplicates: u64,
    pub late: u64,
    pub bad: u64,
    pub objects: u64,
    pub bytes: u64,
    pub data_lake: Option<DataLakeStats>,
}

impl GenerateStats {
    pub fn line(&self) -> String {
        let mut line = format!(
            "generate: {} events ({} duplicated, {} late, {} corrupted) in {} objects, {} bytes",
            self.events, self.duplicates, self.late, self.bad, self.objects, self.bytes
        );
        if let Some(d) = &self.data_lake {
            line.push_str(&format!(
                "; data lake: {} flow events, {} test runs ({} reprocessed copies, {} without their key)",
                d.flow_rows, d.test_rows, d.duplicates, d.bad
            ));
        }
        line
    }
}

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
/// Firehose's longest buffering interval: one object per 15 minutes of arrivals.
const OBJECT_SECONDS: i64 = 900;
const MS: i64 = 1000;

const FIRST_NAMES: &[&str] = &[
    "Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jon", "Kemi", "Liam",
    "Maya", "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
];
const LAST_NAMES: &[&str] = &[
    "Silva", "Okafor", "Martin", "Patel", "Kowalski", "Haddad", "Chen", "Sato", "Garcia", "Berg",
    "Adeyemi", "Murphy", "Cohen", "Rahman", "Nasser", "Iyer", "Walsh", "Rossi", "Lund", "Singh",
];
const QUEUES: &[&str] = &["Sales", "Support", "Billing", "Returns", "VIP", "Outbound"];
/// (routing profile, inbound queues by index into QUEUES)
const PROFILES: &[(&str, &[usize])] = &[
    ("Basic Routing Profile", &[0, 1]),
    ("Sales Profile", &[0, 4]),
    ("Support Profile", &[1, 2, 3]),
];
const LEVELS: [&[&str]; 5] = [
    &["North America", "EMEA"],
    &["Seattle", "Dallas", "Dublin"],
    &["Sales", "Care"],
    &["Team Red", "Team Blue", "Team Green"],
    &["Early", "Late"],
];
const CUSTOM_STATUSES: &[(&str, i64)] = &[
    ("Break", 15 * 60),
    ("Lunch", 30 * 60),
    ("Training", 45 * 60),
];

/// The large shape's queues: QUEUES' six (same indices, so the outbound queue stays 5) then
/// twelve more, all with long names.
const LARGE_QUEUES: usize = 18;
const REGIONS: &[&str] = &["North America", "EMEA", "APAC"];
const LINES: &[&str] = &["Sales", "Support", "Billing", "Returns", "VIP", "Outbound"];
const LEVEL_KINDS: [&str; 5] = [
    "Customer Operations Division",
    "Contact Centre Site",
    "Line of Business",
    "Agent Team",
    "Shift Pattern",
];

struct World {
    shape: Shape,
    instance_id: String,
    queue_ids: Vec<String>,
    profile_ids: Vec<String>,
    level_ids: Vec<Vec<String>>,
    status_ids: BTreeMap<&'static str, String>,
}

struct Agent {
    arn: String,
    username: String,
    first: &'static str,
    last: &'static str,
    profile: usize,
    /// Inbound queues of the routing profile, by index into the world's queues.
    queues: Vec<usize>,
    levels: [usize; 5],
    /// Minutes after UTC midnight the shift usually starts; some cross UTC midnight.
    shift_start_min: i64,
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string()
}

impl World {
    fn new(seed: u64, shape: Shape) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let instance_id = uuid(&mut rng);
        let queue_ids: Vec<String> = QUEUES.iter().map(|_| uuid(&mut rng)).collect();
        let profile_ids = PROFILES.iter().map(|_| uuid(&mut rng)).collect();
        let level_ids = LEVELS
            .iter()
            .map(|l| l.iter().map(|_| uuid(&mut rng)).collect())
            .collect();
        let mut status_ids = BTreeMap::new();
        for name in ["Available", "Offline"]
            .into_iter()
            .chain(CUSTOM_STATUSES.iter().map(|s| s.0))
        {
            status_ids.insert(name, uuid(&mut rng));
        }
        // Drawn after everything else, so the compact shape's ids do not move.
        let mut queue_ids: Vec<String> = queue_ids;
        if shape == Shape::Large {
            while queue_ids.len() < LARGE_QUEUES {
                queue_ids.push(uuid(&mut rng));
            }
        }
        World {
            shape,
            instance_id,
            queue_ids,
            profile_ids,
            level_ids,
            status_ids,
        }
    }

    fn instance_arn(&self) -> String {
        format!(
            "arn:aws:connect:{REGION}:{ACCOUNT}:instance/{}",
            self.instance_id
        )
    }

    fn queue_name(&self, q: usize) -> String {
        match self.shape {
            Shape::Compact => QUEUES[q].to_string(),
            Shape::Large => format!(
                "{} {} Customer Contact Queue (Priority Tier {}, Business Hours 08:00-20:00 Local, Overflow to Regional Pool)",
                REGIONS[q / LINES.len() % REGIONS.len()],
                LINES[q % LINES.len()],
                1 + q % 3
            ),
        }
    }

    fn queue(&self, q: usize) -> Value {
        json!({"ARN": format!("{}/queue/{}", self.instance_arn(), self.queue_ids[q]), "Name": self.queue_name(q)})
    }

    /// The inbound queues of agent `i`'s routing profile.
    fn inbound_queues(&self, i: u32, profile: usize) -> Vec<usize> {
        match self.shape {
            Shape::Compact => PROFILES[profile].1.to_vec(),
            Shape::Large => {
                let start = (i as usize * 7) % LARGE_QUEUES;
                (0..2 + i as usize % 5)
                    .map(|k| (start + k) % LARGE_QUEUES)
                    .collect()
            }
        }
    }

    fn agent(&self, i: u32, seed: u64) -> Agent {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(i) << 32) ^ 0xA6E7);
        let agent_id = uuid(&mut rng);
        let first = FIRST_NAMES[i as usize % FIRST_NAMES.len()];
        let last = LAST_NAMES[(i as usize * 7 + 3) % LAST_NAMES.len()];
        // A fifth of the agents work a late shift that crosses UTC midnight.
        let shift_start_min = if i % 5 == 4 {
            20 * 60 + rng.random_range(0..120)
        } else {
            12 * 60 + rng.random_range(0..180)
        };
        Agent {
            arn: format!("{}/agent/{agent_id}", self.instance_arn()),
            username: format!("{}.{}{}", first.to_lowercase(), last.to_lowercase(), i),
            first,
            last,
            profile: i as usize % PROFILES.len(),
            queues: self.inbound_queues(i, i as usize % PROFILES.len()),
            levels: [0, 1, 2, 3, 4].map(|l| (i as usize + l) % LEVELS[l].len()),
            shift_start_min,
        }
    }

    fn configuration(&self, a: &Agent) -> Value {
        let large = self.shape == Shape::Large;
        let profile = if large {
            format!(
                "{} for {} Inbound Queues (Voice, Chat and Task Channels with Callback Overflow)",
                PROFILES[a.profile].0,
                a.queues.len()
            )
        } else {
            PROFILES[a.profile].0.to_string()
        };
        let queues = &a.queues;
        let level_name = |l: usize| {
            let name = LEVELS[l][a.levels[l]];
            if large {
                format!(
                    "{name} {} (Enterprise and Public Sector Accounts, Cost Centre {:04})",
                    LEVEL_KINDS[l],
                    1000 + 37 * l + a.levels[l]
                )
            } else {
                name.to_string()
            }
        };
        let level = |l: usize| json!({"ARN": format!("{}/agent-group/{}", self.instance_arn(), self.level_ids[l][a.levels[l]]), "Name": level_name(l)});
        // Most centres use three hierarchy levels; every third agent's has all five (every
        // agent's in the large shape).
        let mut groups = json!({"Level1": level(0), "Level2": level(1), "Level3": level(2)});
        if large || (a.levels[0] == 0 && a.profile == 0) {
            groups["Level4"] = level(3);
            groups["Level5"] = level(4);
        }
        json!({
            "AgentHierarchyGroups": groups,
            "FirstName": a.first,
            "LastName": a.last,
            "RoutingProfile": {
                "ARN": format!("{}/routing-profile/{}", self.instance_arn(), self.profile_ids[a.profile]),
                "DefaultOutboundQueue": self.queue(5),
                "InboundQueues": queues.iter().map(|&q| self.queue(q)).collect::<Vec<_>>(),
                "Name": profile
            },
            "Username": a.username
        })
    }
}

/// A contact as the agent's snapshot shows it.
#[derive(Clone)]
struct ContactState {
    id: String,
    channel: &'static str,
    method: &'static str,
    state: &'static str,
    state_start: i64,
    /// When the contact was offered to the agent (not in the snapshot JSON).
    offered: i64,
    connected: Option<i64>,
    queued: i64,
    queue: usize,
}

/// The contacts of a shift, each with when it left the agent's snapshot.
type Finished = Vec<(ContactState, i64)>;

/// What the agent looks like at an instant.
#[derive(Clone)]
struct Snapshot {
    status: &'static str,
    status_start: i64,
    contacts: Vec<ContactState>,
}

fn ts(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Builds the events of one agent's day (one shift) in time order.
struct Shift<'w> {
    world: &'w World,
    login_snapshots: LoginSnapshots,
    agent: &'w Agent,
    config: Value,
    rng: ChaCha8Rng,
    events: Vec<(i64, Value)>,
    /// Contacts the agent is done with, with when they left the snapshot.
    finished: Finished,
    snap: Snapshot,
    now: i64,
}

impl<'w> Shift<'w> {
    fn snapshot_json(&self, s: &Snapshot) -> Value {
        let contacts: Vec<Value> = s
            .contacts
            .iter()
            .map(|c| {
                json!({
                    "Channel": c.channel,
                    "ConnectedToAgentTimestamp": c.connected.map(ts),
                    "ContactId": c.id,
                    "InitialContactId": null,
                    "InitiationMethod": c.method,
                    "Queue": self.world.queue(c.queue),
                    "QueueTimestamp": ts(c.queued),
                    "State": c.state,
                    "StateStartTimestamp": ts(c.state_start)
                })
            })
            .collect();
        let kind = match s.status {
            "Available" => "ROUTABLE",
            "Offline" => "OFFLINE",
            _ => "CUSTOM",
        };
        json!({
            "AgentStatus": {
                "ARN": format!("{}/agent-state/{}", self.world.instance_arn(), self.world.status_ids.get(s.status).map_or("", |v| v.as_str())),
                "Name": s.status,
                "StartTimestamp": ts(s.status_start),
                "Type": kind
            },
            "Configuration": self.config,
            "Contacts": contacts
        })
    }

    /// Emits an event at `self.now`, preceded by the HEART_BEATs 120 s of silence call for.
    fn emit(&mut self, event_type: &str, previous: Option<Snapshot>) {
        let last = self.events.last().map(|e| e.0);
        if let Some(mut t) = last {
            while self.now - t > 120 * MS {
                t += 120 * MS;
                // A heartbeat repeats the state before the change that ends the silence.
                let snap = self.snap_before_heartbeat(previous.as_ref());
                self.push(t, "HEART_BEAT", None, &snap);
            }
        }
        let current = self.snap.clone();
        self.push(self.now, event_type, previous, &current);
    }

    fn snap_before_heartbeat(&self, previous: Option<&Snapshot>) -> Snapshot {
        previous.cloned().unwrap_or_else(|| self.snap.clone())
    }

    /// Emits a LOGIN or LOGOUT at `self.now` as Connect sends them: both snapshots null (or,
    /// as `--login-snapshots` says, with the current one).
    fn emit_session_event(&mut self, event_type: &str) {
        let len = self.events.len();
        self.emit(event_type, None);
        let keep = match self.login_snapshots {
            LoginSnapshots::All => true,
            LoginSnapshots::None => false,
            // Decided by the event id, so the rest of the stream is the same in every mode.
            LoginSnapshots::Some => self.events[len..]
                .last()
                .and_then(|(_, e)| e["EventId"].as_str())
                .is_some_and(|id| id.as_bytes()[0] % 2 == 0),
        };
        if let Some(obj) = self
            .events
            .last_mut()
            .and_then(|(_, e)| e.as_object_mut())
            .filter(|_| !keep)
        {
            obj.insert("CurrentAgentSnapshot".into(), Value::Null);
            obj.insert("PreviousAgentSnapshot".into(), Value::Null);
        }
    }

    fn push(&mut self, at: i64, event_type: &str, previous: Option<Snapshot>, current: &Snapshot) {
        let mut e = json!({
            "AWSAccountId": ACCOUNT,
            "AgentARN": self.agent.arn,
            "CurrentAgentSnapshot": self.snapshot_json(current),
            "EventId": uuid(&mut self.rng),
            "EventTimestamp": ts(at),
            "EventType": event_type,
            "InstanceARN": self.world.instance_arn(),
            "Version": "2017-10-01"
        });
        if let (Some(p), Some(obj)) = (previous, e.as_object_mut()) {
            // The previous configuration is left out (it never changes mid-shift here): it
            // keeps events at the 1.5-3 KB of real streams, and the decoder reads only the
            // previous status anyway.
            let mut snap = self.snapshot_json(&p);
            if let Some(s) = snap.as_object_mut() {
                s.remove("Configuration");
            }
            obj.insert("PreviousAgentSnapshot".into(), snap);
        }
        self.events.push((at, e));
    }

    fn advance(&mut self, min_s: i64, max_s: i64) {
        self.now += self.rng.random_range(min_s * MS..=max_s * MS);
    }

    fn set_status(&mut self, status: &'static str) {
        let prev = self.snap.clone();
        self.snap.status = status;
        self.snap.status_start = self.now;
        self.emit("STATE_CHANGE", Some(prev));
    }

    fn set_contact_state(&mut self, i: usize, state: &'static str) {
        let prev = self.snap.clone();
        let now = self.now;
        let c = &mut self.snap.contacts[i];
        c.state = state;
        c.state_start = now;
        if state == "CONNECTED" && c.connected.is_none() {
            c.connected = Some(now);
        }
        self.emit("STATE_CHANGE", Some(prev));
    }

    fn remove_contact(&mut self, i: usize) {
        let prev = self.snap.clone();
        let contact = self.snap.contacts.remove(i);
        self.finished.push((contact, self.now));
        self.emit("STATE_CHANGE", Some(prev));
    }

    fn new_contact(
        &mut self,
        channel: &'static str,
        method: &'static str,
        state: &'static str,
    ) -> usize {
        let prev = self.snap.clone();
        let queues = &self.agent.queues;
        let queue = if method == "OUTBOUND" {
            5
        } else {
            queues[self.rng.random_range(0..queues.len())]
        };
        let c = ContactState {
            id: uuid(&mut self.rng),
            channel,
            method,
            state,
            state_start: self.now,
            offered: self.now,
            connected: None,
            queued: self.now - self.rng.random_range(5 * MS..180 * MS),
            queue,
        };
        self.snap.contacts.push(c);
        self.emit("STATE_CHANGE", Some(prev));
        self.snap.contacts.len() - 1
    }

    /// One contact from offer to the end of after-contact work.
    fn contact(&mut self) {
        let roll: f64 = self.rng.random();
        let (channel, method) = match roll {
            r if r < 0.45 => ("VOICE", "INBOUND"),
            r if r < 0.55 => ("VOICE", "OUTBOUND"),
            r if r < 0.60 => ("VOICE", "CALLBACK"),
            r if r < 0.90 => ("CHAT", "INBOUND"),
            _ => ("TASK", "API"),
        };
        let first_state = match (channel, method) {
            ("VOICE", "INBOUND") => "INCOMING",
            _ => "CONNECTING",
        };
        let i = self.new_contact(channel, method, first_state);
        self.advance(3, 20);
        let fate: f64 = self.rng.random();
        if fate < 0.04 {
            // Missed or rejected: the agent did not take it.
            let state = if channel == "TASK" && fate < 0.02 {
                "REJECTED"
            } else {
                "MISSED"
            };
            self.set_contact_state(i, state);
            self.advance(5, 30);
            self.remove_contact(i);
            return;
        }
        if fate < 0.06 && channel == "VOICE" {
            self.set_contact_state(i, "ERROR");
            self.advance(5, 20);
            self.remove_contact(i);
            return;
        }
        if method == "CALLBACK" && fate < 0.15 {
            // A callback the customer never answered: ends without ever connecting.
            self.set_contact_state(i, "ENDED");
            self.advance(5, 30);
            self.remove_contact(i);
            return;
        }
        self.set_contact_state(i, "CONNECTED");
        self.advance(60, 420);
        if channel == "VOICE" && self.rng.random_bool(0.25) {
            self.set_contact_state(i, "CONNECTED_ONHOLD");
            self.advance(20, 150);
            self.set_contact_state(i, "CONNECTED");
            self.advance(30, 200);
        }
        if channel == "CHAT" && self.rng.random_bool(0.35) {
            // A concurrent chat arrives while the first is connected.
            let j = self.new_contact("CHAT", "INBOUND", "CONNECTING");
            self.advance(3, 15);
            self.set_contact_state(j, "CONNECTED");
            self.advance(60, 300);
            self.set_contact_state(j, "ENDED");
            self.advance(10, 60);
            self.remove_contact(j);
        }
        self.set_contact_state(i, "ENDED");
        self.advance(15, 120);
        self.remove_contact(i);
    }

    fn run(mut self, shift_start: i64) -> (Vec<(i64, Value)>, Finished) {
        self.now = shift_start;
        self.snap = Snapshot {
            status: "Offline",
            status_start: self.now,
            contacts: Vec::new(),
        };
        self.emit_session_event("LOGIN");
        // Connect follows a LOGIN with a STATE_CHANGE that has no previous snapshot: the state
        // the agent starts in. Strictly later, so the LOGIN is not an event of its instant.
        self.now += self.rng.random_range(1..=900);
        self.snap.status_start = self.now;
        self.emit("STATE_CHANGE", None);
        self.advance(5, 40);
        self.set_status("Available");
        let shift_end = shift_start + 8 * 3600 * MS + self.rng.random_range(-1800 * MS..1800 * MS);
        let mut breaks_left: Vec<usize> = vec![0, 1, 0];
        if self.rng.random_bool(0.3) {
            breaks_left.push(2);
        }
        while self.now < shift_end {
            self.advance(20, 400);
            let progress = 1.0 - (shift_end - self.now) as f64 / (8.0 * 3600.0 * 1000.0);
            if !breaks_left.is_empty() && self.rng.random_bool((0.03 + progress * 0.05).min(1.0)) {
                let (name, length) = CUSTOM_STATUSES[breaks_left.remove(0)];
                self.set_status(name);
                self.now += length * MS + self.rng.random_range(-120 * MS..240 * MS);
                self.set_status("Available");
            } else {
                self.contact();
            }
        }
        if self.rng.random_bool(0.9) {
            self.advance(5, 60);
            self.set_status("Offline");
            self.advance(2, 20);
            self.snap.contacts.clear();
            self.emit_session_event("LOGOUT");
        } else {
            // Browser closed without logging out: Connect keeps the session open, and the
            // heartbeats stop with the client.
        }
        (self.events, self.finished)
    }
}

/// Generates the whole stream and writes it under `options.out`.
pub fn generate(options: &GenerateOptions) -> Result<GenerateStats> {
    let world = World::new(options.seed, options.shape);
    let agents: Vec<Agent> = (0..options.agents)
        .map(|i| world.agent(i, options.seed))
        .collect();
    let mut stats = GenerateStats::default();
    let mut lake = options.data_lake_out.as_ref().map(|out| {
        data_lake::DataLakeWriter::new(
            out.clone(),
            options.data_lake_format,
            options.seed,
            options.dup_rate,
            options.bad_rate,
        )
    });
    // Records by arrival time, kept until their 15-minute object is complete.
    let mut pending: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    let mut delivery_rng = ChaCha8Rng::seed_from_u64(options.seed ^ 0xF1E4_05E5);
    let start_ms = options
        .start
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis());
    let day_ms = 86_400 * MS;
    for day in 0..i64::from(options.days) {
        for (i, agent) in agents.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(
                options
                    .seed
                    .wrapping_mul(0x9E37_79B9)
                    .wrapping_add(((day as u64) << 20) + i as u64),
            );
            // Most agents work five days of seven.
            if rng.random_bool(0.12) {
                continue;
            }
            let shift_start = start_ms
                + day * day_ms
                + agent.shift_start_min * 60 * MS
                + rng.random_range(-600 * MS..600 * MS);
            let shift = Shift {
                world: &world,
                login_snapshots: options.login_snapshots,
                agent,
                config: world.configuration(agent),
                rng,
                events: Vec::new(),
                finished: Vec::new(),
                snap: Snapshot {
                    status: "Offline",
                    status_start: 0,
                    contacts: Vec::new(),
                },
                now: 0,
            };
            let (events, finished) = shift.run(shift_start);
            if let Some(lake) = lake.as_mut() {
                for (contact, ended) in &finished {
                    lake.contact(&world, contact, ended.to_owned());
                }
            }
            if !options.agent_events {
                stats.events += events.len() as u64;
                continue;
            }
            for (at, event) in events {
                let mut record =
                    serde_json::to_vec(&event).map_err(|e| Error::Other(e.to_string()))?;
                stats.events += 1;
                let mut arrival = at + delivery_rng.random_range(200..5000);
                if delivery_rng.random_bool(options.late_rate) {
                    arrival += day_ms + delivery_rng.random_range(0..6 * 3600 * MS);
                    stats.late += 1;
                }
                if delivery_rng.random_bool(options.dup_rate) {
                    let again = arrival + delivery_rng.random_range(1000..1800 * MS);
                    insert(&mut pending, again, record.clone());
                    stats.duplicates += 1;
                }
                if delivery_rng.random_bool(options.bad_rate) {
                    corrupt(&mut record, &mut delivery_rng);
                    stats.bad += 1;
                }
                insert(&mut pending, arrival, record);
            }
        }
        if let Some(lake) = lake.as_mut() {
            let day_start = start_ms + day * day_ms;
            lake.test_runs(&world, day_start, options.test_runs_per_day);
            // Later shifts and reprocessed copies only reach this day and the next.
            lake.flush(Some(day_start.div_euclid(day_ms)))?;
        }
        // Everything arriving before the next day's first shift can be written out.
        flush(
            &mut pending,
            Some(start_ms + (day + 1) * day_ms + 10 * 3600 * MS),
            options,
            &mut stats,
        )?;
    }
    flush(&mut pending, None, options, &mut stats)?;
    if let Some(mut lake) = lake {
        lake.flush(None)?;
        stats.data_lake = Some(lake.stats);
    }
    Ok(stats)
}

fn insert(pending: &mut BTreeMap<i64, Vec<u8>>, mut at: i64, record: Vec<u8>) {
    while pending.contains_key(&at) {
        at += 1;
    }
    pending.insert(at, record);
}

/// Damages a record the ways Firehose deliveries go wrong: cut short, or replaced by junk.
fn corrupt(record: &mut Vec<u8>, rng: &mut ChaCha8Rng) {
    if rng.random_bool(0.7) {
        let keep = rng.random_range(1..record.len().max(2));
        record.truncate(keep);
    } else {
        *record = b"\x00\x01garbage \xff\xfe not json".to_vec();
    }
}

/// Writes the pending records that arrived before `until` (all when `None`) as 15-minute
/// Firehose objects: `yyyy/mm/dd/HH/connect-agent-events-1-yyyy-mm-dd-HH-MM-SS-<id>`.
fn flush(
    pending: &mut BTreeMap<i64, Vec<u8>>,
    until: Option<i64>,
    options: &GenerateOptions,
    stats: &mut GenerateStats,
) -> Result<()> {
    let keep = match until {
        Some(t) => pending.split_off(&t),
        None => BTreeMap::new(),
    };
    let ready = std::mem::replace(pending, keep);
    let mut by_object: BTreeMap<i64, Vec<Vec<u8>>> = BTreeMap::new();
    for (at, record) in ready {
        by_object
            .entry(at.div_euclid(OBJECT_SECONDS * MS))
            .or_default()
            .push(record);
    }
    for (slot, records) in by_object {
        let opened =
            DateTime::<Utc>::from_timestamp_millis(slot * OBJECT_SECONDS * MS).unwrap_or_default();
        let dir = options.out.join(opened.format("%Y/%m/%d/%H").to_string());
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let mut name = format!(
            "connect-agent-events-1-{}-{:08x}",
            opened.format("%Y-%m-%d-%H-%M-%S"),
            twox_hash::XxHash64::oneshot(options.seed, &slot.to_le_bytes()) as u32
        );
        let mut body = Vec::new();
        for r in &records {
            body.extend_from_slice(r);
            if options.framing == Framing::Ndjson {
                body.push(b'\n');
            }
        }
        if options.gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let gz = enc.write_all(&body).and_then(|()| enc.finish());
            body = gz.map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            name.push_str(".gz");
        }
        let path = dir.join(name);
        std::fs::write(&path, &body).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        stats.objects += 1;
        stats.bytes += body.len() as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(out: PathBuf) -> GenerateOptions {
        GenerateOptions {
            out,
            agents: 3,
            days: 1,
            start: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            seed: 42,
            framing: Framing::Ndjson,
            gzip: false,
            dup_rate: 0.05,
            late_rate: 0.0,
            bad_rate: 0.0,
            login_snapshots: LoginSnapshots::default(),
            shape: Shape::default(),
            data_lake_out: None,
            data_lake_format: ExportFormat::Ndjson,
            test_runs_per_day: 0,
            agent_events: true,
        }
    }

    fn read_all(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push((
                        p.strip_prefix(dir).unwrap().display().to_string(),
                        std::fs::read(&p).unwrap(),
                    ));
                }
            }
        }
        files.sort();
        files
    }

    #[test]
    fn same_seed_same_bytes_and_events_look_real() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let sa = generate(&options(a.path().into())).unwrap();
        let sb = generate(&options(b.path().into())).unwrap();
        assert_eq!(sa, sb);
        let (fa, fb) = (read_all(a.path()), read_all(b.path()));
        assert_eq!(fa, fb);
        assert!(fa[0].0.starts_with("2026/11/24/"), "{}", fa[0].0);
        let lines: Vec<Value> = fa
            .iter()
            .flat_map(|(_, bytes)| {
                bytes
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| serde_json::from_slice(l).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(lines.len() as u64, sa.events + sa.duplicates);
        let types: std::collections::BTreeSet<&str> = lines
            .iter()
            .filter_map(|e| e["EventType"].as_str())
            .collect();
        for t in ["LOGIN", "STATE_CHANGE", "HEART_BEAT"] {
            assert!(types.contains(t), "no {t} in {types:?}");
        }
        let sizes: Vec<usize> = lines.iter().map(|e| e.to_string().len()).collect();
        let mean = sizes.iter().sum::<usize>() / sizes.len();
        assert!((1500..=3000).contains(&mean), "mean event size {mean}");
    }

    /// The large shape: every record with five hierarchy levels and two to six inbound
    /// queues, about 5 KB a record; the compact shape's records stay as they were.
    #[test]
    fn the_large_shape_has_five_levels_and_two_to_six_queues() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = options(dir.path().join("large"));
        o.agents = 10;
        o.shape = Shape::Large;
        let large = generate(&o).unwrap();
        let compact = generate(&options(dir.path().join("compact"))).unwrap();
        let mut queue_counts = std::collections::BTreeSet::new();
        for entry in walk(&dir.path().join("large")) {
            for line in std::fs::read_to_string(entry).unwrap().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                let Some(snap) = v.get("CurrentAgentSnapshot").filter(|s| !s.is_null()) else {
                    continue;
                };
                let config = &snap["Configuration"];
                let groups = config["AgentHierarchyGroups"].as_object().unwrap();
                assert_eq!(groups.len(), 5, "{groups:?}");
                let queues = config["RoutingProfile"]["InboundQueues"]
                    .as_array()
                    .unwrap();
                assert!((2..=6).contains(&queues.len()), "{}", queues.len());
                queue_counts.insert(queues.len());
            }
        }
        assert_eq!(
            queue_counts.len(),
            5,
            "every count from two to six: {queue_counts:?}"
        );
        let per_record = |s: &GenerateStats| s.bytes as f64 / s.events as f64;
        assert!(per_record(&large) > 4500.0, "{}", per_record(&large));
        assert!(per_record(&compact) < 3500.0, "{}", per_record(&compact));
    }

    fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
        out
    }
}
