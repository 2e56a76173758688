//! The template's time limits agree with the code's: each function's `Timeout` outlasts the
//! deadlines it answers within, and each seconds parameter stops where the functions' settings do.

use testkit::schema::{TEMPLATE, function_timeout};

use super::{support, template};

/// Every HTTP function's Lambda `Timeout` leaves a second after the request deadline, so a request
/// that reaches it is answered with the deadline's JSON 503, not ended by Lambda (a bare 500).
#[test]
fn every_http_function_outlasts_the_request_deadline() {
    let template = template();
    let deadline = shared::http::deadline::REQUEST_DEADLINE;
    let http_functions: Vec<String> = support::function_routers()
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    let mut checked = Vec::new();
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str();
        let Some(binary) = binary.filter(|b| http_functions.iter().any(|f| f == b)) else {
            continue;
        };
        let id = id.as_str().unwrap();
        let timeout = function_timeout(TEMPLATE, id).unwrap();
        assert!(timeout > deadline, "{binary}: Timeout {timeout:?}");
        checked.push(binary);
    }
    assert_eq!(checked.len(), http_functions.len(), "{checked:?}");
}

/// The WebSocket functions' `Timeout` leaves a second after a route's deadline and the time
/// `$connect` then keeps to forget a connection it recorded, so a slow route answers 503.
#[test]
fn every_websocket_function_outlasts_its_route_deadline() {
    use shared::realtime::{FORGET_WITHIN, ROUTE_DEADLINE};
    for id in [
        "WsConnectFunction",
        "WsDefaultFunction",
        "WsDisconnectFunction",
    ] {
        let timeout = function_timeout(TEMPLATE, id).unwrap();
        assert!(
            timeout > ROUTE_DEADLINE + FORGET_WITHIN,
            "{id}: Timeout {timeout:?}"
        );
    }
}

/// The stream function's `Timeout`, which the local server gives its batches too, leaves time for
/// one record's slowest delivery, each SDK call taking its whole timeout one after another: the
/// owner and connections read (in parallel), closing an ended session's connection and forgetting
/// it, posting and forgetting a gone one; and the margin the function keeps to answer Lambda.
/// Past that the batch reports what is left instead of timing out.
#[test]
fn the_stream_function_outlasts_one_records_slowest_delivery() {
    let timeout =
        function_timeout(TEMPLATE, "TaskStreamFunction").expect("TaskStreamFunction's Timeout");
    let slowest = shared::retry::SDK_CALL_TIMEOUT * 5 + shared::realtime::DEADLINE_MARGIN;
    assert!(
        timeout > slowest,
        "Timeout {timeout:?}, a record may take {slowest:?}"
    );
}

#[test]
fn every_seconds_parameter_stops_where_the_functions_do() {
    let template = template();
    let parameters = template["Parameters"].as_mapping().expect("Parameters");
    let mut checked = 0;
    for (name, parameter) in parameters {
        let name = name.as_str().unwrap();
        if parameter["Type"].as_str() != Some("Number") || !name.ends_with("Seconds") {
            continue;
        }
        assert_eq!(
            parameter["MaxValue"].as_i64(),
            Some(shared::config::MAX_SECONDS),
            "{name}: a larger value would deploy, then fail every cold start"
        );
        checked += 1;
    }
    assert_eq!(checked, 5);
}
