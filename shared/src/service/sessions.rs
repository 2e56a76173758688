//! The token lifecycle of [`AccountService`]: verifying a token, trading a refresh token for a new
//! pair, and ending one session or every one.

use super::accounts::{AccountService, refresh_record};
use crate::auth::{TokenPair, TokenType};
use crate::domain::{Ended, Session, SessionId, Timestamp, UserId};
use crate::error::{Error, Result};
use crate::retry;
use crate::store::{Logout, Rotation};

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum Refresh {
    /// It rotated: the client's new pair.
    Rotated(TokenPair),
    /// It had been used before: the reuse is refused, and ended the session of the user named
    /// (nothing when that had ended already), whose sockets are to be closed.
    Reused(Option<(UserId, Ended)>),
}

impl AccountService {
    /// Ends every session of the caller: the user's epoch moves on, so every access and refresh
    /// token issued before (this one included) is refused from now on. Answers the new epoch.
    #[tracing::instrument(skip_all, fields(user_id = %session.user))]
    pub async fn logout_all(&self, session: Session) -> Result<u64> {
        retry::optimistic(|| async move {
            let before = self.profile(session).await?;
            let mut after = before.clone();
            after.version += 1;
            after.session_epoch += 1;
            after.last_updated = Timestamp::now();
            self.users.update_user(&before, &after).await?;
            tracing::info!("all sessions ended");
            Ok(after.session_epoch)
        })
        .await
    }

    /// Whether `session`'s user exists and still honours it (its epoch, its login session): one
    /// read of the user.
    pub async fn session_is_current(&self, session: Session) -> Result<bool> {
        Ok(self.users.current_user(session).await?.is_some())
    }

    /// Accepts an access token of an existing user, or a refresh token that would still rotate.
    pub async fn verify_token(&self, token: &str) -> Result<()> {
        let valid = if let Some(claims) = self.jwt.decode(token, TokenType::Access).await? {
            self.session_is_current(claims.session()).await?
        } else if let Some(claims) = self.jwt.decode(token, TokenType::Refresh).await? {
            self.tokens
                .refresh_is_live(&claims.jti, claims.session())
                .await?
        } else {
            false
        };
        if valid {
            Ok(())
        } else {
            Err(Error::TokenRejected)
        }
    }

    /// Trades a refresh token for a new pair; the old refresh token is consumed. Presenting a
    /// consumed one again ends its login session (see [`crate::store::TokenStore::rotate_refresh`]),
    /// and answers what ended, for closing its sockets; the client is refused all the same.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh: &str) -> Result<Refresh> {
        let claims = self
            .jwt
            .decode(refresh, TokenType::Refresh)
            .await?
            .ok_or(Error::TokenRejected)?;
        // The login session goes on; a token from before sessions had ids starts one. Its sign-in
        // time goes on too: one from before tokens carried it counts from the token's issue.
        let sid = claims.sid.unwrap_or_else(SessionId::random);
        let began = claims.auth_time.unwrap_or(claims.iat);
        let mut pair =
            self.jwt
                .issue_pair(claims.user_id, claims.session_epoch, sid, Some(began))?;
        // The session reached its maximum age between the check of the token and now: a pair
        // born expired would be a 200 followed by 401s. Refused, and the token not consumed.
        if pair.refresh_claims.exp <= pair.refresh_claims.iat {
            return Err(Error::TokenRejected);
        }
        let rotation = self
            .tokens
            .rotate_refresh(&claims.jti, claims.user_id, &refresh_record(&pair))
            .await?;
        let epoch = match rotation {
            Rotation::Rotated(epoch) => epoch,
            Rotation::Reused(ended) => {
                let what = match ended {
                    Some(Ended::Session(_)) => "its login session ended",
                    Some(Ended::Before(_)) => "every session of the user ended",
                    None => "its session had ended already",
                };
                tracing::warn!(user_id = %claims.user_id, "consumed refresh token reused: {what}");
                return Ok(Refresh::Reused(ended.map(|ended| (claims.user_id, ended))));
            }
        };
        if epoch != claims.session_epoch {
            // A refresh token issued before tokens carried their epoch: the store's record is
            // the truth, and the access token must carry it.
            pair.access = self
                .jwt
                .issue_pair(claims.user_id, epoch, sid, Some(began))?
                .access;
        }
        Ok(Refresh::Rotated(pair))
    }

    /// Ends the login session of a refresh token: the token is revoked, and every other token
    /// of its session, access tokens included, is refused from now on (on every route and at the
    /// WebSocket handshake; see [`crate::store::TokenStore::end_session`]). A token from before
    /// sessions had ids ends alone, its access tokens living on until they expire. Logging out
    /// twice is fine. Answers the user and what ended, for closing its sockets.
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, refresh: &str) -> Result<Option<(UserId, Ended)>> {
        let claims = self
            .jwt
            .decode(refresh, TokenType::Refresh)
            .await?
            .ok_or(Error::TokenRejected)?;
        let (access_ttl, refresh_ttl) = self.jwt.lifetimes();
        let now = Timestamp::now().unix();
        let logout = Logout {
            jti: claims.jti.clone(),
            session: claims.session(),
            // A second past the last expiry: a token is valid while now < exp, and no longer than
            // its type's lifetime has now, counted from its issue (`JwtKeys::decode`).
            live_until: now + access_ttl + 1,
            consumed_until: now + refresh_ttl + 1,
        };
        let ended =
            match retry::optimistic(|| async { Ok(self.tokens.end_session(&logout).await?) }).await
            {
                // Every try lost its race: the token at least stops working, and the client is told
                // to log out again, which ends the session.
                Err(Error::Conflict) => {
                    self.tokens
                        .revoke_refresh(&claims.jti, claims.user_id)
                        .await?;
                    return Err(Error::Unavailable);
                }
                ended => ended?,
            };
        if ended.is_some() {
            tracing::info!(user_id = %claims.user_id, "session ended");
        }
        Ok(ended.map(|ended| (claims.user_id, ended)))
    }
}
