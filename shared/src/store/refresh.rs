//! The stored form of a refresh token, and the rules that decide what it may still do: one type
//! and one set of rules for both stores, which keep it as a DynamoDB item and as a redb value.

use serde::{Deserialize, Serialize};

use super::RefreshToken;
use crate::domain::{Session, SessionId, Timestamp, User, UserId};

/// A stored refresh token, valid while its user's session epoch is still `epoch` and its login
/// session has not ended. A rotated one stays, `consumed`, until it expires (`expires_at`, the
/// users table's TTL attribute on DynamoDB), so its reuse can be told from a token never issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RefreshRecord {
    pub user_id: UserId,
    pub epoch: u64,
    pub expires_at: i64,
    #[serde(default)]
    pub consumed: bool,
    /// Its login session (none for a token stored before sessions had ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SessionId>,
}

impl RefreshRecord {
    /// `token`, fresh, issued at the user's session epoch `epoch`.
    pub fn new(token: &RefreshToken, epoch: u64) -> Self {
        Self {
            user_id: token.user_id,
            epoch,
            expires_at: token.expires_at.unix(),
            consumed: false,
            sid: token.sid,
        }
    }

    /// The login session it was issued to.
    pub fn session(&self) -> Session {
        Session {
            user: self.user_id,
            epoch: self.epoch,
            sid: self.sid,
        }
    }

    /// Whether `user` may present it at `now`: its own, and not expired. A consumed one may
    /// still be presented, as a replay.
    pub fn presentable_by(&self, user: UserId, now: Timestamp) -> bool {
        self.user_id == user && !self.has_expired(now)
    }

    /// Whether it is past its expiry at `now`.
    pub fn has_expired(&self, now: Timestamp) -> bool {
        self.expires_at <= now.unix()
    }

    /// Whether it still works for `session` at `now`, its user being `owner`: not consumed, the
    /// session's, at the user's current epoch, its login session not ended, not expired.
    pub fn is_live(&self, session: Session, owner: &User, now: Timestamp) -> bool {
        !self.consumed
            && self.user_id == session.user
            && self.epoch == owner.session_epoch
            && !session.is_ended_in(&owner.ended_sessions)
            && !self.has_expired(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_live_only_unconsumed_current_unended_and_unexpired() {
        let mut owner = crate::domain::test_user();
        let now = Timestamp::now();
        let token = RefreshToken {
            jti: "j".to_owned(),
            user_id: owner.id,
            expires_at: now.plus_seconds(60),
            sid: Some(SessionId::random()),
        };
        let record = RefreshRecord::new(&token, owner.session_epoch);
        let session = record.session();
        assert!(record.is_live(session, &owner, now));
        assert!(record.presentable_by(owner.id, now));

        let consumed = RefreshRecord {
            consumed: true,
            ..record.clone()
        };
        assert!(!consumed.is_live(session, &owner, now));
        assert!(consumed.presentable_by(owner.id, now), "a replay is seen");

        let stranger = UserId::new();
        let theirs = Session {
            user: stranger,
            ..session
        };
        assert!(!record.is_live(theirs, &owner, now));
        assert!(!record.presentable_by(stranger, now));

        let later = now.plus_seconds(60);
        assert!(!record.is_live(session, &owner, later));
        assert!(!record.presentable_by(owner.id, later));

        let mut moved = owner.clone();
        moved.session_epoch += 1;
        assert!(!record.is_live(session, &moved, now), "every session ended");
        owner.end_session(session.sid.expect("a session"), later.unix(), now.unix());
        assert!(!record.is_live(session, &owner, now), "its session ended");
    }
}
