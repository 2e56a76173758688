//! Throttle counters: per window, atomic under concurrent hits, and a hit taken back never below
//! zero.

use std::borrow::Borrow;

use shared::domain::Timestamp;
use shared::store::{Counter, Stores};

use super::random_hex;

/// A counter nobody else uses, in a window ending an hour from now (plus `later` seconds).
fn fresh_counter(later: i64) -> Counter {
    Counter {
        name: format!("test#{}", random_hex(32)),
        window_end: Timestamp::now().plus_seconds(3600 + later),
    }
}

#[tokio::test]
async fn hits_answer_the_new_counts() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (a, b) = (fresh_counter(0), fresh_counter(0));

    assert_eq!(
        stores.limits.hit(&[a.clone(), b.clone()]).await.unwrap(),
        [1, 1]
    );
    assert_eq!(
        stores.limits.hit(std::slice::from_ref(&a)).await.unwrap(),
        [2]
    );
    assert_eq!(stores.limits.hit(&[b, a]).await.unwrap(), [2, 3]);
}

#[tokio::test]
async fn a_hit_taken_back_is_gone_and_counts_never_go_below_zero() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (a, never_hit) = (fresh_counter(0), fresh_counter(0));
    stores.limits.hit(std::slice::from_ref(&a)).await.unwrap();
    stores.limits.hit(std::slice::from_ref(&a)).await.unwrap();

    stores.limits.unhit(std::slice::from_ref(&a)).await.unwrap();
    assert_eq!(
        stores.limits.hit(std::slice::from_ref(&a)).await.unwrap(),
        [2]
    );
    for _ in 0..3 {
        stores
            .limits
            .unhit(&[a.clone(), never_hit.clone()])
            .await
            .unwrap();
    }

    assert_eq!(stores.limits.hit(&[a, never_hit]).await.unwrap(), [1, 1]);
}

#[tokio::test]
async fn the_next_window_of_a_counter_starts_from_zero() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let this_window = fresh_counter(0);
    let next_window = Counter {
        name: this_window.name.clone(),
        window_end: this_window.window_end.plus_seconds(900),
    };
    stores
        .limits
        .hit(std::slice::from_ref(&this_window))
        .await
        .unwrap();
    stores.limits.hit(&[this_window]).await.unwrap();

    let counts = stores.limits.hit(&[next_window]).await.unwrap();

    assert_eq!(counts, [1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hits_are_all_counted() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let counter = fresh_counter(0);

    let hits = (0..16).map(|_| stores.limits.hit(std::slice::from_ref(&counter)));
    let mut answers: Vec<u64> = futures::future::try_join_all(hits)
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();

    answers.sort_unstable();
    assert_eq!(
        answers,
        (1..=16).collect::<Vec<u64>>(),
        "each hit saw its own count"
    );
    assert_eq!(stores.limits.hit(&[counter]).await.unwrap(), [17]);
}
