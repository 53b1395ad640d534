//! Amazon Connect agent event stream records → rows of `agent_events` and
//! `agent_event_contacts`. Owns the JSON shape (every field spelling Connect has used), the
//! ARN parsing and the validation that decides what is a record; builds Arrow arrays directly,
//! borrowing strings from the input so nothing but the output is allocated.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Builder, ListBuilder, StringBuilder, StructBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::record_batch::RecordBatch;
use serde::Deserialize;

use super::lax::{Expect, Lax, Path, Walk, required};
use super::{Attempt, Record, Text, attempt_json};
use crate::error::{Error, Result};
use crate::schema;
use crate::walk_fields;

type Str<'a> = Lax<Text<'a>>;

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEvent<'a> {
    #[serde(borrow, rename = "EventId", alias = "EventID")]
    event_id: Str<'a>,
    #[serde(borrow, rename = "EventType")]
    event_type: Str<'a>,
    #[serde(borrow, rename = "EventTimestamp")]
    event_timestamp: Str<'a>,
    #[serde(borrow, rename = "Version")]
    version: Str<'a>,
    #[serde(borrow, rename = "AWSAccountId", alias = "AwsAccountId")]
    aws_account_id: Str<'a>,
    #[serde(borrow, rename = "InstanceARN", alias = "InstanceArn")]
    instance_arn: Str<'a>,
    #[serde(borrow, rename = "AgentARN", alias = "AgentArn")]
    agent_arn: Str<'a>,
    #[serde(borrow, rename = "CurrentAgentSnapshot")]
    current: Lax<Snapshot<'a>>,
    #[serde(borrow, rename = "PreviousAgentSnapshot")]
    previous: Lax<PreviousSnapshot<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Snapshot<'a> {
    #[serde(borrow, rename = "AgentStatus")]
    agent_status: Lax<Status<'a>>,
    #[serde(borrow, rename = "NextAgentStatus")]
    next_agent_status: Lax<Status<'a>>,
    #[serde(borrow, rename = "Configuration")]
    configuration: Lax<Configuration<'a>>,
    #[serde(borrow, rename = "Contacts")]
    contacts: Lax<Vec<Contact<'a>>>,
}

/// Only the status of the previous snapshot is kept; the rest is skipped unallocated.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PreviousSnapshot<'a> {
    #[serde(borrow, rename = "AgentStatus")]
    agent_status: Lax<Status<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Status<'a> {
    #[serde(borrow, rename = "ARN", alias = "Arn")]
    arn: Str<'a>,
    #[serde(borrow, rename = "Name")]
    name: Str<'a>,
    #[serde(borrow, rename = "Type")]
    kind: Str<'a>,
    #[serde(borrow, rename = "StartTimestamp")]
    start_timestamp: Str<'a>,
    #[serde(borrow, rename = "EnqueuedTimestamp", alias = "EnqueueTimestamp")]
    enqueued_timestamp: Str<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Configuration<'a> {
    #[serde(borrow, rename = "Username", alias = "UserName")]
    username: Str<'a>,
    #[serde(borrow, rename = "FirstName")]
    first_name: Str<'a>,
    #[serde(borrow, rename = "LastName")]
    last_name: Str<'a>,
    #[serde(borrow, rename = "RoutingProfile")]
    routing_profile: Lax<RoutingProfile<'a>>,
    #[serde(borrow, rename = "AgentHierarchyGroups", alias = "HierarchyGroups")]
    hierarchy_groups: Lax<HierarchyGroups<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RoutingProfile<'a> {
    #[serde(borrow, rename = "ARN", alias = "Arn")]
    arn: Str<'a>,
    #[serde(borrow, rename = "Name")]
    name: Str<'a>,
    #[serde(borrow, rename = "DefaultOutboundQueue")]
    default_outbound_queue: Lax<Named<'a>>,
    #[serde(borrow, rename = "InboundQueues")]
    inbound_queues: Lax<Vec<Lax<Named<'a>>>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Named<'a> {
    #[serde(borrow, rename = "ARN", alias = "Arn")]
    arn: Str<'a>,
    #[serde(borrow, rename = "Name")]
    name: Str<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HierarchyGroups<'a> {
    #[serde(borrow, rename = "Level1")]
    level1: Lax<Named<'a>>,
    #[serde(borrow, rename = "Level2")]
    level2: Lax<Named<'a>>,
    #[serde(borrow, rename = "Level3")]
    level3: Lax<Named<'a>>,
    #[serde(borrow, rename = "Level4")]
    level4: Lax<Named<'a>>,
    #[serde(borrow, rename = "Level5")]
    level5: Lax<Named<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Contact<'a> {
    #[serde(borrow, rename = "ContactId")]
    contact_id: Str<'a>,
    #[serde(borrow, rename = "InitialContactId")]
    initial_contact_id: Str<'a>,
    #[serde(borrow, rename = "Channel")]
    channel: Str<'a>,
    #[serde(borrow, rename = "InitiationMethod")]
    initiation_method: Str<'a>,
    #[serde(borrow, rename = "State")]
    state: Str<'a>,
    #[serde(borrow, rename = "StateStartTimestamp")]
    state_start_timestamp: Str<'a>,
    #[serde(borrow, rename = "ConnectedToAgentTimestamp")]
    connected_to_agent_timestamp: Str<'a>,
    #[serde(
        borrow,
        rename = "QueueTimestamp",
        alias = "EnqueuedTimestamp",
        alias = "EnqueueTimestamp"
    )]
    queue_timestamp: Str<'a>,
    #[serde(borrow, rename = "Queue")]
    queue: Lax<Named<'a>>,
}

macro_rules! objects {
    ($($t:ident),*) => { $(impl Expect for $t<'_> { const EXPECTS: &'static str = "an object"; })* };
}
objects!(
    Snapshot,
    PreviousSnapshot,
    Status,
    Configuration,
    RoutingProfile,
    Named,
    HierarchyGroups,
    Contact
);

// The optional fields whose type is checked: every field but the required ones (`EventId`,
// `EventType`, `EventTimestamp`, `AgentARN`, a contact's `ContactId`), which reject the record.
impl Walk for RawEvent<'_> {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
        walk_fields!(self, path, out; "Version" => version, "AWSAccountId" => aws_account_id,
            "InstanceARN" => instance_arn, "CurrentAgentSnapshot" => current,
            "PreviousAgentSnapshot" => previous);
    }
}

impl Walk for Snapshot<'_> {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
        walk_fields!(self, path, out; "AgentStatus" => agent_status,
            "NextAgentStatus" => next_agent_status, "Configuration" => configuration,
            "Contacts" => contacts);
    }
}

impl Walk for PreviousSnapshot<'_> {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
        walk_fields!(self, path, out; "AgentStatus" => agent_status);
    }
}

impl Walk for Status<'_> {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
        walk_fields!(self, path, out; "ARN" => arn, "Name" => name, "Type" => kind,
            "StartTimestamp" => start_timestamp, "EnqueuedTimestamp" => enqueued_timestamp);
    }
}

impl Walk for Configuration<'_> {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
        walk_fields!(self, path, out; "Username" => username, "FirstName" => first_name,
            "LastName" => last_name, "RoutingProfile" => routing_profile,
            "AgentHierarchyGroups" => hierarchy_groups);
    }
}

impl Walk for RoutingProfile<'_> {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
        walk_fields!(self, path, out; "ARN" => arn, "Name" => name,
            "DefaultOutboundQueue" => default_outbound_queue, "InboundQueues" => inbound_queues);
    }
}

impl Walk for Named<'_> {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
        walk_fields!(self, path, out; "ARN" => arn, "Name" => name);
    }
}

impl Walk for HierarchyGroups<'_> {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
        walk_fields!(self, path, out; "Level1" => level1, "Level2" => level2, "Level3" => level3,
            "Level4" => level4, "Level5" => level5);
    }
}

impl Walk for Contact<'_> {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
        walk_fields!(self, path, out; "InitialContactId" => initial_contact_id,
            "Channel" => channel, "InitiationMethod" => initiation_method, "State" => state,
            "StateStartTimestamp" => state_start_timestamp,
            "ConnectedToAgentTimestamp" => connected_to_agent_timestamp,
            "QueueTimestamp" => queue_timestamp, "Queue" => queue);
    }
}

/// The parts of an agent ARN
/// (`arn:PARTITION:connect:REGION:ACCOUNT:instance/INSTANCE_ID/agent/AGENT_ID`).
#[derive(Debug, PartialEq, Eq)]
pub struct AgentArn<'a> {
    pub instance_arn: &'a str,
    pub instance_id: &'a str,
    pub agent_id: &'a str,
}

pub fn parse_agent_arn(arn: &str) -> Option<AgentArn<'_>> {
    let mut fields = arn.splitn(6, ':');
    let (
        Some("arn"),
        Some(_partition),
        Some("connect"),
        Some(_region),
        Some(_account),
        Some(resource),
    ) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    )
    else {
        return None;
    };
    let mut parts = resource.split('/');
    let (Some("instance"), Some(instance_id), Some("agent"), Some(agent_id), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    if instance_id.is_empty() || agent_id.is_empty() {
        return None;
    }
    let instance_end = arn.len() - resource.len() + "instance/".len() + instance_id.len();
    Some(AgentArn {
        instance_arn: &arn[..instance_end],
        instance_id,
        agent_id,
    })
}

/// Parses an ISO-8601 timestamp to UTC microseconds. Connect writes `…T18:43:59.049Z`; an
/// offset is honoured, and a timestamp with no zone at all is read as UTC.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if let Some(t) = parse_connect_timestamp(text.as_bytes()) {
        return Some(t);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

/// The one layout Connect writes, `2019-05-25T18:43:59.049Z`, without the general parser: a
/// handful of timestamps per event makes this the hot path. Anything else returns `None` and
/// goes to the general parser, which is the authority.
fn parse_connect_timestamp(b: &[u8]) -> Option<i64> {
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = date.and_hms_milli_opt(num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?)?;
    Some(time.and_utc().timestamp_micros())
}

/// Connect has spelled channels in more than one way (`TASKS`, `Voice`): one spelling each.
fn normalize_channel(channel: &str) -> Cow<'_, str> {
    match channel {
        "VOICE" | "CHAT" | "TASK" | "EMAIL" => Cow::Borrowed(channel),
        _ => {
            let upper = channel.to_ascii_uppercase();
            Cow::Owned(match upper.as_str() {
                "TASKS" => "TASK".to_string(),
                "EMAILS" => "EMAIL".to_string(),
                _ => upper,
            })
        }
    }
}

fn upper(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(text.to_ascii_uppercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// An optional timestamp field: absent or empty is null, anything else must parse.
fn optional_ts(field: &str, value: Option<&Str<'_>>) -> std::result::Result<Option<i64>, String> {
    match value.and_then(Lax::as_deref) {
        None | Some("") => Ok(None),
        Some(text) => parse_timestamp(text)
            .map(Some)
            .ok_or_else(|| format!("{field}: timestamp does not parse: {text:?}")),
    }
}

/// Rows a batch is sized for: builders start this big so they do not regrow (and copy) while
/// the batch fills.
pub const ROWS: usize = 16 * 1024;

fn sb() -> StringBuilder {
    // ARNs are ~130 bytes, names and ids shorter: 64 bytes a value on average.
    StringBuilder::with_capacity(ROWS, ROWS * 64)
}

fn tsb() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(ROWS)
}

fn utc_ts_builder() -> TimestampMicrosecondBuilder {
    tsb().with_timezone("UTC")
}

/// Accumulates decoded events as Arrow columns for both tables.
pub struct AgentEventDecoder {
    events_schema: SchemaRef,
    contacts_schema: SchemaRef,
    rows: usize,
    // agent_events
    event_id: StringBuilder,
    event_type: StringBuilder,
    event_ts: TimestampMicrosecondBuilder,
    version: StringBuilder,
    aws_account_id: StringBuilder,
    instance_arn: StringBuilder,
    instance_id: StringBuilder,
    agent_arn: StringBuilder,
    agent_id: StringBuilder,
    username: StringBuilder,
    first_name: StringBuilder,
    last_name: StringBuilder,
    rp_arn: StringBuilder,
    rp_name: StringBuilder,
    outbound_arn: StringBuilder,
    outbound_name: StringBuilder,
    inbound_queues: ListBuilder<StructBuilder>,
    hierarchy: [(StringBuilder, StringBuilder); 5],
    status_arn: StringBuilder,
    status_name: StringBuilder,
    status_type: StringBuilder,
    status_start: TimestampMicrosecondBuilder,
    next_status_name: StringBuilder,
    next_status_enqueued: TimestampMicrosecondBuilder,
    prev_status_name: StringBuilder,
    prev_status_start: TimestampMicrosecondBuilder,
    contact_count: Int32Builder,
    // agent_event_contacts
    c: ContactColumns,
    /// Where the current object's text starts, so a record's offset follows from its address.
    base: usize,
    warnings: Warnings,
}

/// Optional fields of the wrong type met since the last [`AgentEventDecoder::take_warnings`]:
/// how many, and the first [`MAX_WARNINGS`] with the byte offset of their record.
#[derive(Debug, Default)]
pub struct Warnings {
    pub count: u64,
    pub first: Vec<(u64, String)>,
}

/// Warnings kept with their text per object; the rest are counted.
pub const MAX_WARNINGS: usize = 20;

struct ContactColumns {
    rows: usize,
    event_id: StringBuilder,
    event_ts: TimestampMicrosecondBuilder,
    instance_id: StringBuilder,
    agent_arn: StringBuilder,
    agent_id: StringBuilder,
    contact_id: StringBuilder,
    initial_contact_id: StringBuilder,
    channel: StringBuilder,
    initiation_method: StringBuilder,
    state: StringBuilder,
    state_start: TimestampMicrosecondBuilder,
    connected: TimestampMicrosecondBuilder,
    queue_ts: TimestampMicrosecondBuilder,
    queue_arn: StringBuilder,
    queue_name: StringBuilder,
}

/// A validated event, ready to append: everything that can fail has been checked.
struct Checked<'e, 'a> {
    raw: &'e RawEvent<'a>,
    /// Optional fields of a type the model does not allow, stored as null (`path: why`).
    warnings: Vec<String>,
    event_id: &'e str,
    event_type: &'e str,
    event_ts: i64,
    agent: AgentArn<'e>,
    status_start: Option<i64>,
    next_enqueued: Option<i64>,
    prev_start: Option<i64>,
    contacts: Vec<(&'e Contact<'a>, [Option<i64>; 3])>,
}

impl AgentEventDecoder {
    pub fn new() -> Result<Self> {
        let events_schema = schema::table("agent_events")?.arrow_schema()?;
        let contacts_schema = schema::table("agent_event_contacts")?.arrow_schema()?;
        let queue_fields = match events_schema.field_with_name("inbound_queues")?.data_type() {
            DataType::List(item) => match item.data_type() {
                DataType::Struct(fields) => fields.clone(),
                other => {
                    return Err(Error::Other(format!(
                        "inbound_queues items are {other}, not structs"
                    )));
                }
            },
            other => {
                return Err(Error::Other(format!(
                    "inbound_queues is {other}, not a list"
                )));
            }
        };
        let utc = |b: TimestampMicrosecondBuilder| b.with_timezone("UTC");
        let inbound_queues = ListBuilder::new(StructBuilder::from_fields(queue_fields.clone(), 0))
            .with_field(Arc::new(Field::new(
                "item",
                DataType::Struct(queue_fields.clone()),
                true,
            )));
        Ok(AgentEventDecoder {
            events_schema,
            contacts_schema,
            rows: 0,
            event_id: sb(),
            event_type: sb(),
            event_ts: utc(tsb()),
            version: sb(),
            aws_account_id: sb(),
            instance_arn: sb(),
            instance_id: sb(),
            agent_arn: sb(),
            agent_id: sb(),
            username: sb(),
            first_name: sb(),
            last_name: sb(),
            rp_arn: sb(),
            rp_name: sb(),
            outbound_arn: sb(),
            outbound_name: sb(),
            inbound_queues,
            hierarchy: std::array::from_fn(|_| (sb(), sb())),
            status_arn: sb(),
            status_name: sb(),
            status_type: sb(),
            status_start: utc(tsb()),
            next_status_name: sb(),
            next_status_enqueued: utc(tsb()),
            prev_status_name: sb(),
            prev_status_start: utc(tsb()),
            contact_count: Int32Builder::with_capacity(ROWS),
            c: ContactColumns {
                rows: 0,
                event_id: sb(),
                event_ts: utc(tsb()),
                instance_id: sb(),
                agent_arn: sb(),
                agent_id: sb(),
                contact_id: sb(),
                initial_contact_id: sb(),
                channel: sb(),
                initiation_method: sb(),
                state: sb(),
                state_start: utc(tsb()),
                connected: utc(tsb()),
                queue_ts: utc(tsb()),
                queue_arn: sb(),
                queue_name: sb(),
            },
            base: 0,
            warnings: Warnings::default(),
        })
    }

    /// Events decoded since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Starts decoding the (decompressed) object `text`: records handed to
    /// [`attempt`](Self::attempt) are slices of it, and their warnings carry their offset in it.
    pub fn start_object(&mut self, text: &[u8]) {
        self.base = text.as_ptr() as usize;
    }

    /// The warnings since the last call.
    pub fn take_warnings(&mut self) -> Warnings {
        std::mem::take(&mut self.warnings)
    }

    /// Tries to decode one record at the start of `bytes` (see [`super::split_records`]).
    pub fn attempt(&mut self, record: Record<'_>) -> Attempt {
        let offset = (record.bytes().as_ptr() as usize).wrapping_sub(self.base) as u64;
        attempt_json::<RawEvent>(record, |raw| {
            let checked = check(&raw)?;
            self.append(&checked);
            for w in &checked.warnings {
                self.warnings.count += 1;
                if self.warnings.first.len() < MAX_WARNINGS {
                    self.warnings.first.push((offset, w.clone()));
                }
            }
            Ok(())
        })
    }

    fn append(&mut self, e: &Checked<'_, '_>) {
        let raw = e.raw;
        let snap = raw.current.as_ref();
        let conf = snap.and_then(|s| s.configuration.as_ref());
        let rp = conf.and_then(|c| c.routing_profile.as_ref());
        let status = snap.and_then(|s| s.agent_status.as_ref());
        let next = snap.and_then(|s| s.next_agent_status.as_ref());
        let prev = raw.previous.as_ref().and_then(|p| p.agent_status.as_ref());

        self.event_id.append_value(e.event_id);
        self.event_type.append_value(e.event_type);
        self.event_ts.append_value(e.event_ts);
        self.version.append_option(raw.version.as_deref());
        self.aws_account_id
            .append_option(raw.aws_account_id.as_deref());
        self.instance_arn
            .append_value(raw.instance_arn.as_deref().unwrap_or(e.agent.instance_arn));
        self.instance_id.append_value(e.agent.instance_id);
        self.agent_arn
            .append_value(raw.agent_arn.as_deref().unwrap_or_default());
        self.agent_id.append_value(e.agent.agent_id);
        self.username
            .append_option(conf.and_then(|c| c.username.as_deref()));
        self.first_name
            .append_option(conf.and_then(|c| c.first_name.as_deref()));
        self.last_name
            .append_option(conf.and_then(|c| c.last_name.as_deref()));
        self.rp_arn.append_option(rp.and_then(|r| r.arn.as_deref()));
        self.rp_name
            .append_option(rp.and_then(|r| r.name.as_deref()));
        let outbound = rp.and_then(|r| r.default_outbound_queue.as_ref());
        self.outbound_arn
            .append_option(outbound.and_then(|q| q.arn.as_deref()));
        self.outbound_name
            .append_option(outbound.and_then(|q| q.name.as_deref()));
        match rp.and_then(|r| r.inbound_queues.as_ref()) {
            Some(queues) => {
                let items = self.inbound_queues.values();
                for q in queues {
                    let q = q.as_ref();
                    if let Some(b) = items.field_builder::<StringBuilder>(0) {
                        b.append_option(q.and_then(|q| q.arn.as_deref()));
                    }
                    if let Some(b) = items.field_builder::<StringBuilder>(1) {
                        b.append_option(q.and_then(|q| q.name.as_deref()));
                    }
                    items.append(q.is_some());
                }
                self.inbound_queues.append(true);
            }
            None => self.inbound_queues.append(false),
        }
        let groups = conf.and_then(|c| c.hierarchy_groups.as_ref());
        let levels = [
            groups.and_then(|g| g.level1.as_ref()),
            groups.and_then(|g| g.level2.as_ref()),
            groups.and_then(|g| g.level3.as_ref()),
            groups.and_then(|g| g.level4.as_ref()),
            groups.and_then(|g| g.level5.as_ref()),
        ];
        for ((arn_b, name_b), level) in self.hierarchy.iter_mut().zip(levels) {
            arn_b.append_option(level.and_then(|l| l.arn.as_deref()));
            name_b.append_option(level.and_then(|l| l.name.as_deref()));
        }
        self.status_arn
            .append_option(status.and_then(|s| s.arn.as_deref()));
        self.status_name
            .append_option(status.and_then(|s| s.name.as_deref()));
        self.status_type
            .append_option(status.and_then(|s| s.kind.as_deref()));
        self.status_start.append_option(e.status_start);
        self.next_status_name
            .append_option(next.and_then(|s| s.name.as_deref()));
        self.next_status_enqueued.append_option(e.next_enqueued);
        self.prev_status_name
            .append_option(prev.and_then(|s| s.name.as_deref()));
        self.prev_status_start.append_option(e.prev_start);
        self.contact_count.append_value(e.contacts.len() as i32);
        self.rows += 1;

        let c = &mut self.c;
        for (contact, [state_start, connected, queued]) in &e.contacts {
            c.event_id.append_value(e.event_id);
            c.event_ts.append_value(e.event_ts);
            c.instance_id.append_value(e.agent.instance_id);
            c.agent_arn
                .append_value(raw.agent_arn.as_deref().unwrap_or_default());
            c.agent_id.append_value(e.agent.agent_id);
            c.contact_id.append_option(contact.contact_id.as_deref());
            c.initial_contact_id
                .append_option(contact.initial_contact_id.as_deref());
            c.channel
                .append_option(contact.channel.as_deref().map(normalize_channel));
            c.initiation_method
                .append_option(contact.initiation_method.as_deref().map(upper));
            c.state.append_option(contact.state.as_deref());
            c.state_start.append_option(*state_start);
            c.connected.append_option(*connected);
            c.queue_ts.append_option(*queued);
            c.queue_arn
                .append_option(contact.queue.as_ref().and_then(|q| q.arn.as_deref()));
            c.queue_name
                .append_option(contact.queue.as_ref().and_then(|q| q.name.as_deref()));
            c.rows += 1;
        }
    }

    /// Takes the rows decoded so far as one batch per table.
    pub fn finish(&mut self) -> Result<(RecordBatch, RecordBatch)> {
        // finish() leaves a builder with no capacity: each is replaced by one sized like the
        // batch just built, so the next batch fills without regrowing (and copying) its buffers.
        let tz = |b: &mut TimestampMicrosecondBuilder| -> ArrayRef {
            let array = b.finish();
            *b = utc_ts_builder();
            Arc::new(array)
        };
        let s = |b: &mut StringBuilder| -> ArrayRef {
            let array = b.finish();
            let used = array.value_data().len();
            *b = StringBuilder::with_capacity(ROWS, used + used / 8 + 1024);
            Arc::new(array)
        };
        let mut columns: Vec<(&str, ArrayRef)> = vec![
            ("event_id", s(&mut self.event_id)),
            ("event_type", s(&mut self.event_type)),
            ("event_timestamp", tz(&mut self.event_ts)),
            ("version", s(&mut self.version)),
            ("aws_account_id", s(&mut self.aws_account_id)),
            ("instance_arn", s(&mut self.instance_arn)),
            ("instance_id", s(&mut self.instance_id)),
            ("agent_arn", s(&mut self.agent_arn)),
            ("agent_id", s(&mut self.agent_id)),
            ("username", s(&mut self.username)),
            ("first_name", s(&mut self.first_name)),
            ("last_name", s(&mut self.last_name)),
            ("routing_profile_arn", s(&mut self.rp_arn)),
            ("routing_profile_name", s(&mut self.rp_name)),
            ("default_outbound_queue_arn", s(&mut self.outbound_arn)),
            ("default_outbound_queue_name", s(&mut self.outbound_name)),
            ("inbound_queues", Arc::new(self.inbound_queues.finish())),
            ("agent_status_arn", s(&mut self.status_arn)),
            ("agent_status_name", s(&mut self.status_name)),
            ("agent_status_type", s(&mut self.status_type)),
            ("agent_status_start_timestamp", tz(&mut self.status_start)),
            ("next_agent_status_name", s(&mut self.next_status_name)),
            (
                "next_agent_status_enqueued_timestamp",
                tz(&mut self.next_status_enqueued),
            ),
            ("previous_agent_status_name", s(&mut self.prev_status_name)),
            (
                "previous_agent_status_start_timestamp",
                tz(&mut self.prev_status_start),
            ),
            ("contact_count", Arc::new(self.contact_count.finish())),
        ];
        const LEVEL_NAMES: [(&str, &str); 5] = [
            ("hierarchy_level1_arn", "hierarchy_level1_name"),
            ("hierarchy_level2_arn", "hierarchy_level2_name"),
            ("hierarchy_level3_arn", "hierarchy_level3_name"),
            ("hierarchy_level4_arn", "hierarchy_level4_name"),
            ("hierarchy_level5_arn", "hierarchy_level5_name"),
        ];
        for ((arn, name), (arn_b, name_b)) in LEVEL_NAMES.iter().zip(self.hierarchy.iter_mut()) {
            columns.push((arn, s(arn_b)));
            columns.push((name, s(name_b)));
        }
        let events = assemble(&self.events_schema, columns)?;
        let c = &mut self.c;
        let contacts = assemble(
            &self.contacts_schema,
            vec![
                ("event_id", s(&mut c.event_id)),
                ("event_timestamp", tz(&mut c.event_ts)),
                ("instance_id", s(&mut c.instance_id)),
                ("agent_arn", s(&mut c.agent_arn)),
                ("agent_id", s(&mut c.agent_id)),
                ("contact_id", s(&mut c.contact_id)),
                ("initial_contact_id", s(&mut c.initial_contact_id)),
                ("channel", s(&mut c.channel)),
                ("initiation_method", s(&mut c.initiation_method)),
                ("state", s(&mut c.state)),
                ("state_start_timestamp", tz(&mut c.state_start)),
                ("connected_to_agent_timestamp", tz(&mut c.connected)),
                ("queue_timestamp", tz(&mut c.queue_ts)),
                ("queue_arn", s(&mut c.queue_arn)),
                ("queue_name", s(&mut c.queue_name)),
            ],
        )?;
        self.rows = 0;
        c.rows = 0;
        Ok((events, contacts))
    }
}

/// Puts named columns in the schema's order, so the schema file alone decides column order;
/// a column the schema has and the decoder lacks (or the reverse) is an error, not a shift.
pub fn assemble(schema: &SchemaRef, mut columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    if columns.len() != schema.fields().len() {
        return Err(Error::Other(format!(
            "decoder builds {} columns, schema declares {}",
            columns.len(),
            schema.fields().len()
        )));
    }
    let mut ordered = Vec::with_capacity(columns.len());
    for field in schema.fields() {
        let i = columns
            .iter()
            .position(|(name, _)| *name == field.name())
            .ok_or_else(|| Error::Other(format!("decoder builds no column {}", field.name())))?;
        ordered.push(columns.swap_remove(i).1);
    }
    Ok(RecordBatch::try_new(schema.clone(), ordered)?)
}

/// Everything that makes a record invalid, checked before anything is appended.
fn check<'e, 'a>(raw: &'e RawEvent<'a>) -> std::result::Result<Checked<'e, 'a>, String> {
    let event_id = required("EventId", &raw.event_id)?;
    let event_type = required("EventType", &raw.event_type)?;
    let ts_text = required("EventTimestamp", &raw.event_timestamp)?;
    let event_ts = parse_timestamp(ts_text)
        .ok_or_else(|| format!("EventTimestamp does not parse: {ts_text:?}"))?;
    if !super::plausible(event_ts) {
        return Err(format!(
            "EventTimestamp {ts_text:?} is outside {}",
            super::PLAUSIBLE
        ));
    }
    let arn = required("AgentARN", &raw.agent_arn)?;
    let agent =
        parse_agent_arn(arn).ok_or_else(|| format!("AgentARN is not an agent ARN: {arn:?}"))?;
    let snap = raw.current.as_ref();
    let status = snap.and_then(|s| s.agent_status.as_ref());
    let status_start = optional_ts(
        "AgentStatus.StartTimestamp",
        status.map(|s| &s.start_timestamp),
    )?;
    let next = snap.and_then(|s| s.next_agent_status.as_ref());
    let next_enqueued = optional_ts(
        "NextAgentStatus.EnqueuedTimestamp",
        next.map(|s| &s.enqueued_timestamp),
    )?;
    let prev = raw.previous.as_ref().and_then(|p| p.agent_status.as_ref());
    let prev_start = optional_ts(
        "PreviousAgentSnapshot.AgentStatus.StartTimestamp",
        prev.map(|s| &s.start_timestamp),
    )?;
    let mut contacts = Vec::new();
    for contact in snap.and_then(|s| s.contacts.as_slice()).unwrap_or_default() {
        if let Err(why) = required("ContactId", &contact.contact_id) {
            return Err(format!("a contact in CurrentAgentSnapshot.Contacts: {why}")
                .replace(": missing ContactId", " has no ContactId"));
        }
        contacts.push((
            contact,
            [
                optional_ts(
                    "Contact.StateStartTimestamp",
                    Some(&contact.state_start_timestamp),
                )?,
                optional_ts(
                    "Contact.ConnectedToAgentTimestamp",
                    Some(&contact.connected_to_agent_timestamp),
                )?,
                optional_ts("Contact.QueueTimestamp", Some(&contact.queue_timestamp))?,
            ],
        ));
    }
    let mut warnings = Vec::new();
    raw.walk(&Path::Root, &mut warnings);
    Ok(Checked {
        raw,
        warnings,
        event_id,
        event_type,
        event_ts,
        agent,
        status_start,
        next_enqueued,
        prev_start,
        contacts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    const ARN: &str = "arn:aws:connect:us-east-1:123456789012:instance/aaaa-1111/agent/bbbb-2222";

    #[test]
    fn agent_arns_parse() {
        let a = parse_agent_arn(ARN).unwrap();
        assert_eq!(a.instance_id, "aaaa-1111");
        assert_eq!(a.agent_id, "bbbb-2222");
        assert_eq!(
            a.instance_arn,
            "arn:aws:connect:us-east-1:123456789012:instance/aaaa-1111"
        );
        let gov = "arn:aws-us-gov:connect:us-gov-west-1:1:instance/i/agent/a";
        assert_eq!(parse_agent_arn(gov).unwrap().agent_id, "a");
        for bad in [
            "",
            "arn:aws:connect:r:1:instance/i",
            "arn:aws:s3:::b/instance/i/agent/a",
            "arn:aws:connect:r:1:instance/i/agent/",
            "arn:aws:connect:r:1:instance/i/agent/a/x",
        ] {
            assert!(parse_agent_arn(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn timestamps_parse_to_utc_micros() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.500Z"), Some(1_500_000));
        assert_eq!(
            parse_timestamp("1970-01-01T01:00:01.5+01:00"),
            Some(1_500_000)
        );
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.5"), Some(1_500_000));
        assert_eq!(parse_timestamp("yesterday"), None);
        // The fast path and the general parser agree, and the fast path refuses what is wrong.
        let text = "2019-05-25T18:43:59.049Z";
        assert_eq!(
            parse_connect_timestamp(text.as_bytes()),
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.timestamp_micros())
        );
        for bad in [
            "2019-02-30T18:43:59.049Z",
            "2019-05-25T24:43:59.049Z",
            "2019-05-25T18:43:59.04xZ",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    fn decode(json: &str) -> (RecordBatch, RecordBatch, Attempt) {
        let mut d = AgentEventDecoder::new().unwrap();
        let a = d.attempt(Record::Bytes(json.as_bytes()));
        let (e, c) = d.finish().unwrap();
        (e, c, a)
    }

    #[test]
    fn field_spellings_of_all_versions_are_accepted() {
        let old = format!(
            r#"{{"EventId":"e1","EventType":"STATE_CHANGE","EventTimestamp":"2026-11-24T10:00:00.000Z","AgentARN":"{ARN}",
            "CurrentAgentSnapshot":{{"Configuration":{{"UserName":"jdoe","HierarchyGroups":{{"Level2":{{"ARN":"h2","Name":"East"}}}}}},
            "Contacts":[{{"ContactId":"c1","Channel":"TASKS","InitiationMethod":"Api","State":"CONNECTED","EnqueueTimestamp":"2026-11-24T09:59:00Z"}}]}},
            "Unknown":{{"x":[1,2]}}}}"#
        );
        let (e, c, a) = decode(&old);
        assert!(matches!(a, Attempt::Ok(_)));
        assert_eq!(e.num_rows(), 1);
        let col = |b: &RecordBatch, n: &str| {
            b.column_by_name(n)
                .unwrap()
                .as_string::<i32>()
                .value(0)
                .to_string()
        };
        assert_eq!(col(&e, "username"), "jdoe");
        assert_eq!(col(&e, "hierarchy_level2_name"), "East");
        assert!(
            e.column_by_name("hierarchy_level1_name")
                .unwrap()
                .is_null(0)
        );
        assert_eq!(col(&e, "instance_id"), "aaaa-1111");
        assert_eq!(col(&c, "channel"), "TASK");
        assert_eq!(col(&c, "initiation_method"), "API");
        assert!(!c.column_by_name("queue_timestamp").unwrap().is_null(0));
    }

    #[test]
    fn real_record_shapes_keep_their_event() {
        // A LOGIN as Kinesis delivers it: both snapshots null, a masked account.
        let login = format!(
            r#"{{"AWSAccountId":"************","AgentARN":"{ARN}","CurrentAgentSnapshot":null,"EventId":"e1",
            "EventTimestamp":"2026-03-08T07:24:48.181Z","EventType":"LOGIN","InstanceARN":null,
            "PreviousAgentSnapshot":null,"Version":"2017-10-01"}}"#
        );
        let mut d = AgentEventDecoder::new().unwrap();
        d.start_object(login.as_bytes());
        assert!(matches!(
            d.attempt(Record::Bytes(login.as_bytes())),
            Attempt::Ok(_)
        ));
        assert_eq!(d.take_warnings().count, 0);
        let (e, _) = d.finish().unwrap();
        assert_eq!(e.num_rows(), 1);
        assert!(e.column_by_name("username").unwrap().is_null(0));
        let text = |b: &RecordBatch, n: &str| {
            b.column_by_name(n)
                .unwrap()
                .as_string::<i32>()
                .value(0)
                .to_string()
        };
        assert_eq!(text(&e, "aws_account_id"), "************");
        assert_eq!(text(&e, "version"), "2017-10-01");

        // Optional fields of the wrong type are null, counted, and named by their path; the
        // agent's own queue with a null name stays an item.
        let odd = format!(
            r#"{{"EventId":"e2","EventType":"STATE_CHANGE","EventTimestamp":"2026-03-08T07:24:50.000Z","AgentARN":"{ARN}",
            "CurrentAgentSnapshot":{{"Configuration":{{"Username":1234,"AgentHierarchyGroups":"null",
              "RoutingProfile":{{"Name":"Basic","InboundQueues":[{{"ARN":"q-agent","Name":null}},"x"]}}}},
              "AgentStatus":{{"Name":"Available","Type":["ROUTABLE"]}}}}}}"#
        );
        let prefix = "   ";
        let buf = format!("{prefix}{odd}");
        d.start_object(buf.as_bytes());
        assert!(matches!(
            d.attempt(Record::Bytes(&buf.as_bytes()[prefix.len()..])),
            Attempt::Ok(_)
        ));
        let w = d.take_warnings();
        assert_eq!(w.count, 4);
        let messages: Vec<String> = w.first.iter().map(|(o, m)| format!("{o} {m}")).collect();
        assert_eq!(
            messages,
            vec![
                "3 CurrentAgentSnapshot.AgentStatus.Type: expected a string, got a list",
                "3 CurrentAgentSnapshot.Configuration.Username: expected a string, got a number",
                "3 CurrentAgentSnapshot.Configuration.RoutingProfile.InboundQueues[1]: expected an object, got a string",
                "3 CurrentAgentSnapshot.Configuration.AgentHierarchyGroups: expected an object, got a string",
            ]
        );
        let (e, _) = d.finish().unwrap();
        assert_eq!(text(&e, "username"), "1234");
        assert_eq!(text(&e, "agent_status_name"), "Available");
        assert!(e.column_by_name("agent_status_type").unwrap().is_null(0));
        assert!(
            e.column_by_name("hierarchy_level1_name")
                .unwrap()
                .is_null(0)
        );
        let queues = e
            .column_by_name("inbound_queues")
            .unwrap()
            .as_list::<i32>()
            .value(0);
        assert_eq!(queues.len(), 2);
        assert!(queues.is_valid(0) && queues.is_null(1));
    }

    #[test]
    fn invalid_records_append_nothing_and_say_why() {
        let cases = [
            (r#"{"EventType":"LOGIN"}"#.to_string(), "missing EventId"),
            (format!(r#"{{"EventId":"e","EventType":"LOGIN","EventTimestamp":"soon","AgentARN":"{ARN}"}}"#), "does not parse"),
            (r#"{"EventId":"e","EventType":"LOGIN","EventTimestamp":"2026-11-24T10:00:00Z","AgentARN":"nope"}"#.to_string(), "not an agent ARN"),
            (format!(r#"{{"EventId":"e","EventType":"LOGIN","EventTimestamp":"2026-11-24T10:00:00Z","AgentARN":"{ARN}","CurrentAgentSnapshot":{{"Contacts":[{{"State":"ENDED"}}]}}}}"#), "no ContactId"),
            (r#"{"EventId":7}"#.to_string(), "EventId: expected a string, got a number"),
        ];
        for (json, want) in cases {
            let (e, c, a) = decode(&json);
            assert_eq!((e.num_rows(), c.num_rows()), (0, 0));
            match a {
                Attempt::Invalid { reason, len } => {
                    assert!(reason.contains(want), "{reason} lacks {want}");
                    assert_eq!(len, json.len());
                }
                _ => panic!("{json} not rejected as invalid"),
            }
        }
    }
}
