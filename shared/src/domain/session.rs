//! The caller of an authenticated request: a user, and the session epoch its token carries.

use super::UserId;

/// Who a valid access token speaks for. `epoch` is the user's `session_epoch` when the token was
/// issued; once the user's epoch has moved past it (password change, logout everywhere, reuse of
/// a consumed refresh token), every store call made with this session is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub user: UserId,
    pub epoch: u64,
}

impl Session {
    /// Whether a user whose current epoch is `current` still honours this session.
    pub fn is_current(&self, current: u64) -> bool {
        self.epoch >= current
    }
}
