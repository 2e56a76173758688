//! Users and their uniqueness guards, in the users table (refresh tokens: `tokens.rs`).

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::error::{ConditionalError, Failure, store_error};
use super::tokens::token_item;
use super::{DynamoStore, Item, from_item, n, s, to_item, tx};
use crate::domain::{Email, Timestamp, User, UserId, Username};
use crate::store::{Missing, RefreshToken, StoreError, UserStore};

pub(super) fn key(pk: String) -> Item {
    Item::from([("pk".to_owned(), s(pk))])
}

pub(super) fn user_key(id: UserId) -> Item {
    key(format!("USER#{id}"))
}

fn user_item(user: &User) -> anyhow::Result<Item> {
    let mut item = to_item(user)?;
    item.extend(user_key(user.id));
    Ok(item)
}

pub(super) fn guard_item(pk: String, id: UserId) -> Item {
    let mut item = key(pk);
    item.insert("user_id".into(), s(id.to_string()));
    item
}

const ABSENT: Option<&str> = Some("attribute_not_exists(pk)");

impl DynamoStore {
    pub(super) async fn get(
        &self,
        key: Item,
        what: &'static str,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.users)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(e, what))?;
        Ok(output.item)
    }

    /// The user a username or email guard points to. An unknown name costs the same two reads
    /// in sequence as a known one (the second of a user id nobody has), so neither the time nor
    /// the consumed capacity of a login tells whether the account exists.
    async fn user_by_guard(&self, guard: String) -> Result<Option<User>, StoreError> {
        let Some(item) = self.get(key(guard), "reading guard").await? else {
            self.user(UserId::NOBODY).await?;
            return Ok(None);
        };
        let id = item
            .get("user_id")
            .and_then(|v| v.as_s().ok())
            .and_then(|v| UserId::parse(v));
        let id = id.context("guard without a user id")?;
        self.user(id).await
    }
}

impl DynamoStore {
    /// A new user's items, each on condition that it is absent: the user, then its username and
    /// email guards.
    pub(super) fn new_user_items(&self, user: &User) -> anyhow::Result<Vec<TransactWriteItem>> {
        let guard = |pk: String| guard_item(pk, user.id);
        [
            user_item(user)?,
            guard(format!("USERNAME#{}", user.username)),
            guard(format!("EMAIL#{}", user.email)),
        ]
        .into_iter()
        .map(|item| tx::put(&self.users, item, ABSENT, vec![], vec![]))
        .collect()
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    #[tracing::instrument(skip_all)]
    async fn create_user(&self, user: &User, token: &RefreshToken) -> Result<(), StoreError> {
        let mut items = self.new_user_items(user)?;
        items.push(tx::put(
            &self.users,
            token_item(token, user.session_epoch)?,
            None,
            vec![],
            vec![],
        )?);
        self.transact(items).await.map_err(|failure| match failure {
            Failure::Cancelled(_) if failure.failed_at(1) || failure.failed_at(2) => {
                StoreError::Taken {
                    username: failure.failed_at(1),
                    email: failure.failed_at(2),
                }
            }
            Failure::Cancelled(_) => StoreError::Conflict,
            other => other.into(),
        })
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let item = self.get(user_key(id), "reading user").await?;
        Ok(item.map(from_item).transpose()?)
    }

    async fn user_by_username(&self, username: &Username) -> Result<Option<User>, StoreError> {
        self.user_by_guard(format!("USERNAME#{username}")).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.user_by_guard(format!("EMAIL#{email}")).await
    }

    #[tracing::instrument(skip_all)]
    async fn record_login(
        &self,
        user: &User,
        at: Timestamp,
        token: &RefreshToken,
    ) -> Result<(), StoreError> {
        let items = vec![
            tx::update(
                &self.users,
                user_key(user.id),
                "SET last_login = :at",
                Some("attribute_exists(pk)"),
                vec![(":at", s(at.to_string()))],
                vec![],
            )?,
            tx::put(
                &self.users,
                token_item(token, user.session_epoch)?,
                None,
                vec![],
                vec![],
            )?,
        ];
        self.transact(items).await.map_err(|failure| match failure {
            Failure::Cancelled(_) => StoreError::Missing(Missing::User),
            other => other.into(),
        })
    }

    /// Updates every field but `last_login` and `date_joined`, if `before.version` still holds;
    /// moves guards, and stores `token`, in the same transaction when the username or email
    /// changes or there is a token (one `UpdateItem` otherwise).
    #[tracing::instrument(skip_all)]
    async fn replace_user(
        &self,
        before: &User,
        after: &User,
        token: Option<&RefreshToken>,
    ) -> Result<(), StoreError> {
        let expression = "SET username = :username, email = :email, first_name = :first, last_name = :last, \
            password_hash = :hash, last_updated = :updated, #version = :version, session_epoch = :epoch";
        let values = vec![
            (":username", s(after.username.to_string())),
            (":email", s(after.email.to_string())),
            (":first", s(after.first_name.to_string())),
            (":last", s(after.last_name.to_string())),
            (":hash", s(after.password_hash.clone())),
            (":updated", s(after.last_updated.to_string())),
            (":version", n(after.version)),
            (":epoch", n(after.session_epoch)),
            (":before", n(before.version)),
        ];
        let names = vec![("#version", "version")];
        let condition = "#version = :before";
        let unchanged = |existed: bool| {
            if existed {
                StoreError::Conflict
            } else {
                StoreError::Missing(Missing::User)
            }
        };

        let mut guards = Vec::new();
        if after.username != before.username {
            guards.push((
                format!("USERNAME#{}", after.username),
                format!("USERNAME#{}", before.username),
            ));
        }
        if after.email != before.email {
            guards.push((
                format!("EMAIL#{}", after.email),
                format!("EMAIL#{}", before.email),
            ));
        }
        if guards.is_empty() && token.is_none() {
            let result = self
                .client
                .update_item()
                .table_name(&self.users)
                .set_key(Some(user_key(before.id)))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_values(tx::non_empty_values(values))
                .set_expression_attribute_names(tx::non_empty_names(names))
                .return_values_on_condition_check_failure(
                    aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            return match result.map_err(|e| UpdateItemError::classify(e, "updating user")) {
                Ok(_) => Ok(()),
                Err(Failure::Condition { existed }) => Err(unchanged(existed)),
                Err(other) => Err(other.into()),
            };
        }

        let mut items = vec![tx::update(
            &self.users,
            user_key(before.id),
            expression,
            Some(condition),
            values,
            names,
        )?];
        let username_at = (after.username != before.username).then_some(1);
        let email_at =
            (after.email != before.email).then_some(if username_at.is_some() { 2 } else { 1 });
        for (new, _) in &guards {
            items.push(tx::put(
                &self.users,
                guard_item(new.clone(), after.id),
                ABSENT,
                vec![],
                vec![],
            )?);
        }
        for (_, old) in guards {
            items.push(tx::delete(&self.users, key(old), None, vec![], vec![])?);
        }
        if let Some(token) = token {
            let item = token_item(token, after.session_epoch)?;
            items.push(tx::put(&self.users, item, None, vec![], vec![])?);
        }
        self.transact(items).await.map_err(|failure| match failure {
            Failure::Cancelled(_) if failure.failed_at(0) => unchanged(failure.existed_at(0)),
            Failure::Cancelled(_) => StoreError::Taken {
                username: username_at.is_some_and(|i| failure.failed_at(i)),
                email: email_at.is_some_and(|i| failure.failed_at(i)),
            },
            other => other.into(),
        })
    }
}
