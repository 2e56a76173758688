//! The signing keys on AWS, read from Secrets Manager (a stand-in speaking its protocol to the real
//! SDK client): a cold start reads the current key alone, the other versions are read once, when
//! a token first names a key other than the current one (or a page cursor first fails it), and a
//! rotation through the staging labels logs nobody out and breaks no page link.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use axum::http::{Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use shared::AppState;
use shared::auth::{Claims, JwtKeys, TokenType, key_id};
use shared::aws::aws_sdk_config;
use shared::config::AuthConfig;
use shared::domain::{TaskStatus, TaskTitle, UserId};
use shared::error::Error;
use shared::service::tasks::{NewTask, PageRequest};
use shared::store::{EmbeddedStore, Stores};
use testkit::events::TASK_TITLE;
use testkit::secrets_manager::{SECRET_ARN, SecretsManager};
use tower::ServiceExt;

const OLD: &str = "the-old-signing-key-of-at-least-32-bytes";
const NEW: &str = "the-new-signing-key-of-at-least-32-bytes";

/// `decode`, with the other versions readable (every test here keeps the stand-in up for them).
async fn decoded(keys: &JwtKeys, token: &str, kind: TokenType) -> Option<Claims> {
    keys.decode(token, kind)
        .await
        .expect("the key versions are readable")
}

fn client(stand_in: &SecretsManager) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&aws_sdk_config(Some(&stand_in.endpoint()), true))
}

async fn state(stand_in: &SecretsManager, stores: &Stores) -> AppState {
    let auth = AuthConfig::from_secrets_manager(&client(stand_in), SECRET_ARN)
        .await
        .unwrap();
    AppState::new(stores.clone(), &auth)
}

#[tokio::test]
async fn a_cold_start_reads_the_current_key_alone_and_the_others_once_when_a_token_needs_them() {
    let stores = Stores::new(EmbeddedStore::in_memory().unwrap());
    let stand_in = SecretsManager::start(&[("AWSCURRENT", NEW), ("AWSPREVIOUS", OLD)]);
    let auth = AuthConfig::from_secrets_manager(&client(&stand_in), SECRET_ARN)
        .await
        .unwrap();
    assert_eq!(stand_in.calls(), 1, "AWSCURRENT only");
    let state = AppState::new(stores.clone(), &auth);
    assert_eq!(state.jwt.current_kid(), key_id(NEW.as_bytes()));

    // Tokens signed with the current key need no other.
    let fresh = state
        .jwt
        .issue_pair(UserId::new(), 0, shared::domain::SessionId::random(), None)
        .unwrap();
    assert!(
        decoded(&state.jwt, &fresh.access, TokenType::Access)
            .await
            .is_some()
    );
    assert_eq!(stand_in.calls(), 1);

    // One from before the rotation: the three labels are read, once.
    let old = keys_of(OLD)
        .issue_pair(UserId::new(), 0, shared::domain::SessionId::random(), None)
        .unwrap();
    for _ in 0..2 {
        assert!(
            decoded(&state.jwt, &old.access, TokenType::Access)
                .await
                .is_some()
        );
        assert!(
            decoded(&state.jwt, &old.refresh, TokenType::Refresh)
                .await
                .is_some()
        );
    }
    assert_eq!(
        stand_in.calls(),
        4,
        "AWSCURRENT, then the three labels once"
    );
}

#[tokio::test]
async fn a_rotation_through_the_staging_labels_logs_nobody_out() {
    let stores = Stores::new(EmbeddedStore::in_memory().unwrap());
    let stand_in = SecretsManager::start(&[("AWSCURRENT", OLD)]);
    let before = state(&stand_in, &stores).await;
    let user = before
        .jwt
        .issue_pair(UserId::new(), 0, shared::domain::SessionId::random(), None)
        .unwrap();
    // This container meets a token naming a key nobody holds: it reads the other labels now
    // (there are none yet) and keeps what it read.
    let stranger = keys_of("a-key-that-no-version-of-the-secret-holds");
    let forged = stranger
        .issue_pair(UserId::new(), 0, shared::domain::SessionId::random(), None)
        .unwrap();
    assert!(
        decoded(&before.jwt, &forged.access, TokenType::Access)
            .await
            .is_none()
    );

    // Step 1: the new key goes in as AWSPENDING; new containers accept it, still sign with the old.
    stand_in.set_stages(&[("AWSCURRENT", OLD), ("AWSPENDING", NEW)]);
    let introduced = state(&stand_in, &stores).await;
    assert_eq!(introduced.jwt.current_kid(), key_id(OLD.as_bytes()));

    // Step 2: it becomes AWSCURRENT and the old one AWSPREVIOUS.
    stand_in.set_stages(&[("AWSCURRENT", NEW), ("AWSPREVIOUS", OLD)]);
    let after = state(&stand_in, &stores).await;
    assert_eq!(after.jwt.current_kid(), key_id(NEW.as_bytes()));
    let fresh = after
        .jwt
        .issue_pair(UserId::new(), 0, shared::domain::SessionId::random(), None)
        .unwrap();

    // Old tokens work everywhere; new ones in every container that can meet them while step 2
    // rolls out (those started after step 1).
    for (name, state) in [
        ("before", &before),
        ("introduced", &introduced),
        ("after", &after),
    ] {
        let access = decoded(&state.jwt, &user.access, TokenType::Access).await;
        assert!(access.is_some(), "{name}: old access");
        let refresh = decoded(&state.jwt, &user.refresh, TokenType::Refresh).await;
        assert!(refresh.is_some(), "{name}: old refresh");
    }
    for (name, state) in [("introduced", &introduced), ("after", &after)] {
        let access = decoded(&state.jwt, &fresh.access, TokenType::Access).await;
        assert!(access.is_some(), "{name}: new access");
    }
    // A container that read the labels before step 1 does not know the new key: hence a new
    // container per step.
    assert!(
        decoded(&before.jwt, &fresh.access, TokenType::Access)
            .await
            .is_none()
    );
}

/// One page of one task, after `cursor` if any.
fn one_task_after(cursor: Option<String>) -> PageRequest {
    PageRequest {
        status: None,
        page_size: 1,
        cursor,
    }
}

#[tokio::test]
async fn a_page_link_outlives_a_rotation_as_a_token_does() {
    let stores = Stores::new(EmbeddedStore::in_memory().unwrap());
    let stand_in = SecretsManager::start(&[("AWSCURRENT", OLD)]);
    let before = state(&stand_in, &stores).await;
    let seeded = testkit::events::seed(&before).await;
    for title in ["second", "third"] {
        let task = NewTask {
            title: TaskTitle::parse(title.into()).unwrap(),
            description: Default::default(),
            status: TaskStatus::ToDo,
        };
        before
            .tasks
            .create(seeded.session, task, None)
            .await
            .unwrap();
    }
    let list = |state: &AppState, cursor: Option<String>| {
        let (tasks, session) = (state.tasks.clone(), seeded.session);
        async move { tasks.list(session, one_task_after(cursor)).await }
    };
    let old_link = list(&before, None)
        .await
        .unwrap()
        .next
        .expect("a next page");
    // A link signed with a key that no version of the secret holds.
    let stranger = AppState::new(
        stores.clone(),
        &AuthConfig::with_secret("a-key-that-no-version-of-the-secret-holds"),
    );
    let stranger_link = list(&stranger, None).await.unwrap().next.unwrap();

    // Step 1: a container started now accepts the pending key once it has read the labels, which
    // it does at the first link its current key refuses.
    stand_in.set_stages(&[("AWSCURRENT", OLD), ("AWSPENDING", NEW)]);
    let introduced = state(&stand_in, &stores).await;
    let calls = stand_in.calls();
    let refused = list(&introduced, Some(stranger_link.clone())).await;
    assert!(
        matches!(refused, Err(Error::Validation(_))),
        "an invalid cursor, 400: {refused:?}"
    );
    assert_eq!(stand_in.calls(), calls + 3, "the three labels, read once");

    // Step 2.
    stand_in.set_stages(&[("AWSCURRENT", NEW), ("AWSPREVIOUS", OLD)]);
    let after = state(&stand_in, &stores).await;
    let calls = stand_in.calls();
    // The old container's link, followed in a container of the new key, twice: one read.
    for _ in 0..2 {
        let second = list(&after, Some(old_link.clone())).await.unwrap();
        assert_eq!(second.tasks[0].title.as_ref(), "second");
    }
    assert_eq!(stand_in.calls(), calls + 3, "the three labels, read once");
    // A token of the old key needs the same versions: that read is shared.
    let old_token = before
        .jwt
        .issue_pair(UserId::new(), 0, shared::domain::SessionId::random(), None)
        .unwrap();
    let claims = decoded(&after.jwt, &old_token.access, TokenType::Access).await;
    assert!(claims.is_some());
    assert_eq!(
        stand_in.calls(),
        calls + 3,
        "the tokens' keys share the cursors' read"
    );
    // The new container's link, followed in the step-1 container: it knows the key as pending.
    let second = list(&after, Some(old_link)).await.unwrap();
    let oldest = list(&introduced, second.next).await.unwrap();
    assert_eq!(
        oldest.tasks[0].title.as_ref(),
        TASK_TITLE,
        "the oldest task"
    );
    assert_eq!(stand_in.calls(), calls + 3, "nothing read again");
    let refused = list(&after, Some(stranger_link)).await;
    assert!(
        matches!(refused, Err(Error::Validation(_))),
        "an invalid cursor, 400: {refused:?}"
    );
}

/// The keys of a container whose only key is `secret`.
fn keys_of(secret: &str) -> JwtKeys {
    JwtKeys::new(&AuthConfig::with_secret(secret))
}

#[tokio::test]
async fn only_a_token_the_current_key_cannot_vouch_for_makes_a_read() {
    let stand_in = SecretsManager::start(&[("AWSCURRENT", NEW), ("AWSPREVIOUS", OLD)]);
    let state = state(&stand_in, &Stores::new(EmbeddedStore::in_memory().unwrap())).await;
    let claims = state
        .jwt
        .issue_pair(UserId::new(), 0, shared::domain::SessionId::random(), None)
        .unwrap()
        .refresh_claims;
    let sign = |kid: Option<String>, key: &str| {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = kid;
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
    };

    // Naming the current key, signed with another: refused without a read.
    let forged = sign(Some(key_id(NEW.as_bytes())), OLD);
    assert_eq!(decoded(&state.jwt, &forged, TokenType::Refresh).await, None);
    assert_eq!(stand_in.calls(), 1, "AWSCURRENT at cold start only");

    // Naming no key (tokens from before key ids), signed with the previous one: the labels are
    // read once, and it is accepted.
    let unlabelled = sign(None, OLD);
    assert!(
        decoded(&state.jwt, &unlabelled, TokenType::Refresh)
            .await
            .is_some()
    );
    assert_eq!(stand_in.calls(), 4);
}

#[tokio::test]
async fn while_the_other_versions_cannot_be_read_their_tokens_get_503_and_the_read_waits() {
    let stand_in = SecretsManager::start(&[("AWSCURRENT", NEW)]);
    let state = state(&stand_in, &Stores::new(EmbeddedStore::in_memory().unwrap())).await;
    let old = keys_of(OLD)
        .issue_pair(UserId::new(), 0, shared::domain::SessionId::random(), None)
        .unwrap();
    let profile = |token: &str| {
        Request::get("/api/v1/auth/profile/")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let app = shared::http::app(shared::http::all_routes(), state.clone());

    // The secret answers nothing now (every label gone): the read fails, the request is 503.
    stand_in.set_stages(&[]);
    let response = app.clone().oneshot(profile(&old.access)).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let calls = stand_in.calls();

    // Back again, but the next read waits its turn: still 503, and no call made.
    stand_in.set_stages(&[("AWSCURRENT", NEW), ("AWSPREVIOUS", OLD)]);
    let response = app.oneshot(profile(&old.access)).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stand_in.calls(), calls);
}

#[tokio::test]
async fn a_version_too_short_to_be_a_key_is_left_out_alone() {
    let stand_in = SecretsManager::start(&[
        ("AWSCURRENT", NEW),
        ("AWSPREVIOUS", OLD),
        ("AWSPENDING", "too-short"),
    ]);
    let state = state(&stand_in, &Stores::new(EmbeddedStore::in_memory().unwrap())).await;
    let old = keys_of(OLD)
        .issue_pair(UserId::new(), 0, shared::domain::SessionId::random(), None)
        .unwrap();
    assert!(
        decoded(&state.jwt, &old.access, TokenType::Access)
            .await
            .is_some()
    );
}

#[tokio::test]
async fn a_secret_without_a_current_version_or_too_short_a_key_fails_the_cold_start() {
    let missing = SecretsManager::start(&[("AWSPREVIOUS", OLD)]);
    let error = AuthConfig::from_secrets_manager(&client(&missing), SECRET_ARN)
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("AWSCURRENT"), "{error:#}");

    let short = SecretsManager::start(&[("AWSCURRENT", "too-short")]);
    let error = AuthConfig::from_secrets_manager(&client(&short), SECRET_ARN)
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("at least 32 bytes"),
        "{error:#}"
    );
    assert!(
        !format!("{error:#}").contains("too-short"),
        "the value is never shown"
    );
}
