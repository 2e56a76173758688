//! Metrics in CloudWatch Embedded Metric Format (EMF): one JSON line on stdout per invocation,
//! which CloudWatch Logs turns into metrics (no API call, no extra permission). Lambda passes a
//! line that is already JSON through unchanged, `LogFormat: JSON` included.
//!
//! Each line carries, for the function that wrote it (dimension `Function`, the binary's name):
//! `Requests` (1), `Latency` (ms), `Errors4xx`/`Errors5xx` (0 or 1, for functions that answer with a
//! status; a WebSocket message refused inside a 200 frame counts as its error's status,
//! [`answered`]), `ColdStart` (1 on a container's first invocation), and the business counters of
//! [`Counter`] recorded during the invocation. Besides the metrics, the line keeps the Lambda
//! request id, the X-Ray trace id and the status, so Logs Insights can query them.
//!
//! Emitting is on only in a Lambda container ([`init`]); the local server and the tests emit
//! nothing unless a test installs a sink ([`init_with_sink`]).

use std::cell::RefCell;
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::apigw::ApiGatewayProxyResponse;
use serde_json::{Map, Value, json};

/// The namespace when `TASKMASTER_METRICS_NAMESPACE` is unset (the template sets
/// `taskmaster/<stack name>`).
pub const DEFAULT_NAMESPACE: &str = "taskmaster";

/// Business events, counted per invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    TasksCreated,
    LoginsFailed,
    LoginsThrottled,
    NotificationsDelivered,
    StaleConnectionsRemoved,
    ConnectionsCutOff,
    RecordsFailed,
    RecordsSkipped,
}

impl Counter {
    pub const ALL: [Self; 8] = [
        Self::TasksCreated,
        Self::LoginsFailed,
        Self::LoginsThrottled,
        Self::NotificationsDelivered,
        Self::StaleConnectionsRemoved,
        Self::ConnectionsCutOff,
        Self::RecordsFailed,
        Self::RecordsSkipped,
    ];

    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Self::TasksCreated => "TasksCreated",
            Self::LoginsFailed => "LoginsFailed",
            Self::LoginsThrottled => "LoginsThrottled",
            Self::NotificationsDelivered => "NotificationsDelivered",
            Self::StaleConnectionsRemoved => "StaleConnectionsRemoved",
            Self::ConnectionsCutOff => "ConnectionsCutOff",
            Self::RecordsFailed => "RecordsFailed",
            Self::RecordsSkipped => "RecordsSkipped",
        }
    }
}

/// What the invocation in progress recorded.
#[derive(Default)]
struct Recorded {
    counts: [u64; Counter::ALL.len()],
    status: Option<u16>,
}

tokio::task_local! {
    static RECORDED: RefCell<Recorded>;
}

/// Adds `n` to `counter` for the invocation in progress; nothing outside one.
pub fn count(counter: Counter, n: u64) {
    let _ = RECORDED.try_with(|recorded| {
        if let Some(count) = recorded.borrow_mut().counts.get_mut(counter as usize) {
            *count += n;
        }
    });
}

/// Records the status the invocation in progress answered with where its output does not carry
/// it: a WebSocket message refused inside a 200 frame, whose body is the REST API's error. Without
/// it a `$default` that failed for every client (a 500 or 503 inside each frame) would count as
/// answering 200. Nothing outside an invocation.
pub fn answered(status: u16) {
    let _ = RECORDED.try_with(|recorded| recorded.borrow_mut().status = Some(status));
}

struct Emitter {
    function: &'static str,
    namespace: String,
    sink: Mutex<Box<dyn Write + Send>>,
}

static EMITTER: OnceLock<Emitter> = OnceLock::new();
static COLD: AtomicBool = AtomicBool::new(true);

/// Turns emitting on, to stdout, when running in a Lambda container (`AWS_LAMBDA_FUNCTION_NAME`
/// is set), as `function`; the namespace is `TASKMASTER_METRICS_NAMESPACE`.
pub fn init(function: &'static str) {
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        let namespace = crate::config::env("TASKMASTER_METRICS_NAMESPACE")
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        init_with_sink(function, namespace, Box::new(std::io::stdout()));
    }
}

/// Turns emitting on, into `sink`; the first call of the process wins.
pub fn init_with_sink(function: &'static str, namespace: String, sink: Box<dyn Write + Send>) {
    let _ = EMITTER.set(Emitter {
        function,
        namespace,
        sink: Mutex::new(sink),
    });
}

/// Runs one invocation: counts what it records ([`count`]), times it and writes its line.
/// `status` reads the HTTP status from the output, for the functions that answer with one.
pub async fn invocation<T>(
    context: Option<&lambda_http::Context>,
    status: impl FnOnce(&T) -> Option<u16>,
    work: impl Future<Output = T>,
) -> T {
    let started = Instant::now();
    let (output, recorded) = RECORDED
        .scope(RefCell::default(), async {
            let output = work.await;
            (output, RECORDED.with(RefCell::take))
        })
        .await;
    if let Some(emitter) = EMITTER.get() {
        let line = line(
            emitter,
            context,
            recorded.status.or_else(|| status(&output)),
            started.elapsed().as_secs_f64() * 1000.0,
            &recorded.counts,
        );
        let mut sink = emitter.sink.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(sink, "{line}").and_then(|()| sink.flush());
    }
    output
}

fn line(
    emitter: &Emitter,
    context: Option<&lambda_http::Context>,
    status: Option<u16>,
    latency_ms: f64,
    counts: &[u64; Counter::ALL.len()],
) -> Value {
    let cold = COLD.swap(false, Ordering::Relaxed);
    let mut values = vec![
        ("Requests", "Count", json!(1)),
        (
            "Latency",
            "Milliseconds",
            json!((latency_ms * 1000.0).round() / 1000.0),
        ),
        ("ColdStart", "Count", json!(u8::from(cold))),
    ];
    if let Some(status) = status {
        values.push((
            "Errors4xx",
            "Count",
            json!(u8::from((400..500).contains(&status))),
        ));
        values.push(("Errors5xx", "Count", json!(u8::from(status >= 500))));
    }
    for counter in Counter::ALL {
        let n = counts[counter as usize];
        if n > 0 {
            values.push((counter.name(), "Count", json!(n)));
        }
    }
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let metrics: Vec<Value> = values
        .iter()
        .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit }))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": emitter.namespace,
                "Dimensions": [["Function"]],
                "Metrics": metrics,
            }],
        }),
    );
    root.insert("Function".to_owned(), json!(emitter.function));
    for (name, _, value) in values {
        root.insert(name.to_owned(), value);
    }
    if let Some(status) = status {
        root.insert("status".to_owned(), json!(status));
    }
    if let Some(context) = context {
        root.insert("requestId".to_owned(), json!(context.request_id));
        if let Some(trace) = &context.xray_trace_id {
            root.insert("xrayTraceId".to_owned(), json!(trace));
        }
    }
    Value::Object(root)
}

/// [`invocation`] for a WebSocket route, whose status is its response's.
pub async fn websocket_route(
    context: &lambda_http::Context,
    work: impl Future<Output = ApiGatewayProxyResponse>,
) -> ApiGatewayProxyResponse {
    invocation(
        Some(context),
        |response: &ApiGatewayProxyResponse| u16::try_from(response.status_code).ok(),
        work,
    )
    .await
}

/// [`invocation`] for a stream batch, which has no status.
pub async fn stream_batch<T>(context: &lambda_http::Context, work: impl Future<Output = T>) -> T {
    invocation(Some(context), |_: &T| None, work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_in_its_place_in_all_with_a_name_of_its_own() {
        for (place, counter) in Counter::ALL.iter().enumerate() {
            assert_eq!(*counter as usize, place, "{counter:?}");
        }
        let names: std::collections::HashSet<_> = Counter::ALL.map(Counter::name).into();
        assert_eq!(names.len(), Counter::ALL.len());
    }

    // The only test of this binary that turns emitting on (the emitter is per process).
    #[tokio::test]
    async fn a_status_answered_inside_the_output_is_the_one_counted_and_only_for_its_invocation() {
        let captured = testkit::Captured::default();
        init_with_sink("ws-default", "test".to_owned(), Box::new(captured.clone()));
        let frame = |_: &()| Some(200);
        invocation(None, frame, async { answered(503) }).await;
        invocation(None, frame, async {}).await;
        let lines = captured.take_lines();
        let outcome = |line: &Value| {
            (
                line["status"].clone(),
                line["Errors4xx"].clone(),
                line["Errors5xx"].clone(),
            )
        };
        assert_eq!(outcome(&lines[0]), (json!(503), json!(0), json!(1)));
        assert_eq!(outcome(&lines[1]), (json!(200), json!(0), json!(0)));
    }
}
