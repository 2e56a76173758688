//! The open connections of the local WebSocket API, by connection id: what the management API
//! posts to and closes, and how the server's stop reaches every session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, close_code};
use shared::domain::Timestamp;
use tokio::sync::mpsc::Sender;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, watch};

/// Messages a connection may have waiting to be written to its client. A client that reads
/// nothing (its TCP window full) would otherwise make the server hold everything sent to it,
/// replies to its own messages included; past this, the connection is dropped.
pub(super) const QUEUE: usize = 1024;

/// An open connection: where its outgoing messages go, and what `GET @connections` reports.
#[derive(Debug)]
pub(super) struct Client {
    pub(super) outgoing: Sender<Message>,
    /// Told when the queue overflows: the session drops the connection.
    pub(super) overflow: Arc<Notify>,
    pub(super) connected_at: Timestamp,
    pub(super) user_agent: String,
}

/// The open connections of this server, by connection id, and how the server's stop reaches them.
#[derive(Debug)]
pub struct Registry {
    clients: Mutex<HashMap<String, Client>>,
    /// `true` once the server is stopping: every connection is then closed "going away".
    pub(super) stopping: watch::Sender<bool>,
    /// Sessions not yet through their `$disconnect`, from their handshake on ([`Live`]).
    live: watch::Sender<usize>,
}

/// One session counted in [`Registry::live`] while it is held: taken at the handshake, so a
/// socket still being upgraded when the server stops is waited for too, and given back when
/// dropped, whether its `$disconnect` ran, its upgrade failed or it panicked.
pub(super) struct Live(Arc<Registry>);

impl Live {
    pub(super) fn new(registry: &Arc<Registry>) -> Self {
        registry.live.send_modify(|live| *live += 1);
        Self(registry.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.live.send_modify(|live| *live -= 1);
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            clients: Mutex::default(),
            stopping: watch::Sender::new(false),
            live: watch::Sender::new(0),
        }
    }
}

impl Registry {
    pub(super) fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<String, Client>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes every connection as API Gateway does when it goes away (1001), each running its
    /// `$disconnect`, and waits for them to finish, up to `grace`.
    pub async fn close_all(&self, grace: Duration) {
        self.stopping.send_replace(true);
        let mut live = self.live.subscribe();
        let _ = tokio::time::timeout(grace, live.wait_for(|&live| live == 0)).await;
    }

    /// Queues a message for a connection; `false` if it is not open (API Gateway's 410), or no
    /// longer: a client whose queue is full is not reading, and its connection is dropped.
    pub fn send(&self, id: &str, message: Message) -> bool {
        let mut clients = self.clients();
        let Some(client) = clients.get(id) else {
            return false;
        };
        match client.outgoing.try_send(message) {
            Ok(()) => true,
            Err(TrySendError::Closed(_)) => false,
            Err(TrySendError::Full(_)) => {
                tracing::warn!(
                    queued = QUEUE,
                    "a WebSocket client reads nothing; dropping it"
                );
                tracing::debug!(connection_id = id, "dropped: its client reads nothing");
                if let Some(client) = clients.remove(id) {
                    client.overflow.notify_one();
                }
                false
            }
        }
    }

    /// Closes a connection from the server side, with 1000 (normal closure) as API Gateway's
    /// `DeleteConnection` does; `false` if it is not open.
    pub fn close(&self, id: &str) -> bool {
        match self.clients().remove(id) {
            Some(client) => {
                if client
                    .outgoing
                    .try_send(close_frame(close_code::NORMAL, ""))
                    .is_err()
                {
                    client.overflow.notify_one();
                }
                true
            }
            None => false,
        }
    }

    /// `(connected_at, user_agent)` of an open connection.
    pub fn info(&self, id: &str) -> Option<(Timestamp, String)> {
        self.clients()
            .get(id)
            .map(|client| (client.connected_at, client.user_agent.clone()))
    }
}

pub(super) fn close_frame(code: u16, reason: &'static str) -> Message {
    let reason = reason.into();
    Message::Close(Some(CloseFrame { code, reason }))
}
