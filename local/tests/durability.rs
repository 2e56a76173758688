//! Durability of the embedded store's group commit: the real `taskmaster-local` binary is
//! SIGKILLed in the middle of concurrent creates, restarted on the same data dir, and every
//! create it acknowledged must be there, counted exactly, with nothing it never received.

mod support;

use std::collections::{HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use support::{Api, Server, tokens, unique_name};

/// Concurrent clients, each creating tasks one after another until the server dies.
const CLIENTS: usize = 16;
/// Acknowledged creates to wait for before the kill.
const ACKED_BEFORE_KILL: usize = 300;

/// What one client sent and what it was told.
#[derive(Default)]
struct Sent {
    /// Titles of every create it sent, acknowledged or not.
    attempted: Vec<String>,
    /// Task ids the server answered 201 for, with their titles.
    acknowledged: Vec<(String, String)>,
}

/// Creates tasks until a request fails (the server is gone), counting acknowledgements.
async fn create_until_the_server_dies(
    api: Api,
    access: String,
    client: usize,
    acked: Arc<AtomicUsize>,
) -> Sent {
    let mut sent = Sent::default();
    for n in 0.. {
        let title = format!("client {client} task {n}");
        sent.attempted.push(title.clone());
        let body = json!({ "title": title });
        let Ok(answer) = api.try_post("tasks/create/", body, Some(&access)).await else {
            break;
        };
        let answer = answer.expect(StatusCode::CREATED);
        sent.acknowledged.push((answer.str("id"), title));
        acked.fetch_add(1, Ordering::Relaxed);
    }
    sent
}

/// The user's `count` and every task of theirs, page by page, as (id, title).
async fn every_task(api: &Api, access: &str) -> (u64, Vec<(String, String)>) {
    let mut path = "tasks/?page_size=100".to_owned();
    let mut count = None;
    let mut tasks = Vec::new();
    loop {
        let page = api.get(&path, access).await.expect(StatusCode::OK);
        count.get_or_insert(page.body["count"].as_u64().expect("a count"));
        for task in page.body["results"].as_array().expect("results") {
            let field = |name: &str| task[name].as_str().expect("a string field").to_owned();
            tasks.push((field("id"), field("title")));
        }
        match page.body["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => return (count.unwrap_or_default(), tasks),
        }
    }
}

#[tokio::test]
async fn every_acknowledged_create_survives_a_sigkill_mid_load() {
    let dir = tempfile::tempdir().expect("a temporary data dir");
    let mut server = Server::start(dir.path());
    let api = Api::new(&server);
    let name = unique_name("Durable");
    let registered = api.register(&name, &format!("{name}@example.com")).await;
    let (access, _) = tokens(&registered.expect(StatusCode::CREATED));
    let acked = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (api, access, acked) = (api.clone(), access.clone(), acked.clone());
            tokio::spawn(create_until_the_server_dies(api, access, client, acked))
        })
        .collect();
    while acked.load(Ordering::Relaxed) < ACKED_BEFORE_KILL {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    let killed = server.stop();
    let mut sent = Vec::new();
    for client in clients {
        sent.push(client.await.expect("a client task"));
    }
    let server = Server::start(dir.path());
    let (count, stored) = every_task(&Api::new(&server), &access).await;

    assert_eq!(
        killed.status.signal(),
        Some(9),
        "not SIGKILLed: {killed:#?}"
    );
    let by_id: HashMap<&str, &str> = stored
        .iter()
        .map(|(id, title)| (id.as_str(), title.as_str()))
        .collect();
    assert_eq!(by_id.len(), stored.len(), "a task listed twice");
    let acknowledged: Vec<_> = sent.iter().flat_map(|s| &s.acknowledged).collect();
    assert!(acknowledged.len() >= ACKED_BEFORE_KILL);
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|(id, title)| by_id.get(id.as_str()) != Some(&title.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged, then lost: {lost:?}");
    let attempted: HashSet<&str> = sent
        .iter()
        .flat_map(|s| &s.attempted)
        .map(String::as_str)
        .collect();
    let unsent: Vec<_> = stored
        .iter()
        .filter(|(_, title)| !attempted.contains(title.as_str()))
        .collect();
    assert!(unsent.is_empty(), "stored but never sent: {unsent:?}");
    let titles: HashSet<&str> = by_id.values().copied().collect();
    assert_eq!(titles.len(), stored.len(), "one create stored twice");
    assert_eq!(count, stored.len() as u64, "the count is not exact");
    // Besides the acknowledged ones, only the creates in flight at the kill (at most one per
    // client) may have been stored.
    assert!(stored.len() <= acknowledged.len() + CLIENTS);
}
