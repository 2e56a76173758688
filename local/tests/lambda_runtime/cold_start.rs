//! A cold start as it ships: `profile-get`'s arm64 bootstrap reads the signing key from the Secrets
//! Manager stand-in once per container (the current version alone, while it builds its DynamoDB
//! client) and never on a warm invocation, and the other versions once, when a token first names
//! one; its log lines carry the Lambda request id and the X-Ray trace id, and each
//! invocation writes its metrics line; and the read ends before the first poll. What the read
//! costs a cold start is measured by `bench/cold-start` (docs/COLD_STARTS.md), not here.

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

/// Lambda's environment for [`FUNCTION`] with its key from `secrets`, as on AWS.
fn env_with_key(
    api: &RuntimeApi,
    tables: &Tables,
    secrets: &SecretsManager,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = lambda_env(FUNCTION, api, &tables.config)
        .into_iter()
        .filter(|(name, _)| {
            !name.starts_with("TASKMASTER_JWT_SECRET")
                && name != "TASKMASTER_SECRETSMANAGER_ENDPOINT"
        })
        .collect();
    env.push((
        "TASKMASTER_JWT_SECRET_ARN".to_owned(),
        testkit::secrets_manager::SECRET_ARN.to_owned(),
    ));
    env.push((
        "TASKMASTER_SECRETSMANAGER_ENDPOINT".to_owned(),
        secrets.endpoint(),
    ));
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
    let mut process = Function::start(FUNCTION, env_with_key(&api, tables, secrets));
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
            None,
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

/// The key is read before the first poll, however Lambda initialises the container: an on-demand
/// cold start runs its init with a full vCPU, and a container initialised ahead of any invocation
/// is frozen at its poll (docs/COLD_STARTS.md, "Tried and not kept: the build beside the first
/// poll"). With the key read held back, no poll comes; once it is let through, the event is
/// answered and the key was read once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_read_before_the_first_poll() {
    for initialization in ["on-demand", "provisioned-concurrency"] {
        let (tables, event, secrets) =
            seeded_with_current_key(&format!("cold-start-poll-{initialization}")).await;
        secrets.hold();
        let mut api = RuntimeApi::start(vec![invocation("req-first", &event)]).await;
        let mut env = env_with_key(&api, &tables, &secrets);
        env.retain(|(name, _)| name != "AWS_LAMBDA_INITIALIZATION_TYPE");
        env.push((
            "AWS_LAMBDA_INITIALIZATION_TYPE".to_owned(),
            initialization.to_owned(),
        ));
        let mut process = Function::start(FUNCTION, env);
        let deadline = Instant::now() + ANSWER_WITHIN;
        while secrets.calls() == 0 {
            assert!(
                Instant::now() < deadline,
                "no key read; output:\n{}",
                process.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            !api.wait_for_next_polls(1, QUIET).await,
            "{initialization}: polled before the key read ended"
        );
        secrets.release();
        match process.outcome(&mut api).await {
            Outcome::Response { body, .. } => {
                assert_eq!(api_response(FUNCTION, &body).status, 200);
            }
            other => panic!("{other:?}; output:\n{}", process.output()),
        }
        assert_eq!(secrets.calls(), 1, "{initialization}");
    }
}
