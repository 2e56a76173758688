//! Lambda `profile-update`: `PUT` and `PATCH /api/v1/auth/profile/`.

use shared::http::profile;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    shared::cold_start::serve(profile::update).await
}
