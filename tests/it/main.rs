//! The one integration test binary: runs the real `connect-lake` binary on fixtures named after
//! the case they pin (`tests/data/agent_events/`), compares view results with expected files
//! (`tests/data/expected/`) and CLI messages with snapshots.

#![allow(clippy::unwrap_used)]

mod activity;
mod cli;
mod data_lake;
mod etl;
mod fuzz;
mod hostile_input;
mod lake_writes;
mod nightly;
mod real_records;
mod reports;
mod s3;
mod support;
mod views;
