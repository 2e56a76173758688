//! Lambda `password-update`: `POST /api/v1/auth/profile/password/`.

use shared::http::profile;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    shared::cold_start::serve(profile::password).await
}
