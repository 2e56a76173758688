//! Lambda `task-delete`: `DELETE /api/v1/tasks/{id}/`.

use shared::http::tasks;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    shared::cold_start::serve(tasks::delete).await
}
