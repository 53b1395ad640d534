//! Sources: the input objects of a run (files, folders read recursively in name order, object
//! store prefixes) and their bytes. Knows nothing of what the bytes mean.

use bytes::Bytes;
use object_store::{ObjectMeta, ObjectStoreExt};

use crate::error::{Error, Result};
use crate::store::Location;

/// One input object.
#[derive(Debug, Clone)]
pub struct InputObject {
    pub location: Location,
    pub meta: ObjectMeta,
}

impl InputObject {
    /// The object's URL, as rejects and messages name it.
    pub fn url(&self) -> String {
        self.location.url_of(&self.meta.location)
    }

    pub async fn read(&self) -> Result<Bytes> {
        let got = self
            .location
            .store
            .get(&self.meta.location)
            .await
            .map_err(|source| Error::Store {
                url: self.url(),
                source,
            })?;
        got.bytes().await.map_err(|source| Error::Store {
            url: self.url(),
            source,
        })
    }
}

impl InputObject {
    /// Reads the object into `buf` (cleared first). Local files are read straight into it, so
    /// a buffer reused across a run's objects costs no new pages and no zeroing per object;
    /// other stores go through object_store.
    pub async fn read_into(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.clear();
        if let Some(path) = self.local_path() {
            use std::io::Read;
            let io = |source| Error::Io {
                path: path.clone(),
                source,
            };
            let mut file = std::fs::File::open(&path).map_err(io)?;
            buf.reserve(self.meta.size as usize);
            file.read_to_end(buf).map_err(io)?;
            return Ok(());
        }
        buf.extend_from_slice(&self.read().await?);
        Ok(())
    }

    /// The file behind a `file://` object, as the local store maps it.
    fn local_path(&self) -> Option<std::path::PathBuf> {
        if self.location.store_url.scheme() != "file" {
            return None;
        }
        self.location
            .store_url
            .join(self.meta.location.as_ref())
            .ok()?
            .to_file_path()
            .ok()
    }
}

/// The objects of one input after `offset` (or all), hidden files skipped; none is no error.
pub async fn list_input_after(
    location: &Location,
    offset: Option<&object_store::path::Path>,
) -> Result<Vec<InputObject>> {
    Ok(location
        .list_objects_after(offset)
        .await?
        .into_iter()
        .filter(|m| !m.location.filename().is_some_and(|f| f.starts_with('.')))
        .map(|meta| InputObject {
            location: location.clone(),
            meta,
        })
        .collect())
}

/// The usage error of an input with no objects at all: almost always a typo.
pub fn no_objects(location: &Location) -> Error {
    Error::usage(format!("{}: no input objects there", location.url))
}

/// Lists every input in order: arguments in the order given, each folder or prefix in name
/// order. Hidden files (names starting with `.`) are skipped; an input with no objects at all
/// is a usage error ([`no_objects`]).
pub async fn list_inputs(inputs: &[Location]) -> Result<Vec<InputObject>> {
    let mut out = Vec::new();
    for location in inputs {
        let objects = list_input_after(location, None).await?;
        if objects.is_empty() {
            return Err(no_objects(location));
        }
        out.extend(objects);
    }
    Ok(out)
}
