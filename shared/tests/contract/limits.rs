//! Throttle counters: per window, atomic under concurrent hits, a hit taken back never below
//! zero, and settled hits counted beside them.

use std::borrow::Borrow;

use shared::domain::Timestamp;
use shared::store::{Count, LimitCounter, LimitStore, Stores};

use super::random_hex;

/// The hit counts `hit` answers for `counters`.
async fn hits(limits: &dyn LimitStore, counters: &[LimitCounter]) -> Vec<u64> {
    let counts = limits.hit(counters).await.expect("counted");
    counts.iter().map(|count| count.hits).collect()
}

/// A counter nobody else uses, in a window ending an hour from now (plus `later` seconds).
fn fresh_counter(later: i64) -> LimitCounter {
    LimitCounter {
        name: format!("test#{}", random_hex(32)),
        window_end: Timestamp::now().plus_seconds(3600 + later),
    }
}

#[tokio::test]
async fn hits_answer_the_new_counts() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (a, b) = (fresh_counter(0), fresh_counter(0));

    assert_eq!(hits(&*stores.limits, &[a.clone(), b.clone()]).await, [1, 1]);
    assert_eq!(hits(&*stores.limits, std::slice::from_ref(&a)).await, [2]);
    assert_eq!(hits(&*stores.limits, &[b, a]).await, [2, 3]);
}

#[tokio::test]
async fn a_hit_taken_back_is_gone_and_counts_never_go_below_zero() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (a, never_hit) = (fresh_counter(0), fresh_counter(0));
    stores.limits.hit(std::slice::from_ref(&a)).await.unwrap();
    stores.limits.hit(std::slice::from_ref(&a)).await.unwrap();

    stores.limits.unhit(std::slice::from_ref(&a)).await.unwrap();
    assert_eq!(hits(&*stores.limits, std::slice::from_ref(&a)).await, [2]);
    for _ in 0..3 {
        stores
            .limits
            .unhit(&[a.clone(), never_hit.clone()])
            .await
            .unwrap();
    }

    assert_eq!(hits(&*stores.limits, &[a, never_hit]).await, [1, 1]);
}

#[tokio::test]
async fn the_next_window_of_a_counter_starts_from_zero() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let this_window = fresh_counter(0);
    let next_window = LimitCounter {
        name: this_window.name.clone(),
        window_end: this_window.window_end.plus_seconds(900),
    };
    stores
        .limits
        .hit(std::slice::from_ref(&this_window))
        .await
        .unwrap();
    stores.limits.hit(&[this_window]).await.unwrap();

    let counts = hits(&*stores.limits, &[next_window]).await;

    assert_eq!(counts, [1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hits_are_all_counted() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let counter = fresh_counter(0);

    let concurrent = (0..16).map(|_| hits(&*stores.limits, std::slice::from_ref(&counter)));
    let mut answers: Vec<u64> = futures::future::join_all(concurrent)
        .await
        .into_iter()
        .flatten()
        .collect();

    answers.sort_unstable();
    assert_eq!(
        answers,
        (1..=16).collect::<Vec<u64>>(),
        "each hit saw its own count"
    );
    assert_eq!(hits(&*stores.limits, &[counter]).await, [17]);
}

#[tokio::test]
async fn settled_hits_are_answered_beside_the_hits_of_their_window() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (a, b) = (fresh_counter(0), fresh_counter(0));
    let next_window = LimitCounter {
        name: a.name.clone(),
        window_end: a.window_end.plus_seconds(900),
    };
    for _ in 0..3 {
        stores.limits.hit(&[a.clone(), b.clone()]).await.unwrap();
    }

    stores.limits.settle(&[a.clone(), b.clone()]).await.unwrap();
    stores
        .limits
        .settle(std::slice::from_ref(&a))
        .await
        .unwrap();
    stores.limits.unhit(std::slice::from_ref(&b)).await.unwrap();

    let counts = stores.limits.hit(&[a, b, next_window]).await.unwrap();
    let count = |hits, settled| Count { hits, settled };
    assert_eq!(counts, [count(4, 2), count(3, 1), count(1, 0)]);
}
