//! connect-lake: Amazon Connect agent events as a daily-partitioned Parquet lake, with the
//! console's reports as SQL views. See the README's Architecture section for the map.

// Tests may unwrap: a panic there is a failed assertion, not a crash on user input.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod catalog;
pub mod cli;
pub mod commit;
pub mod config;
pub mod ddl;
pub mod decode;
pub mod error;
pub mod etl;
pub mod functions;
pub mod generate;
pub mod lake;
pub mod ledger;
pub mod nightly;
pub mod order;
pub mod output;
pub mod partition;
pub mod progress;
pub mod report;
pub mod schema;
pub mod secrets;
pub mod source;
pub mod store;
pub mod summary;
pub mod timeline;

pub use error::{Error, Result};
