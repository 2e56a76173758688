//! The caller of an authenticated request: a user, the session epoch its token carries, and the
//! login session (`sid`) the token belongs to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{User, UserId};

/// One login session: a sign-in and every token its refreshes issue after it. Tokens carry it as
/// the `sid` claim; `auth/logout/` ends it alone ([`EndedSessions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A fresh id, for a new sign-in.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The login sessions of a user ended one by one (a logout, a replayed refresh token), each with
/// the Unix time until
/// which it must be remembered: when the last token it could still use has expired. Kept in the
/// user's own record, which every authenticated request already reads or checks, so refusing them
/// costs no read of its own.
pub type EndedSessions = BTreeMap<SessionId, i64>;

/// Who a valid access token speaks for. `epoch` is the user's `session_epoch` when the token was
/// issued; once the user's epoch has moved past it (password change, logout everywhere, reuse of
/// a consumed refresh token stored without a session), every store call made with this session is
/// refused. So is one whose
/// login session `sid` was ended by a logout. Tokens issued before they carried a `sid` (and the
/// original app's) have none: only the epoch ends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub user: UserId,
    pub epoch: u64,
    pub sid: Option<SessionId>,
}

impl Session {
    /// Whether `user` (this session's user, as stored) still honours this session.
    pub fn is_current(&self, user: &User) -> bool {
        self.epoch >= user.session_epoch && !self.is_ended_in(&user.ended_sessions)
    }

    /// Whether this session is among `ended`.
    pub fn is_ended_in(&self, ended: &EndedSessions) -> bool {
        self.sid.is_some_and(|sid| ended.contains_key(&sid))
    }
}

/// What a revocation ended, for closing the sockets it leaves without a session: every session
/// older than an epoch, or one login session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every session whose epoch is older than this one (password change, logout everywhere, the
    /// replay of a refresh token without a session, or a logout or replay past the bound of
    /// ended sessions).
    Before(u64),
    /// One login session (a logout, or the replay of one of its refresh tokens).
    Session(SessionId),
}

impl Ended {
    /// Whether `session` is among those this revocation ended.
    pub fn ends(&self, session: &Session) -> bool {
        match self {
            Self::Before(epoch) => session.epoch < *epoch,
            Self::Session(sid) => session.sid == Some(*sid),
        }
    }
}

/// The most login sessions a user's record remembers as ended at once. Past it, a logout (or a
/// replay) ends every session of the user instead, as a logout everywhere would: ending a session
/// costs a login, so only a script logging in and out in a loop gets here, and the record stays
/// small.
pub const MAX_ENDED_SESSIONS: usize = 100;

impl User {
    /// Records the login session `sid` as ended until `until` (Unix seconds), first forgetting
    /// those whose time has passed at `now`; past [`MAX_ENDED_SESSIONS`], raises the session epoch
    /// instead. Bumps `version`, so a write that read the user before loses its condition. Answers
    /// what ended.
    pub fn end_session(&mut self, sid: SessionId, until: i64, now: i64) -> Ended {
        self.version += 1;
        self.ended_sessions.retain(|_, ends| *ends > now);
        if self.ended_sessions.len() >= MAX_ENDED_SESSIONS {
            self.ended_sessions.clear();
            self.session_epoch += 1;
            return Ended::Before(self.session_epoch);
        }
        let remembered = self.ended_sessions.entry(sid).or_insert(until);
        *remembered = (*remembered).max(until);
        Ended::Session(sid)
    }

    /// Gives the user `password_hash` and ends every session of theirs, as a password change
    /// does (the API's, or an operator's `set-password`): raises the session epoch, and bumps
    /// `version`. Answers what ended.
    pub fn change_password_hash(&mut self, password_hash: String, now: super::Timestamp) -> Ended {
        self.password_hash = password_hash;
        self.version += 1;
        self.session_epoch += 1;
        self.last_updated = now;
        Ended::Before(self.session_epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        crate::domain::test_user()
    }

    fn session(user: &User, sid: Option<SessionId>) -> Session {
        Session {
            user: user.id,
            epoch: user.session_epoch,
            sid,
        }
    }

    #[test]
    fn an_ended_login_session_is_refused_and_the_others_are_not() {
        let mut user = user();
        let (ended, other) = (SessionId::random(), SessionId::random());

        let what = user.end_session(ended, 1_000, 10);

        assert_eq!(what, Ended::Session(ended));
        assert_eq!((user.version, user.session_epoch), (4, 2));
        assert!(!session(&user, Some(ended)).is_current(&user));
        assert!(session(&user, Some(other)).is_current(&user));
        // A token without a login session ends with its epoch only.
        assert!(session(&user, None).is_current(&user));
        assert!(what.ends(&session(&user, Some(ended))));
        assert!(!what.ends(&session(&user, Some(other))));
    }

    #[test]
    fn ended_sessions_are_forgotten_once_their_tokens_have_expired() {
        let mut user = user();
        let (old, new) = (SessionId::random(), SessionId::random());
        user.end_session(old, 100, 10);

        user.end_session(new, 500, 100);

        assert_eq!(user.ended_sessions, EndedSessions::from([(new, 500)]));
    }

    #[test]
    fn past_the_bound_a_logout_ends_every_session() {
        let mut user = user();
        for _ in 0..MAX_ENDED_SESSIONS {
            user.end_session(SessionId::random(), 1_000, 10);
        }
        let live = session(&user, Some(SessionId::random()));

        let what = user.end_session(SessionId::random(), 1_000, 10);

        assert_eq!(what, Ended::Before(3));
        assert!(user.ended_sessions.is_empty());
        assert!(!live.is_current(&user));
        assert!(what.ends(&live));
    }

    #[test]
    fn a_user_stored_before_login_sessions_reads_with_none_ended() {
        let user = user();
        assert!(user.ended_sessions.is_empty());
        let stored = serde_json::to_value(&user).expect("encodes");
        assert!(stored.get("ended_sessions").is_none(), "{stored}");
    }
}
