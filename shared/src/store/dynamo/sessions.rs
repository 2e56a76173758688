//! The session check of task calls: the caller's session epoch against the owner's user item,
//! inside a transaction (a `ConditionCheck`) or on a user item already read.

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{DynamoStore, Item, n, s, tx};
use crate::domain::UserId;
use crate::store::{Missing, StoreError};

impl DynamoStore {
    /// A transaction's check that `owner`'s user item exists and still honours sessions of
    /// `epoch` (a user written before epochs existed has none: epoch 0). On failure the user
    /// item comes back, which tells a revoked session from a missing user.
    pub(super) fn session_check(
        &self,
        owner: UserId,
        epoch: u64,
    ) -> anyhow::Result<TransactWriteItem> {
        tx::check(
            &self.users,
            Item::from([("pk".to_owned(), s(format!("USER#{owner}")))]),
            "attribute_exists(pk) AND (attribute_not_exists(session_epoch) OR session_epoch <= :epoch)",
            vec![(":epoch", n(epoch))],
            vec![],
        )
    }
}

/// A failed session check: the user is gone, or the caller's session was revoked.
pub(super) fn no_session(existed: bool) -> StoreError {
    if existed {
        StoreError::Missing(Missing::Session)
    } else {
        StoreError::Missing(Missing::User)
    }
}

/// Refuses a user item (read with its `session_epoch`) whose epoch is past `epoch`; a user
/// written before epochs existed has none: epoch 0.
pub(super) fn check_epoch(user: &Item, epoch: u64) -> Result<(), StoreError> {
    let current = user
        .get("session_epoch")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if current > epoch {
        return Err(StoreError::Missing(Missing::Session));
    }
    Ok(())
}
