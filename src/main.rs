//! The `connect-lake` binary: parse the command line, run it, and turn the outcome into an
//! exit code: 0 ok, 1 the run failed, 2 a usage error (bad arguments, not a lake, refused SQL).
//! The only place that picks exit codes.

use std::process::ExitCode;

use clap::Parser;
use connect_lake::{Error, cli};

fn main() -> ExitCode {
    tune_malloc();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    connect_lake::secrets::register_env();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(|| connect_lake::secrets::Stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("connect-lake: error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // `connect-lake query … | head` closes stdout early: not an error. Any other broken
        // pipe (the store, a spill file) is.
        Err(_) if connect_lake::output::stdout_closed() => ExitCode::SUCCESS,
        Err(e) => {
            // One line: scripts grep it, people read it.
            let line = match e.hint() {
                Some(hint) => format!("connect-lake: error: {} (hint: {hint})", chain(&e)),
                None => format!("connect-lake: error: {}", chain(&e)),
            };
            eprintln!("{}", connect_lake::secrets::redact(&line));
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

/// The error and its causes on one line, without repeating a cause its parent already printed.
fn chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text.replace('\n', " ")
}

/// glibc's malloc hands large freed blocks back to the kernel (blocks over the mmap threshold,
/// heap tops over the trim threshold), and the ETL frees and reallocates batch-sized buffers all
/// the time, so the same memory was faulted in again and again: page faults were about a
/// fifth of the ETL's CPU time. Serving blocks up to 32 MiB (glibc's maximum) from the heap and
/// keeping up to 1 GiB of freed heap cut the ETL's CPU time by about a sixth in `make bench`,
/// for about 5% more peak RSS. (mimalloc, measured the same way, was slower than glibc.)
///
/// glibc also gives threads their own arenas, up to eight per core, and every new arena is
/// fresh memory to fault in. Reads of local files run on tokio's blocking threads, so a report
/// touched several: one arena per core (at least two) cut a report's page faults by 15-20%
/// and its peak RSS by 13-19 MiB on the bench lake (`report audit` 97 -> 84 MiB,
/// `report login-logout --range yesterday` 150 -> 131 MiB, median of 15, alternated, 2
/// cores), and the 1 GB ETL's by 8 MiB (331 -> 323). Time did not change beyond the noise
/// (audit 65.8 against 66.6 ms, ETL 6.54 against 6.59 CPU-s).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_malloc() {
    let arenas = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let arenas = libc::c_int::try_from(arenas).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets allocator parameters; this runs first in main, before any
    // other thread exists. A refused value leaves glibc's default, which is still correct.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}
