//! Domain types: values that are valid by construction (parse, don't validate).

mod email;
mod session;
mod task;
mod time;
mod user;
mod validation;

pub use email::Email;
pub use session::{Ended, EndedSessions, MAX_ENDED_SESSIONS, Session, SessionId};
pub use task::{
    Task, TaskChange, TaskDescription, TaskId, TaskOrder, TaskStatus, TaskTitle, TaskView,
};
pub use time::Timestamp;
#[cfg(test)]
pub(crate) use user::test_user;
pub use user::{Password, PersonName, User, UserId, Username};
pub use validation::{FieldErrors, Text, non_null, text};
