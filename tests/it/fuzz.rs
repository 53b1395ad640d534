//! A seeded mutation fuzzer on agent-event input (issue 11): bit flips, cuts, splices of two
//! objects, NUL runs, invalid UTF-8, 100,000 nested `[`, a 5 MB string, a wrong JSON type in
//! every field, gzip damage, in every framing. Each case runs the real ETL (the library, in
//! process, so a few hundred cases take seconds) on a fresh lake and asserts: no panic, the
//! run succeeds, read = written + duplicates + rejected, and every record the mutation did not
//! touch is in the lake. `cargo test` runs a fixed number of cases; `make fuzz` runs the same
//! generator for `FUZZ_SECONDS`.

use std::collections::BTreeSet;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use connect_lake::etl::{self, EtlOptions, SourceKind};
use connect_lake::store::Location;

/// The records the fuzzer starts from: one line each of two fixtures (different event ids).
fn records(name: &str) -> Vec<String> {
    std::fs::read_to_string(crate::support::fixture(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// A record's event id; empty when a mutation gave it none (or one of the wrong type).
fn event_id(record: &str) -> String {
    serde_json::from_str::<serde_json::Value>(record)
        .ok()
        .and_then(|v| v["EventId"].as_str().map(str::to_string))
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy)]
enum Framing {
    Lines,
    Concatenated,
    Array,
}

/// An object built from records, with each record's byte range.
struct Object {
    bytes: Vec<u8>,
    ranges: Vec<(usize, usize, String)>,
}

fn frame(records: &[String], framing: Framing) -> Object {
    let (open, sep, close) = match framing {
        Framing::Lines => ("", "\n", "\n"),
        Framing::Concatenated => ("", "", ""),
        Framing::Array => ("[", ",\n", "]"),
    };
    let mut bytes = open.as_bytes().to_vec();
    let mut ranges = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            bytes.extend_from_slice(sep.as_bytes());
        }
        ranges.push((bytes.len(), bytes.len() + r.len(), event_id(r)));
        bytes.extend_from_slice(r.as_bytes());
    }
    bytes.extend_from_slice(close.as_bytes());
    Object { bytes, ranges }
}

/// Records outside `[from, to)`: the ones a byte mutation there leaves whole.
fn untouched(object: &Object, from: usize, to: usize) -> BTreeSet<String> {
    object
        .ranges
        .iter()
        .filter(|(s, e, _)| *e <= from || *s >= to)
        .map(|(_, _, id)| id.clone())
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    BitFlips {
        at: usize,
        count: usize,
        seed: u8,
    },
    Cut {
        at: usize,
    },
    Splice {
        at: usize,
        from: usize,
    },
    NulRun {
        at: usize,
        len: usize,
    },
    InvalidUtf8 {
        at: usize,
    },
    DeepNesting {
        at: usize,
    },
    BigString {
        at: usize,
    },
    WrongType {
        record: usize,
        field: usize,
        value: usize,
    },
    GzipDamage {
        at: usize,
        len: usize,
    },
}

/// Fields of an agent event, optional and required: a wrong type in each must cost at most
/// its own record.
const FIELDS: &[&str] = &[
    "/EventId",
    "/EventType",
    "/EventTimestamp",
    "/AgentARN",
    "/Version",
    "/AWSAccountId",
    "/CurrentAgentSnapshot",
    "/CurrentAgentSnapshot/AgentStatus",
    "/CurrentAgentSnapshot/AgentStatus/Name",
    "/CurrentAgentSnapshot/Configuration",
    "/CurrentAgentSnapshot/Configuration/Username",
    "/CurrentAgentSnapshot/Configuration/AgentHierarchyGroups",
    "/CurrentAgentSnapshot/Configuration/RoutingProfile/InboundQueues",
    "/CurrentAgentSnapshot/Contacts",
    "/CurrentAgentSnapshot/Contacts/0",
    "/CurrentAgentSnapshot/Contacts/0/ContactId",
    "/CurrentAgentSnapshot/Contacts/0/StateStartTimestamp",
    "/PreviousAgentSnapshot",
];

fn wrong_value(i: usize) -> serde_json::Value {
    match i % 6 {
        0 => serde_json::json!("null"),
        1 => serde_json::json!(12345),
        2 => serde_json::json!([1, "x", {}]),
        3 => serde_json::json!({"a": {"b": []}}),
        4 => serde_json::json!(true),
        _ => serde_json::json!(-0.5e300),
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0usize..1_000_000;
    prop_oneof![
        (at.clone(), 1usize..40, any::<u8>()).prop_map(|(at, count, seed)| Mutation::BitFlips {
            at,
            count,
            seed
        }),
        at.clone().prop_map(|at| Mutation::Cut { at }),
        (at.clone(), at.clone()).prop_map(|(at, from)| Mutation::Splice { at, from }),
        (at.clone(), 1usize..300).prop_map(|(at, len)| Mutation::NulRun { at, len }),
        at.clone().prop_map(|at| Mutation::InvalidUtf8 { at }),
        at.clone().prop_map(|at| Mutation::DeepNesting { at }),
        at.clone().prop_map(|at| Mutation::BigString { at }),
        (0usize..100, 0usize..FIELDS.len(), 0usize..6).prop_map(|(record, field, value)| {
            Mutation::WrongType {
                record,
                field,
                value,
            }
        }),
        (at, 1usize..64).prop_map(|(at, len)| Mutation::GzipDamage { at, len }),
    ]
}

/// One case: the object's bytes and the event ids that must be in the lake afterwards.
fn apply(
    m: &Mutation,
    framing: Framing,
    a: &[String],
    b: &[String],
) -> (Vec<u8>, BTreeSet<String>, bool) {
    let object = frame(a, framing);
    let n = object.bytes.len();
    let mut bytes = object.bytes.clone();
    let at = |x: usize| x % n.max(1);
    match *m {
        Mutation::BitFlips { at: p, count, seed } => {
            let p = at(p);
            let end = (p + count * 7).min(n);
            for (k, i) in (p..end).step_by(7).enumerate() {
                bytes[i] ^= 1 << ((seed as usize + k) % 8);
            }
            (bytes, untouched(&object, p, end), false)
        }
        Mutation::Cut { at: p } => {
            let p = at(p);
            bytes.truncate(p);
            (bytes, untouched(&object, p, usize::MAX), false)
        }
        Mutation::Splice { at: p, from } => {
            let other = frame(b, framing);
            let p = at(p);
            let q = from % other.bytes.len();
            bytes.truncate(p);
            bytes.extend_from_slice(&other.bytes[q..]);
            let mut keep = untouched(&object, p, usize::MAX);
            keep.extend(untouched(&other, 0, q));
            (bytes, keep, false)
        }
        Mutation::NulRun { at: p, len } => {
            let p = at(p);
            let end = (p + len).min(n);
            bytes[p..end].fill(0);
            (bytes, untouched(&object, p, end), false)
        }
        Mutation::InvalidUtf8 { at: p } => {
            let p = at(p);
            let end = (p + 2).min(n);
            for b in &mut bytes[p..end] {
                *b = 0xFF;
            }
            (bytes, untouched(&object, p, end), false)
        }
        Mutation::DeepNesting { at: p } => {
            let p = at(p);
            bytes.splice(p..p, std::iter::repeat_n(b'[', 100_000));
            (bytes, untouched(&object, p, p + 1), false)
        }
        Mutation::BigString { at: p } => {
            let p = at(p);
            let mut big = b"{\"EventId\":\"big\",\"Junk\":\"".to_vec();
            big.extend(std::iter::repeat_n(b'a', 5 << 20));
            big.extend_from_slice(b"\"}");
            bytes.splice(p..p, big);
            (bytes, untouched(&object, p, p + 1), false)
        }
        Mutation::WrongType {
            record,
            field,
            value,
        } => {
            let record = record % a.len();
            let mut changed = a.to_vec();
            let mut v: serde_json::Value = serde_json::from_str(&a[record]).unwrap();
            if let Some(slot) = v.pointer_mut(FIELDS[field]) {
                *slot = wrong_value(value);
            }
            changed[record] = v.to_string();
            let object = frame(&changed, framing);
            let mut keep: BTreeSet<String> = object
                .ranges
                .iter()
                .map(|r| r.2.clone())
                .filter(|id| !id.is_empty())
                .collect();
            keep.remove(&event_id(&a[record]));
            (object.bytes, keep, false)
        }
        Mutation::GzipDamage { at: p, len } => {
            let mut gz = {
                use std::io::Write;
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(&bytes).unwrap();
                enc.finish().unwrap()
            };
            // Past the 10-byte header, so it stays a gzip object.
            let p = 10 + p % (gz.len() - 10).max(1);
            let end = (p + len).min(gz.len());
            for b in &mut gz[p..end] {
                *b ^= 0x5A;
            }
            (gz, BTreeSet::new(), true)
        }
    }
}

/// Runs the ETL on `bytes` into a new lake and returns the summary and the event ids in it.
fn load(dir: &Path, bytes: &[u8]) -> (etl::Summary, BTreeSet<String>) {
    let input = dir.join("object");
    std::fs::write(&input, bytes).unwrap();
    let lake_dir = dir.join("lake");
    let lake = Location::parse(lake_dir.to_str().unwrap(), &Default::default(), true).unwrap();
    let options = EtlOptions {
        source: SourceKind::AgentEvents,
        lake,
        inputs: vec![Location::parse(input.to_str().unwrap(), &Default::default(), false).unwrap()],
        write: Default::default(),
        memory_budget: 64 << 20,
        spill_dir: None,
        progress: false,
        format: None,
        epoch_unit: Default::default(),
        lease: Default::default(),
        keep_going: false,
        max_object_bytes: 64 << 20,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let summary = runtime
        .block_on(etl::run(options))
        .expect("the run succeeds");
    let schema = connect_lake::schema::table("agent_events")
        .unwrap()
        .arrow_schema()
        .unwrap();
    let mut ids = BTreeSet::new();
    let tables = lake_dir.join("agent_events");
    for day in std::fs::read_dir(&tables).into_iter().flatten().flatten() {
        let file = day.path().join("part-0.parquet");
        let batch = connect_lake::commit::decode_file(
            bytes::Bytes::from(std::fs::read(&file).unwrap()),
            &schema,
            "fuzz",
        )
        .unwrap();
        use arrow::array::AsArray;
        let column = batch.column_by_name("event_id").unwrap().as_string::<i32>();
        ids.extend(column.iter().flatten().map(str::to_string));
    }
    std::fs::remove_dir_all(&lake_dir).unwrap();
    (summary, ids)
}

fn check_case(
    m: &Mutation,
    framing: Framing,
    a: &[String],
    b: &[String],
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, must_load, _gzip) = apply(m, framing, a, b);
    let (s, ids) = load(dir.path(), &bytes);
    prop_assert_eq!(
        s.records_read,
        s.written + s.duplicates + s.rejected,
        "accounting"
    );
    prop_assert_eq!(
        s.written as usize,
        ids.len(),
        "written rows are in the lake"
    );
    let missing: Vec<&String> = must_load.difference(&ids).collect();
    prop_assert!(missing.is_empty(), "untouched records lost: {:?}", missing);
    Ok(())
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        Just(Framing::Lines),
        Just(Framing::Concatenated),
        Just(Framing::Array)
    ]
}

/// Runs `cases` cases from `seed`; shrinks a failure to its smallest mutation.
fn fuzz(cases: u32, seed: u64) {
    let a = records("report-scenarios.ndjson");
    let b = records("crosses-utc-midnight.ndjson");
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    runner
        .run(&(mutation(), framing()), |(m, f)| check_case(&m, f, &a, &b))
        .unwrap();
}

#[test]
fn mutated_input_loses_nothing_but_what_it_damaged() {
    fuzz(48, 1);
}

/// `make fuzz`: the same generator for `FUZZ_SECONDS` (default 60), with a new seed per round.
#[test]
#[ignore]
fn fuzz_for_a_while() {
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let started = std::time::Instant::now();
    let mut rounds = 0u64;
    while started.elapsed().as_secs() < seconds {
        fuzz(32, 1000 + rounds);
        rounds += 1;
    }
    println!(
        "fuzz: {} cases in {} rounds, {:.0} s: no panic, no accounting mismatch, no untouched record lost",
        rounds * 32,
        rounds,
        started.elapsed().as_secs_f64()
    );
}
