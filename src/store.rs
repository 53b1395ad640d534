//! Where bytes live: turns a local path or a URL (`file://`, `s3://bucket/prefix`) into an
//! object store plus a prefix. Inputs and lakes both go through here, so every other module
//! speaks `object_store` only and never touches `std::fs` for lake or input data (one
//! exception: `source` reads local input files straight into a reused buffer).

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::{
    ClientConfigKey, ObjectMeta, ObjectStore, ObjectStoreExt, RetryConfig,
    aws::{AmazonS3Builder, AmazonS3ConfigKey},
    local::LocalFileSystem,
    path::Path,
};
use url::Url;

use crate::error::{Error, Result};

/// S3 settings from the command line; everything else comes from the standard AWS
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ENDPOINT_URL`, …).
#[derive(Debug, Clone)]
pub struct S3Options {
    pub endpoint: Option<String>,
    pub allow_http: bool,
    /// Longest wait for one request (connect included) before it counts as failed.
    pub timeout: Duration,
    /// Retries of a failed request (5xx, timeout, dropped connection), with exponential
    /// backoff from 100 ms; after the last one the run fails.
    pub retries: usize,
}

/// Default of `--s3-timeout`, in seconds.
pub const DEFAULT_TIMEOUT_SECS: f64 = 30.0;
/// Default of `--s3-retries`.
pub const DEFAULT_RETRIES: usize = 5;

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            endpoint: None,
            allow_http: false,
            timeout: Duration::from_secs_f64(DEFAULT_TIMEOUT_SECS),
            retries: DEFAULT_RETRIES,
        }
    }
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
    /// The local file system behind `store`, for a local lake: the write protocol uses the
    /// file system itself there (fsync, rename, file locks), which `object_store` does not.
    pub local: Option<Arc<LocalFileSystem>>,
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
        let fs = Arc::new(LocalFileSystem::new());
        Ok(Location {
            store: fs.clone(),
            prefix,
            url: format!("file://{}", absolute.display()),
            store_url,
            local: Some(fs),
        })
    }

    fn s3(url: Url, s3: &S3Options) -> Result<Location> {
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::usage(format!("{url}: an s3:// URL needs a bucket")))?
            .to_string();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        let env_set = |names: &[&str]| names.iter().any(|n| std::env::var_os(n).is_some());
        let profile = if env_set(&["AWS_ACCESS_KEY_ID"]) {
            None
        } else {
            Profile::load()?
        };
        if let Some(profile) = profile {
            crate::secrets::register(&profile.access_key_id);
            crate::secrets::register(&profile.secret_access_key);
            if let Some(token) = &profile.session_token {
                crate::secrets::register(token);
            }
            builder = builder
                .with_access_key_id(profile.access_key_id)
                .with_secret_access_key(profile.secret_access_key);
            if let Some(token) = profile.session_token {
                builder = builder.with_token(token);
            }
            if let Some(region) = profile
                .region
                .filter(|_| !env_set(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
            {
                builder = builder.with_region(region);
            }
            if let Some(endpoint) = profile.endpoint_url.filter(|_| s3.endpoint.is_none()) {
                builder = builder.with_endpoint(endpoint);
            }
        }
        if let Some(endpoint) = &s3.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if s3.allow_http {
            builder = builder.with_allow_http(true);
        }
        // A stalled server must not hang a nightly job: every request has a deadline, and
        // the retries as a whole stop after (retries + 1) deadlines plus the backoff.
        let timeout = format!("{}ms", s3.timeout.as_millis().max(1));
        builder = builder
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                timeout.clone(),
            )
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                timeout,
            )
            .with_retry(RetryConfig {
                max_retries: s3.retries,
                retry_timeout: s3.timeout * (s3.retries as u32 + 1) + Duration::from_secs(30),
                ..RetryConfig::default()
            });
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
            local: None,
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

    /// The file of `path` when the lake is on the local file system.
    pub fn fs_path(&self, path: &Path) -> Option<std::path::PathBuf> {
        self.local
            .as_ref()
            .and_then(|fs| fs.path_to_filesystem(path).ok())
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
        self.list_objects_after(None).await
    }

    /// As [`Location::list_objects`], only the keys that sort after `offset` (S3
    /// `start-after`) when one is given.
    pub async fn list_objects_after(&self, offset: Option<&Path>) -> Result<Vec<ObjectMeta>> {
        if let Ok(meta) = self.store.head(&self.prefix).await {
            return Ok(vec![meta]);
        }
        let listing = match offset {
            Some(offset) => self.store.list_with_offset(Some(&self.prefix), offset),
            None => self.store.list(Some(&self.prefix)),
        };
        let mut objects: Vec<ObjectMeta> = listing
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

/// The S3 error code of a failed request (`NoSuchBucket`, `AccessDenied`, …). S3 sends it only
/// in the XML body of its answer, which object_store keeps as text inside its error, so this is
/// where that protocol detail is read, once: callers decide on the code, never on a message.
pub fn s3_error_code(error: &object_store::Error) -> Option<String> {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        let text = e.to_string();
        if let Some(start) = text.find("<Code>") {
            let rest = &text[start + "<Code>".len()..];
            if let Some(end) = rest.find("</Code>") {
                return Some(rest[..end].to_string());
            }
        }
        source = e.source();
    }
    None
}

/// Static credentials of an AWS CLI profile, used when the environment has no access key, as
/// the AWS CLI does: the profile is `AWS_PROFILE` (else `default`), read from
/// `AWS_SHARED_CREDENTIALS_FILE` (else `~/.aws/credentials`, sections `[name]`) and
/// `AWS_CONFIG_FILE` (else `~/.aws/config`, sections `[profile name]` or `[default]`); the
/// credentials file wins key by key. Without a profile, object_store's own chain applies
/// (web identity, ECS, instance metadata).
/// Its `Debug` is written by hand and shows no key: a derived one is how secrets leak.
#[derive(PartialEq, Eq)]
struct Profile {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    region: Option<String>,
    endpoint_url: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("access_key_id", &"[REDACTED]")
            .field("secret_access_key", &"[REDACTED]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .finish()
    }
}

impl Profile {
    fn load() -> Result<Option<Profile>> {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let file = |var: &str, default: &str| {
            std::env::var_os(var)
                .map(std::path::PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
        };
        let named = std::env::var("AWS_PROFILE").ok();
        let name = named.clone().unwrap_or_else(|| "default".to_string());
        Self::from_files(
            &name,
            named.is_some(),
            file("AWS_SHARED_CREDENTIALS_FILE", "credentials").as_deref(),
            file("AWS_CONFIG_FILE", "config").as_deref(),
        )
    }

    fn from_files(
        name: &str,
        explicit: bool,
        credentials: Option<&std::path::Path>,
        config: Option<&std::path::Path>,
    ) -> Result<Option<Profile>> {
        let read = |path: Option<&std::path::Path>| -> Result<Option<ini::Ini>> {
            match path.filter(|p| p.exists()) {
                None => Ok(None),
                Some(p) => ini::Ini::load_from_file(p)
                    .map(Some)
                    .map_err(|e| Error::usage(format!("{}: {e}", p.display()))),
            }
        };
        let credentials = read(credentials)?;
        let config = read(config)?;
        let config_section = if name == "default" {
            name.to_string()
        } else {
            format!("profile {name}")
        };
        let get = |key: &str| {
            credentials
                .as_ref()
                .and_then(|c| c.get_from(Some(name), key))
                .or_else(|| {
                    config
                        .as_ref()
                        .and_then(|c| c.get_from(Some(config_section.as_str()), key))
                })
                .map(str::to_string)
        };
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Some(Profile {
                access_key_id,
                secret_access_key,
                session_token: get("aws_session_token"),
                region: get("region"),
                endpoint_url: get("endpoint_url"),
            })),
            _ if explicit => Err(Error::usage_with_hint(
                format!(
                    "AWS_PROFILE={name}: no aws_access_key_id and aws_secret_access_key for that profile"
                ),
                "add them to ~/.aws/credentials, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            )),
            _ => Ok(None),
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

    #[test]
    fn profiles_come_from_the_credentials_then_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &credentials,
            "[default]\naws_access_key_id = AKD\naws_secret_access_key = SKD\n\n\
             [ops]\naws_access_key_id = AKO\naws_secret_access_key = SKO\naws_session_token = T\n",
        )
        .unwrap();
        std::fs::write(
            &config,
            "[default]\nregion = eu-west-1\n\n[profile ops]\nregion = us-east-2\n\
             endpoint_url = http://127.0.0.1:9000\n\n[profile cfgonly]\n\
             aws_access_key_id = AKC\naws_secret_access_key = SKC\n",
        )
        .unwrap();
        let load = |name: &str, explicit: bool| {
            Profile::from_files(name, explicit, Some(&credentials), Some(&config))
        };
        let ops = load("ops", true).unwrap().unwrap();
        assert_eq!(
            ops,
            Profile {
                access_key_id: "AKO".into(),
                secret_access_key: "SKO".into(),
                session_token: Some("T".into()),
                region: Some("us-east-2".into()),
                endpoint_url: Some("http://127.0.0.1:9000".into()),
            }
        );
        let default = load("default", false).unwrap().unwrap();
        assert_eq!(default.region.as_deref(), Some("eu-west-1"));
        assert_eq!(load("cfgonly", true).unwrap().unwrap().access_key_id, "AKC");
        // A named profile that is not there is an error; no files and no name is no profile.
        let err = load("missing", true).unwrap_err();
        assert!(err.to_string().contains("AWS_PROFILE=missing"), "{err}");
        assert_eq!(
            Profile::from_files("default", false, None, None).unwrap(),
            None
        );
    }
}
