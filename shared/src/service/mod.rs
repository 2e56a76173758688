//! Services: the application's rules, over the storage traits.

pub mod accounts;
pub mod cursor;
pub mod limits;
pub mod sessions;
pub mod tasks;

pub use accounts::AccountService;
pub use tasks::TaskService;
