//! Users and their name and email guards (their refresh tokens: [`super::tokens`]).

use async_trait::async_trait;
use redb::ReadableTable;

use super::tokens::put_token;
use super::{Ctx, EMAILS, EmbeddedStore, USERNAMES, USERS, decode, encode};
use crate::domain::{Email, Timestamp, User, UserId, Username};
use crate::store::{Missing, RefreshToken, StoreError, UserStore};

pub(super) fn get_user(
    tx: &redb::WriteTransaction,
    id: UserId,
) -> Result<Option<User>, StoreError> {
    let users = tx.open_table(USERS).ctx("opening users")?;
    let found = users
        .get(id.as_uuid().as_bytes().as_slice())
        .ctx("reading user")?;
    Ok(found.map(|bytes| decode(bytes.value())).transpose()?)
}

pub(super) fn put_user(tx: &redb::WriteTransaction, user: &User) -> Result<(), StoreError> {
    let mut users = tx.open_table(USERS).ctx("opening users")?;
    users
        .insert(
            user.id.as_uuid().as_bytes().as_slice(),
            encode(user)?.as_slice(),
        )
        .ctx("writing user")?;
    Ok(())
}

/// Claims the guards `username`/`email` for `id`, or reports which are taken by someone else.
pub(super) fn claim_guards(
    tx: &redb::WriteTransaction,
    id: UserId,
    username: Option<&str>,
    email: Option<&str>,
) -> Result<(), StoreError> {
    let mut names = tx.open_table(USERNAMES).ctx("opening usernames")?;
    let mut emails = tx.open_table(EMAILS).ctx("opening emails")?;
    let name_taken = match username {
        Some(name) => names.get(name).ctx("reading username")?.is_some(),
        None => false,
    };
    let email_taken = match email {
        Some(email) => emails.get(email).ctx("reading email")?.is_some(),
        None => false,
    };
    if name_taken || email_taken {
        return Err(StoreError::Taken {
            username: name_taken,
            email: email_taken,
        });
    }
    let id = id.as_uuid().as_bytes().as_slice();
    if let Some(name) = username {
        names.insert(name, id).ctx("writing username")?;
    }
    if let Some(email) = email {
        emails.insert(email, id).ctx("writing email")?;
    }
    Ok(())
}

impl EmbeddedStore {
    async fn user_by_guard(&self, email: bool, key: String) -> Result<Option<User>, StoreError> {
        self.read(move |tx| {
            let guard = if email {
                tx.open_table(EMAILS)?
            } else {
                tx.open_table(USERNAMES)?
            };
            let Some(id) = guard.get(key.as_str())? else {
                return Ok(None);
            };
            // As on DynamoDB: a guard whose user is gone names nobody.
            let users = tx.open_table(USERS)?;
            let user = users.get(id.value())?;
            user.map(|user| decode(user.value())).transpose()
        })
        .await
    }
}

#[async_trait]
impl UserStore for EmbeddedStore {
    async fn create_user(&self, user: &User, token: &RefreshToken) -> Result<(), StoreError> {
        let (user, token) = (user.clone(), token.clone());
        self.write(move |tx| {
            claim_guards(
                tx,
                user.id,
                Some(user.username.as_ref()),
                Some(user.email.as_ref()),
            )?;
            put_user(tx, &user)?;
            put_token(tx, &token, user.session_epoch)
        })
        .await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read(move |tx| {
            let users = tx.open_table(USERS)?;
            let found = users.get(id.as_uuid().as_bytes().as_slice())?;
            found.map(|bytes| decode(bytes.value())).transpose()
        })
        .await
    }

    async fn user_by_username(&self, username: &Username) -> Result<Option<User>, StoreError> {
        self.user_by_guard(false, username.to_string()).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.user_by_guard(true, email.to_string()).await
    }

    async fn record_login(
        &self,
        user: &User,
        at: Timestamp,
        token: &RefreshToken,
    ) -> Result<(), StoreError> {
        let (id, epoch, token) = (user.id, user.session_epoch, token.clone());
        self.write(move |tx| {
            let mut stored = get_user(tx, id)?.ok_or(StoreError::Missing(Missing::User))?;
            stored.last_login = Some(at);
            put_user(tx, &stored)?;
            put_token(tx, &token, epoch)
        })
        .await
    }

    async fn replace_user(
        &self,
        before: &User,
        after: &User,
        token: Option<&RefreshToken>,
    ) -> Result<(), StoreError> {
        let (before, after, token) = (before.clone(), after.clone(), token.cloned());
        self.write(move |tx| {
            let stored = get_user(tx, before.id)?.ok_or(StoreError::Missing(Missing::User))?;
            if stored.version != before.version {
                return Err(StoreError::Conflict);
            }
            let new_name = (after.username != before.username).then_some(after.username.as_ref());
            let new_email = (after.email != before.email).then_some(after.email.as_ref());
            claim_guards(tx, after.id, new_name, new_email)?;
            // `last_login` and `date_joined` are not the caller's to change here.
            let after = User {
                last_login: stored.last_login,
                date_joined: stored.date_joined,
                ..after.clone()
            };
            if new_name.is_some() {
                tx.open_table(USERNAMES)
                    .ctx("opening usernames")?
                    .remove(before.username.as_ref())
                    .ctx("freeing username")?;
            }
            if new_email.is_some() {
                tx.open_table(EMAILS)
                    .ctx("opening emails")?
                    .remove(before.email.as_ref())
                    .ctx("freeing email")?;
            }
            put_user(tx, &after)?;
            match &token {
                Some(token) => put_token(tx, token, after.session_epoch),
                None => Ok(()),
            }
        })
        .await
    }
}
