//! The bare runtime: `lambda_runtime` answering every event with a fixed body, nothing else. The
//! cold-start bench (`bench/cold-start`) starts it beside the 19 functions, built with the same
//! profile, as the floor a Rust Lambda's cold start can reach.

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async {
        Ok::<_, Error>(serde_json::json!({ "statusCode": 200, "body": "hello" }))
    }))
    .await
}
