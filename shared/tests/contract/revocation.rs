//! Revoking refresh tokens (a logout): what a revoked token, and a revoked one already rotated,
//! can still do.

use std::borrow::Borrow;

use shared::domain::{Ended, Timestamp};
use shared::store::{Missing, Stores};

use super::tokens::{present, rotate};
use super::{assert_missing, assert_reused, random_hex, registered, token_for};

/// Logging out a token already rotated leaves its record: presented again, it is still a reuse
/// that ends every session (a thief who rotated a stolen token cannot hide the theft so).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoking_a_consumed_token_keeps_its_reuse_detected() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, stolen) = registered(stores).await;
    let thiefs = rotate(stores, &user, &stolen)
        .await
        .expect("the thief's rotation");

    stores
        .tokens
        .revoke_refresh(&stolen.jti, user.id)
        .await
        .expect("logging the stolen token out");

    assert_reused(
        present(stores, &user, &stolen).await,
        Some(Ended::Before(user.session_epoch + 1)),
        "the victim's replay",
    );
    assert_missing(
        present(stores, &user, &thiefs).await,
        Missing::RefreshToken,
        "the thief's token, after the replay",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_token_does_not_rotate() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, token) = registered(stores).await;
    let other = token_for(&user);
    stores
        .users
        .record_login(&user, Timestamp::now(), &other)
        .await
        .expect("recording a login");

    stores
        .tokens
        .revoke_refresh(&token.jti, user.id)
        .await
        .expect("revoking a live token");

    assert_missing(
        present(stores, &user, &token).await,
        Missing::RefreshToken,
        "rotating a revoked token",
    );
    rotate(stores, &user, &other)
        .await
        .expect("the user's other token is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoking_an_unknown_token_is_ok() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, token) = registered(stores).await;

    stores
        .tokens
        .revoke_refresh(&random_hex(32), user.id)
        .await
        .expect("revoking an unknown jti");
    stores
        .tokens
        .revoke_refresh(&token.jti, user.id)
        .await
        .expect("revoking");
    stores
        .tokens
        .revoke_refresh(&token.jti, user.id)
        .await
        .expect("revoking the same token twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoking_someone_elses_token_leaves_it_working() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (owner, token) = registered(stores).await;
    let (other, _) = registered(stores).await;

    stores
        .tokens
        .revoke_refresh(&token.jti, other.id)
        .await
        .expect("revoking a token that is not yours is like revoking an unknown one");

    rotate(stores, &owner, &token)
        .await
        .expect("the owner's token still rotates");
}
