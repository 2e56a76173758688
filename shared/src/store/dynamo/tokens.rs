//! Refresh tokens, in the users table: single use, bound to the user's session epoch and login
//! session, and kept (consumed) after rotation until they expire, so a reuse is seen and ends the
//! login session it belongs to.

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::error::{ConditionalError, Failure, store_error};
use super::sessions::ENDED;
use super::users::{key, user_key};
use super::{DynamoStore, Item, from_item, n, s, to_item, tx};
use crate::domain::{Ended, Session, Timestamp, User, UserId};
use crate::store::{
    Logout, Missing, RefreshRecord, RefreshToken, Rotation, StoreError, TokenStore,
};

fn token_key(jti: &str) -> Item {
    key(format!("REFRESH#{jti}"))
}

pub(super) fn token_item(token: &RefreshToken, epoch: u64) -> anyhow::Result<Item> {
    let mut item = to_item(&RefreshRecord::new(token, epoch))?;
    item.extend(token_key(&token.jti));
    Ok(item)
}

/// A refresh token's condition of being live: its user's, and not consumed by a refresh.
const LIVE: &str = "user_id = :user AND (attribute_not_exists(#consumed) OR #consumed = :live)";

impl DynamoStore {
    /// One `BatchGetItem` (strongly consistent) of the refresh token `jti` and its user `user`.
    async fn token_and_owner(
        &self,
        jti: &str,
        user: UserId,
    ) -> Result<(Option<RefreshRecord>, Option<User>), StoreError> {
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
        let token = tokens.into_iter().next().map(from_item).transpose()?;
        let owner = users.into_iter().next().map(from_item).transpose()?;
        Ok((token, owner))
    }

    /// Raises `user`'s session epoch past `epoch` (and its version, so a write that read the user
    /// before loses its condition), unless it has already moved on. One that still collides with
    /// transactions after the SDK's sends is `Unavailable`: nothing was revoked, so the request
    /// must be retried, never answered as a mere conflict. Answers whether it raised the epoch.
    pub(super) async fn revoke_sessions(
        &self,
        user: UserId,
        epoch: u64,
    ) -> Result<bool, StoreError> {
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
            Ok(_) => Ok(true),
            Err(Failure::Condition { .. }) => Ok(false),
            Err(Failure::Store(StoreError::Conflict)) => Err(StoreError::Unavailable),
            Err(other) => Err(other.into()),
        }
    }

    /// The consumed refresh token `jti` of `user` (`old`) presented again: its login session
    /// ends until `until` (when the session's newest token has expired), or, for a token without
    /// one, every session of the user. A session end that keeps losing races (each attempt's
    /// transaction sent as often as the SDK's policy allows) is `Unavailable`: nothing was
    /// revoked, so the request must be retried, never answered as a mere conflict.
    async fn reused(
        &self,
        user: UserId,
        jti: &str,
        old: &RefreshRecord,
        until: i64,
    ) -> Result<Rotation, StoreError> {
        if old.sid.is_none() {
            let raised = self.revoke_sessions(user, old.epoch).await?;
            return Ok(Rotation::Reused(
                raised.then_some(Ended::Before(old.epoch + 1)),
            ));
        }
        let logout = Logout {
            jti: jti.to_owned(),
            session: old.session(),
            live_until: until,
            consumed_until: until,
        };
        let ended = match crate::retry::optimistic(|| self.end_session(&logout)).await {
            Ok(ended) => ended,
            Err(StoreError::Conflict) => return Err(StoreError::Unavailable),
            Err(other) => return Err(other),
        };
        Ok(Rotation::Reused(ended))
    }
}

#[async_trait]
impl TokenStore for DynamoStore {
    /// One strongly consistent read of the old token, then one transaction: the old token
    /// marked consumed (if it was not), the user still honouring its session, the new token. A
    /// consumed token instead ends its session ([`Self::reused`]), whether it was consumed before
    /// the read or by a concurrent rotation between the read and the write.
    #[tracing::instrument(skip_all)]
    async fn rotate_refresh(
        &self,
        old_jti: &str,
        user: UserId,
        new: &RefreshToken,
    ) -> Result<Rotation, StoreError> {
        let refused = StoreError::Missing(Missing::RefreshToken);
        let Some(item) = self
            .get(token_key(old_jti), "reading refresh token")
            .await?
        else {
            return Err(refused);
        };
        let old: RefreshRecord = from_item(item)?;
        if !old.presentable_by(user, Timestamp::now()) {
            return Err(refused);
        }
        let until = new.expires_at.unix() + 1;
        if old.consumed {
            return self.reused(user, old_jti, &old, until).await;
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
            self.user_check(user, "session_epoch = :epoch", old.session())?,
            tx::put(
                &self.users,
                token_item(new, old.epoch)?,
                None,
                vec![],
                vec![],
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(Rotation::Rotated(old.epoch)),
            // The token is there but no longer fresh: a concurrent rotation consumed it first.
            Err(failure) if failure.failed_at(0) && failure.existed_at(0) => {
                self.reused(user, old_jti, &old, until).await
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

    async fn refresh_is_live(&self, jti: &str, session: Session) -> Result<bool, StoreError> {
        let (token, owner) = self.token_and_owner(jti, session.user).await?;
        let (Some(token), Some(owner)) = (token, owner) else {
            return Ok(false);
        };
        Ok(token.is_live(session, &owner, Timestamp::now()))
    }

    async fn revoke_refresh(&self, jti: &str, user: UserId) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.users)
            .set_key(Some(token_key(jti)))
            .condition_expression(LIVE)
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

    /// One `BatchGetItem` (strongly consistent) of the token and its user, then one transaction:
    /// the user's ended sessions written, if its `version` still holds, and the token deleted if
    /// it was live and still is. A lost race is a `Conflict`, and the caller reads again.
    async fn end_session(&self, logout: &Logout) -> Result<Option<Ended>, StoreError> {
        let (token, owner) = self
            .token_and_owner(&logout.jti, logout.session.user)
            .await?;
        let token = token.filter(|t| t.user_id == logout.session.user);
        let live = token.as_ref().is_some_and(|t| !t.consumed);
        // The record's epoch is the truth: a chain begun before tokens carried theirs claims 0.
        let session = Session {
            epoch: token.as_ref().map_or(logout.session.epoch, |t| t.epoch),
            ..logout.session
        };
        let (Some(sid), Some(before)) = (session.sid, owner.filter(|o| session.is_current(o)))
        else {
            if live {
                self.revoke_refresh(&logout.jti, session.user).await?;
            }
            return Ok(None);
        };
        let mut after = before.clone();
        let ended = after.end_session(sid, logout.until(live), Timestamp::now().unix());
        let mut items = vec![tx::update(
            &self.users,
            user_key(session.user),
            "SET #ended = :ended, session_epoch = :epoch, #version = :version",
            Some("#version = :before"),
            vec![
                (
                    ":ended",
                    serde_dynamo::to_attribute_value(&after.ended_sessions)
                        .context("encoding ended sessions")?,
                ),
                (":epoch", n(after.session_epoch)),
                (":version", n(after.version)),
                (":before", n(before.version)),
            ],
            vec![("#ended", ENDED), ("#version", "version")],
        )?];
        if live {
            items.push(tx::delete(
                &self.users,
                token_key(&logout.jti),
                Some(LIVE),
                vec![
                    (":user", s(session.user.to_string())),
                    (":live", AttributeValue::Bool(false)),
                ],
                vec![("#consumed", "consumed")],
            )?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(Some(ended)),
            Err(Failure::Cancelled(_)) => Err(StoreError::Conflict),
            Err(other) => Err(other.into()),
        }
    }
}
