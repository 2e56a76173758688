//! DynamoDB failures mapped to store errors, in one place: conditions, cancelled transactions,
//! throttling and conflicts. The adapters then decide what a failed condition means.

use aws_sdk_dynamodb::config::interceptors::InterceptorContext;
use aws_sdk_dynamodb::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

use crate::store::StoreError;

/// Why a write did not happen.
#[derive(Debug)]
pub(super) enum Failure {
    /// A single write's condition failed; `existed` tells whether the item was there at all.
    Condition { existed: bool },
    /// A transaction was cancelled by a condition; per item, in request order: whether its
    /// condition failed, and whether the item existed (with `ALL_OLD` on failure).
    Cancelled(Vec<Reason>),
    /// Anything else, already mapped.
    Store(StoreError),
}

#[derive(Clone, PartialEq)]
pub(super) struct Reason {
    pub failed: bool,
    pub existed: bool,
    /// The item as it was, when its condition failed (`ALL_OLD`).
    pub item: Option<super::Item>,
}

/// Without the item's attributes: a user item holds its password hash, and a failure's `Debug`
/// may end up in a log (the fallback of `From<Failure>` below).
impl std::fmt::Debug for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reason")
            .field("failed", &self.failed)
            .field("existed", &self.existed)
            .field("item", &self.item.as_ref().map(|_| "<held>"))
            .finish()
    }
}

impl Failure {
    /// Whether the condition of item `index` of a cancelled transaction failed.
    pub fn failed_at(&self, index: usize) -> bool {
        matches!(self, Self::Cancelled(reasons) if reasons.get(index).is_some_and(|r| r.failed))
    }

    /// Item `index` as it was when its condition failed, if it existed.
    pub fn item_at(&self, index: usize) -> Option<&super::Item> {
        match self {
            Self::Cancelled(reasons) => reasons.get(index)?.item.as_ref(),
            _ => None,
        }
    }

    /// Whether item `index` existed when its condition failed.
    pub fn existed_at(&self, index: usize) -> bool {
        matches!(self, Self::Cancelled(reasons) if reasons.get(index).is_some_and(|r| r.existed))
    }
}

impl From<Failure> for StoreError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Store(error) => error,
            other => {
                StoreError::Unexpected(anyhow::anyhow!("unhandled condition failure: {other:?}"))
            }
        }
    }
}

const THROTTLING: [&str; 4] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ThrottlingError",
];

/// The cancellation reasons of a transaction that mean throttling (they differ from the error
/// codes above: no `Exception` suffix).
const THROTTLED_REASONS: [&str; 3] = [
    "ProvisionedThroughputExceeded",
    "ThrottlingError",
    "RequestLimitExceeded",
];

/// A write that would grow an item collection (one partition key's items, in a table with local
/// secondary indexes: a user's tasks) past 10 GB; as a transaction's cancellation reason, without
/// the suffix.
const COLLECTION_FULL: &str = "ItemCollectionSizeLimitExceededException";

/// A transaction with the same client request token is still being applied.
const IN_PROGRESS: &str = "TransactionInProgressException";

/// A write that collided with a transaction on the same item: transient, though the SDK's own
/// classifier does not retry it.
const CONFLICT: &str = "TransactionConflictException";

/// Maps what every operation can fail with: throttling, conflicts, the rest.
pub(super) fn store_error<E>(
    error: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    what: &'static str,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if matches!(
        error,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    ) {
        // No connection, or no answer in time, after the SDK's retries: the client may retry.
        return StoreError::Unavailable;
    }
    // DynamoDB failing on its side (a 5xx: `InternalServerError`, `ServiceUnavailable`) still
    // after the SDK's sends: transient, so the client may retry too.
    let server_side = error
        .raw_response()
        .is_some_and(|response| response.status().is_server_error());
    match error.code() {
        Some(code) if THROTTLING.contains(&code) => StoreError::Throttled,
        Some(CONFLICT) => StoreError::Conflict,
        Some(COLLECTION_FULL) => StoreError::Full,
        // Still so after the SDK's sends: the outcome is not known yet, and a retry will tell.
        Some(IN_PROGRESS) => StoreError::Unavailable,
        _ if server_side => {
            tracing::warn!(error = %DisplayErrorContext(&error), "{what}: DynamoDB failed on its side");
            StoreError::Unavailable
        }
        _ => StoreError::Unexpected(anyhow::Error::new(error).context(what)),
    }
}

/// Single writes (put, update, delete) that carry a condition.
pub(super) trait ConditionalError:
    ProvideErrorMetadata + std::error::Error + Send + Sync + Sized + 'static
{
    /// `Some(existed)` when the error is a failed condition.
    fn failed_condition(&self) -> Option<bool>;

    fn classify(
        error: SdkError<Self, aws_sdk_dynamodb::config::http::HttpResponse>,
        what: &'static str,
    ) -> Failure {
        match error.as_service_error().and_then(Self::failed_condition) {
            Some(existed) => Failure::Condition { existed },
            None => Failure::Store(store_error(error, what)),
        }
    }
}

macro_rules! conditional {
    ($($error:ty),*) => {$(
        impl ConditionalError for $error {
            fn failed_condition(&self) -> Option<bool> {
                match self {
                    Self::ConditionalCheckFailedException(e) => Some(e.item().is_some_and(|item| !item.is_empty())),
                    _ => None,
                }
            }
        }
    )*};
}
conditional!(PutItemError, UpdateItemError, DeleteItemError);

/// The cancellation reason codes of a cancelled transaction, per item (`"None"` where an item
/// was not the cause); `None` for any other failure.
fn cancellation_codes(error: &TransactWriteItemsError) -> Option<Vec<&str>> {
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = error else {
        return None;
    };
    Some(
        cancelled
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().unwrap_or("None"))
            .collect(),
    )
}

/// Tells the SDK's retry strategy which cancelled transactions are worth sending again as they
/// are (see [`crate::retry`]): one cancelled only by a conflict with another transaction
/// (transient), or by throttling on an item. One cancelled by a failed condition is final. A
/// single write (put, update, delete) refused because a transaction held its item is sent again
/// too: every task write holds its user's item in a transaction, so without this a session
/// revocation racing a task write failed at its first try.
#[derive(Debug)]
pub(super) struct RetryCancelledTransactions;

impl ClassifyRetry for RetryCancelledTransactions {
    fn classify_retry(&self, context: &InterceptorContext) -> RetryAction {
        let Some(Err(error)) = context.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let operation = error.as_operation_error();
        let single_write_code = operation.and_then(|e| {
            e.downcast_ref::<UpdateItemError>()
                .and_then(ProvideErrorMetadata::code)
                .or_else(|| e.downcast_ref::<PutItemError>()?.code())
                .or_else(|| e.downcast_ref::<DeleteItemError>()?.code())
        });
        if single_write_code == Some(CONFLICT) {
            return RetryAction::transient_error();
        }
        let transaction = operation.and_then(|e| e.downcast_ref::<TransactWriteItemsError>());
        // A send of this very transaction (the same client request token) still being applied:
        // an earlier send that timed out on our side. Sent again, it answers that send's outcome.
        if transaction.and_then(ProvideErrorMetadata::code) == Some(IN_PROGRESS) {
            return RetryAction::transient_error();
        }
        let codes = transaction.and_then(cancellation_codes).unwrap_or_default();
        if codes.contains(&"ConditionalCheckFailed") {
            RetryAction::NoActionIndicated
        } else if codes.iter().any(|code| THROTTLED_REASONS.contains(code)) {
            RetryAction::throttling_error()
        } else if codes.contains(&"TransactionConflict") {
            RetryAction::transient_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "RetryCancelledTransactions"
    }
}

/// Classifies a `TransactWriteItems` failure, after the SDK's retries.
pub(super) fn transaction_failure(
    error: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> Failure {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        error.as_service_error()
    else {
        return Failure::Store(store_error(error, "writing transaction"));
    };
    let codes = error
        .as_service_error()
        .and_then(cancellation_codes)
        .unwrap_or_default();
    if codes.iter().any(|code| THROTTLED_REASONS.contains(code)) {
        return Failure::Store(StoreError::Throttled);
    }
    if codes.contains(&"ConditionalCheckFailed") {
        return Failure::Cancelled(
            cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| Reason {
                    failed: r.code() == Some("ConditionalCheckFailed"),
                    existed: r.item().is_some_and(|item| !item.is_empty()),
                    item: r.item().filter(|item| !item.is_empty()).cloned(),
                })
                .collect(),
        );
    }
    if codes.contains(&"TransactionConflict") {
        return Failure::Store(StoreError::Conflict);
    }
    if codes.contains(&"ItemCollectionSizeLimitExceeded") {
        return Failure::Store(StoreError::Full);
    }
    Failure::Store(StoreError::Unexpected(anyhow::anyhow!(
        "transaction cancelled: {codes:?}"
    )))
}
