//! What a reader sees: the object store a query session reads the lake through. DataFusion
//! lists a partition's file, then reads its footer and pages with separate range requests; a
//! file replaced in between (a writer published a new version) would be read as bytes of two
//! versions. This store pins each file to the version (e-tag) under which the session first
//! saw it and sends every read with `If-Match` on it: the store itself then refuses a read of
//! any other version (S3 answers 412; the local file system checks the file it opened), and
//! the query fails with a clear error and a retry hint instead of returning mixed rows.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// A read-only view of a store whose files keep the version they were first seen at.
#[derive(Debug)]
pub struct Pinned {
    inner: Arc<dyn ObjectStore>,
    pins: Arc<Mutex<HashMap<Path, String>>>,
}

impl Pinned {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Pinned {
        Pinned {
            inner,
            pins: Arc::default(),
        }
    }

    fn pin(pins: &Mutex<HashMap<Path, String>>, meta: &ObjectMeta) {
        if let (Some(e_tag), Ok(mut pins)) = (&meta.e_tag, pins.lock()) {
            pins.entry(meta.location.clone())
                .or_insert_with(|| e_tag.clone());
        }
    }

    fn pinned(&self, location: &Path) -> Option<String> {
        self.pins.lock().ok()?.get(location).cloned()
    }

    fn replaced(location: &Path, source: object_store::Error) -> object_store::Error {
        match source {
            object_store::Error::Precondition { .. } => object_store::Error::Generic {
                store: "connect-lake",
                source: format!(
                    "{location} was replaced by a writer while this query read it (nothing mixed was returned); run the query again"
                )
                .into(),
            },
            other => other,
        }
    }
}

impl std::fmt::Display for Pinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pinned({})", self.inner)
    }
}

fn read_only() -> object_store::Error {
    object_store::Error::NotSupported {
        source: "a query session never writes the lake".into(),
    }
}

#[async_trait]
impl ObjectStore for Pinned {
    async fn put_opts(&self, _: &Path, _: PutPayload, _: PutOptions) -> Result<PutResult> {
        Err(read_only())
    }

    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        Err(read_only())
    }

    async fn get_opts(&self, location: &Path, mut options: GetOptions) -> Result<GetResult> {
        if options.if_match.is_none() {
            options.if_match = match self.pinned(location) {
                Some(e_tag) => Some(e_tag),
                None => {
                    // Not listed yet: its version now is the one this session reads.
                    let meta = self.inner.head(location).await?;
                    Self::pin(&self.pins, &meta);
                    meta.e_tag
                }
            };
        }
        self.inner
            .get_opts(location, options)
            .await
            .map_err(|e| Self::replaced(location, e))
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        // The ranges of one call are read together (the store coalesces them; the local one
        // reads them from one open file, where a read per range cost an open, two stats and a
        // thread hand-off each: about 250 of them in one audit), then the file's version is
        // checked against the pin. A version never comes back once replaced, so a file still at
        // its pinned version after the read was at it during the read: the bytes are of that
        // version. A file replaced meanwhile fails the read as with `If-Match`.
        let pinned = match self.pinned(location) {
            Some(e_tag) => Some(e_tag),
            None => {
                let meta = self.inner.head(location).await?;
                Self::pin(&self.pins, &meta);
                meta.e_tag
            }
        };
        let bytes = self.inner.get_ranges(location, ranges).await?;
        if let Some(pinned) = pinned {
            let now = self.inner.head(location).await?;
            if now.e_tag.as_deref() != Some(pinned.as_str()) {
                return Err(Self::replaced(
                    location,
                    object_store::Error::Precondition {
                        path: location.to_string(),
                        source: "the file's version changed during the read".into(),
                    },
                ));
            }
        }
        Ok(bytes)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        locations.map(|_| Err(read_only())).boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let pins = self.pins.clone();
        self.inner
            .list(prefix)
            .map(move |meta| {
                if let Ok(meta) = &meta {
                    Self::pin(&pins, meta);
                }
                meta
            })
            .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let pins = self.pins.clone();
        self.inner
            .list_with_offset(prefix, offset)
            .map(move |meta| {
                if let Ok(meta) = &meta {
                    Self::pin(&pins, meta);
                }
                meta
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let listing = self.inner.list_with_delimiter(prefix).await?;
        for meta in &listing.objects {
            Self::pin(&self.pins, meta);
        }
        Ok(listing)
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> Result<()> {
        Err(read_only())
    }

    async fn rename_opts(&self, _: &Path, _: &Path, _: RenameOptions) -> Result<()> {
        Err(read_only())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_of_a_file_replaced_after_its_pin_fail_and_others_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn ObjectStore> =
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        let path = Path::from("t/dt=2026-11-24/part-0.parquet");
        inner
            .put(&path, PutPayload::from_static(b"0123456789"))
            .await
            .unwrap();
        let store = Pinned::new(inner.clone());
        let listed: Vec<ObjectMeta> = store.list(None).map(|m| m.unwrap()).collect().await;
        assert_eq!(listed.len(), 1);
        let got = store.get_ranges(&path, &[0..2, 5..8]).await.unwrap();
        assert_eq!(
            got,
            vec![Bytes::from_static(b"01"), Bytes::from_static(b"567")]
        );
        // A writer publishes a new version (a rename over the old file, as `publish` does).
        let fresh = dir.path().join("fresh");
        std::fs::write(&fresh, b"abcdefghij").unwrap();
        std::fs::rename(&fresh, dir.path().join(path.as_ref())).unwrap();
        let err = store
            .get_ranges(&path, std::slice::from_ref(&(0..2)))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("was replaced by a writer"),
            "{err}"
        );
        let err = store.get_range(&path, 0..2).await.unwrap_err();
        assert!(
            err.to_string().contains("was replaced by a writer"),
            "{err}"
        );
        // A new session pins the new version.
        let again = Pinned::new(inner);
        let got = again
            .get_ranges(&path, std::slice::from_ref(&(0..2)))
            .await
            .unwrap();
        assert_eq!(got, vec![Bytes::from_static(b"ab")]);
    }
}
