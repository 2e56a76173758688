//! Lambda `task-stream`: the tasks table's DynamoDB stream, posting task changes to their owners'
//! WebSocket connections and reporting the records it could not deliver.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    let notifier = shared::realtime::Notifier::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let notifier = notifier.clone();
        async move {
            let handled = notifier.handle(event.payload, event.context.deadline());
            let handled = shared::metrics::stream_batch(&event.context, handled);
            Ok::<_, lambda_runtime::Error>(handled.await)
        }
    }))
    .await
}
