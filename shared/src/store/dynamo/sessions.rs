//! The session check of task calls: the caller's session against the owner's user item (its
//! epoch, and the login sessions it ended), inside a transaction (a `ConditionCheck`) or on a user
//! item already read.

use aws_sdk_dynamodb::types::{
    ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::{DynamoStore, Item, n, s};
use crate::domain::{Session, UserId};
use crate::store::{Missing, StoreError};

/// The user item's attribute holding the login sessions it ended ([`crate::domain::EndedSessions`]).
pub(super) const ENDED: &str = "ended_sessions";

impl DynamoStore {
    /// A transaction's check that `owner`'s user item exists and still honours `session`: its
    /// epoch and its login session. On failure the user item comes back, which tells a revoked
    /// session from a missing user.
    pub(super) fn session_check(
        &self,
        owner: UserId,
        session: Session,
    ) -> anyhow::Result<TransactWriteItem> {
        self.user_check(
            owner,
            "attribute_exists(pk) AND session_epoch <= :epoch",
            session,
        )
    }

    /// A transaction's check of `owner`'s user item: `epoch_condition` (on `:epoch`, the
    /// session's epoch), and, for a session with an id, that the user has not ended it.
    pub(super) fn user_check(
        &self,
        owner: UserId,
        epoch_condition: &str,
        session: Session,
    ) -> anyhow::Result<TransactWriteItem> {
        let mut check = ConditionCheck::builder()
            .table_name(&self.users)
            .key("pk", s(format!("USER#{owner}")))
            .expression_attribute_values(":epoch", n(session.epoch))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        check = match session.sid {
            Some(sid) => check
                .condition_expression(format!(
                    "{epoch_condition} AND attribute_not_exists(#ended.#sid)"
                ))
                .expression_attribute_names("#ended", ENDED)
                .expression_attribute_names("#sid", sid.to_string()),
            None => check.condition_expression(epoch_condition),
        };
        Ok(TransactWriteItem::builder()
            .condition_check(check.build()?)
            .build())
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

/// Refuses a user item (read with its `session_epoch` and `ended_sessions`) that no longer
/// honours `session`: its epoch is past the session's (or unreadable), or it ended the session's
/// login session.
pub(super) fn check_session(user: &Item, session: Session) -> Result<(), StoreError> {
    let current = user
        .get("session_epoch")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    let ended = session.sid.is_some_and(|sid| {
        user.get(ENDED)
            .and_then(|v| v.as_m().ok())
            .is_some_and(|ended| ended.contains_key(&sid.to_string()))
    });
    if current > session.epoch || ended {
        return Err(StoreError::Missing(Missing::Session));
    }
    Ok(())
}
