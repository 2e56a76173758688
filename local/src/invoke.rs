//! Each request's handling runs to its end, as a Lambda invocation does. API Gateway invokes a
//! function once it holds the whole request, and the invocation runs on whether or not the
//! client waits for the answer. hyper, by contrast, drops a request's handling when its
//! connection ends under it (a reset; any close, before `serve` set `half_close`), at whatever
//! step the handling had reached: a right login left counted as a failure (its attempt is taken
//! back only after the hash), enough of them a locked account. Here the handling is a task of its
//! own; a client that leaves only loses the answer.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::error::Error;
use tokio_util::task::TaskTracker;

/// The requests being handled, so that a stopping server can wait for those whose clients left.
#[derive(Clone, Default)]
pub struct Invocations(TaskTracker);

impl Invocations {
    /// Waits, at most `limit`, for every request's handling to end.
    pub async fn wait(&self, limit: Duration) {
        self.0.close();
        if tokio::time::timeout(limit, self.0.wait()).await.is_err() {
            tracing::warn!(
                requests = self.0.len(),
                "stopped waiting for requests whose clients left after {} s",
                limit.as_secs()
            );
        }
    }
}

/// Handles the request on a task of its own, which runs to its end if the client leaves.
pub async fn to_its_end(
    State(invocations): State<Invocations>,
    request: Request,
    next: Next,
) -> Response {
    match invocations.0.spawn(next.run(request)).await {
        Ok(response) => response,
        Err(error) => Error::Unexpected(anyhow::anyhow!("a request's handling failed: {error}"))
            .into_response(),
    }
}
