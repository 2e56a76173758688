//! Closing the connections of an ended session (a password change, logout-all): those of older
//! epochs are closed and forgotten, current ones stay, and a management API that never answers
//! holds the ending request up for [`CLOSE_WITHIN`] at most.

use std::time::{Duration, Instant};

use shared::realtime::CLOSE_WITHIN;

use super::harness::{Harness, SLOW, first_owner, set};

#[tokio::test]
async fn connections_of_older_epochs_are_closed_and_forgotten() {
    let harness = Harness::new().await;
    let made = shared::domain::Timestamp::now().plus_seconds(-60);
    let valid = made.plus_seconds(3600);
    harness
        .connect_session(first_owner(), "old=", made, valid, 0)
        .await;
    harness
        .connect_session(first_owner(), "current=", made, valid, 1)
        .await;

    harness.close_ended(first_owner(), 1).await;

    assert_eq!(*harness.closes.0.lock().unwrap(), ["old="]);
    assert_eq!(
        harness.connections_of(first_owner()).await,
        set(&["current="])
    );
}

#[tokio::test]
async fn a_close_that_never_ends_holds_the_request_up_no_longer_than_close_within() {
    let harness = Harness::with_retries(true).await;
    let made = shared::domain::Timestamp::now().plus_seconds(-60);
    let valid = made.plus_seconds(3600);
    for id in [SLOW, "old="] {
        harness
            .connect_session(first_owner(), id, made, valid, 0)
            .await;
    }

    let started = Instant::now();
    harness.close_ended(first_owner(), 1).await;
    let took = started.elapsed();

    assert!(took >= CLOSE_WITHIN, "{took:?}");
    // Without the bound it would take the SDK's timeouts and retries: 8 s at least.
    assert!(took < CLOSE_WITHIN + Duration::from_secs(3), "{took:?}");
    let mut asked = harness.closes.0.lock().unwrap().clone();
    asked.sort();
    assert_eq!(asked, ["old=", SLOW]);
    // The one the API closed is forgotten; the one it never answered for stays recorded, to be
    // closed at the user's next change.
    assert_eq!(harness.connections_of(first_owner()).await, set(&[SLOW]));
}
