//! Session epochs: a task call made for an epoch older than its owner's is refused inside its own
//! atomic unit and writes nothing; a consumed refresh token presented again ends its login
//! session, or every session for a token without one.

use std::borrow::Borrow;

use shared::domain::{Ended, Session, SessionId, TaskStatus, Timestamp, User};
use shared::store::{
    IdempotentCreate, ListQuery, Logout, Missing, Position, RefreshToken, Rotation, Stores,
};

use super::{
    assert_missing, assert_reused, changed, changed_task, new_task, registered, token_for,
};

/// Moves `user` to the next session epoch, as a password change or logout-all does.
async fn end_sessions(stores: &Stores, user: &User) -> User {
    let after = changed(user, |u| u.session_epoch += 1);
    stores
        .users
        .update_user(user, &after)
        .await
        .expect("raising the epoch");
    after
}

fn first_page() -> ListQuery {
    ListQuery {
        status: None,
        limit: 10,
        position: Position::First,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_session_writes_nothing_and_lists_nothing() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, _) = registered(stores).await;
    let kept = new_task(user.id, TaskStatus::ToDo);
    stores
        .tasks
        .create_task(&kept, crate::contract::at(kept.owner, 0))
        .await
        .expect("creating");
    let user = end_sessions(stores, &user).await;

    let old = 0;
    let create = stores
        .tasks
        .create_task(
            &new_task(user.id, TaskStatus::ToDo),
            crate::contract::at(user.id, old),
        )
        .await;
    let done = changed_task(&kept, |t| t.status = TaskStatus::Done);
    let update = stores
        .tasks
        .update_task(&kept, &done, crate::contract::at(kept.owner, old))
        .await;
    let in_place = changed_task(&kept, |_| {});
    let same_status = stores
        .tasks
        .update_task(&kept, &in_place, crate::contract::at(kept.owner, old))
        .await;
    let delete = stores
        .tasks
        .delete_task(&kept, crate::contract::at(kept.owner, old))
        .await;
    let list = stores
        .tasks
        .list_tasks(user.id, crate::contract::at(user.id, old), &first_page())
        .await;

    assert_missing(create, Missing::Session, "creating");
    assert_missing(update, Missing::Session, "updating the status");
    assert_missing(same_status, Missing::Session, "updating in place");
    assert_missing(delete, Missing::Session, "deleting");
    assert_missing(list, Missing::Session, "listing");
    let current = user.session_epoch;
    let page = stores
        .tasks
        .list_tasks(
            user.id,
            crate::contract::at(user.id, current),
            &first_page(),
        )
        .await
        .expect("listing at the current epoch");
    assert_eq!(page.tasks, vec![kept.clone()], "nothing was written");
    assert_eq!(page.count, 1);
    stores
        .tasks
        .update_task(&kept, &done, crate::contract::at(kept.owner, current))
        .await
        .expect("the current session writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reusing_a_consumed_refresh_token_without_a_login_session_ends_every_session() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, first) = registered(stores).await;
    let second = token_for(&user);
    let rotation = stores
        .tokens
        .rotate_refresh(&first.jti, user.id, &second)
        .await
        .expect("rotating");
    assert_eq!(rotation, Rotation::Rotated(user.session_epoch));

    let replay = stores
        .tokens
        .rotate_refresh(&first.jti, user.id, &token_for(&user))
        .await;

    assert_reused(
        replay,
        Some(Ended::Before(user.session_epoch + 1)),
        "replaying the consumed token",
    );
    let again = stores
        .tokens
        .rotate_refresh(&first.jti, user.id, &token_for(&user))
        .await;
    assert_reused(again, None, "replaying it once more: nothing left to end");
    let live = stores
        .tokens
        .refresh_is_live(&second.jti, crate::contract::at(user.id, 0))
        .await;
    assert!(!live.expect("checking"), "the rotated token died with it");
    let next = stores
        .tokens
        .rotate_refresh(&second.jti, user.id, &token_for(&user))
        .await;
    assert_missing(
        next,
        Missing::RefreshToken,
        "rotating the family's newest token",
    );
    let now = stores.users.user(user.id).await.expect("reading");
    assert_eq!(
        now.expect("the user").session_epoch,
        user.session_epoch + 1,
        "every access token of the user is refused too"
    );
    let create = stores
        .tasks
        .create_task(
            &new_task(user.id, TaskStatus::ToDo),
            crate::contract::at(user.id, user.session_epoch),
        )
        .await;
    assert_missing(
        create,
        Missing::Session,
        "writing with an access token of then",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reusing_a_consumed_refresh_token_ends_its_login_session_only() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, _) = registered(stores).await;
    let (ended, other) = (SessionId::random(), SessionId::random());
    let of = |sid| RefreshToken {
        sid: Some(sid),
        ..token_for(&user)
    };
    let (first, second, elsewhere) = (of(ended), of(ended), of(other));
    for token in [&first, &elsewhere] {
        stores.tokens.add_refresh(token, 0).await.expect("storing");
    }
    let rotation = rotate(stores, &first, &second).await.expect("rotating");
    assert_eq!(rotation, Rotation::Rotated(0));

    let replay = rotate(stores, &first, &of(ended)).await;

    assert_reused(
        replay,
        Some(Ended::Session(ended)),
        "replaying the consumed token",
    );
    let again = rotate(stores, &first, &of(ended)).await;
    assert_reused(again, None, "replaying it once more: nothing left to end");
    let next = rotate(stores, &second, &of(ended)).await;
    assert_missing(
        next,
        Missing::RefreshToken,
        "rotating the session's newest token",
    );
    let session = |sid| Session {
        user: user.id,
        epoch: 0,
        sid: Some(sid),
    };
    let task = new_task(user.id, TaskStatus::ToDo);
    let create = stores.tasks.create_task(&task, session(ended)).await;
    assert_missing(
        create,
        Missing::Session,
        "writing with an access token of it",
    );
    // The user's other login session goes on.
    stores
        .tasks
        .create_task(&task, session(other))
        .await
        .expect("writing in the other session");
    rotate(stores, &elsewhere, &of(other))
        .await
        .expect("rotating the other session's token");
    let now = stores.users.user(user.id).await.expect("reading");
    assert_eq!(now.expect("the user").session_epoch, user.session_epoch);
}

/// A replay of a session that had already ended (logged out, or left behind by a new epoch) ends
/// nothing more: there are no sockets of it left to close.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replaying_a_token_of_an_already_ended_session_ends_nothing_more() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, _) = registered(stores).await;
    let sid = SessionId::random();
    let of = |sid| RefreshToken {
        sid: Some(sid),
        ..token_for(&user)
    };
    let (first, second) = (of(sid), of(sid));
    stores.tokens.add_refresh(&first, 0).await.expect("storing");
    rotate(stores, &first, &second).await.expect("rotating");
    let now = Timestamp::now().unix();
    let logout = Logout {
        jti: second.jti.clone(),
        session: Session {
            user: user.id,
            epoch: 0,
            sid: Some(sid),
        },
        live_until: now + 60,
        consumed_until: now + 3600,
    };
    let ended = stores
        .tokens
        .end_session(&logout)
        .await
        .expect("logging out");
    assert_eq!(ended, Some(Ended::Session(sid)));

    let replay = rotate(stores, &first, &of(sid)).await;

    assert_reused(replay, None, "replaying a token of a logged-out session");
    let (first, second) = (token_for(&user), token_for(&user));
    stores.tokens.add_refresh(&first, 0).await.expect("storing");
    rotate(stores, &first, &second).await.expect("rotating");
    let current = stores.users.user(user.id).await.expect("reading");
    end_sessions(stores, &current.expect("the user")).await;
    let replay = rotate(stores, &first, &token_for(&user)).await;
    assert_reused(replay, None, "replaying a token of an epoch left behind");
}

async fn rotate(
    stores: &Stores,
    old: &RefreshToken,
    new: &RefreshToken,
) -> Result<Rotation, shared::store::StoreError> {
    stores
        .tokens
        .rotate_refresh(&old.jti, old.user_id, new)
        .await
}

/// An idempotency key used before the session ended answers nothing to that session after: the
/// earlier task is not handed back to a revoked token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_session_replaying_an_idempotency_key_gets_nothing_back() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (user, _) = registered(stores).await;
    let once = |task| IdempotentCreate {
        key: "replayed".to_owned(),
        fingerprint: "f".to_owned(),
        task,
        expires_at: Timestamp::now().plus_seconds(60),
    };
    let first = once(new_task(user.id, TaskStatus::ToDo));
    stores
        .tasks
        .create_task_once(&first, crate::contract::at(first.task.owner, 0))
        .await
        .expect("creating");
    end_sessions(stores, &user).await;

    let replay = stores
        .tasks
        .create_task_once(
            &once(new_task(user.id, TaskStatus::ToDo)),
            crate::contract::at(once(new_task(user.id, TaskStatus::ToDo)).task.owner, 0),
        )
        .await;

    assert_missing(replay, Missing::Session, "replaying the key");
}
