//! Lambda `register`: `POST /api/v1/auth/register/`.

use shared::http::auth;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    shared::cold_start::serve(auth::register).await
}
