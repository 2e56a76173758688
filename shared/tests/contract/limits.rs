//! Throttle counters: per window, atomic under concurrent hits, each hit counted once however
//! often its writes land, taken back or settled by its id, and settled hits counted beside them.

use std::borrow::Borrow;

use shared::domain::Timestamp;
use shared::store::{Count, HitId, LimitCounter, LimitStore, Stores};

use super::random_hex;

/// The hit counts a fresh hit answers for `counters`.
async fn hits(limits: &dyn LimitStore, counters: &[LimitCounter]) -> Vec<u64> {
    let counts = limits.hit(counters, &HitId::new()).await.expect("counted");
    counts.iter().map(|count| count.hits).collect()
}

/// A counter nobody else uses, in a window ending an hour from now (plus `later` seconds).
fn fresh_counter(later: i64) -> LimitCounter {
    LimitCounter {
        name: format!("test#{}", random_hex(32)),
        window_end: Timestamp::now().plus_seconds(3600 + later),
    }
}

/// What `hit` answers for `counters` (`hit` counted already or not).
async fn counts(limits: &dyn LimitStore, counters: &[LimitCounter], hit: &HitId) -> Vec<Count> {
    limits.hit(counters, hit).await.expect("counted")
}

fn count(hits: u64, settled: u64) -> Count {
    Count { hits, settled }
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

/// A write sent again after its answer was lost (the SDK's retry) lands twice: the hit, its
/// settling and its taking back each count once.
#[tokio::test]
async fn a_hit_written_twice_counts_once_and_so_does_its_settling() {
    let fixture = crate::backend::stores().await;
    let limits = &*Borrow::<Stores>::borrow(&fixture).limits;
    let (a, b) = (fresh_counter(0), fresh_counter(0));
    let (first, second) = (HitId::new(), HitId::new());
    let both = [a.clone(), b.clone()];

    assert_eq!(counts(limits, &both, &first).await, [count(1, 0); 2]);
    assert_eq!(counts(limits, &both, &first).await, [count(1, 0); 2]);
    limits.settle(&both, &first).await.unwrap();
    limits
        .settle(std::slice::from_ref(&a), &first)
        .await
        .unwrap();
    limits.hit(&both, &second).await.unwrap();
    limits
        .unhit(std::slice::from_ref(&b), &second)
        .await
        .unwrap();
    limits
        .unhit(std::slice::from_ref(&b), &second)
        .await
        .unwrap();

    let after = counts(limits, &both, &first).await;
    assert_eq!(after, [count(2, 1), count(1, 1)]);
}

#[tokio::test]
async fn a_hit_taken_back_is_gone_and_one_never_counted_is_nothing_to_take() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (a, never_hit) = (fresh_counter(0), fresh_counter(0));
    let (kept, taken, never) = (HitId::new(), HitId::new(), HitId::new());
    stores
        .limits
        .hit(std::slice::from_ref(&a), &kept)
        .await
        .unwrap();
    stores
        .limits
        .hit(std::slice::from_ref(&a), &taken)
        .await
        .unwrap();

    stores
        .limits
        .unhit(std::slice::from_ref(&a), &taken)
        .await
        .unwrap();
    assert_eq!(hits(&*stores.limits, std::slice::from_ref(&a)).await, [2]);
    let both = [a.clone(), never_hit.clone()];
    for hit in [&taken, &never, &taken] {
        stores.limits.unhit(&both, hit).await.unwrap();
    }

    assert_eq!(hits(&*stores.limits, &[a, never_hit]).await, [3, 1]);
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
    hits(&*stores.limits, std::slice::from_ref(&this_window)).await;
    hits(&*stores.limits, &[this_window]).await;

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
    let limits = &*Borrow::<Stores>::borrow(&fixture).limits;
    let (a, b) = (fresh_counter(0), fresh_counter(0));
    let next_window = LimitCounter {
        name: a.name.clone(),
        window_end: a.window_end.plus_seconds(900),
    };
    let made: Vec<HitId> = (0..3).map(|_| HitId::new()).collect();
    for hit in &made {
        limits.hit(&[a.clone(), b.clone()], hit).await.unwrap();
    }

    limits
        .settle(&[a.clone(), b.clone()], &made[0])
        .await
        .unwrap();
    limits
        .settle(std::slice::from_ref(&a), &made[1])
        .await
        .unwrap();
    limits
        .unhit(std::slice::from_ref(&b), &made[2])
        .await
        .unwrap();

    let counts = counts(limits, &[a, b, next_window], &HitId::new()).await;
    assert_eq!(counts, [count(4, 2), count(3, 1), count(1, 0)]);
}

/// Counters whose names extend one another (`x` and `x#y`) keep their hits apart.
#[tokio::test]
async fn a_counter_holds_only_its_own_hits() {
    let fixture = crate::backend::stores().await;
    let limits = &*Borrow::<Stores>::borrow(&fixture).limits;
    let short = fresh_counter(0);
    let long = LimitCounter {
        name: format!("{}#0", short.name),
        window_end: short.window_end,
    };

    hits(limits, std::slice::from_ref(&long)).await;
    hits(limits, std::slice::from_ref(&long)).await;

    assert_eq!(hits(limits, &[short, long]).await, [1, 3]);
}
