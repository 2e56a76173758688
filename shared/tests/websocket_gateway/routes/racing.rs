//! `$connect` racing the end of its user's sessions: the connection is recorded, then a
//! logout-all raises the user's epoch before `$connect` reads the user again. `$connect` refuses
//! the connection and forgets it, through the calls ws-connect's IAM role allows (checked on
//! DynamoDB Local): the cleanup's `DeleteItem` on the connections table included. And
//! `authenticate` racing a logout of the session it renews into: refused, and the connection goes
//! back to the session it had.

use std::sync::Arc;

use async_trait::async_trait;
use shared::auth::TokenType;
use shared::domain::{Timestamp, UserId};
use shared::realtime::Gateway;
use shared::store::{Connection, ConnectionStore, Logout, StoreError, Stores};

use super::{Harness, authenticate, connect_json, request, status_and_body};

/// What ends meanwhile: every session of the connecting user, as logout-all ends them and run as
/// that function, right after each connection is recorded; or the login session of a logout, as
/// the logout function ends it, right after each renewal into that session.
enum Race {
    SessionsEnd,
    LoggedOut(Logout),
}

/// The stores' connections, with `Race` ending sessions meanwhile.
struct Meanwhile(Stores, Race);

#[async_trait]
impl ConnectionStore for Meanwhile {
    async fn add_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        self.0.connections.add_connection(connection).await?;
        let Race::SessionsEnd = self.1 else {
            return Ok(());
        };
        let (users, id) = (self.0.users.clone(), connection.user_id);
        crate::backend::as_function("logout-all", async move {
            let before = users.user(id).await?.expect("the connecting user");
            let mut after = before.clone();
            after.version += 1;
            after.session_epoch += 1;
            users.update_user(&before, &after).await
        })
        .await
    }

    async fn renew_connection(&self, connection: &Connection) -> Result<bool, StoreError> {
        let renewed = self.0.connections.renew_connection(connection).await?;
        if let Race::LoggedOut(logout) = &self.1
            && connection.sid == logout.session.sid
        {
            let (tokens, logout) = (self.0.tokens.clone(), logout.clone());
            crate::backend::as_function("logout", async move { tokens.end_session(&logout).await })
                .await?;
        }
        Ok(renewed)
    }

    async fn connection_owner(&self, id: &str) -> Result<Option<UserId>, StoreError> {
        self.0.connections.connection_owner(id).await
    }

    async fn connections_of(&self, user: UserId) -> Result<Vec<Connection>, StoreError> {
        self.0.connections.connections_of(user).await
    }

    async fn remove_connection(&self, user: UserId, id: &str) -> Result<(), StoreError> {
        self.0.connections.remove_connection(user, id).await
    }
}

#[tokio::test]
async fn a_connection_recorded_as_its_sessions_end_is_refused_and_forgotten() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    let racing = Stores {
        connections: Arc::new(Meanwhile(harness.stores.clone(), Race::SessionsEnd)),
        ..harness.stores.clone()
    };
    let gateway = Gateway::new(&racing, harness.state.jwt.clone());

    let event = request(connect_json(&user.access));
    let answer = crate::backend::as_function("ws-connect", gateway.connect(event)).await;

    let (status, body) = status_and_body(&answer);
    assert_eq!(status, 401, "{body}");
    assert!(
        harness.connections_of(user.id).await.is_empty(),
        "the refused connection is forgotten"
    );
}

#[tokio::test]
async fn authenticate_into_a_session_logged_out_meanwhile_is_refused_and_changes_nothing() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    harness.connect_as(&user).await;
    let before = harness.records_of(user.id).await;
    let (_, other) = harness
        .state
        .accounts
        .login(
            testkit::events::events_user().username.as_ref(),
            testkit::events::PASSWORD,
            None,
        )
        .await
        .expect("a second session");
    let claims = harness
        .state
        .jwt
        .decode(&other.refresh, TokenType::Refresh)
        .await
        .unwrap()
        .expect("its refresh token");
    let later = Timestamp::now().unix() + 3600;
    let logout = Logout {
        jti: claims.jti.clone(),
        session: claims.session(),
        live_until: later,
        consumed_until: later,
    };
    let racing = Stores {
        connections: Arc::new(Meanwhile(harness.stores.clone(), Race::LoggedOut(logout))),
        ..harness.stores.clone()
    };
    let gateway = Gateway::new(&racing, harness.state.jwt.clone());
    let message = authenticate(&other.access);

    let answer = crate::backend::as_function("ws-default", gateway.message(message)).await;

    let (_, body) = status_and_body(&answer);
    assert_eq!(body["action"], "error", "{body}");
    let after = harness.records_of(user.id).await;
    assert_eq!(after, before, "the connection keeps the session it had");
}
