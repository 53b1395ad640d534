//! Progress on a terminal: a byte bar with a record count for long runs; hidden when stderr is
//! not a terminal, under CI, or when asked (`--quiet`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub fn bar(enabled: bool, total_bytes: u64) -> ProgressBar {
    let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if !enabled || !on_terminal || std::env::var_os("CI").is_some() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}
