//! The lake as a whole and its write protocol: the marker that says a location is a
//! connect-lake lake, the names of its top-level folders, who may write (`lease`), how a new
//! file replaces an old one (`publish`), what a reader sees (`pinned`) and what `check` finds.
//! Tables' own layout is in `partition`; merging and encoding are in `commit`.

pub mod check;
pub mod lease;
pub mod pinned;
pub mod publish;

use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

use lease::LeaseOptions;
use publish::Publisher;

use crate::error::{Error, Result};
use crate::store::Location;

/// Written at the lake root by the first run; readers skip it (leading `_`).
pub const MARKER: &str = "_connect_lake.json";
/// Where undecodable records go: `_rejected/<table>/<source hash>.ndjson`.
pub const REJECTED_DIR: &str = "_rejected";

const MARKER_TEXT: &str = "{\"format\":\"connect-lake\",\"layout\":1}\n";

/// Files of the lake's own at its root: what a new lake may already hold when two runs create
/// it at once.
fn is_own_root_file(name: &str) -> bool {
    name == MARKER || name == lease::LEASE || name.starts_with(&format!("{MARKER}#"))
}

/// For writers: an existing lake, or an empty (or missing) location made into one. A location
/// that holds other data is refused, so a mistyped `--lake` never scribbles into a stranger's
/// bucket. Two runs that start on a new lake at once both succeed: the marker is created with
/// a conditional create, and the lake's own files do not count as other data.
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
    let foreign = listing
        .objects
        .iter()
        .any(|o| !o.location.filename().is_some_and(is_own_root_file));
    if foreign || !listing.common_prefixes.is_empty() {
        return Err(Error::NotALake {
            url: lake.url.clone(),
            reason: format!("it holds other data and no {MARKER}"),
            hint: "give --lake a new or empty folder or prefix",
        });
    }
    let created = lake
        .store
        .put_opts(
            &marker,
            PutPayload::from_static(MARKER_TEXT.as_bytes()),
            PutOptions::from(PutMode::Create),
        )
        .await;
    match created {
        Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
        Err(source) => Err(lake.store_error(source)),
    }
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

/// Runs `work` as the lake's one writer: takes the lease (waiting as `options` says), cleans
/// what crashed runs staged, hands `work` the publisher, and gives the lease back whatever
/// `work` returned, so a failed run never makes the next one wait for an expiry.
pub async fn write_leased<T>(
    lake: &Location,
    command: &str,
    options: &LeaseOptions,
    work: impl AsyncFnOnce(&Publisher<'_>) -> Result<T>,
) -> Result<T> {
    let lease = lease::acquire(lake, command, options).await?;
    let outcome: Result<T> = async {
        let publisher = Publisher::new(lake, &lease).await?;
        let value = work(&publisher).await?;
        publisher.finish().await?;
        Ok(value)
    }
    .await;
    let released = lease.release().await;
    let value = outcome?;
    released?;
    Ok(value)
}
