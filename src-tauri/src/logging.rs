//! Logs via tracing to a daily-rotating file in the log directory (7 files kept), plus stderr
//! for the GUI. Nothing logged anywhere in the app carries a token, JWT, key or enrolment link.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Default filter: our crates at info, chatty dependencies quieter. `RUST_LOG` overrides.
const DEFAULT_FILTER: &str =
    "info,zbus=warn,tao=warn,wry=warn,tracing=warn,hyper=warn,reqwest=warn";

/// Installs the subscriber. Keep the guard alive until exit so buffered lines are flushed.
/// `stderr`: also print to stderr (GUI; the CLI keeps stderr for its own messages).
pub fn init(log_dir: &Path, stderr: bool) -> Option<WorkerGuard> {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let file = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix("assent")
        .filename_suffix("log")
        .max_log_files(7)
        .build(log_dir);
    let (file_layer, guard) = match file {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (
                Some(
                    fmt::layer()
                        .with_writer(writer)
                        .with_ansi(false)
                        .with_filter(filter()),
                ),
                Some(guard),
            )
        }
        Err(e) => {
            eprintln!("assent: cannot log to {}: {e}", log_dir.display());
            (None, None)
        }
    };
    let stderr_layer = stderr.then(|| {
        use std::io::IsTerminal;
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter())
    });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    guard
}
