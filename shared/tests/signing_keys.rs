//! The signing keys on AWS, read from Secrets Manager (a stand-in speaking its protocol to the real
//! SDK client): every accepted stage is read once, and a rotation through the staging labels logs
//! nobody out.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use shared::AppState;
use shared::auth::{TokenType, key_id};
use shared::config::{AuthConfig, aws_sdk_config};
use shared::store::{EmbeddedStore, Stores};
use testkit::secrets_manager::{SECRET_ARN, SecretsManager};

const OLD: &str = "the-old-signing-key-of-at-least-32-bytes";
const NEW: &str = "the-new-signing-key-of-at-least-32-bytes";

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
async fn a_cold_start_reads_each_stage_once_and_signs_with_the_current_key() {
    let stand_in = SecretsManager::start(&[("AWSCURRENT", OLD)]);
    let auth = AuthConfig::from_secrets_manager(&client(&stand_in), SECRET_ARN)
        .await
        .unwrap();
    assert_eq!(
        stand_in.calls(),
        3,
        "AWSCURRENT, AWSPREVIOUS and AWSPENDING, once each"
    );
    assert!(
        auth.accepted_jwt_secrets.is_empty(),
        "no other stage exists yet"
    );
    let state = AppState::new(Stores::new(EmbeddedStore::in_memory().unwrap()), &auth);
    assert_eq!(state.jwt.current_kid(), key_id(OLD.as_bytes()));
}

#[tokio::test]
async fn a_rotation_through_the_staging_labels_logs_nobody_out() {
    let stores = Stores::new(EmbeddedStore::in_memory().unwrap());
    let stand_in = SecretsManager::start(&[("AWSCURRENT", OLD)]);
    let before = state(&stand_in, &stores).await;
    let user = before
        .jwt
        .issue_pair(shared::domain::UserId::new(), 0)
        .unwrap();

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
        .issue_pair(shared::domain::UserId::new(), 0)
        .unwrap();

    // Old tokens work everywhere; new ones in every container that can meet them while step 2
    // rolls out (those started after step 1).
    for (name, state) in [
        ("before", &before),
        ("introduced", &introduced),
        ("after", &after),
    ] {
        assert!(
            state.jwt.decode(&user.access, TokenType::Access).is_some(),
            "{name}: old access"
        );
        assert!(
            state
                .jwt
                .decode(&user.refresh, TokenType::Refresh)
                .is_some(),
            "{name}: old refresh"
        );
    }
    for (name, state) in [("introduced", &introduced), ("after", &after)] {
        assert!(
            state.jwt.decode(&fresh.access, TokenType::Access).is_some(),
            "{name}: new access"
        );
    }
    // A container from before step 1 would not know the new key: hence a new container per step.
    assert!(
        before
            .jwt
            .decode(&fresh.access, TokenType::Access)
            .is_none()
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
