//! Refresh tokens: single-use rotation, expiry and session epochs (revocation: `revocation.rs`).

use std::borrow::Borrow;

use shared::domain::{Ended, PersonName, Timestamp, User};
use shared::store::{Missing, RefreshToken, Rotation, StoreError, Stores};

use super::{assert_missing, changed, expired_token_for, random_hex, registered, token_for};

/// Rotates `old` of `user` to a fresh token, returning the fresh one (a reuse fails the test).
pub(super) async fn rotate(
    stores: &Stores,
    user: &User,
    old: &RefreshToken,
) -> Result<RefreshToken, StoreError> {
    let new = token_for(user);
    match stores
        .tokens
        .rotate_refresh(&old.jti, user.id, &new)
        .await?
    {
        Rotation::Rotated(_) => Ok(new),
        reused => panic!("a rotation was expected, not {reused:?}"),
    }
}

/// Presents `old` of `user` for rotation to a fresh token: what the store did with it.
pub(super) async fn present(
    stores: &Stores,
    user: &User,
    old: &RefreshToken,
) -> Result<Rotation, StoreError> {
    stores
        .tokens
        .rotate_refresh(&old.jti, user.id, &token_for(user))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_consumes_the_old_token() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, first) = registered(stores).await;

    let second = rotate(stores, &user, &first)
        .await
        .expect("the registration's token rotates");
    let third = rotate(stores, &user, &second)
        .await
        .expect("the new token rotates");

    for used in [&first, &second] {
        let live = stores
            .tokens
            .refresh_is_live(&used.jti, crate::contract::at(user.id, 0))
            .await;
        assert!(!live.expect("checking"), "a consumed token is not live");
    }
    rotate(stores, &user, &third)
        .await
        .expect("the chain goes on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotating_another_users_token_is_not_found_and_leaves_it_live() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (owner, token) = registered(stores).await;
    let (thief, _) = registered(stores).await;

    let result = present(stores, &thief, &token).await;

    assert_missing(
        result,
        Missing::RefreshToken,
        "rotating someone else's token",
    );
    rotate(stores, &owner, &token)
        .await
        .expect("the owner's token still rotates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_token_does_not_rotate() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, _) = registered(stores).await;
    let expired = expired_token_for(&user);
    stores
        .users
        .record_login(&user, Timestamp::now(), &expired)
        .await
        .expect("recording a login");

    assert_missing(
        present(stores, &user, &expired).await,
        Missing::RefreshToken,
        "rotating an expired token",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unknown_token_does_not_rotate() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, _) = registered(stores).await;
    let unknown = RefreshToken {
        jti: random_hex(32),
        ..token_for(&user)
    };

    assert_missing(
        present(stores, &user, &unknown).await,
        Missing::RefreshToken,
        "rotating an unknown jti",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_session_epoch_kills_every_older_token() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, registration) = registered(stores).await;
    let login = token_for(&user);
    stores
        .users
        .record_login(&user, Timestamp::now(), &login)
        .await
        .expect("recording a login");
    let rotated = rotate(stores, &user, &registration)
        .await
        .expect("rotating before the revocation");
    let revoked = changed(&user, |u| u.session_epoch += 1);

    stores
        .users
        .update_user(&user, &revoked)
        .await
        .expect("bumping the session epoch");

    assert_missing(
        present(stores, &user, &login).await,
        Missing::RefreshToken,
        "a login token from before",
    );
    assert_missing(
        present(stores, &user, &rotated).await,
        Missing::RefreshToken,
        "a rotated token from before",
    );
    let fresh = token_for(&revoked);
    stores
        .users
        .record_login(&revoked, Timestamp::now(), &fresh)
        .await
        .expect("logging in again");
    let next = rotate(stores, &revoked, &fresh)
        .await
        .expect("a token recorded after the revocation rotates");
    rotate(stores, &revoked, &next)
        .await
        .expect("and its successor too");
}

/// A password change's write: the new epoch and the caller's new token together, or neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_epoch_and_its_first_token_are_stored_together_or_not_at_all() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, registration) = registered(stores).await;
    let ended = changed(&user, |u| u.session_epoch += 1);
    let edited = changed(&user, |u| {
        u.first_name = PersonName::parse("Edited".into()).expect("a name")
    });
    stores
        .users
        .update_user(&user, &edited)
        .await
        .expect("an edit that comes first");

    let refused = token_for(&ended);
    let stale = stores
        .users
        .update_user_with_token(&user, &ended, &refused)
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    rotate(stores, &user, &registration)
        .await
        .expect("the old session lives on");

    let ended = changed(&edited, |u| u.session_epoch += 1);
    let fresh = token_for(&ended);
    stores
        .users
        .update_user_with_token(&edited, &ended, &fresh)
        .await
        .expect("the change on the current user");
    rotate(stores, &ended, &fresh)
        .await
        .expect("the new session's token rotates");
    // The refused change's token, of the same epoch, would be live now had it been stored.
    assert!(
        !stores
            .tokens
            .refresh_is_live(&refused.jti, crate::contract::at(user.id, 0))
            .await
            .unwrap(),
        "the token of a refused change is not stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_rotations_of_one_token_succeed_once() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, token) = registered(stores).await;
    let replacements: Vec<RefreshToken> = (0..8).map(|_| token_for(&user)).collect();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(replacements.len()));

    let handles: Vec<_> = replacements
        .iter()
        .cloned()
        .map(|new| {
            let (stores, barrier, old) = (stores.clone(), barrier.clone(), token.jti.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                stores.tokens.rotate_refresh(&old, user.id, &new).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("rotation task"));
    }

    let rotated =
        |result: &Result<Rotation, StoreError>| matches!(result, Ok(Rotation::Rotated(_)));
    let winners: Vec<&RefreshToken> = replacements
        .iter()
        .zip(&results)
        .filter(|(_, result)| rotated(result))
        .map(|(new, _)| new)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one rotation wins: {results:?}");
    let winner = winners[0].clone();
    // A loser found the token consumed (a reuse, which ended every session unless another
    // loser's had), or, on DynamoDB, its transaction met a reuse's new epoch first.
    let mut ended = Vec::new();
    for result in results.into_iter().filter(|result| !rotated(result)) {
        match result {
            Ok(Rotation::Reused(Some(what))) => ended.push(what),
            Ok(Rotation::Reused(None)) | Err(StoreError::Missing(Missing::RefreshToken)) => {}
            other => panic!("a losing rotation: {other:?}"),
        }
    }
    // The one that ended them says so, for closing the user's sockets.
    assert_eq!(ended, [Ended::Before(user.session_epoch + 1)]);
    for loser in replacements.iter().filter(|new| new.jti != winner.jti) {
        assert_missing(
            present(stores, &user, loser).await,
            Missing::RefreshToken,
            "a losing rotation's token",
        );
    }
    // Racing rotations of one token are reuses: a loser found it consumed, so the family has
    // ended, the winner's token included, with no replay needed.
    assert_missing(
        present(stores, &user, &winner).await,
        Missing::RefreshToken,
        "the winner's token, after the race",
    );
    let after = stores.users.user(user.id).await.unwrap().expect("the user");
    assert!(
        after.session_epoch > user.session_epoch,
        "the race ended every session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_call_about_a_user_who_does_not_exist_says_the_user_is_missing() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let ghost = super::new_user();
    let task = super::new_task(ghost.id, shared::domain::TaskStatus::ToDo);
    let query = shared::store::ListQuery {
        status: None,
        limit: 10,
        position: shared::store::Position::First,
    };

    let login = stores
        .users
        .record_login(&ghost, Timestamp::now(), &token_for(&ghost))
        .await;
    let update = stores
        .users
        .update_user(&ghost, &changed(&ghost, |_| {}))
        .await;
    let create = stores
        .tasks
        .create_task(&task, crate::contract::at(task.owner, 0))
        .await;
    let list = stores
        .tasks
        .list_tasks(ghost.id, crate::contract::at(ghost.id, 0), &query)
        .await;

    assert_missing(login, Missing::User, "recording a login");
    assert_missing(update, Missing::User, "updating the user");
    assert_missing(create, Missing::User, "creating a task");
    assert_missing(list, Missing::User, "listing tasks");
}
