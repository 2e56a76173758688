//! The one retry policy: what is tried again, by whom, and how many requests one write can send.
//!
//! Two kinds of failure are worth another try, and each is retried in exactly one layer:
//!
//! - **Transient failures**, which the same request may well survive when sent again unchanged:
//!   throttling, 5xx answers, timeouts, and on DynamoDB a transaction cancelled only because
//!   another transaction held one of its items (`TransactionConflict`; a cancelled transaction
//!   wrote nothing), or a single write refused for the same reason
//!   (`TransactionConflictException`; nothing written either). The AWS SDK retries these,
//!   [`SDK_ATTEMPTS`] sends in all per call, with its standard exponential backoff and jitter and
//!   its retry quota (so a struggling table is not hammered). The SDK does not know either
//!   conflict is transient; the DynamoDB store adds a classifier that tells it (`store::dynamo`).
//! - **Lost races** of an optimistic write ([`crate::store::StoreError::Conflict`]): the item
//!   changed between the read and the conditional write. Sending the same write again cannot help;
//!   the service reads again and rebuilds it, [`WRITE_ATTEMPTS`] tries in all ([`optimistic`]),
//!   then answers 409. The one write a store retries itself, the DynamoDB store's session end for
//!   a replayed refresh token, goes through [`optimistic`] too, and ends in a 503 instead.
//!
//! So one service call sends at most [`MAX_SENDS_PER_WRITE`] write requests (`docs/DYNAMODB.md`);
//! a logout whose every try lost adds one more write, its token's revocation, before its 503.

use std::time::Duration;

use crate::error::Error;
use crate::store::StoreError;

/// Sends per SDK call, the first included (the SDK's standard mode default, made explicit).
pub const SDK_ATTEMPTS: u32 = 3;

/// Tries of one optimistic write (read, change, conditional write) before a 409: 8 clients
/// editing one item at once, with no `If-Match`, all get their 200 (the last write wins, as with
/// the original app; `shared/tests/api/concurrency.rs`). A try lost its race only because another
/// client's write landed between its read and its write, and the tries of one client do not
/// overlap, so each of the other 7 writes can beat it once at most. With 6 tries the unluckiest of
/// 8 was refused now and then (in 7 runs of 38 of 8 `PATCH`es at once, on DynamoDB Local behind a
/// logging proxy, 2026-12-05).
pub const WRITE_ATTEMPTS: u32 = 8;

/// The most write requests one service call can send.
pub const MAX_SENDS_PER_WRITE: u32 = SDK_ATTEMPTS * WRITE_ATTEMPTS;

/// The SDK's retry settings, for every AWS client here.
pub fn sdk_retry_config() -> aws_sdk_dynamodb::config::retry::RetryConfig {
    aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(SDK_ATTEMPTS)
}

/// How long one send may wait for its answer before it counts as a timeout (a transient failure,
/// sent again): DynamoDB answers in milliseconds, so this only ends a stalled connection.
pub const SDK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one SDK call may take, its sends and pauses together, before it fails as a timeout
/// (503 with `Retry-After`): well inside the Lambdas' 10-second timeout (`template.yaml`), whose
/// expiry API Gateway would answer with a 500, and inside a client's patience.
pub const SDK_CALL_TIMEOUT: Duration = Duration::from_secs(8);

/// The SDK's timeouts, for every AWS client here. Without them a store that accepts a connection
/// and then stops answering holds a request until the Lambda times out (the SDK sets only a
/// connect timeout by default).
pub fn sdk_timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
        .operation_timeout(SDK_CALL_TIMEOUT)
        .build()
}

/// Timeouts for work that no request waits on: a command-line run (`import-django`) and the local
/// host's stand-in for Lambda's stream event source, which on AWS is the service's own poller with
/// no deadline of ours. 5 s to connect, 60 s a send, 180 s a call: on a busy DynamoDB Local one
/// transaction of a hundred items, or a `GetRecords` over a stream that holds many thousands of
/// older records, can take longer than a request's whole budget, and a poller whose every read
/// times out would never move again.
pub fn patient_timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(60))
        .operation_timeout(Duration::from_secs(180))
        .build()
}

/// An error that says an optimistic write lost its race: the service's [`Error::Conflict`], or a
/// store's [`StoreError::Conflict`] where a store retries a write of its own.
pub trait LostRace {
    fn lost_race(&self) -> bool;
}

impl LostRace for Error {
    fn lost_race(&self) -> bool {
        matches!(self, Self::Conflict)
    }
}

impl LostRace for StoreError {
    fn lost_race(&self) -> bool {
        matches!(self, Self::Conflict)
    }
}

/// Runs one optimistic write, `attempt` reading what it changes and writing it conditionally,
/// until it does not lose a race ([`LostRace`]), at most [`WRITE_ATTEMPTS`] times, with a short
/// random pause before each retry so racing writers spread out. The last answer stands.
pub async fn optimistic<T, E: LostRace, F>(mut attempt: impl FnMut() -> F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(lost) if lost.lost_race() && tries < WRITE_ATTEMPTS => {
                tokio::time::sleep(pause(tries)).await;
                tries += 1;
            }
            answer => return answer,
        }
    }
}

/// Up to 5 ms after the first lost race, doubling after each: up to 80 ms after the fifth and
/// later ones.
fn pause(tries: u32) -> Duration {
    Duration::from_millis(rand::random_range(1..=5u64 << (tries - 1).min(4)))
}
