//! The library's one error type. Each variant carries what a user needs to act on it; the
//! CLI (`main.rs`) turns it into one line on stderr and an exit code via [`Error::is_usage`].

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something that cannot work as asked: exit code 2.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },

    #[error("{url}: not a connect-lake lake ({reason})")]
    NotALake {
        url: String,
        reason: String,
        hint: &'static str,
    },

    #[error("{url}: {source}")]
    Store {
        url: String,
        #[source]
        source: object_store::Error,
    },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {source}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },

    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),

    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),

    #[error("schema {table}: {reason}")]
    Schema { table: String, reason: String },

    /// Another run holds the lake's writer lease.
    #[error("{url}: the lake is being written by {holder}; its lease {expires}")]
    Locked {
        url: String,
        holder: String,
        expires: String,
    },

    /// This run's lease was taken over or ran out: it must not publish anything more.
    #[error("{url}: this run lost the lake's writer lease ({reason}); nothing more was written")]
    LeaseLost { url: String, reason: String },

    /// A partition changed between the moment this run read it and its publish.
    #[error(
        "{url}: changed since this run read it (another writer?); this partition was not written"
    )]
    Conflict { url: String },

    /// A file of the lake that cannot be read as the table it belongs to.
    #[error("{url}: damaged lake file: {reason}")]
    Damaged {
        url: String,
        lake: String,
        reason: String,
    },

    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage_with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// Usage errors are the user's to fix by changing the command: exit code 2.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage { .. } | Error::NotALake { .. })
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Locked { .. } => Some(
                "wait for it with --lock-wait (e.g. --lock-wait 10m); a crashed run's lease is taken over by the next run (on S3 once it expires)"
                    .into(),
            ),
            Error::LeaseLost { .. } | Error::Conflict { .. } => {
                Some("run again: what this run committed is kept, the rest is merged then".into())
            }
            Error::Damaged { lake, .. } => Some(format!(
                "`connect-lake check --lake {lake} --repair` moves it to _quarantine/; then run again"
            )),
            // DataFusion does not say which file failed to decode: `check` finds it.
            Error::DataFusion(e) if reads_parquet(e) => Some(
                "a lake file may be damaged: `connect-lake check --lake <lake>` names it, `--repair` moves it to _quarantine/"
                    .into(),
            ),
            Error::Usage { hint, .. } => hint.clone(),
            Error::NotALake { hint, .. } => Some(hint.to_string()),
            Error::Store {
                source:
                    object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. },
                ..
            } => Some(
                "check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
                    .into(),
            ),
            Error::Store { source, .. }
                if crate::store::s3_error_code(source).as_deref() == Some("NoSuchBucket") =>
            {
                Some("create the bucket first: connect-lake never creates buckets".into())
            }
            _ => None,
        }
    }
}

/// Whether a DataFusion error comes from decoding a Parquet file.
fn reads_parquet(e: &datafusion::error::DataFusionError) -> bool {
    use datafusion::error::DataFusionError;
    match e.find_root() {
        DataFusionError::ParquetError(_) => true,
        DataFusionError::External(inner) => inner
            .downcast_ref::<parquet::errors::ParquetError>()
            .is_some(),
        _ => false,
    }
}
