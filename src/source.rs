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

/// Lists every input in order: arguments in the order given, each folder or prefix in name
/// order. Hidden files (names starting with `.`) are skipped; an input with no objects at all
/// is a usage error, since it is almost always a typo.
pub async fn list_inputs(inputs: &[Location]) -> Result<Vec<InputObject>> {
    let mut out = Vec::new();
    for location in inputs {
        let objects = location.list_objects().await?;
        let before = out.len();
        for meta in objects {
            let hidden = meta.location.filename().is_some_and(|f| f.starts_with('.'));
            if !hidden {
                out.push(InputObject {
                    location: location.clone(),
                    meta,
                });
            }
        }
        if out.len() == before {
            return Err(Error::usage(format!(
                "{}: no input objects there",
                location.url
            )));
        }
    }
    Ok(out)
}
