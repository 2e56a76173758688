//! Services: the application's rules, over the storage traits.

pub mod accounts;
pub mod cursor;
pub mod limits;
pub mod sessions;
pub mod tasks;

pub use accounts::AccountService;
pub use tasks::TaskService;

use crate::domain::{Session, User};
use crate::error::{Error, Result};
use crate::store::UserStore;

/// The user behind `session`, read strongly consistently, or [`Error::InvalidToken`] if the user
/// is gone or no longer honours the session: every service's session check.
pub(crate) async fn session_user(users: &dyn UserStore, session: Session) -> Result<User> {
    users
        .current_user(session)
        .await?
        .ok_or(Error::InvalidToken)
}
