//! Lambda `task-update`: `PUT` and `PATCH /api/v1/tasks/{id}/`.

use shared::http::{app, tasks};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    let state = shared::AppState::from_env().await?;
    lambda_http::run(app(tasks::update(), state)).await
}
