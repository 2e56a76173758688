//! Logging: JSON lines on Lambda (CloudWatch adds the time), readable lines everywhere else.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; `RUST_LOG` filters (default `info`). Safe to call twice.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .without_time()
            .with_current_span(false)
            .try_init()
    } else {
        builder.compact().with_writer(std::io::stderr).try_init()
    };
}
