//! WebSocket connections: listed under their user, found by id, removed in both places, expired
//! ones never listed.

use std::borrow::Borrow;

use shared::domain::{Timestamp, UserId};
use shared::store::{Connection, Stores};

use super::random_hex;

/// A connection id as API Gateway makes them: 16 characters ending in `=`, fresh every call.
fn connection_id() -> String {
    format!("{}=", random_hex(15))
}

/// A connection of `user` opened now, open for an hour.
fn open_connection(user: UserId) -> Connection {
    let now = Timestamp::now();
    Connection {
        id: connection_id(),
        user_id: user,
        connected_at: now,
        expires_at: now.plus_seconds(3600),
        token_expires_at: now.plus_seconds(900),
        epoch: 0,
        sid: None,
    }
}

async fn add(stores: &Stores, connection: &Connection) {
    stores
        .connections
        .add_connection(connection)
        .await
        .expect("adding a connection");
}

/// `user`'s connection ids, sorted.
async fn listed(stores: &Stores, user: UserId) -> Vec<String> {
    testkit::events::connection_ids(stores, user).await
}

async fn owner(stores: &Stores, id: &str) -> Option<UserId> {
    stores
        .connections
        .connection_owner(id)
        .await
        .expect("reading a connection's owner")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_added_connection_is_listed_under_its_user() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let user = UserId::new();
    let connection = open_connection(user);

    add(stores, &connection).await;

    assert_eq!(listed(stores, user).await, vec![connection.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connections_owner_is_found_by_its_id() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let user = UserId::new();
    let connection = open_connection(user);

    add(stores, &connection).await;

    assert_eq!(owner(stores, &connection.id).await, Some(user));
    assert_eq!(owner(stores, &connection_id()).await, None, "an unknown id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removing_a_connection_removes_it_from_the_list_and_the_owner_lookup() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let user = UserId::new();
    let connection = open_connection(user);
    add(stores, &connection).await;

    stores
        .connections
        .remove_connection(user, &connection.id)
        .await
        .expect("removing a connection");

    assert_eq!(listed(stores, user).await, Vec::<String>::new());
    assert_eq!(owner(stores, &connection.id).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removing_an_unknown_connection_is_ok() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let user = UserId::new();

    let result = stores
        .connections
        .remove_connection(user, &connection_id())
        .await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removing_a_connection_twice_is_ok() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let user = UserId::new();
    let connection = open_connection(user);
    add(stores, &connection).await;

    for attempt in ["first", "second"] {
        let result = stores
            .connections
            .remove_connection(user, &connection.id)
            .await;
        assert!(result.is_ok(), "{attempt} removal: {result:?}");
    }
    assert_eq!(listed(stores, user).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_users_connections_never_appear_for_another_user() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let user = UserId::new();
    let other = UserId::new();
    let mine = open_connection(user);
    let theirs = open_connection(other);
    add(stores, &mine).await;
    add(stores, &theirs).await;

    assert_eq!(listed(stores, user).await, vec![mine.id.clone()]);
    assert_eq!(listed(stores, other).await, vec![theirs.id.clone()]);
    assert_eq!(listed(stores, UserId::new()).await, Vec::<String>::new());

    stores
        .connections
        .remove_connection(other, &mine.id)
        .await
        .expect("removing under the wrong user is not an error");
    assert_eq!(
        listed(stores, user).await,
        vec![mine.id.clone()],
        "another user cannot remove my connection from my list"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_connection_is_not_listed() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let user = UserId::new();
    let long_ago = Timestamp::now().plus_seconds(-3 * 3600);
    let expired = Connection {
        connected_at: long_ago,
        expires_at: long_ago.plus_seconds(3600),
        ..open_connection(user)
    };
    let live = open_connection(user);
    add(stores, &expired).await;
    add(stores, &live).await;

    assert_eq!(listed(stores, user).await, vec![live.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_connections_of_one_user_are_both_listed() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let user = UserId::new();
    let first = open_connection(user);
    let second = open_connection(user);
    add(stores, &first).await;
    add(stores, &second).await;

    let mut expected = vec![first.id, second.id];
    expected.sort();
    assert_eq!(listed(stores, user).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_connections_of_one_user_are_all_listed() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let user = UserId::new();
    let mut expected = Vec::new();
    for _ in 0..25 {
        let connection = open_connection(user);
        add(stores, &connection).await;
        expected.push(connection.id);
    }

    expected.sort();
    assert_eq!(listed(stores, user).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_listed_connection_says_whose_it_is_and_when_it_was_made() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let user = UserId::new();
    let connection = open_connection(user);
    add(stores, &connection).await;

    let listed = stores
        .connections
        .connections_of(user)
        .await
        .expect("listing connections");

    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, connection.id);
    assert_eq!(listed[0].user_id, user);
    assert_eq!(listed[0].connected_at, connection.connected_at);
    assert_eq!(listed[0].expires_at.unix(), connection.expires_at.unix());
}

/// `authenticate` renews a connection's session on its record; one closed meanwhile (its
/// `$disconnect` ran first) is not re-created.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renewing_binds_a_new_token_but_never_brings_a_closed_connection_back() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let user = UserId::new();
    let connection = open_connection(user);
    add(stores, &connection).await;
    let renewed = Connection {
        token_expires_at: connection.token_expires_at.plus_seconds(600),
        epoch: 3,
        ..connection.clone()
    };

    assert!(stores.connections.renew_connection(&renewed).await.unwrap());
    let stored = stores.connections.connections_of(user).await.unwrap();
    let bound: Vec<_> = stored
        .iter()
        .map(|c| (c.id.clone(), c.token_expires_at.unix(), c.epoch))
        .collect();
    let expected = (renewed.id.clone(), renewed.token_expires_at.unix(), 3);
    assert_eq!(bound, vec![expected]);

    stores
        .connections
        .remove_connection(user, &connection.id)
        .await
        .unwrap();
    assert!(!stores.connections.renew_connection(&renewed).await.unwrap());
    assert_eq!(listed(stores, user).await, Vec::<String>::new());
    assert_eq!(owner(stores, &connection.id).await, None);
}
