//! Lambda `logout-all`: `POST /api/v1/auth/logout/all/`.

use shared::http::auth;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    shared::cold_start::serve(auth::logout_all).await
}
