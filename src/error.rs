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

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Usage { hint, .. } => hint.as_deref(),
            Error::NotALake { hint, .. } => Some(hint),
            Error::Store {
                source:
                    object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. },
                ..
            } => Some(
                "check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
            ),
            Error::Store { source, .. } if source.to_string().contains("NoSuchBucket") => {
                Some("create the bucket first: connect-lake never creates buckets")
            }
            _ => None,
        }
    }
}
