//! The lake as a whole: the marker that says a location is a connect-lake lake, and the names
//! of its top-level folders. Tables' own layout is in `partition` and `commit`.

use object_store::{ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};
use crate::store::Location;

/// Written at the lake root by the first run; readers skip it (leading `_`).
pub const MARKER: &str = "_connect_lake.json";
/// Where undecodable records go: `_rejected/<table>/<source hash>.ndjson`.
pub const REJECTED_DIR: &str = "_rejected";

const MARKER_TEXT: &str = "{\"format\":\"connect-lake\",\"layout\":1}\n";

/// For writers: an existing lake, or an empty (or missing) location made into one. A location
/// that holds other data is refused, so a mistyped `--lake` never scribbles into a stranger's
/// bucket.
pub async fn ensure_lake(lake: &Location) -> Result<()> {
    let marker = lake.child(MARKER);
    match lake.store.head(&marker).await {
        Ok(_) => return Ok(()),
        Err(object_store::Error::NotFound { .. }) => {}
        Err(source) => return Err(lake.store_error(source)),
    }
    let listing = lake
        .store
        .list_with_delimiter(Some(&lake.prefix))
        .await
        .map_err(|e| lake.store_error(e))?;
    if !listing.objects.is_empty() || !listing.common_prefixes.is_empty() {
        return Err(Error::NotALake {
            url: lake.url.clone(),
            reason: format!("it holds other data and no {MARKER}"),
            hint: "give --lake a new or empty folder or prefix",
        });
    }
    lake.store
        .put(&marker, PutPayload::from_static(MARKER_TEXT.as_bytes()))
        .await
        .map_err(|e| lake.store_error(e))?;
    Ok(())
}

/// For readers: the location must be a lake already.
pub async fn check_lake(lake: &Location) -> Result<()> {
    match lake.store.head(&lake.child(MARKER)).await {
        Ok(_) => Ok(()),
        Err(object_store::Error::NotFound { .. }) => {
            // A missing bucket also reads as "no marker": listing tells the two apart.
            lake.store
                .list_with_delimiter(Some(&lake.prefix))
                .await
                .map_err(|e| lake.store_error(e))?;
            Err(Error::NotALake {
                url: lake.url.clone(),
                reason: format!("no {MARKER}"),
                hint: "run `connect-lake etl --lake …` first, or point --lake at an existing lake",
            })
        }
        Err(source) => Err(lake.store_error(source)),
    }
}
