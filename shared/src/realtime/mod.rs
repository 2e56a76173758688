//! Real time: the owner of a task hears of its changes over a WebSocket.
//!
//! On AWS: API Gateway's WebSocket API calls [`Gateway`] for `$connect`, [`disconnect`] for
//! `$disconnect` and [`Gateway::message`] for `$default`; the tasks table's DynamoDB stream calls [`Notifier`], which posts each task change
//! to its owner's connections through the API Gateway management API. Locally, `taskmaster-local`
//! plays API Gateway and the stream, calling the very same code.

mod cap;
mod gateway;
mod notifier;

pub use cap::{MAX_CONNECTIONS_PER_USER, Management};
pub use gateway::{
    CONNECTION_LIFETIME_SECONDS, FORGET_WITHIN, Gateway, ROUTE_DEADLINE, disconnect,
};
pub use notifier::{CLOSE_WITHIN, DEADLINE_MARGIN, Notifier, message_of};
