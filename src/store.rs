//! Where bytes live: turns a local path or a URL (`file://`, `s3://bucket/prefix`) into an
//! object store plus a prefix. Inputs and lakes both go through here, so every other module
//! speaks `object_store` only and never touches `std::fs` for lake or input data (one
//! exception: `source` reads local input files straight into a reused buffer).

use std::sync::Arc;

use futures::TryStreamExt;
use object_store::{
    ObjectMeta, ObjectStore, ObjectStoreExt, aws::AmazonS3Builder, local::LocalFileSystem,
    path::Path,
};
use url::Url;

use crate::error::{Error, Result};

/// S3 settings from the command line; everything else comes from the standard AWS
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ENDPOINT_URL`, …).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    pub endpoint: Option<String>,
    pub allow_http: bool,
}

/// A store and a prefix inside it, with the URL the user gave for messages.
#[derive(Debug, Clone)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    pub prefix: Path,
    /// Printable form: the user's URL, or `file://` plus the absolute path.
    pub url: String,
    /// The URL DataFusion registers the store under (`file:///` or `s3://bucket`).
    pub store_url: Url,
}

impl Location {
    /// Opens `text` as a location. `create` makes a missing local folder (for a new lake);
    /// inputs must exist.
    pub fn parse(text: &str, s3: &S3Options, create: bool) -> Result<Location> {
        match Url::parse(text) {
            Ok(url) if url.scheme() == "s3" => Self::s3(url, s3),
            Ok(url) if url.scheme() == "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| Error::usage(format!("{text}: not a valid file:// URL")))?;
                Self::local(&path, create)
            }
            Ok(url) if url.scheme().len() > 1 => Err(Error::usage_with_hint(
                format!("{text}: unsupported URL scheme {}", url.scheme()),
                "use a local path, file:// or s3://",
            )),
            // Not a URL, or a Windows drive letter: a local path.
            _ => Self::local(std::path::Path::new(text), create),
        }
    }

    fn local(path: &std::path::Path, create: bool) -> Result<Location> {
        if create && !path.exists() {
            std::fs::create_dir_all(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let absolute = std::fs::canonicalize(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::usage(format!("{}: no such file or directory", path.display()))
            } else {
                Error::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        let prefix = Path::from_absolute_path(&absolute).map_err(|e| {
            Error::usage(format!("{}: not usable as a path: {e}", absolute.display()))
        })?;
        let store_url = Url::parse("file:///").map_err(|e| Error::Other(e.to_string()))?;
        Ok(Location {
            store: Arc::new(LocalFileSystem::new()),
            prefix,
            url: format!("file://{}", absolute.display()),
            store_url,
        })
    }

    fn s3(url: Url, s3: &S3Options) -> Result<Location> {
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::usage(format!("{url}: an s3:// URL needs a bucket")))?
            .to_string();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        if let Some(endpoint) = &s3.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if s3.allow_http {
            builder = builder.with_allow_http(true);
        }
        let store = builder.build().map_err(|source| Error::Store {
            url: url.to_string(),
            source,
        })?;
        let prefix = Path::parse(url.path().trim_start_matches('/'))
            .map_err(|e| Error::usage(format!("{url}: bad object path: {e}")))?;
        let store_url = Url::parse(&format!("s3://{bucket}"))
            .map_err(|e| Error::usage(format!("{url}: {e}")))?;
        Ok(Location {
            store: Arc::new(store),
            prefix,
            url: url.to_string(),
            store_url,
        })
    }

    /// A path below this location's prefix.
    pub fn child(&self, relative: &str) -> Path {
        let mut p = self.prefix.clone();
        for part in relative.split('/').filter(|s| !s.is_empty()) {
            p = p.clone().join(part);
        }
        p
    }

    /// The printable URL of a path in this store.
    pub fn url_of(&self, path: &Path) -> String {
        if self.store_url.scheme() == "file" {
            format!("file:///{path}")
        } else {
            format!("{}/{path}", self.store_url.as_str().trim_end_matches('/'))
        }
    }

    /// The objects under the prefix, sorted by path (name order); a prefix that names one
    /// object lists that object.
    pub async fn list_objects(&self) -> Result<Vec<ObjectMeta>> {
        if let Ok(meta) = self.store.head(&self.prefix).await {
            return Ok(vec![meta]);
        }
        let mut objects: Vec<ObjectMeta> = self
            .store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(|source| self.store_error(source))?;
        objects.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
        Ok(objects)
    }

    pub fn store_error(&self, source: object_store::Error) -> Error {
        Error::Store {
            url: self.url.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_and_file_urls_agree() {
        let dir = tempfile::tempdir().unwrap();
        let a =
            Location::parse(dir.path().to_str().unwrap(), &S3Options::default(), false).unwrap();
        let url = format!("file://{}", dir.path().display());
        let b = Location::parse(&url, &S3Options::default(), false).unwrap();
        assert_eq!(a.prefix, b.prefix);
        assert_eq!(
            a.child("x/dt=2026-01-01").to_string(),
            format!("{}/x/dt=2026-01-01", a.prefix)
        );
    }

    #[test]
    fn missing_input_is_a_usage_error() {
        let err = Location::parse("/no/such/input", &S3Options::default(), false).unwrap_err();
        assert!(err.is_usage(), "{err}");
        let err = Location::parse("ftp://host/x", &S3Options::default(), false).unwrap_err();
        assert!(err.to_string().contains("unsupported URL scheme"));
    }
}
