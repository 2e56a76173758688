//! Accounts: registration, login, profile and password (the token lifecycle is in
//! [`super::sessions`]).

use std::net::IpAddr;
use std::sync::Arc;

use crate::auth::{
    JwtKeys, TokenPair, hash_password, is_legacy_hash, prepare_work_area, rehash_password,
    verify_password, verify_password_or_dummy,
};
use crate::domain::{
    Email, EndedSessions, FieldErrors, Password, PersonName, Session, SessionId, Timestamp, User,
    UserId, Username,
};
use crate::error::{Error, Result};
use crate::retry;
use crate::service::limits::Limits;
use crate::store::{RefreshToken, StoreError, Stores, TokenStore, UserStore};

const WRONG_OLD_PASSWORD: &str = "Your old password was entered incorrectly.";

/// A registration, validated.
#[derive(Debug)]
pub struct NewUser {
    pub username: Username,
    pub email: Email,
    pub password: Password,
    pub first_name: PersonName,
    pub last_name: PersonName,
}

/// Profile fields to change; `None` leaves a field as it is. A `username` may have an existing
/// name's wider shape ([`Username::existing`]); a changed one must pass [`Username::parse`].
#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub username: Option<Username>,
    pub email: Option<Email>,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
}

#[derive(Clone)]
pub struct AccountService {
    pub(super) users: Arc<dyn UserStore>,
    pub(super) tokens: Arc<dyn TokenStore>,
    pub(super) jwt: Arc<JwtKeys>,
    limits: Limits,
}

pub(super) fn refresh_record(pair: &TokenPair) -> RefreshToken {
    let claims = &pair.refresh_claims;
    RefreshToken {
        jti: claims.jti.clone(),
        user_id: claims.user_id,
        expires_at: Timestamp::from_unix(claims.exp).unwrap_or_else(Timestamp::now),
        sid: claims.sid,
    }
}

impl AccountService {
    pub fn new(stores: &Stores, jwt: Arc<JwtKeys>, limits: Limits) -> Self {
        Self {
            users: stores.users.clone(),
            tokens: stores.tokens.clone(),
            jwt,
            limits,
        }
    }

    /// Registers `new`, unless `client` has made too many registration attempts in this window
    /// (counted before the password is hashed, so refused attempts cost no hashing).
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        new: NewUser,
        client: Option<IpAddr>,
    ) -> Result<(User, TokenPair)> {
        // Every registration that reaches here hashes unless it is limited (a name taken is found
        // after the hash): the process's first work area is begun while the attempt is counted.
        prepare_work_area();
        self.limits.registration(client).await?;
        let password_hash = hash_password(&new.password).await?;
        let now = Timestamp::now();
        let user = User {
            id: UserId::new(),
            username: new.username,
            email: new.email,
            first_name: new.first_name,
            last_name: new.last_name,
            password_hash,
            is_superuser: false,
            date_joined: now,
            last_updated: now,
            last_login: Some(now),
            version: 0,
            session_epoch: 0,
            ended_sessions: EndedSessions::new(),
        };
        let pair = self
            .jwt
            .issue_pair(user.id, user.session_epoch, SessionId::random(), None)?;
        self.users
            .create_user(&user, &refresh_record(&pair))
            .await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok((user, pair))
    }

    /// Logs in by username or email, in any case. Every failure is the same
    /// `InvalidCredentials`, after the same amount of hashing work, and is counted against the
    /// login name and `client`; once either is over its limit, every attempt (a right password
    /// too) is `TooManyRequests` until the window ends. The attempt is counted beside the user
    /// read, before the password is checked ([`Limits::login_attempt`]).
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<(User, TokenPair)> {
        // No name holds whitespace at either end, and a phone's keyboard may add a space after a
        // word: the name is read without it, as an email already was, and counted so.
        let login = login.trim();
        // Every login but a limited one hashes (a dummy hash for an unknown name): the process's
        // first work area is begun while the user is read, not after.
        prepare_work_area();
        let (user, attempt) = tokio::join!(
            self.find_login(login),
            self.limits.login_attempt(login, client)
        );
        let attempt = attempt?;
        // Our own failure is no guess of the client's: an attempt that ends in one is taken back,
        // not left to hold a place under the limit until the window ends.
        let checked = async {
            let user = user?;
            let hash = user.as_ref().map(|u| u.password_hash.as_str());
            let valid = verify_password_or_dummy(password, hash).await?;
            Ok::<_, Error>((user, valid))
        };
        let (user, valid) = match checked.await {
            Ok(checked) => checked,
            Err(error) => {
                self.limits.abandoned(attempt).await;
                return Err(error);
            }
        };
        let (Some(user), true) = (user, valid) else {
            self.limits.login_failed(attempt).await?;
            return Err(Error::InvalidCredentials);
        };
        // The password was right: the count is taken back whatever happens next.
        let (signed_in, taken_back) = tokio::join!(
            self.sign_in(user, password),
            self.limits.login_succeeded(attempt)
        );
        let signed_in = signed_in?;
        taken_back?;
        Ok(signed_in)
    }

    /// After a right password: the hash upgraded if it is an old one, the login recorded with a
    /// fresh token pair.
    async fn sign_in(&self, mut user: User, password: &str) -> Result<(User, TokenPair)> {
        if is_legacy_hash(&user.password_hash) {
            // As the original app set it, and as it is now checked first.
            user = self.upgrade_hash(user, password.trim()).await?;
        }
        let pair = self
            .jwt
            .issue_pair(user.id, user.session_epoch, SessionId::random(), None)?;
        let now = Timestamp::now();
        self.users
            .record_login(&user, now, &refresh_record(&pair))
            .await
            .map_err(|e| match e {
                StoreError::Missing(_) => Error::InvalidCredentials,
                other => other.into(),
            })?;
        user.last_login = Some(now);
        Ok((user, pair))
    }

    /// The account a login names: by username, in any case, including the original app's wider
    /// shapes (`first.last`, `a+b@host`: a looser rule than registration's, for finding existing
    /// names only); else by email when it reads as one. The username wins: an imported user
    /// named like an email keeps it even if someone registers that address later (new names
    /// cannot hold an `@`). Both are looked up at once.
    async fn find_login(&self, login: &str) -> Result<Option<User>> {
        let by_name = async {
            match Username::existing(login.to_owned()) {
                Ok(name) => self.users.user_by_username(&name).await,
                Err(_) => Ok(None),
            }
        };
        let by_email = async {
            match Email::parse(login.to_owned()) {
                Ok(email) => self.users.user_by_email(&email).await,
                Err(_) => Ok(None),
            }
        };
        let (by_name, by_email) = tokio::try_join!(by_name, by_email)?;
        Ok(by_name.or(by_email))
    }

    /// Replaces an imported user's legacy hash by an argon2id hash of the password just proven.
    /// A concurrent change to the user wins: the upgrade then waits for the next login.
    async fn upgrade_hash(&self, user: User, password: &str) -> Result<User> {
        let mut after = user.clone();
        after.password_hash = rehash_password(password).await?;
        after.version += 1;
        match self.users.update_user(&user, &after).await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, "legacy password hash upgraded to argon2id");
                Ok(after)
            }
            Err(StoreError::Conflict | StoreError::Missing(_)) => Ok(user),
            Err(other) => Err(other.into()),
        }
    }

    /// The user behind a valid access token, read strongly consistently: a token of a user who no
    /// longer exists, or of a revoked session, gets nothing. Every write of the user is
    /// conditional on the version read here, and every epoch change bumps the version, so a write
    /// that follows this check cannot commit after a revocation.
    pub async fn profile(&self, session: Session) -> Result<User> {
        super::session_user(self.users.as_ref(), session).await
    }

    /// Applies `changes`, the fields of the body that parsed; `refused` holds the errors of those
    /// that did not, answered together with a changed name's own (today's rules) in one 400.
    #[tracing::instrument(skip_all, fields(user_id = %session.user))]
    pub async fn update_profile(
        &self,
        session: Session,
        changes: ProfileChanges,
        refused: FieldErrors,
    ) -> Result<User> {
        let (changes, refused) = (&changes, &refused);
        let counted = &std::sync::atomic::AtomicBool::new(false);
        retry::optimistic(|| async move {
            let before = self.profile(session).await?;
            let mut after = before.clone();
            let mut errors = refused.clone();
            if let Some(username) = &changes.username
                && *username != before.username
            {
                // A new name follows today's rules, whatever the shape of the old one.
                errors.check("username", Username::parse(username.to_string()));
                after.username = username.clone();
            }
            errors.into_result()?;
            if let Some(email) = &changes.email {
                after.email = email.clone();
            }
            if let Some(first_name) = &changes.first_name {
                after.first_name = first_name.clone();
            }
            if let Some(last_name) = &changes.last_name {
                after.last_name = last_name.clone();
            }
            if after == before {
                return Ok(before);
            }
            // Whether a name is taken is what a name change answers: counted once a request.
            let renaming = after.username != before.username || after.email != before.email;
            if renaming && !counted.swap(true, std::sync::atomic::Ordering::Relaxed) {
                self.limits.name_change(session.user).await?;
            }
            after.version += 1;
            after.last_updated = Timestamp::now();
            self.users.update_user(&before, &after).await?;
            Ok(after)
        })
        .await
    }

    /// Changes the password after checking the old one (a wrong one counts as a failed login of
    /// the user, its username and `client`; any of them locked is `TooManyRequests`), and ends every session of the
    /// user (its epoch moves on); answers a fresh pair for the new epoch, so the caller stays signed in.
    /// `new_password` is the new password, or the field errors it was refused with; either way
    /// a wrong old password is reported too.
    #[tracing::instrument(skip_all, fields(user_id = %session.user))]
    pub async fn change_password(
        &self,
        session: Session,
        old_password: &str,
        new_password: Result<Password, FieldErrors>,
        client: Option<IpAddr>,
    ) -> Result<TokenPair> {
        // Unless the session has ended or the attempt is limited, the old password is checked: the
        // process's first work area is begun while the user is read and the attempt counted.
        prepare_work_area();
        let before = self.profile(session).await?;
        // Guessing the old password is guessing a login: it counts against the limits as one.
        let attempt = self
            .limits
            .password_check(session.user, before.username.as_ref(), client)
            .await?;
        let old_is_right = match verify_password(old_password, &before.password_hash).await {
            Ok(right) => right,
            Err(error) => {
                self.limits.abandoned(attempt).await;
                return Err(error.into());
            }
        };
        if old_is_right {
            self.limits.login_succeeded(attempt).await?;
        } else {
            self.limits.login_failed(attempt).await?;
        }
        let new_password = match (new_password, old_is_right) {
            (Ok(new), true) => new,
            (refused, _) => {
                let mut errors = refused.err().unwrap_or_default();
                if !old_is_right {
                    errors.add("old_password", WRONG_OLD_PASSWORD);
                }
                return Err(errors.into());
            }
        };
        let password_hash = hash_password(&new_password).await?;
        let (password_hash, checked_hash) = (&password_hash, &before.password_hash.clone());
        let mut read = Some(before);
        let (after, pair) = retry::optimistic(|| {
            let first = read.take();
            async move {
                // After a lost race (a profile edit came first), apply the change on top of the
                // current user, unless the password itself changed meanwhile and `old_password` no
                // longer fits.
                let before = match first {
                    Some(before) => before,
                    None => {
                        let current = self
                            .users
                            .user(session.user)
                            .await?
                            .ok_or(Error::InvalidToken)?;
                        // Our own write, applied though its answer was lost (a send that timed
                        // out and was sent again, failing its condition): done, with a token
                        // this request no longer holds. The hash's salt is this request's alone.
                        if current.password_hash == *password_hash {
                            return Ok((current, None));
                        }
                        if !session.is_current(&current) {
                            return Err(Error::InvalidToken);
                        }
                        if current.password_hash != *checked_hash
                            && !verify_password(old_password, &current.password_hash).await?
                        {
                            return Err(Error::field("old_password", WRONG_OLD_PASSWORD));
                        }
                        current
                    }
                };
                let mut after = before.clone();
                after.change_password_hash(password_hash.clone(), Timestamp::now());
                // The caller's new session is stored with the change, in one write: never a
                // changed password whose only session is lost with a failed second write.
                let pair = self.jwt.issue_pair(
                    after.id,
                    after.session_epoch,
                    SessionId::random(),
                    None,
                )?;
                self.users
                    .update_user_with_token(&before, &after, &refresh_record(&pair))
                    .await?;
                Ok((after, Some(pair)))
            }
        })
        .await?;
        if let Some(pair) = pair {
            return Ok(pair);
        }
        // The change was made by an earlier send whose answer was lost, with a token this request
        // no longer holds: the caller gets a new one, stored on its own as a login's would be
        // (its failure leaves the password changed and the caller to log in with it).
        let pair = self
            .jwt
            .issue_pair(after.id, after.session_epoch, SessionId::random(), None)?;
        self.tokens
            .add_refresh(&refresh_record(&pair), after.session_epoch)
            .await?;
        Ok(pair)
    }
}
