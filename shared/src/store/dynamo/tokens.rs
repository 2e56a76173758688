//! Refresh tokens, in the users table: single use, bound to the user's session epoch, and kept
//! (consumed) after rotation until they expire, so a reuse is seen and ends every session.

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use serde::{Deserialize, Serialize};

use super::error::{ConditionalError, Failure, store_error};
use super::users::{key, user_key};
use super::{DynamoStore, Item, from_item, n, s, to_item, tx};
use crate::domain::{Timestamp, User, UserId};
use crate::store::{Missing, RefreshToken, StoreError, TokenStore};

fn token_key(jti: &str) -> Item {
    key(format!("REFRESH#{jti}"))
}

/// A stored refresh token; `expires_at` is the table's TTL attribute. A rotated token stays,
/// `consumed`, until then, so its reuse can be told from a token never issued.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct TokenItem {
    user_id: UserId,
    epoch: u64,
    expires_at: i64,
    #[serde(default)]
    consumed: bool,
}

pub(super) fn token_item(token: &RefreshToken, epoch: u64) -> anyhow::Result<Item> {
    let mut item = to_item(&TokenItem {
        user_id: token.user_id,
        epoch,
        expires_at: token.expires_at.unix(),
        consumed: false,
    })?;
    item.extend(token_key(&token.jti));
    Ok(item)
}

impl DynamoStore {
    /// Raises `user`'s session epoch past `epoch` (and its version, so a write that read the user
    /// before loses its condition), unless it has already moved on. One that still collides with
    /// transactions after the SDK's sends is `Unavailable`: nothing was revoked, so the request
    /// must be retried, never answered as a mere conflict.
    pub(super) async fn revoke_sessions(&self, user: UserId, epoch: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.users)
            .set_key(Some(user_key(user)))
            .update_expression("SET session_epoch = :next, #version = #version + :one")
            .condition_expression("attribute_exists(pk) AND session_epoch = :epoch")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":next", n(epoch + 1))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":epoch", n(epoch))
            .send()
            .await;
        match result.map_err(|e| UpdateItemError::classify(e, "revoking sessions")) {
            Ok(_) | Err(Failure::Condition { .. }) => Ok(()),
            Err(Failure::Store(StoreError::Conflict)) => Err(StoreError::Unavailable),
            Err(other) => Err(other.into()),
        }
    }

    /// A consumed refresh token of `epoch` presented again: every session of `user` ends.
    async fn reused(&self, user: UserId, epoch: u64) -> Result<u64, StoreError> {
        self.revoke_sessions(user, epoch).await?;
        tracing::warn!(user_id = %user, "consumed refresh token reused: all sessions revoked");
        Err(StoreError::Missing(Missing::RefreshToken))
    }
}

#[async_trait]
impl TokenStore for DynamoStore {
    /// One strongly consistent read of the old token, then one transaction: the old token
    /// marked consumed (if it was not), the user's epoch still the token's, the new token. A
    /// consumed token instead raises the user's epoch, if it is still the token's, whether it
    /// was consumed before the read or by a concurrent rotation between the read and the write.
    #[tracing::instrument(skip_all)]
    async fn rotate_refresh(
        &self,
        old_jti: &str,
        user: UserId,
        new: &RefreshToken,
    ) -> Result<u64, StoreError> {
        let refused = StoreError::Missing(Missing::RefreshToken);
        let Some(item) = self
            .get(token_key(old_jti), "reading refresh token")
            .await?
        else {
            return Err(refused);
        };
        let old: TokenItem = from_item(item)?;
        if old.user_id != user || old.expires_at <= Timestamp::now().unix() {
            return Err(refused);
        }
        if old.consumed {
            return self.reused(user, old.epoch).await;
        }
        let items = vec![
            tx::update(
                &self.users,
                token_key(old_jti),
                "SET #consumed = :consumed",
                Some(
                    "attribute_exists(pk) AND (attribute_not_exists(#consumed) OR #consumed = :fresh)",
                ),
                vec![
                    (":consumed", AttributeValue::Bool(true)),
                    (":fresh", AttributeValue::Bool(false)),
                ],
                vec![("#consumed", "consumed")],
            )?,
            tx::check(
                &self.users,
                user_key(user),
                "session_epoch = :epoch",
                vec![(":epoch", n(old.epoch))],
                vec![],
            )?,
            tx::put(
                &self.users,
                token_item(new, old.epoch)?,
                None,
                vec![],
                vec![],
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(old.epoch),
            // The token is there but no longer fresh: a concurrent rotation consumed it first.
            Err(failure) if failure.failed_at(0) && failure.existed_at(0) => {
                self.reused(user, old.epoch).await
            }
            Err(Failure::Cancelled(_)) => Err(refused),
            Err(other) => Err(other.into()),
        }
    }

    async fn add_refresh(&self, token: &RefreshToken, epoch: u64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.users)
            .set_item(Some(token_item(token, epoch)?))
            .send()
            .await
            .map_err(|e| store_error(e, "storing refresh token"))?;
        Ok(())
    }

    /// One `BatchGetItem` (strongly consistent) of the token and its user.
    async fn refresh_is_live(&self, jti: &str, user: UserId) -> Result<bool, StoreError> {
        let keys = KeysAndAttributes::builder()
            .keys(token_key(jti))
            .keys(user_key(user))
            .consistent_read(true)
            .build()
            .context("building batch read")?;
        let items = self
            .batch_get([(&self.users, keys)], "reading refresh token and user")
            .await?
            .remove(&self.users)
            .unwrap_or_default();
        let is_token = |item: &Item| {
            item.get("pk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|pk| pk.starts_with("REFRESH#"))
        };
        let (tokens, users): (Vec<Item>, Vec<Item>) = items.into_iter().partition(is_token);
        let (Some(token), Some(owner)) = (tokens.into_iter().next(), users.into_iter().next())
        else {
            return Ok(false);
        };
        let token: TokenItem = from_item(token)?;
        let owner: User = from_item(owner)?;
        Ok(!token.consumed
            && token.user_id == user
            && token.epoch == owner.session_epoch
            && token.expires_at > Timestamp::now().unix())
    }

    async fn revoke_refresh(&self, jti: &str, user: UserId) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.users)
            .set_key(Some(token_key(jti)))
            .condition_expression(
                "user_id = :user AND (attribute_not_exists(#consumed) OR #consumed = :live)",
            )
            .expression_attribute_names("#consumed", "consumed")
            .expression_attribute_values(":user", s(user.to_string()))
            .expression_attribute_values(":live", AttributeValue::Bool(false))
            .send()
            .await;
        match result.map_err(|e| DeleteItemError::classify(e, "revoking refresh token")) {
            Ok(_) | Err(Failure::Condition { .. }) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }
}
