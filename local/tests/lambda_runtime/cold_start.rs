//! A cold start as it ships: `profile-get`'s arm64 bootstrap reads the signing key from the Secrets
//! Manager stand-in once per container (the current version alone, while it builds its DynamoDB
//! client) and never on a warm invocation, and the other versions once, when a token first names
//! one; its log lines carry the Lambda request id and the X-Ray trace id, and each
//! invocation writes its metrics line. Also measures what the key read adds to a cold start:
//! time from process start to the first request for an event, with the key in the environment
//! (how taskmaster-local and tests configure it) and from Secrets Manager. And where that read
//! happens (`shared::cold_start`): beside the first poll on an on-demand cold start, before it
//! when Lambda initialises ahead of any invocation; a read that fails is a JSON 503, and the next
//! invocation reads again.

use std::time::{Duration, Instant};

use serde_json::Value;
use shared::auth::JwtKeys;
use shared::config::AuthConfig;
use testkit::secrets_manager::SecretsManager;

use super::api::{Invocation, Outcome, RuntimeApi};
use super::fixtures::{SECRET, Seeded, Tables, event, seed};
use super::process::{ANSWER_WITHIN, Function, api_response, lambda_env};

const FUNCTION: &str = "profile-get";

fn invocation(request_id: &str, event: &str) -> Invocation {
    Invocation {
        request_id: request_id.to_owned(),
        function_name: FUNCTION.to_owned(),
        event: event.to_owned(),
    }
}

/// How long a test waits to see that something does not happen.
const QUIET: Duration = Duration::from_millis(500);

/// Lambda's environment for [`FUNCTION`] with its key from `secrets`, or in the environment.
fn env_with_key(
    api: &RuntimeApi,
    tables: &Tables,
    secrets: Option<&SecretsManager>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = lambda_env(FUNCTION, api, &tables.config)
        .into_iter()
        .filter(|(name, _)| {
            !name.starts_with("TASKMASTER_JWT_SECRET")
                && name != "TASKMASTER_SECRETSMANAGER_ENDPOINT"
        })
        .collect();
    match secrets {
        Some(secrets) => {
            env.push((
                "TASKMASTER_JWT_SECRET_ARN".to_owned(),
                testkit::secrets_manager::SECRET_ARN.to_owned(),
            ));
            env.push((
                "TASKMASTER_SECRETSMANAGER_ENDPOINT".to_owned(),
                secrets.endpoint(),
            ));
        }
        None => env.push(("TASKMASTER_JWT_SECRET".to_owned(), SECRET.to_owned())),
    }
    env
}

/// One container of [`FUNCTION`], its key from `secrets`, handed `event` once per request id:
/// each answer is that request's, with status 200. The process, to read its output.
async fn answers_each(
    tables: &Tables,
    event: &str,
    secrets: &SecretsManager,
    request_ids: [&str; 2],
) -> Function {
    let invocations = request_ids.map(|id| invocation(id, event)).to_vec();
    let mut api = RuntimeApi::start(invocations).await;
    let mut process = Function::start(FUNCTION, env_with_key(&api, tables, Some(secrets)));
    for request_id in request_ids {
        match process.outcome(&mut api).await {
            Outcome::Response {
                request_id: id,
                body,
            } => {
                assert_eq!(id, request_id);
                assert_eq!(api_response(FUNCTION, &body).status, 200, "{request_id}");
            }
            other => panic!("{other:?}; output:\n{}", process.output()),
        }
    }
    process
}

/// Tables named `prefix`, seeded; the function's event for them; and a Secrets Manager holding
/// the current key alone.
async fn seeded_with_current_key(prefix: &str) -> (Tables, String, SecretsManager) {
    let tables = Tables::create(prefix).await;
    let seeded = seed(&tables.state).await;
    let event = event(FUNCTION, &seeded);
    (
        tables,
        event,
        SecretsManager::start(&[("AWSCURRENT", SECRET)]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_read_once_per_container_and_every_invocation_is_measured_and_traced() {
    let (tables, event, secrets) = seeded_with_current_key("cold-start").await;
    let process = answers_each(&tables, &event, &secrets, ["req-cold", "req-warm"]).await;
    assert_eq!(
        secrets.calls(),
        1,
        "AWSCURRENT at cold start, then none (the event's token names the current key)"
    );

    let output = process.output();
    let lines: Vec<Value> = output
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let metrics: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert_eq!(
        metrics.len(),
        2,
        "one metrics line per invocation; output:\n{output}"
    );
    assert_eq!(
        (
            metrics[0]["ColdStart"].clone(),
            metrics[1]["ColdStart"].clone()
        ),
        (1.into(), 0.into())
    );
    assert_eq!(metrics[0]["Function"], FUNCTION);
    assert_eq!(metrics[1]["requestId"], "req-warm");
    assert!(
        metrics[1]["xrayTraceId"]
            .as_str()
            .is_some_and(|t| t.starts_with("Root="))
    );
    let served: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "served")
        .collect();
    assert_eq!(served.len(), 2, "output:\n{output}");
    for line in served {
        let invoke = line["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "Lambda runtime invoke")
            .unwrap();
        assert!(
            invoke["requestId"]
                .as_str()
                .is_some_and(|id| id.starts_with("req-")),
            "{line}"
        );
        assert!(
            invoke["xrayTraceId"]
                .as_str()
                .is_some_and(|t| t.starts_with("Root=")),
            "{line}"
        );
    }
    assert!(!output.contains(SECRET), "the key is never logged");
}

/// (time to the first `next` poll, time to the first answer), in ms: the cold start up to the
/// handler, and with the first invocation (whose DynamoDB call sets up the HTTPS client when the
/// key was not read through one).
async fn cold_start(
    tables: &Tables,
    event: &str,
    secrets: Option<&SecretsManager>,
) -> (u128, u128) {
    let mut api = RuntimeApi::start(vec![invocation("req-timed", event)]).await;
    let env = env_with_key(&api, tables, secrets);
    let started = Instant::now();
    let mut process = Function::start(FUNCTION, env);
    assert!(
        api.wait_for_next_polls(1, ANSWER_WITHIN).await,
        "not ready; output:\n{}",
        process.output()
    );
    let ready = started.elapsed().as_millis();
    match process.outcome(&mut api).await {
        Outcome::Response { body, .. } => assert_eq!(api_response(FUNCTION, &body).status, 200),
        other => panic!("{other:?}; output:\n{}", process.output()),
    }
    (ready, started.elapsed().as_millis())
}

fn median(mut runs: Vec<u128>) -> u128 {
    runs.sort_unstable();
    runs[runs.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_reading_the_key_adds_to_a_cold_start() {
    let (tables, event, secrets) = seeded_with_current_key("cold-start-cost").await;
    let (mut from_env, mut from_secrets) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        from_env.push(cold_start(&tables, &event, None).await);
        from_secrets.push(cold_start(&tables, &event, Some(&secrets)).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (how, runs) in [
        ("key in the environment", &from_env),
        ("key from Secrets Manager", &from_secrets),
    ] {
        eprintln!(
            "{how}: {runs:?} (ms to first poll, ms to first answer); medians {} and {}",
            median(runs.iter().map(|r| r.0).collect()),
            median(runs.iter().map(|r| r.1).collect()),
        );
    }
    assert_eq!(secrets.calls(), 5, "one read per cold start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_the_previous_key_makes_the_container_read_the_other_versions_once() {
    let tables = Tables::create("cold-start-previous").await;
    let seeded = seed(&tables.state).await;
    // A token signed before the last rotation, by the key that is now AWSPREVIOUS.
    let previous = "lambda-runtime-previous-key-of-at-least-32-bytes";
    let pair = JwtKeys::new(&AuthConfig::with_secret(previous))
        .issue_pair(
            seeded.user_id,
            seeded.session.epoch,
            shared::domain::SessionId::random(),
        )
        .expect("a token pair");
    let event = event(
        FUNCTION,
        &Seeded {
            access: pair.access,
            ..seeded
        },
    );
    let secrets = SecretsManager::start(&[("AWSCURRENT", SECRET), ("AWSPREVIOUS", previous)]);
    answers_each(&tables, &event, &secrets, ["req-first", "req-again"]).await;
    assert_eq!(
        secrets.calls(),
        4,
        "AWSCURRENT at cold start, then the three labels once, for the first token of another key"
    );
}

/// `profile-get` started as Lambda would with `initialization`, its key read held back until
/// the Secrets Manager stand-in has it in hand.
async fn started_while_the_key_is_held(
    prefix: &str,
    initialization: &str,
) -> (RuntimeApi, Function, SecretsManager, Tables) {
    let (tables, event, secrets) = seeded_with_current_key(prefix).await;
    secrets.hold();
    let api = RuntimeApi::start(vec![invocation("req-first", &event)]).await;
    let mut env = env_with_key(&api, &tables, Some(&secrets));
    env.retain(|(name, _)| name != "AWS_LAMBDA_INITIALIZATION_TYPE");
    env.push((
        "AWS_LAMBDA_INITIALIZATION_TYPE".to_owned(),
        initialization.to_owned(),
    ));
    let process = Function::start(FUNCTION, env);
    let deadline = Instant::now() + ANSWER_WITHIN;
    while secrets.calls() == 0 {
        assert!(
            Instant::now() < deadline,
            "no key read; output:\n{}",
            process.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (api, process, secrets, tables)
}

async fn answers_200(api: &mut RuntimeApi, process: &mut Function) {
    match process.outcome(api).await {
        Outcome::Response { body, .. } => assert_eq!(api_response(FUNCTION, &body).status, 200),
        other => panic!("{other:?}; output:\n{}", process.output()),
    }
}

/// Once the key read is let through, the invocation is answered; the key was read once.
async fn released_it_answers(
    api: &mut RuntimeApi,
    process: &mut Function,
    secrets: &SecretsManager,
) {
    secrets.release();
    answers_200(api, process).await;
    assert_eq!(secrets.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_the_runtime_polls_while_the_key_is_read_and_the_invocation_waits_for_it() {
    let (mut api, mut process, secrets, _tables) =
        started_while_the_key_is_held("cold-start-on-demand", "on-demand").await;
    assert!(
        api.wait_for_next_polls(1, ANSWER_WITHIN).await,
        "polled while the key read is in flight; output:\n{}",
        process.output()
    );
    assert!(
        api.outcome(QUIET).await.is_none(),
        "the invocation waits for the key"
    );
    released_it_answers(&mut api, &mut process, &secrets).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ahead_of_invocations_the_key_is_read_before_the_first_poll() {
    let (mut api, mut process, secrets, _tables) =
        started_while_the_key_is_held("cold-start-provisioned", "provisioned-concurrency").await;
    assert!(
        !api.wait_for_next_polls(1, QUIET).await,
        "no poll before the key is read: a container frozen at its poll would freeze the read"
    );
    released_it_answers(&mut api, &mut process, &secrets).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_cannot_be_read_is_a_json_503_and_the_next_invocation_reads_it_again() {
    let (tables, event, secrets) = seeded_with_current_key("cold-start-no-key").await;
    secrets.set_stages(&[]);
    let invocations = ["req-no-key", "req-key"].map(|id| invocation(id, &event));
    let mut api = RuntimeApi::start(invocations.to_vec()).await;
    let mut process = Function::start(FUNCTION, env_with_key(&api, &tables, Some(&secrets)));
    let Outcome::Response { request_id, body } = process.outcome(&mut api).await else {
        panic!("an answer, not an error; output:\n{}", process.output())
    };
    assert_eq!(request_id, "req-no-key");
    let raw: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(raw["headers"]["retry-after"], "1", "{raw}");
    let answer = api_response(FUNCTION, &body);
    assert_eq!(answer.status, 503);
    assert!(answer.body["detail"].is_string(), "{:?}", answer.body);

    secrets.set_stages(&[("AWSCURRENT", SECRET)]);
    answers_200(&mut api, &mut process).await;
    assert_eq!(secrets.calls(), 2, "read again by the next invocation");
    let output = process.output();
    assert!(output.contains("could not be built"), "{output}");
    let counted = output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .any(|line| line["requestId"] == "req-no-key" && line["Errors5xx"] == 1);
    assert!(counted, "the 503 is counted as any 5xx; output:\n{output}");
}
