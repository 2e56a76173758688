//! At most [`MAX_CONNECTIONS_PER_USER`] open connections per user: one more is refused with a
//! 429 and forgotten; once one closes, a new one is let in; other users are not affected, nor are
//! records of ended sessions. A record whose token has expired still counts: its socket may
//! authenticate again (one that died without its `$disconnect` is freed once the management API
//! says it is gone: `local/tests/realtime/cap.rs`).

use shared::auth::TokenType;
use shared::domain::{Email, SessionId, Timestamp, UserId, Username};
use shared::realtime::MAX_CONNECTIONS_PER_USER;
use shared::store::Connection;

use super::{Harness, Registered, connect_json, request, status_and_body};

/// `$connect` of `access` as connection `id`.
async fn connect(harness: &Harness, access: &str, id: &str) -> (i64, serde_json::Value) {
    let mut event = connect_json(access);
    event["requestContext"]["connectionId"] = id.into();
    status_and_body(&harness.connect(request(event)).await)
}

#[tokio::test]
async fn a_user_past_the_bound_is_refused_until_a_connection_closes() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    let ids: Vec<String> = (0..=MAX_CONNECTIONS_PER_USER)
        .map(|n| format!("conn-{n}"))
        .collect();
    for id in &ids[..MAX_CONNECTIONS_PER_USER] {
        assert_eq!(connect(&harness, &user.access, id).await.0, 200, "{id}");
    }

    let mut event = connect_json(&user.access);
    event["requestContext"]["connectionId"] = ids[MAX_CONNECTIONS_PER_USER].clone().into();
    let refused = harness.connect(request(event)).await;
    let (status, body) = status_and_body(&refused);

    assert_eq!(status, 429, "{body}");
    assert_eq!(
        refused
            .headers
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("60")
    );
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("throttled")),
        "{body}"
    );
    let open = harness.connections_of(user.id).await;
    assert_eq!(
        open.len(),
        MAX_CONNECTIONS_PER_USER,
        "the refused one is forgotten"
    );
    assert_eq!(harness.owner_of(&ids[MAX_CONNECTIONS_PER_USER]).await, None);

    let mut closing = super::recorded("ws-disconnect");
    closing.request_context.connection_id = Some(ids[0].clone());
    assert_eq!(harness.disconnect(closing).await.status_code, 200);
    let (status, body) = connect(&harness, &user.access, &ids[MAX_CONNECTIONS_PER_USER]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn another_users_connections_do_not_count() {
    let harness = Harness::new().await;
    let busy = harness.register().await;
    for n in 0..MAX_CONNECTIONS_PER_USER {
        assert_eq!(
            connect(&harness, &busy.access, &format!("busy-{n}"))
                .await
                .0,
            200
        );
    }
    let mut someone_else = testkit::events::events_user();
    someone_else.username = Username::parse("someone_else".into()).unwrap();
    someone_else.email = Email::parse("someone.else@example.com".into()).unwrap();
    let (_, other) = harness
        .state
        .accounts
        .register(someone_else, None)
        .await
        .expect("registering");

    let (status, body) = connect(&harness, &other.access, "other-0").await;

    assert_eq!(status, 200, "{body}");
}

/// Records connection `id` of `user` (in session `sid`) as a socket opened an hour ago whose token
/// expired 45 minutes ago, without its `$disconnect`.
async fn stale(harness: &Harness, user: UserId, id: &str, sid: Option<SessionId>) -> Connection {
    let an_hour_ago = Timestamp::now().plus_seconds(-3600);
    let stale = Connection {
        id: id.to_owned(),
        user_id: user,
        connected_at: an_hour_ago,
        expires_at: an_hour_ago.plus_seconds(7800),
        token_expires_at: an_hour_ago.plus_seconds(900),
        epoch: 0,
        sid,
    };
    let recorded = harness.stores.connections.add_connection(&stale).await;
    recorded.expect("recording a stale connection");
    stale
}

/// A socket whose token has expired hears nothing until it authenticates again, but it is open and
/// may: it holds its place. Otherwise a user could open the bound's worth with a token about to
/// expire, then as many again with the next.
#[tokio::test]
async fn records_whose_tokens_expired_still_count() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    for n in 0..MAX_CONNECTIONS_PER_USER {
        stale(&harness, user.id, &format!("stale-{n}"), None).await;
    }

    let (status, body) = connect(&harness, &user.access, "live-0").await;

    assert_eq!(status, 429, "{body}");
}

/// The sockets of an ended session are being closed by whatever ended it: they hold no place.
#[tokio::test]
async fn records_of_an_ended_session_do_not_count() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    let first = first_session(&harness, &user).await;
    for n in 0..MAX_CONNECTIONS_PER_USER {
        stale(&harness, user.id, &format!("ended-{n}"), first).await;
    }
    let second = end_first_session(&harness, &user).await;

    let (status, body) = connect(&harness, &second, "live-0").await;

    assert_eq!(status, 200, "{body}");
}

/// A renewal makes a connection of an ended session count again: past the bound it is refused,
/// and the connection stays as it was.
#[tokio::test]
async fn authenticate_cannot_bring_a_user_past_the_bound() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    let first = first_session(&harness, &user).await;
    let stale = stale(&harness, user.id, "stale-0", first).await;
    let second = end_first_session(&harness, &user).await;
    for n in 0..MAX_CONNECTIONS_PER_USER {
        let (status, body) = connect(&harness, &second, &format!("live-{n}")).await;
        assert_eq!(status, 200, "{body}");
    }
    let mut renewal = super::authenticate(&second);
    renewal.request_context.connection_id = Some(stale.id.clone());

    let answer = harness.message(renewal).await;

    let (_, body) = status_and_body(&answer);
    assert_eq!(body["action"], "error", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("throttled")),
        "refused for the bound: {body}"
    );
    let listed = harness.records_of(user.id).await;
    let kept = listed
        .iter()
        .find(|c| c.id == stale.id)
        .expect("the stale record");
    let binding = |c: &Connection| (c.token_expires_at.unix(), c.epoch, c.sid);
    assert_eq!(
        binding(kept),
        binding(&stale),
        "the refused renewal changed nothing"
    );
}

/// The login session of `user`'s registration.
async fn first_session(harness: &Harness, user: &Registered) -> Option<SessionId> {
    let claims = harness
        .state
        .jwt
        .decode(&user.refresh, TokenType::Refresh)
        .await;
    claims
        .unwrap()
        .expect("the registration's refresh token")
        .sid
}

/// Signs `user` in again and ends the registration's session: the new session's access token.
async fn end_first_session(harness: &Harness, user: &Registered) -> String {
    let (_, second) = harness
        .state
        .accounts
        .login(testkit::events::USERNAME, testkit::events::PASSWORD, None)
        .await
        .expect("signing in again");
    let ended = harness.state.accounts.logout(&user.refresh).await;
    ended.expect("ending the first session");
    second.access
}
