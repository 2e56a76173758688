//! A user's open connections at most. Past the cap they are checked before one more is refused: a
//! connection whose socket is gone without its `$disconnect` (API Gateway sends that one on a
//! best-effort basis; locally, a server killed with SIGKILL sends none) would otherwise hold its
//! place until its record expired. The management API says which are gone (410), and their
//! records are removed.

use std::sync::OnceLock;

use aws_sdk_apigatewaymanagement::Client;
use futures::future::join_all;

use super::notifier::HANDSHAKE_GRACE;
use crate::domain::{Timestamp, User};
use crate::store::{Connection, ConnectionStore};

/// A user's open connections at most. Every change of a user's tasks is posted to each of them
/// (16 at a time) before the stream batch goes on, so without a bound one user holding hundreds of
/// sockets delayed everyone's notifications by seconds (300 sockets: 13–17 s). Twenty leaves room
/// for every tab and device a person uses.
pub const MAX_CONNECTIONS_PER_USER: usize = 20;

/// How long a refused connection is told to wait: sockets close at their client's will.
pub(super) const CONNECTIONS_RETRY_AFTER_SECONDS: u64 = 60;

/// How many of `listed` (a user's recorded connections) count toward the cap: those that
/// [hold a place](holds_place) now, less, once they are past the cap, those the management API
/// says are gone (whose records are then removed). `this`, the connection being admitted or
/// renewed, is not asked about.
pub(super) async fn counted(
    listed: &[Connection],
    user: &User,
    this: &str,
    management: Option<&Management>,
    connections: &dyn ConnectionStore,
) -> usize {
    let now = Timestamp::now();
    let holding: Vec<&Connection> = listed
        .iter()
        .filter(|c| holds_place(c, now, user))
        .collect();
    let mut count = holding.len();
    let Some(management) = management.filter(|_| count > MAX_CONNECTIONS_PER_USER) else {
        return count;
    };
    let others = holding.into_iter().filter(|c| c.id != this);
    for gone in management.gone(others).await {
        count -= 1;
        if let Err(error) = connections.remove_connection(gone.user_id, &gone.id).await {
            tracing::warn!(error = %error, "could not forget a gone connection");
        }
    }
    count
}

/// Whether `connection` holds a place under the cap at `now`: its record has not expired (it
/// outlives any socket) and `user` still honours its session. An ended session's sockets are
/// being closed by whatever ended it. An expired token does not free the place: the socket is
/// still open and may authenticate again; until it does, each of its user's task changes closes it
/// (the notifier). Were it freed, a user could open the cap's worth of sockets with each token
/// about to expire, then as many again, each of them work for every task change.
fn holds_place(connection: &Connection, now: Timestamp, user: &User) -> bool {
    connection.expires_at > now && connection.session().is_current(user)
}

/// The management API's client, made on first use: only a connection at its user's cap asks it
/// anything, so `$connect`'s cold start does not build it.
pub struct Management {
    client: OnceLock<Client>,
    make: Box<dyn Fn() -> Client + Send + Sync>,
}

impl Management {
    pub fn new(make: impl Fn() -> Client + Send + Sync + 'static) -> Self {
        Self {
            client: OnceLock::new(),
            make: Box::new(make),
        }
    }

    /// Of `connections`, those the management API answers 410 for. One that any other answer
    /// (or none) may still be open is kept, and so is one recorded within [`HANDSHAKE_GRACE`]:
    /// API Gateway answers 410 for a connection whose `$connect` has not returned yet.
    async fn gone<'a>(
        &self,
        connections: impl Iterator<Item = &'a Connection>,
    ) -> Vec<&'a Connection> {
        let client = self.client.get_or_init(&self.make);
        let settled = Timestamp::now().unix() - HANDSHAKE_GRACE.as_secs().cast_signed();
        let asked = connections
            .filter(|c| c.connected_at.unix() <= settled)
            .map(|connection| async move {
                let answer = client
                    .get_connection()
                    .connection_id(&connection.id)
                    .send()
                    .await;
                let gone = answer.is_err_and(|error| {
                    error
                        .as_service_error()
                        .is_some_and(|e| e.is_gone_exception())
                });
                gone.then_some(connection)
            });
        join_all(asked).await.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SessionId, test_user};

    #[test]
    fn an_expired_token_keeps_its_place_and_an_ended_session_or_record_frees_it() {
        let now = Timestamp::now();
        let mut user = test_user();
        user.session_epoch = 1;
        let ended = SessionId::random();
        user.ended_sessions.insert(ended, now.unix());
        let open = Connection {
            id: "open".to_owned(),
            user_id: user.id,
            connected_at: now,
            expires_at: now.plus_seconds(60),
            token_expires_at: now.plus_seconds(60),
            epoch: user.session_epoch,
            sid: Some(SessionId::random()),
        };
        let cases = [
            (open.clone(), true),
            (
                Connection {
                    token_expires_at: now.plus_seconds(-1),
                    ..open.clone()
                },
                true,
            ),
            (
                Connection {
                    sid: Some(ended),
                    ..open.clone()
                },
                false,
            ),
            (
                Connection {
                    epoch: 0,
                    ..open.clone()
                },
                false,
            ),
            (
                Connection {
                    expires_at: now.plus_seconds(-1),
                    ..open.clone()
                },
                false,
            ),
        ];

        for (connection, holds) in cases {
            assert_eq!(
                holds_place(&connection, now, &user),
                holds,
                "{connection:?}"
            );
        }
    }
}
