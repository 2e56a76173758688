//! What `lambda_runtime.rs` needs to run a function binary the way Lambda does.

pub mod api;
pub mod fixtures;
pub mod process;
