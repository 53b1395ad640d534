//! The writer lease: one writer per lake. Every run that writes (`etl`, `nightly`,
//! `check --repair`) holds the lease object `_connect_lake.lock` at the lake root from before
//! its first write to after its last; readers take none.
//!
//! - **Object stores (S3)**: the lease is created with a conditional create
//!   (`If-None-Match: *`, object_store's `PutMode::Create`) holding who holds it and until
//!   when. The holder renews it every quarter of its time to live with a conditional update on
//!   the e-tag it last wrote (`If-Match`); a lease past its expiry (a crashed writer) is taken
//!   over by a conditional update on the e-tag read, so of two runs that find it expired only
//!   one wins. A holder whose renewal is refused, or that could not renew before its expiry,
//!   has lost the lease: [`Lease::check`] then fails and it publishes nothing more.
//! - **Local file systems**: the lease file is held with an exclusive OS file lock (`flock`)
//!   for the whole run. The kernel drops the lock when the holder dies, however it dies, so a
//!   crashed writer is taken over at once, never after a timeout, and two runs can never both
//!   hold it. The file still says who holds it (for the waiting run's message and `check`).
//!   A file lock is only as good as the file system's: local disks, not NFS.

use std::io::{Read, Seek, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Location;

/// The lease object at the lake root (readers skip it: leading `_`).
pub const LEASE: &str = "_connect_lake.lock";

/// Default time to live of an object-store lease (`--lease-ttl`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(120);

/// Who holds the lease, as written in the lease object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Holder {
    pub run_id: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    pub started: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

impl Holder {
    fn new(command: &str, ttl: Duration) -> Holder {
        let now = Utc::now();
        Holder {
            run_id: uuid::Uuid::new_v4().to_string(),
            host: host_name(),
            pid: std::process::id(),
            command: command.to_string(),
            started: now,
            expires: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
        }
    }

    /// `run 1b2c… (etl, pid 4242 on host-a, since 2026-12-01T20:00:00Z)`
    pub fn describe(&self) -> String {
        format!(
            "run {} ({}, pid {} on {}, since {})",
            self.run_id,
            self.command,
            self.pid,
            self.host,
            self.started.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// How a run takes the lease.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// How long to wait for a lease another run holds before giving up (`--lock-wait`).
    pub wait: Duration,
    /// Time to live of an object-store lease between renewals (`--lease-ttl`).
    pub ttl: Duration,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        LeaseOptions {
            wait: Duration::ZERO,
            ttl: DEFAULT_TTL,
        }
    }
}

/// A held lease. Dropping it without [`Lease::release`] leaves an object-store lease to expire
/// (a local lock is dropped with the file).
pub struct Lease {
    url: String,
    holder: Holder,
    kind: Kind,
    lost: Arc<AtomicBool>,
    /// Latest expiry the renewals reached (object stores), as micros since the epoch.
    expires: Arc<std::sync::atomic::AtomicI64>,
    renewal: Option<tokio::task::JoinHandle<()>>,
}

enum Kind {
    Local {
        /// Held open: the lock lives as long as this file handle.
        _file: std::fs::File,
        path: std::path::PathBuf,
    },
    Store {
        lake: Location,
        version: Arc<tokio::sync::Mutex<UpdateVersion>>,
    },
}

impl Lease {
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// Fails when the lease is no longer this run's: call it right before each publish.
    pub fn check(&self) -> Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(Error::LeaseLost {
                url: self.url.clone(),
                reason: "another run took it over".into(),
            });
        }
        if let Kind::Store { .. } = self.kind {
            // A margin for the publish that follows: it must land before anyone may take over.
            let expires = self.expires.load(Ordering::SeqCst);
            let margin = 5_000_000;
            if Utc::now().timestamp_micros() + margin >= expires {
                return Err(Error::LeaseLost {
                    url: self.url.clone(),
                    reason: "it could not be renewed before it expired".into(),
                });
            }
        }
        Ok(())
    }

    /// Gives the lease up: deletes the lease object (a local lock file is removed while still
    /// locked, so a waiting run finds it gone and creates its own).
    pub async fn release(mut self) -> Result<()> {
        if let Some(task) = self.renewal.take() {
            task.abort();
        }
        match &self.kind {
            Kind::Local { path, .. } => {
                std::fs::remove_file(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
            }
            Kind::Store { lake, version } => {
                if self.lost.load(Ordering::SeqCst) {
                    return Ok(());
                }
                // Only our own lease is deleted: S3 has no conditional delete everywhere, so
                // the object is read back first; a takeover in between is what the e-tag
                // check of the last renewal already rules out for all but the last instants.
                let path = lake.child(LEASE);
                let ours = match lake.store.get(&path).await {
                    Ok(got) => {
                        let e_tag = got.meta.e_tag.clone();
                        e_tag.is_some() && e_tag == version.lock().await.e_tag
                    }
                    Err(_) => false,
                };
                if ours {
                    lake.store
                        .delete(&path)
                        .await
                        .map_err(|e| lake.store_error(e))?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(task) = self.renewal.take() {
            task.abort();
        }
    }
}

/// Takes the lake's writer lease for `command`, waiting up to `options.wait` for a holder to
/// finish; fails with [`Error::Locked`] naming the holder when it does not.
pub async fn acquire(lake: &Location, command: &str, options: &LeaseOptions) -> Result<Lease> {
    let deadline = tokio::time::Instant::now() + options.wait;
    let mut pause = Duration::from_millis(50);
    loop {
        let local = lake.fs_path(&lake.child(LEASE));
        let is_local = local.is_some();
        let attempt = match local {
            Some(path) => try_local(lake, path, command, options).await?,
            None => try_store(lake, command, options).await?,
        };
        match attempt {
            Attempt::Taken(lease) => return Ok(*lease),
            Attempt::Held(holder) => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    let expires = match &holder {
                        // A local lease is a file lock: it lasts as long as its process.
                        _ if is_local => "ends with that process (a file lock)".to_string(),
                        Some(h) => format!(
                            "expires at {}",
                            h.expires.to_rfc3339_opts(SecondsFormat::Secs, true)
                        ),
                        None => "expiry is unknown".to_string(),
                    };
                    let holder = holder.map_or_else(|| "another run".to_string(), |h| h.describe());
                    return Err(Error::Locked {
                        url: lake.url.clone(),
                        holder,
                        expires,
                    });
                }
                // Polling a lease is the protocol here: stores have no notifications.
                tokio::time::sleep(pause.min(deadline - now)).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
}

enum Attempt {
    Taken(Box<Lease>),
    /// Held by someone else (who, when the lease object could be read).
    Held(Option<Holder>),
}

async fn try_local(
    lake: &Location,
    path: std::path::PathBuf,
    command: &str,
    options: &LeaseOptions,
) -> Result<Attempt> {
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Ok(Attempt::Held(serde_json::from_str(&text).ok()));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    // A holder that released removed the file before unlocking it: the lock is then on a
    // file no longer in the lake. Only a lock on the file the path names counts.
    if !same_file(&file, &path) {
        return Ok(Attempt::Held(None));
    }
    let holder = Holder::new(command, options.ttl);
    let text = serde_json::to_string(&holder).map_err(|e| Error::Other(e.to_string()))?;
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(Attempt::Taken(Box::new(Lease {
        url: lake.url.clone(),
        holder,
        kind: Kind::Local { _file: file, path },
        lost: Arc::new(AtomicBool::new(false)),
        expires: Arc::new(std::sync::atomic::AtomicI64::new(i64::MAX)),
        renewal: None,
    })))
}

fn same_file(file: &std::fs::File, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

async fn try_store(lake: &Location, command: &str, options: &LeaseOptions) -> Result<Attempt> {
    let path = lake.child(LEASE);
    let holder = Holder::new(command, options.ttl);
    let payload = || -> Result<PutPayload> {
        let text = serde_json::to_vec(&holder).map_err(|e| Error::Other(e.to_string()))?;
        Ok(PutPayload::from(text))
    };
    let created = lake
        .store
        .put_opts(&path, payload()?, PutOptions::from(PutMode::Create))
        .await;
    let put = match created {
        Ok(put) => put,
        Err(object_store::Error::AlreadyExists { .. }) => {
            let got = match lake.store.get(&path).await {
                Ok(got) => got,
                // Released between our create and our read: try again at once.
                Err(object_store::Error::NotFound { .. }) => return Ok(Attempt::Held(None)),
                Err(e) => return Err(lake.store_error(e)),
            };
            let current = UpdateVersion {
                e_tag: got.meta.e_tag.clone(),
                version: got.meta.version.clone(),
            };
            let last_modified = got.meta.last_modified;
            let bytes = got.bytes().await.map_err(|e| lake.store_error(e))?;
            let other: Option<Holder> = serde_json::from_slice(&bytes).ok();
            // An unreadable lease counts from when it was written, with the default life.
            let expires = other.as_ref().map_or(
                last_modified + chrono::Duration::from_std(DEFAULT_TTL).unwrap_or_default(),
                |h| h.expires,
            );
            if expires > Utc::now() {
                return Ok(Attempt::Held(other));
            }
            // Expired: take it over, only if nobody else did since we read it.
            match lake
                .store
                .put_opts(
                    &path,
                    payload()?,
                    PutOptions::from(PutMode::Update(current)),
                )
                .await
            {
                Ok(put) => {
                    tracing::warn!(
                        lake = %lake.url,
                        previous = other.as_ref().map(Holder::describe).unwrap_or_default(),
                        "took over an expired writer lease"
                    );
                    put
                }
                Err(object_store::Error::Precondition { .. }) => return Ok(Attempt::Held(other)),
                Err(e) => return Err(lake.store_error(e)),
            }
        }
        Err(e @ object_store::Error::NotImplemented { .. }) => {
            return Err(Error::Other(format!(
                "{}: the store does not support conditional writes, which the writer lease needs: {e}",
                lake.url
            )));
        }
        Err(e) => return Err(lake.store_error(e)),
    };
    let version = Arc::new(tokio::sync::Mutex::new(UpdateVersion {
        e_tag: put.e_tag,
        version: put.version,
    }));
    let lost = Arc::new(AtomicBool::new(false));
    let expires = Arc::new(std::sync::atomic::AtomicI64::new(
        holder.expires.timestamp_micros(),
    ));
    let renewal = tokio::spawn(renew(
        lake.clone(),
        holder.clone(),
        options.ttl,
        version.clone(),
        lost.clone(),
        expires.clone(),
    ));
    Ok(Attempt::Taken(Box::new(Lease {
        url: lake.url.clone(),
        holder,
        kind: Kind::Store {
            lake: lake.clone(),
            version,
        },
        lost,
        expires,
        renewal: Some(renewal),
    })))
}

/// Renews an object-store lease every quarter of its life with a conditional update on the
/// e-tag it last wrote; a refused update means another run took it over.
async fn renew(
    lake: Location,
    mut holder: Holder,
    ttl: Duration,
    version: Arc<tokio::sync::Mutex<UpdateVersion>>,
    lost: Arc<AtomicBool>,
    expires: Arc<std::sync::atomic::AtomicI64>,
) {
    let path = lake.child(LEASE);
    loop {
        tokio::time::sleep(ttl / 4).await;
        holder.expires = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
        let Ok(text) = serde_json::to_vec(&holder) else {
            continue;
        };
        let mut current = version.lock().await;
        let put = lake
            .store
            .put_opts(
                &path,
                PutPayload::from(text),
                PutOptions::from(PutMode::Update(current.clone())),
            )
            .await;
        match put {
            Ok(put) => {
                *current = UpdateVersion {
                    e_tag: put.e_tag,
                    version: put.version,
                };
                expires.store(holder.expires.timestamp_micros(), Ordering::SeqCst);
            }
            Err(
                object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. },
            ) => {
                lost.store(true, Ordering::SeqCst);
                tracing::error!(lake = %lake.url, "the writer lease was taken over by another run");
                return;
            }
            // A failed renewal is retried at the next tick; `check` refuses to publish once
            // the last successful renewal has run out.
            Err(e) => tracing::warn!(lake = %lake.url, error = %e, "lease renewal failed"),
        }
    }
}

/// What `check` reports of the lease: who holds it, and whether that holder is gone.
pub async fn inspect(lake: &Location) -> Result<Option<(Option<Holder>, bool)>> {
    if let Some(path) = lake.fs_path(&lake.child(LEASE)) {
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        let mut text = String::new();
        let _ = (&file).read_to_string(&mut text);
        let holder = serde_json::from_str(&text).ok();
        // Free to lock: nobody holds it, the file is a crashed run's leftover.
        let stale = match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                true
            }
            Err(_) => false,
        };
        return Ok(Some((holder, stale)));
    }
    let path = lake.child(LEASE);
    match lake.store.get(&path).await {
        Ok(got) => {
            let last_modified = got.meta.last_modified;
            let bytes = got.bytes().await.map_err(|e| lake.store_error(e))?;
            let holder: Option<Holder> = serde_json::from_slice(&bytes).ok();
            let expires = holder.as_ref().map_or(
                last_modified + chrono::Duration::from_std(DEFAULT_TTL).unwrap_or_default(),
                |h| h.expires,
            );
            Ok(Some((holder, expires <= Utc::now())))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(lake.store_error(e)),
    }
}
