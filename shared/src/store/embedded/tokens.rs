//! Refresh tokens: rotation, revocation and liveness.

use async_trait::async_trait;
use redb::ReadableTable;

use super::users::{get_user, put_user};
use super::{Ctx, EmbeddedStore, REFRESH_TOKENS, USERS, decode, encode};
use crate::domain::{Ended, Session, Timestamp, User, UserId};
use crate::store::{
    Logout, Missing, RefreshRecord, RefreshToken, Rotation, StoreError, TokenStore,
};

/// Whether a stored refresh token is past its expiry at `now` (an unreadable one counts as past).
pub(super) fn token_expired(bytes: &[u8], now: Timestamp) -> bool {
    !decode::<RefreshRecord>(bytes).is_ok_and(|t| !t.has_expired(now))
}

pub(super) fn put_token(
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
