//! taskmaster's library: everything every host (Lambda, the local server, the tests) runs.
//!
//! Layers, outermost first: [`http`] (axum handlers, DTOs, one router per endpoint) → [`service`]
//! (the rules) → [`store`] (storage traits the services own, and their implementations) → [`domain`]
//! (validated types). [`auth`] holds tokens and password hashing; [`error`] the one error type.

pub mod auth;
pub mod aws;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod realtime;
pub mod retry;
pub mod service;
pub mod signing_keys;
pub mod state;
pub mod store;
pub mod telemetry;

pub use error::{Error, Result};
pub use state::AppState;
