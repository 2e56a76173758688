//! The HTTP API functions: each answers its API Gateway HTTP API event, and what it writes lands
//! in DynamoDB; a malformed event is an invocation error; a missing secret fails the cold start.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::AppState;
use shared::domain::TaskStatus;
use shared::service::tasks::PageRequest;
use shared::store::DynamoConfig;
use testkit::events::{EXPECTED_ANSWERS, check_answer, expected_answer};

use super::api::{Invocation, Outcome, RuntimeApi};
use super::fixtures::{NEW_EMAIL, NEW_USERNAME, PASSWORD, Seeded, Tables, USERNAME, event, seed};
use super::process::{
    ANSWER_WITHIN, Function, Invoked, api_response, function_binaries, invoke, lambda_env,
    repo_root,
};

/// The HTTP API functions, each with its event `events/<name>.json`: the endpoint table's, and
/// `fallback` (the WebSocket and stream functions take other kinds of events and are not run here).
pub(super) fn http_functions() -> Vec<&'static str> {
    shared::http::ENDPOINTS
        .iter()
        .map(|endpoint| endpoint.function)
        .chain(["fallback"])
        .collect()
}

/// Checks, through the services on the same tables, that the function's write really landed in
/// DynamoDB (for the functions that write something a later read can see).
async fn check_stored(function: &str, state: &AppState, seeded: &Seeded) {
    match function {
        "register" => {
            let (user, _) = state
                .accounts
                .login(NEW_USERNAME, PASSWORD, None)
                .await
                .expect("register: the new user can log in");
            assert_eq!(user.email.to_string(), NEW_EMAIL);
        }
        "profile-update" => {
            let user = state
                .accounts
                .profile(seeded.session)
                .await
                .expect("profile");
            assert_eq!(user.first_name.to_string(), "Augusta");
        }
        "password-update" => {
            state
                .accounts
                .login(USERNAME, "new-horse-battery-staple", None)
                .await
                .expect("password-update: the new password works");
            assert!(
                state
                    .accounts
                    .login(USERNAME, PASSWORD, None)
                    .await
                    .is_err(),
                "password-update: the old password no longer works"
            );
        }
        "logout" => assert!(
            state.accounts.refresh(&seeded.refresh).await.is_err(),
            "logout: the refresh token is revoked"
        ),
        "logout-all" => assert!(
            state.accounts.verify_token(&seeded.access).await.is_err(),
            "logout-all: the access token is revoked"
        ),
        "task-create" => {
            let page = PageRequest {
                status: None,
                page_size: 10,
                cursor: None,
            };
            let list = state
                .tasks
                .list(seeded.session, page)
                .await
                .expect("listing tasks");
            assert_eq!(
                list.count, 2,
                "task-create: the seeded task and the new one"
            );
        }
        "task-update" => {
            let task = state
                .tasks
                .get(seeded.session, &seeded.task_id)
                .await
                .expect("task");
            assert_eq!(task.status, TaskStatus::Done);
        }
        "task-delete" => assert!(
            state
                .tasks
                .get(seeded.session, &seeded.task_id)
                .await
                .is_err(),
            "task-delete: the task is gone"
        ),
        _ => {}
    }
}

/// Runs `function`'s arm64 bootstrap on its event and checks the answer and what it stored.
async fn run(function: &str) {
    let tables = Tables::create(function).await;
    let seeded = seed(&tables.state).await;
    let Invoked {
        raw,
        mut process,
        api,
    } = invoke(function, event(function, &seeded), &tables.config, &[]).await;
    let response = api_response(function, &raw);
    let output = process.output();
    if let Err(why) = check_answer(function, NEW_USERNAME, response.status, &response.body) {
        panic!("{why}; {response:?}; output:\n{output}");
    }
    if !response.body.is_null() {
        assert_eq!(
            response.content_type.as_deref(),
            Some("application/json"),
            "{function}: JSON response"
        );
    }

    // The runtime survived the invocation and asks for the next event, as on Lambda.
    assert!(
        api.wait_for_next_polls(2, Duration::from_secs(10)).await,
        "{function}: did not ask for the next event after answering; output:\n{}",
        process.output()
    );
    assert!(
        process.exited().is_none(),
        "{function}: exited after answering"
    );
    check_stored(function, &tables.state, &seeded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bootstrap_answers_its_event_under_the_runtime_api() {
    let rows = http_functions()
        .into_iter()
        .filter(|f| expected_answer(f, NEW_USERNAME).is_some())
        .count();
    assert_eq!(
        rows, EXPECTED_ANSWERS,
        "a row of expected_answer() names no function: renamed?"
    );
    let started = Instant::now();
    for function in http_functions() {
        let one = Instant::now();
        run(function).await;
        eprintln!("{function}: ok ({:?})", one.elapsed());
    }
    eprintln!(
        "{} arm64 bootstraps answered their events in {:?}",
        http_functions().len(),
        started.elapsed()
    );
}

/// Every function binary whose event in `events/` is an API Gateway HTTP API event is run above.
#[test]
fn every_http_api_function_is_covered() {
    let root = repo_root();
    let mut http_api = Vec::new();
    for name in function_binaries() {
        let path = root.join("events").join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "functions/src/bin/{name}.rs has no event {}: {e}",
                path.display()
            )
        });
        let event: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        if event["version"] == json!("2.0") && event["requestContext"]["http"].is_object() {
            http_api.push(name);
        }
    }
    http_api.sort();
    let mut covered: Vec<String> = http_functions().iter().map(|f| (*f).to_owned()).collect();
    covered.sort();
    assert_eq!(
        http_api, covered,
        "the HTTP API functions under functions/ and the ones this test runs differ"
    );
}

/// An event that is not an API Gateway event is reported to the Runtime API's error endpoint, and
/// the same process then answers the next (valid) event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_event_is_reported_as_an_invocation_error_and_the_function_carries_on() {
    let function = "token-verify";
    let tables = Tables::create("malformed").await;
    let seeded = seed(&tables.state).await;
    let mut api = RuntimeApi::start(vec![
        Invocation {
            request_id: "bad-event-1".to_owned(),
            function_name: function.to_owned(),
            event: r#"{"not": "an API Gateway event"}"#.to_owned(),
        },
        Invocation {
            request_id: "good-event-2".to_owned(),
            function_name: function.to_owned(),
            event: event(function, &seeded),
        },
    ])
    .await;
    let mut process = Function::start(function, lambda_env(function, &api, &tables.config));

    match process.outcome(&mut api).await {
        Outcome::Error {
            request_id, body, ..
        } => {
            assert_eq!(request_id, "bad-event-1");
            let error: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {body}"));
            assert!(
                error["errorType"].is_string() && error["errorMessage"].is_string(),
                "Lambda's error shape: {error}"
            );
        }
        other => panic!(
            "expected an invocation error, got {other:?}; output:\n{}",
            process.output()
        ),
    }
    match process.outcome(&mut api).await {
        Outcome::Response { request_id, body } => {
            assert_eq!(request_id, "good-event-2");
            let response = api_response(function, &body);
            assert_eq!(response.status, 200, "{response:?}");
        }
        other => panic!(
            "expected a response, got {other:?}; output:\n{}",
            process.output()
        ),
    }
}

/// A function whose configuration is incomplete (no JWT secret) fails its cold start: the process
/// exits with an error before asking for any event (Lambda reports `Runtime.ExitError`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_without_the_secret_exits_with_an_error() {
    let function = "profile-get";
    let config = DynamoConfig {
        users_table: "unused-users".to_owned(),
        tasks_table: "unused-tasks".to_owned(),
        connections_table: "unused-connections".to_owned(),
        endpoint: Some("http://127.0.0.1:9".to_owned()),
        emulator_key: None,
    };
    let mut api = RuntimeApi::start(Vec::new()).await;
    let env = lambda_env(function, &api, &config)
        .into_iter()
        .filter(|(name, _)| !name.starts_with("TASKMASTER_JWT_SECRET"))
        .collect();
    let mut process = Function::start(function, env);
    let status = process.wait_exit(ANSWER_WITHIN).await;
    assert!(!status.success(), "{function}: exit status {status}");
    assert!(
        process.output().contains("TASKMASTER_JWT_SECRET_ARN"),
        "{function}: names what is missing; output:\n{}",
        process.output()
    );
    assert_eq!(api.next_polls(), 0, "{function}: never asked for an event");
    assert!(
        api.outcome(Duration::from_millis(100)).await.is_none(),
        "{function}: posted nothing"
    );
}
