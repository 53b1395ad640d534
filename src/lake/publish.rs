//! Publishing: how a new version of a lake file replaces the old one, so that a reader sees
//! one or the other and a crash leaves one or the other. Merging and encoding happen before
//! (`commit`); this module owns only the protocol.
//!
//! - A partition file is replaced only if it is still the version the run read (its e-tag):
//!   on S3 by a conditional PUT straight to its path (`If-Match` on the e-tag read, or
//!   `If-None-Match: *` for a new partition), which S3 applies atomically; on a local file
//!   system by writing the new file under `_staging/<run id>/`, flushing it to disk (`fsync`),
//!   checking under the lease that the partition file is still the one read, renaming it over
//!   the old file and flushing the folder. A mismatch is [`Error::Conflict`]: the run fails
//!   and nothing of that partition is written.
//! - A crash leaves at most files under `_staging/` (readers skip `_` names); the next run
//!   that takes the lease removes every other run's staging folder before it writes.
//! - Lake files that are not partitions (rejects, the ledger, the marker) are written the same
//!   way, unconditionally.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

use super::lease::Lease;
use crate::error::{Error, Result};
use crate::store::Location;

/// Where a local run stages the files it is about to publish: `_staging/<run id>/`.
pub const STAGING: &str = "_staging";

/// The version of a lake file a run read: its e-tag, or `None` when there was no file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub Option<String>);

/// The one way a run writes the lake: holds the run's lease and staging folder.
pub struct Publisher<'a> {
    lake: &'a Location,
    lease: &'a Lease,
    staged: AtomicU64,
    /// Files of interrupted runs removed from `_staging/` when this run started.
    pub removed_staging: usize,
}

impl<'a> Publisher<'a> {
    /// Starts publishing under `lease`: removes what crashed runs left under `_staging/`.
    pub async fn new(lake: &'a Location, lease: &'a Lease) -> Result<Publisher<'a>> {
        let mut publisher = Publisher {
            lake,
            lease,
            staged: AtomicU64::new(0),
            removed_staging: 0,
        };
        let removed = publisher.remove_staging(true).await? + remove_upload_leftovers(lake)?;
        if removed > 0 {
            tracing::info!(lake = %lake.url, removed, "removed the staging files of interrupted runs");
        }
        publisher.removed_staging = removed;
        Ok(publisher)
    }

    pub fn lease(&self) -> &Lease {
        self.lease
    }

    /// Removes staged files: every other run's (`others`), or this run's own.
    async fn remove_staging(&self, others: bool) -> Result<usize> {
        let own = self
            .lake
            .child(&format!("{STAGING}/{}", self.lease.holder().run_id));
        let root = self.lake.child(STAGING);
        if let Some(dir) = self.lake.fs_path(&root) {
            let mut removed = 0;
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(source) => return Err(Error::Io { path: dir, source }),
            };
            let own_fs = self.lake.fs_path(&own);
            for entry in entries.flatten() {
                let path = entry.path();
                if (Some(&path) == own_fs.as_ref()) == others {
                    continue;
                }
                removed += count_files(&path);
                let gone = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                gone.map_err(|source| Error::Io { path, source })?;
            }
            return Ok(removed);
        }
        let stale: Vec<Path> = self
            .lake
            .store
            .list(Some(&root))
            .map_ok(|m| m.location)
            .try_filter(|p| {
                let mine = p.as_ref().starts_with(own.as_ref());
                futures::future::ready(mine != others)
            })
            .try_collect()
            .await
            .map_err(|e| self.lake.store_error(e))?;
        for path in &stale {
            self.lake
                .store
                .delete(path)
                .await
                .map_err(|e| self.lake.store_error(e))?;
        }
        Ok(stale.len())
    }

    /// Reads a lake file with the version it was read at.
    pub async fn read(&self, path: &Path) -> Result<(Option<Bytes>, Version)> {
        read(self.lake, path).await
    }

    /// Replaces `path` with `bytes`, if it is still at `expected`.
    pub async fn publish(&self, path: &Path, bytes: Bytes, expected: &Version) -> Result<()> {
        self.write(path, bytes, Some(expected)).await
    }

    /// Writes a lake file that no other run writes concurrently (rejects, the ledger):
    /// atomically and durably, whatever was there.
    pub async fn put(&self, path: &Path, bytes: Bytes) -> Result<()> {
        self.write(path, bytes, None).await
    }

    /// Removes a lake file that no other run writes (a ledger part folded into its base).
    pub async fn remove(&self, path: &Path) -> Result<()> {
        self.lease.check()?;
        match self.lake.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.lake.store_error(e)),
        }
    }

    async fn write(&self, path: &Path, bytes: Bytes, expected: Option<&Version>) -> Result<()> {
        let url = self.lake.url_of(path);
        match self.lake.fs_path(path) {
            Some(_) => {
                let staged = self.staging_path(path)?;
                write_durably(&staged, &bytes)?;
                self.install(path, &staged, expected).await
            }
            None => {
                self.lease.check()?;
                let mode = match expected {
                    None => PutMode::Overwrite,
                    Some(Version(None)) => PutMode::Create,
                    Some(Version(Some(e_tag))) => PutMode::Update(UpdateVersion {
                        e_tag: Some(e_tag.clone()),
                        version: None,
                    }),
                };
                match self
                    .lake
                    .store
                    .put_opts(path, PutPayload::from(bytes), PutOptions::from(mode))
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(
                        object_store::Error::AlreadyExists { .. }
                        | object_store::Error::Precondition { .. },
                    ) => Err(Error::Conflict { url }),
                    Err(source) => Err(Error::Store { url, source }),
                }
            }
        }
    }

    /// A new file in this run's staging folder, for a new version of `path` (local lakes).
    fn staging_path(&self, path: &Path) -> Result<std::path::PathBuf> {
        let n = self.staged.fetch_add(1, Ordering::SeqCst);
        let staged = self
            .lake
            .child(&format!("{STAGING}/{}/{n}.tmp", self.lease.holder().run_id));
        self.lake.fs_path(&staged).ok_or_else(|| {
            Error::Other(format!(
                "{}: no local path for staging",
                self.lake.url_of(path)
            ))
        })
    }

    /// Renames a staged file, already on disk, over `path` if `path` is still at `expected`.
    async fn install(
        &self,
        path: &Path,
        staged: &std::path::Path,
        expected: Option<&Version>,
    ) -> Result<()> {
        let url = self.lake.url_of(path);
        let target = self
            .lake
            .fs_path(path)
            .ok_or_else(|| Error::Other(format!("{url}: not on a local file system")))?;
        let allowed = match expected {
            Some(expected) => self.still_at(path, expected).await,
            None => self.lease.check(),
        };
        if let Err(e) = allowed {
            let _ = std::fs::remove_file(staged);
            return Err(e);
        }
        let parent = target
            .parent()
            .ok_or_else(|| Error::Other(format!("{url}: no parent folder")))?;
        create_dirs_durably(parent)?;
        std::fs::rename(staged, &target).map_err(|source| Error::Io {
            path: target.clone(),
            source,
        })?;
        sync_dir(parent)
    }

    /// Checks, under the lease, that lake file `path` is still at `expected`
    /// ([`Error::Conflict`] otherwise).
    async fn still_at(&self, path: &Path, expected: &Version) -> Result<()> {
        let (_, current) = head(self.lake, path).await?;
        if &current != expected {
            return Err(Error::Conflict {
                url: self.lake.url_of(path),
            });
        }
        self.lease.check()
    }

    /// Opens the current version of lake file `path` for reading as a local file, with that
    /// version: the file itself on a local lake, a downloaded copy (in the system temp
    /// folder, streamed) on an object store. `None` when there is no file.
    pub async fn open(&self, path: &Path) -> Result<Option<(std::fs::File, Version)>> {
        let url = self.lake.url_of(path);
        let io = |p: &std::path::Path| {
            let p = p.to_path_buf();
            move |source| Error::Io { path: p, source }
        };
        if let Some(local) = self.lake.fs_path(path) {
            // A writer replaces the file by rename: the same version before and after the
            // open means the open file is that version.
            for _ in 0..3 {
                let (_, before) = head(self.lake, path).await?;
                if before.0.is_none() {
                    return Ok(None);
                }
                let file = match std::fs::File::open(&local) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io(&local)(e)),
                };
                let (_, after) = head(self.lake, path).await?;
                if after == before {
                    return Ok(Some((file, before)));
                }
            }
            return Err(Error::Conflict { url });
        }
        let got = match self.lake.store.get(path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => return Err(Error::Store { url, source }),
        };
        let version = Version(got.meta.e_tag.clone());
        let tmp = std::env::temp_dir();
        let mut file = tempfile::tempfile().map_err(io(&tmp))?;
        let mut body = got.into_stream();
        while let Some(chunk) = body.try_next().await.map_err(|source| Error::Store {
            url: url.clone(),
            source,
        })? {
            file.write_all(&chunk).map_err(io(&tmp))?;
        }
        Ok(Some((file, version)))
    }

    /// Starts a new version of lake file `path`, written as a local file: in this run's
    /// staging folder on a local lake, in the system temp folder for an object store.
    pub fn begin(&self, path: &Path) -> Result<Upload> {
        let (staged, file) = match self.lake.fs_path(path) {
            Some(_) => {
                let staged = self.staging_path(path)?;
                if let Some(parent) = staged.parent() {
                    std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                        path: parent.to_path_buf(),
                        source,
                    })?;
                }
                let file = std::fs::File::create(&staged).map_err(|source| Error::Io {
                    path: staged.clone(),
                    source,
                })?;
                (Some(staged), file)
            }
            None => (
                None,
                tempfile::tempfile().map_err(|source| Error::Io {
                    path: std::env::temp_dir(),
                    source,
                })?,
            ),
        };
        Ok(Upload {
            staged,
            file: std::io::BufWriter::with_capacity(1 << 20, file),
            written: 0,
        })
    }

    /// Publishes a finished [`Upload`] as `path`, if `path` is still at `expected`.
    ///
    /// On an object store, a file up to [`single_put_bytes`] goes up in one conditional PUT,
    /// as [`Publisher::publish`] does. A larger one goes up as a multipart upload straight to
    /// `path` (S3 shows it only when complete, whole): object_store cannot make a multipart
    /// completion conditional, so the version is checked, under the lease, just before the
    /// upload starts and again before it completes. Other connect-lake writers are kept
    /// out by the lease either way; what the check cannot exclude is a foreign writer
    /// replacing the file during the upload of a file that large.
    pub async fn publish_upload(
        &self,
        path: &Path,
        upload: Upload,
        expected: &Version,
    ) -> Result<()> {
        let url = self.lake.url_of(path);
        let io = |source| Error::Io {
            path: std::env::temp_dir(),
            source,
        };
        let size = upload.written;
        let file = upload.file.into_inner().map_err(|e| io(e.into_error()))?;
        if let Some(staged) = upload.staged {
            file.sync_all().map_err(|source| Error::Io {
                path: staged.clone(),
                source,
            })?;
            drop(file);
            return self.install(path, &staged, Some(expected)).await;
        }
        let mut file = file;
        use std::io::{Read, Seek};
        file.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
        if size <= single_put_bytes() {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).map_err(io)?;
            return self.write(path, Bytes::from(bytes), Some(expected)).await;
        }
        self.still_at(path, expected).await?;
        let store_err = |source| Error::Store {
            url: url.clone(),
            source,
        };
        let multipart = self
            .lake
            .store
            .put_multipart(path)
            .await
            .map_err(store_err)?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(multipart, PART_BYTES);
        let mut chunk = vec![0u8; PART_BYTES];
        let sent: Result<()> = async {
            loop {
                let n = read_full(&mut file, &mut chunk).map_err(io)?;
                if n == 0 {
                    return Ok(());
                }
                writer
                    .wait_for_capacity(UPLOAD_PARTS_IN_FLIGHT)
                    .await
                    .map_err(store_err)?;
                writer.write(&chunk[..n]);
            }
        }
        .await;
        let sent = match sent {
            Ok(()) => self.still_at(path, expected).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            let _ = writer.abort().await;
            return Err(e);
        }
        writer.finish().await.map_err(store_err)?;
        Ok(())
    }

    /// Removes this run's staging folder (empty unless a publish failed half-way).
    pub async fn finish(self) -> Result<()> {
        self.remove_staging(false).await.map(|_| ())
    }
}

/// Parts of a multipart upload: 16 MiB, two in flight (S3 allows 10,000 parts, so up to
/// 156 GiB a file).
const PART_BYTES: usize = 16 << 20;
const UPLOAD_PARTS_IN_FLIGHT: usize = 2;

/// The largest file published to an object store in one PUT (held in memory for it): 64 MiB,
/// or `CONNECT_LAKE_SINGLE_PUT_BYTES` (the tests set it low to exercise multipart uploads).
pub fn single_put_bytes() -> u64 {
    std::env::var("CONNECT_LAKE_SINGLE_PUT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64 << 20)
}

/// A new version of a lake file being written: a local file, published with
/// [`Publisher::publish_upload`]. Dropped unpublished, it leaves at most a staging file, which
/// the run's `finish` (or the next run) removes.
pub struct Upload {
    staged: Option<std::path::PathBuf>,
    file: std::io::BufWriter<std::fs::File>,
    written: u64,
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// object_store's local uploads (the lake marker's conditional create) stage as `name#N` beside
/// their target; a crash leaves that file, which its own listing hides. Only the lake root has
/// such writes, so only it is looked at.
fn remove_upload_leftovers(lake: &Location) -> Result<usize> {
    let Some(root) = lake.fs_path(&lake.prefix) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_file() && entry.file_name().to_string_lossy().contains('#') {
            std::fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn count_files(path: &std::path::Path) -> usize {
    if path.is_dir() {
        std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| count_files(&e.path())).sum())
            .unwrap_or(0)
    } else {
        1
    }
}

/// Reads a lake file and its version (`Version(None)` and no bytes when it does not exist).
pub async fn read(lake: &Location, path: &Path) -> Result<(Option<Bytes>, Version)> {
    match lake.store.get(path).await {
        Ok(got) => {
            let version = Version(got.meta.e_tag.clone());
            let bytes = got.bytes().await.map_err(|source| Error::Store {
                url: lake.url_of(path),
                source,
            })?;
            Ok((Some(bytes), version))
        }
        Err(object_store::Error::NotFound { .. }) => Ok((None, Version(None))),
        Err(source) => Err(Error::Store {
            url: lake.url_of(path),
            source,
        }),
    }
}

/// The size and version of a lake file (`None`, `Version(None)` when absent).
pub async fn head(lake: &Location, path: &Path) -> Result<(Option<u64>, Version)> {
    match lake.store.head(path).await {
        Ok(meta) => Ok((Some(meta.size), Version(meta.e_tag))),
        Err(object_store::Error::NotFound { .. }) => Ok((None, Version(None))),
        Err(source) => Err(Error::Store {
            url: lake.url_of(path),
            source,
        }),
    }
}

/// Writes a new file and flushes it to disk before anything can rename it into place, so
/// power loss leaves the old file or the whole new one, never an empty one.
fn write_durably(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut file = std::fs::File::create(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Creates a folder and its missing parents, flushing each new entry's parent folder.
fn create_dirs_durably(dir: &std::path::Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs_durably(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    }
    match dir.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Flushes a folder's entries (a rename or a new file in it) to disk.
fn sync_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })
}
