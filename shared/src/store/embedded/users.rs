//! Users, their name and email guards, and refresh tokens.

use async_trait::async_trait;
use redb::ReadableTable;

use super::{Ctx, EMAILS, EmbeddedStore, REFRESH_TOKENS, USERNAMES, USERS, decode, encode};
use crate::domain::{Email, Ended, Session, Timestamp, User, UserId, Username};
use crate::store::{
    Logout, Missing, RefreshRecord, RefreshToken, Rotation, StoreError, TokenStore, UserStore,
};

/// Whether a stored refresh token is past its expiry at `now` (an unreadable one counts as past).
pub(super) fn token_expired(bytes: &[u8], now: Timestamp) -> bool {
    !decode::<RefreshRecord>(bytes).is_ok_and(|t| !t.has_expired(now))
}

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

fn put_token(
    tx: &redb::WriteTransaction,
    token: &RefreshToken,
    epoch: u64,
) -> Result<(), StoreError> {
    let mut tokens = tx.open_table(REFRESH_TOKENS).ctx("opening tokens")?;
    tokens
        .insert(
            token.jti.as_str(),
            encode(&RefreshRecord::new(token, epoch))?.as_slice(),
        )
        .ctx("writing token")?;
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

#[async_trait]
impl TokenStore for EmbeddedStore {
    async fn rotate_refresh(
        &self,
        old_jti: &str,
        user: UserId,
        new: &RefreshToken,
    ) -> Result<Rotation, StoreError> {
        let (old_jti, new) = (old_jti.to_owned(), new.clone());
        let refused = || StoreError::Missing(Missing::RefreshToken);
        self.write(move |tx| {
            let mut owner = get_user(tx, user)?.ok_or_else(refused)?;
            let mut tokens = tx.open_table(REFRESH_TOKENS).ctx("opening tokens")?;
            let mut old: RefreshRecord = match tokens.get(old_jti.as_str()).ctx("reading token")? {
                Some(bytes) => decode(bytes.value())?,
                None => return Err(refused()),
            };
            if !old.presentable_by(user, Timestamp::now()) {
                return Err(refused());
            }
            let session = old.session();
            if old.consumed {
                // A replay ends the token's login session (a token without one: every session
                // of the user), until the session's newest token has expired.
                if !session.is_current(&owner) {
                    return Ok(Rotation::Reused(None));
                }
                let ended = match old.sid {
                    Some(sid) => {
                        let until = new.expires_at.unix() + 1;
                        owner.end_session(sid, until, Timestamp::now().unix())
                    }
                    None => {
                        owner.session_epoch += 1;
                        owner.version += 1;
                        Ended::Before(owner.session_epoch)
                    }
                };
                drop(tokens);
                put_user(tx, &owner)?;
                return Ok(Rotation::Reused(Some(ended)));
            }
            if old.epoch != owner.session_epoch || !session.is_current(&owner) {
                return Err(refused());
            }
            old.consumed = true;
            tokens
                .insert(old_jti.as_str(), encode(&old)?.as_slice())
                .ctx("consuming token")?;
            tokens
                .insert(
                    new.jti.as_str(),
                    encode(&RefreshRecord::new(&new, old.epoch))?.as_slice(),
                )
                .ctx("writing token")?;
            Ok(Rotation::Rotated(old.epoch))
        })
        .await
    }

    async fn add_refresh(&self, token: &RefreshToken, epoch: u64) -> Result<(), StoreError> {
        let token = token.clone();
        self.write(move |tx| put_token(tx, &token, epoch)).await
    }

    async fn refresh_is_live(&self, jti: &str, session: Session) -> Result<bool, StoreError> {
        let (jti, user) = (jti.to_owned(), session.user);
        self.read(move |tx| {
            let Some(bytes) = tx.open_table(REFRESH_TOKENS)?.get(jti.as_str())? else {
                return Ok(false);
            };
            let token: RefreshRecord = decode(bytes.value())?;
            if token.consumed {
                return Ok(false);
            }
            let Some(bytes) = tx
                .open_table(USERS)?
                .get(user.as_uuid().as_bytes().as_slice())?
            else {
                return Ok(false);
            };
            let owner: User = decode(bytes.value())?;
            Ok(token.is_live(session, &owner, Timestamp::now()))
        })
        .await
    }

    async fn revoke_refresh(&self, jti: &str, user: UserId) -> Result<(), StoreError> {
        let jti = jti.to_owned();
        self.write(move |tx| revoke_if_live(tx, &jti, user).map(drop))
            .await
    }

    async fn end_session(&self, logout: &Logout) -> Result<Option<Ended>, StoreError> {
        let mut logout = logout.clone();
        self.write(move |tx| {
            let token = revoke_if_live(tx, &logout.jti, logout.session.user)?;
            let live = token.as_ref().is_some_and(|t| !t.consumed);
            // The record's epoch is the truth: a chain begun before tokens carried theirs claims 0.
            if let Some(token) = &token {
                logout.session.epoch = token.epoch;
            }
            let session = logout.session;
            let Some(sid) = session.sid else {
                return Ok(None);
            };
            let Some(mut user) = get_user(tx, session.user)? else {
                return Ok(None);
            };
            if !session.is_current(&user) {
                return Ok(None);
            }
            let ended = user.end_session(sid, logout.until(live), Timestamp::now().unix());
            put_user(tx, &user)?;
            Ok(Some(ended))
        })
        .await
    }
}

/// Removes the refresh token `jti` of `user` if it is live (stored, not consumed); answers its
/// record as it was, if it is `user`'s.
fn revoke_if_live(
    tx: &redb::WriteTransaction,
    jti: &str,
    user: UserId,
) -> Result<Option<RefreshRecord>, StoreError> {
    let mut tokens = tx.open_table(REFRESH_TOKENS).ctx("opening tokens")?;
    let token = match tokens.get(jti).ctx("reading token")? {
        Some(bytes) => Some(decode::<RefreshRecord>(bytes.value())?),
        None => None,
    };
    let token = token.filter(|t| t.user_id == user);
    if token.as_ref().is_some_and(|t| !t.consumed) {
        tokens.remove(jti).ctx("revoking token")?;
    }
    Ok(token)
}
