//! Users: lookups, the username and email guards, logins and optimistic updates.

use std::borrow::Borrow;

use shared::domain::{PersonName, Timestamp, User, Username};
use shared::store::{StoreError, Stores};

use super::{
    assert_conflict, assert_taken, changed, new_user, registered, token_for, unique_email,
    unique_username, user_named,
};

/// Asserts that `user` is what the store holds, by id, by username and by email.
async fn assert_stored(stores: &Stores, user: &User) {
    let by_id = stores.users.user(user.id).await.expect("reading by id");
    assert_eq!(by_id.as_ref(), Some(user), "by id");
    let by_name = stores
        .users
        .user_by_username(&user.username)
        .await
        .expect("reading by username");
    assert_eq!(by_name.as_ref(), Some(user), "by username");
    let by_email = stores
        .users
        .user_by_email(&user.email)
        .await
        .expect("reading by email");
    assert_eq!(by_email.as_ref(), Some(user), "by email");
}

/// Asserts that nothing of `user` was stored: not its id, its username or its email.
async fn assert_absent(stores: &Stores, user: &User) {
    let by_id = stores.users.user(user.id).await.expect("reading by id");
    assert_eq!(by_id, None, "by id");
    let by_name = stores
        .users
        .user_by_username(&user.username)
        .await
        .expect("reading by username");
    assert_eq!(by_name, None, "by username");
    let by_email = stores
        .users
        .user_by_email(&user.email)
        .await
        .expect("reading by email");
    assert_eq!(by_email, None, "by email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_reads_back_by_id_username_and_email() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, _) = registered(stores).await;
    assert_stored(stores, &user).await;
    assert_absent(stores, &new_user()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_taken_username_and_email_are_both_reported() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (existing, _) = registered(stores).await;
    let mut copycat = user_named(existing.username.clone(), existing.email.clone());
    copycat.first_name = PersonName::parse("Eve".into()).expect("a name");

    let result = stores
        .users
        .create_user(&copycat, &token_for(&copycat))
        .await;

    assert_taken(result, true, true, "same username and email");
    assert_eq!(stores.users.user(copycat.id).await.expect("reading"), None);
    assert_stored(stores, &existing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_taken_username_writes_nothing_and_leaves_the_email_free() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (existing, _) = registered(stores).await;
    let refused = user_named(existing.username.clone(), unique_email());

    let result = stores
        .users
        .create_user(&refused, &token_for(&refused))
        .await;

    assert_taken(result, true, false, "same username");
    assert_eq!(stores.users.user(refused.id).await.expect("reading"), None);
    let by_email = stores.users.user_by_email(&refused.email).await;
    assert_eq!(
        by_email.expect("reading"),
        None,
        "the free email was claimed"
    );
    assert_stored(stores, &existing).await;
    let later = user_named(unique_username(), refused.email.clone());
    stores
        .users
        .create_user(&later, &token_for(&later))
        .await
        .expect("the email left free registers later");
    assert_stored(stores, &later).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_taken_email_writes_nothing_and_leaves_the_username_free() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (existing, _) = registered(stores).await;
    let refused = user_named(unique_username(), existing.email.clone());

    let result = stores
        .users
        .create_user(&refused, &token_for(&refused))
        .await;

    assert_taken(result, false, true, "same email");
    assert_eq!(stores.users.user(refused.id).await.expect("reading"), None);
    let by_name = stores.users.user_by_username(&refused.username).await;
    assert_eq!(
        by_name.expect("reading"),
        None,
        "the free username was claimed"
    );
    assert_stored(stores, &existing).await;
    let later = user_named(refused.username.clone(), unique_email());
    stores
        .users
        .create_user(&later, &token_for(&later))
        .await
        .expect("the username left free registers later");
    assert_stored(stores, &later).await;
}

/// Runs `create_user` for every user at once; returns the results in the same order.
async fn create_all_at_once(stores: &Stores, users: &[User]) -> Vec<Result<(), StoreError>> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(users.len()));
    let handles: Vec<_> = users
        .iter()
        .cloned()
        .map(|user| {
            let (stores, barrier) = (stores.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                stores.users.create_user(&user, &token_for(&user)).await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.expect("create_user task"));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_registrations_of_one_username_make_one_user() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let username = unique_username();
    let users: Vec<User> = (0..8)
        .map(|_| user_named(username.clone(), unique_email()))
        .collect();

    let results = create_all_at_once(stores, &users).await;

    let winners: Vec<&User> = users
        .iter()
        .zip(&results)
        .filter(|(_, result)| result.is_ok())
        .map(|(user, _)| user)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one registration wins: {results:?}"
    );
    for result in results.into_iter().filter(Result::is_err) {
        assert_taken(result, true, false, "a losing registration");
    }
    assert_stored(stores, winners[0]).await;
    for loser in users.iter().filter(|user| user.id != winners[0].id) {
        assert_eq!(stores.users.user(loser.id).await.expect("reading"), None);
        let by_email = stores.users.user_by_email(&loser.email).await;
        assert_eq!(
            by_email.expect("reading"),
            None,
            "a loser's email was claimed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_registrations_of_one_email_make_one_user() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let email = unique_email();
    let users: Vec<User> = (0..8)
        .map(|_| user_named(unique_username(), email.clone()))
        .collect();

    let results = create_all_at_once(stores, &users).await;

    let won = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(won, 1, "exactly one registration wins: {results:?}");
    for result in results.into_iter().filter(Result::is_err) {
        assert_taken(result, false, true, "a losing registration");
    }
    let owner = stores.users.user_by_email(&email).await.expect("reading");
    let owner = owner.expect("the email belongs to the winner");
    assert!(
        users.contains(&owner),
        "the email points at one of the registrants"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn record_login_sets_last_login_and_stores_a_rotatable_token() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, _) = registered(stores).await;
    assert_eq!(user.last_login, None);
    let at = Timestamp::now();
    let token = token_for(&user);

    stores
        .users
        .record_login(&user, at, &token)
        .await
        .expect("recording a login");

    let stored = stores.users.user(user.id).await.expect("reading");
    assert_eq!(stored.expect("the user").last_login, Some(at));
    let next = token_for(&user);
    stores
        .tokens
        .rotate_refresh(&token.jti, user.id, &next)
        .await
        .expect("the login's token rotates");
    stores
        .tokens
        .rotate_refresh(&next.jti, user.id, &token_for(&user))
        .await
        .expect("the rotated token rotates in turn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_user_replaces_the_user_and_refuses_a_stale_version() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, _) = registered(stores).await;
    let renamed = changed(&user, |u| {
        u.first_name = PersonName::parse("Grace".into()).expect("a name");
    });

    stores
        .users
        .update_user(&user, &renamed)
        .await
        .expect("updating an unchanged user");
    assert_stored(stores, &renamed).await;

    let stale = changed(&user, |u| {
        u.last_name = PersonName::parse("Hopper".into()).expect("a name");
    });
    let result = stores.users.update_user(&user, &stale).await;
    assert_conflict(result, "update from a stale version");
    assert_stored(stores, &renamed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rename_moves_the_username_guard() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, _) = registered(stores).await;
    let new_name = unique_username();
    let renamed = changed(&user, |u| u.username = new_name.clone());

    stores
        .users
        .update_user(&user, &renamed)
        .await
        .expect("renaming to a free name");

    assert_stored(stores, &renamed).await;
    let old = stores.users.user_by_username(&user.username).await;
    assert_eq!(
        old.expect("reading"),
        None,
        "the old name still points somewhere"
    );
    let taker = user_named(new_name, unique_email());
    let result = stores.users.create_user(&taker, &token_for(&taker)).await;
    assert_taken(result, true, false, "registering the new name");
    let heir = user_named(user.username.clone(), unique_email());
    stores
        .users
        .create_user(&heir, &token_for(&heir))
        .await
        .expect("the old name is free for someone else");
    assert_stored(stores, &heir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_email_change_moves_the_email_guard() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, _) = registered(stores).await;
    let new_email = unique_email();
    let moved = changed(&user, |u| u.email = new_email.clone());

    stores
        .users
        .update_user(&user, &moved)
        .await
        .expect("changing to a free email");

    assert_stored(stores, &moved).await;
    let old = stores.users.user_by_email(&user.email).await;
    assert_eq!(
        old.expect("reading"),
        None,
        "the old email still points somewhere"
    );
    let taker = user_named(unique_username(), new_email);
    let result = stores.users.create_user(&taker, &token_for(&taker)).await;
    assert_taken(result, false, true, "registering the new email");
    let heir = user_named(unique_username(), user.email.clone());
    stores
        .users
        .create_user(&heir, &token_for(&heir))
        .await
        .expect("the old email is free for someone else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rename_to_a_taken_name_changes_nothing() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (first, _) = registered(stores).await;
    let (second, _) = registered(stores).await;
    let fresh_email = unique_email();
    let cases: [(Username, bool, bool); 2] = [
        (first.username.clone(), true, false),
        (unique_username(), false, true),
    ];

    for (name, name_taken, email_taken) in cases {
        // Each attempt also changes the other field to a free value, which must not be claimed.
        let email = if email_taken {
            first.email.clone()
        } else {
            fresh_email.clone()
        };
        let attempt = changed(&second, |u| {
            u.username = name.clone();
            u.email = email.clone();
        });

        let result = stores.users.update_user(&second, &attempt).await;

        assert_taken(result, name_taken, email_taken, "moving onto a taken guard");
        assert_stored(stores, &first).await;
        assert_stored(stores, &second).await;
        let claimed_email = stores.users.user_by_email(&fresh_email).await;
        assert_eq!(
            claimed_email.expect("reading"),
            None,
            "the free email was claimed"
        );
        if !name_taken {
            let claimed_name = stores.users.user_by_username(&name).await;
            assert_eq!(
                claimed_name.expect("reading"),
                None,
                "the free name was claimed"
            );
        }
    }
    let both = changed(&second, |u| {
        u.username = first.username.clone();
        u.email = first.email.clone();
    });
    let result = stores.users.update_user(&second, &both).await;
    assert_taken(
        result,
        true,
        true,
        "moving onto both of another user's guards",
    );
    assert_stored(stores, &second).await;
}
