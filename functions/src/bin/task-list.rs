//! Lambda `task-list`: `GET /api/v1/tasks/`.

use shared::http::{app, tasks};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    let state = shared::AppState::from_env().await?;
    lambda_http::run(app(tasks::list(), state)).await
}
