//! A route that runs past [`ROUTE_DEADLINE`] answers 503 with `Retry-After` before the function's
//! `Timeout` ends it; `$connect` forgets the connection it had recorded, so none is left counted
//! against its user.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use shared::domain::UserId;
use shared::realtime::{FORGET_WITHIN, Gateway, ROUTE_DEADLINE};
use shared::store::{Connection, ConnectionStore, StoreError};

use super::{CONNECTION_ID, Harness, connect_json, request, status_and_body};

/// The test's connections, except that listing a user's never answers.
struct ListingStalls(Arc<dyn ConnectionStore>);

#[async_trait]
impl ConnectionStore for ListingStalls {
    async fn add_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        self.0.add_connection(connection).await
    }
    async fn renew_connection(&self, connection: &Connection) -> Result<bool, StoreError> {
        self.0.renew_connection(connection).await
    }
    async fn connection_owner(&self, id: &str) -> Result<Option<UserId>, StoreError> {
        self.0.connection_owner(id).await
    }
    async fn connections_of(&self, _: UserId) -> Result<Vec<Connection>, StoreError> {
        std::future::pending().await
    }
    async fn remove_connection(&self, user: UserId, id: &str) -> Result<(), StoreError> {
        self.0.remove_connection(user, id).await
    }
}

#[tokio::test]
async fn a_connect_past_its_deadline_is_a_503_and_leaves_no_connection_recorded() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    let mut stores = harness.stores.clone();
    stores.connections = Arc::new(ListingStalls(stores.connections.clone()));
    let gateway = Gateway::new(&stores, harness.state.jwt.clone());

    let started = Instant::now();
    let connect = gateway.connect(request(connect_json(&user.access)));
    let answer = crate::backend::as_function("ws-connect", connect).await;
    let took = started.elapsed();

    let (status, body) = status_and_body(&answer);
    assert_eq!(status, 503, "{body}");
    assert!(body["detail"].is_string(), "{body}");
    assert_eq!(
        answer
            .headers
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1")
    );
    assert!(took >= ROUTE_DEADLINE, "{took:?}");
    assert!(
        took < ROUTE_DEADLINE + FORGET_WITHIN + Duration::from_millis(500),
        "{took:?}"
    );
    assert_eq!(harness.owner_of(CONNECTION_ID).await, None);
    assert!(harness.connections_of(user.id).await.is_empty());
}
