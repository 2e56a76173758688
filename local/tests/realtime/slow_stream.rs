//! On DynamoDB Local the server stands in for Lambda's stream event source, which on AWS has no
//! deadline of ours: a stream read slower than a request's whole budget (a busy DynamoDB Local
//! whose stream holds many older records) neither stops the server from starting nor stops the
//! changes reaching their sockets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::DynamoDbLocal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use super::support::sockets::listening;
use super::support::{Server, unique_name};

/// Longer than one send may take on a request's path (`shared::retry::SDK_ATTEMPT_TIMEOUT`, 3 s),
/// so every attempt of a stream read would time out there.
const STREAM_READ_DELAY: Duration = Duration::from_millis(3_500);

// Multi-threaded: the proxy runs while the server start blocks this thread.
#[tokio::test(flavor = "multi_thread")]
async fn on_dynamodb_local_stream_reads_slower_than_a_requests_budget_still_start_the_server_and_notify()
 {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let local = DynamoDbLocal::per_process(&root)
        .await
        .unwrap_or_else(|e| panic!("DynamoDB Local is required for this test: {e:#}"));
    let held = Arc::new(AtomicUsize::new(0));
    let proxy = slow_stream_reads(local.endpoint(), held.clone()).await;
    let suffix = unique_name("s").replace('_', "-");
    let tables = [
        format!("users-{suffix}"),
        format!("tasks-{suffix}"),
        format!("conns-{suffix}"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        dir.path(),
        &[
            "--dynamodb-endpoint",
            &proxy,
            "--users-table",
            &tables[0],
            "--tasks-table",
            &tables[1],
            "--connections-table",
            &tables[2],
        ],
    );
    let (api, access, mut socket) = listening(&server).await;
    api.post("/tasks/", json!({ "title": "heard late" }), Some(&access))
        .await
        .expect(StatusCode::CREATED);
    // Two slow reads at most: the one under way when the task was made, then the one that finds it.
    let message = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(frame) = socket.next().await {
            if let Message::Text(text) = frame.expect("a valid frame") {
                return serde_json::from_str::<Value>(&text).expect("a JSON message");
            }
        }
        panic!("the socket closed unheard");
    })
    .await
    .expect("the change arrives");
    assert_eq!(message["action"], "task_create");
    assert_eq!(message["title"], "heard late");
    assert!(
        held.load(Ordering::Relaxed) >= 2,
        "the stream reads were held back"
    );
}

/// A proxy to `endpoint` that holds each DynamoDB Streams `GetRecords` request back for
/// [`STREAM_READ_DELAY`], counting them in `held`, and passes everything else straight on; its
/// own endpoint.
async fn slow_stream_reads(endpoint: &str, held: Arc<AtomicUsize>) -> String {
    let upstream = endpoint.trim_start_matches("http://").to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&upstream).await else {
                continue;
            };
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = server.into_split();
            let held = held.clone();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
            });
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(read) = from_client.read(&mut buffer).await {
                    if read == 0 {
                        break;
                    }
                    let chunk = &buffer[..read];
                    if chunk.windows(10).any(|w| w == b"GetRecords") {
                        held.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(STREAM_READ_DELAY).await;
                    }
                    if to_server.write_all(chunk).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}
