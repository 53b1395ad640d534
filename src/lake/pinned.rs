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
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    RenameOptions, Result,
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
        // Each range is its own checked read: the local store's own `get_ranges` reads by path
        // without any check.
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            let options = GetOptions {
                range: Some(GetRange::Bounded(range.clone())),
                ..GetOptions::default()
            };
            out.push(self.get_opts(location, options).await?.bytes().await?);
        }
        Ok(out)
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
