//! Logging: JSON lines on Lambda (CloudWatch adds the time), readable lines everywhere else; and
//! the metrics ([`crate::metrics`]), on Lambda only.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber once; `RUST_LOG` filters (default `info`). Safe to call twice.
/// `function` names the process in its metrics (a Lambda passes its binary's name).
///
/// On Lambda each line keeps the invocation's span, `Lambda runtime invoke`, with the Lambda
/// `requestId` and the X-Ray `xrayTraceId` (the runtime's `_X_AMZN_TRACE_ID`).
///
/// `RUST_LOG` takes comma-separated `level` and `target=level` directives (`info`,
/// `warn,shared=debug`); an unreadable value falls back to `info`. A [`Targets`] filter rather
/// than `EnvFilter`, whose span and field matching needs a regex engine in every bootstrap.
pub fn init(function: &'static str) {
    crate::metrics::init(function);
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|value| Targets::from_str(&value).ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .without_time()
                    .with_current_span(false),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    // Colours on a terminal only: a log file or pipe gets plain text to grep.
                    .with_ansi(
                        std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                    )
                    .with_writer(std::io::stderr),
            )
            .try_init()
    };
}
