//! Logs of every process: `tracing` events to stderr (stdout carries the status lines and
//! reports that scripts read), at the level `RUST_LOG` names (info by default).

/// Installs the stderr subscriber; a second call does nothing.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
