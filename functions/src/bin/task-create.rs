//! Lambda `task-create`: `POST /api/v1/tasks/` (and the original app's `POST /api/v1/tasks/create/`).

use shared::http::tasks;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    shared::cold_start::serve(tasks::create).await
}
