//! HTTP clients that hold a connection without sending a whole request: the local server has no
//! API Gateway in front of it to cut them off.

use std::time::Duration;

use super::support;

/// A login request's head announcing `length` bytes of JSON, then `start` of them, sent on a new
/// connection to `addr`, which is handed back.
async fn login_begun(addr: &str, length: u64, start: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connected");
    let head = format!(
        "POST /api/v1/auth/login/ HTTP/1.1\r\nHost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\n\r\n{start}"
    );
    stream.write_all(head.as_bytes()).await.expect("sent");
    stream
}

/// The start of what `stream` answers within `within`.
async fn answer_within(stream: &mut tokio::net::TcpStream, within: Duration) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = vec![0; 2048];
    let read = tokio::time::timeout(within, stream.read(&mut answer))
        .await
        .unwrap_or_else(|_| panic!("an answer within {within:?}"))
        .expect("read");
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

/// A user's `DELETE` of a task of theirs, on a new server (the embedded store: this is the
/// server's code, the same on both stores), sent with the body header `framing` and then `body`:
/// answers the start of what the server answered within `within`, once it has checked that the
/// task is still there (a refused `DELETE` must not have been carried out).
async fn a_refused_delete(framing: &str, body: &[u8], within: Duration) -> String {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(false, dir.path(), &[]).await;
    let api = support::Api::new(&server);
    let name = support::unique_name("deleter");
    let registered = api.register(&name, &format!("{name}@example.com")).await;
    let (access, _) = support::tokens(&registered.expect(reqwest::StatusCode::CREATED));
    let task = api
        .post(
            "tasks/",
            serde_json::json!({ "title": "kept" }),
            Some(&access),
        )
        .await
        .expect(reqwest::StatusCode::CREATED)
        .str("id");
    let mut stream = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connected");
    let head = format!(
        "DELETE /api/v1/tasks/{task}/ HTTP/1.1\r\nHost: x\r\nauthorization: Bearer {access}\r\n\
         {framing}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("sent");
    stream.write_all(body).await.expect("sent");

    let answer = answer_within(&mut stream, within).await;

    api.get(&format!("tasks/{task}/"), &access)
        .await
        .expect(reqwest::StatusCode::OK);
    answer
}

/// A body announced past the 64 KiB limit is a 413 at once, not after the request deadline spent
/// waiting for bytes that may never come.
pub async fn a_body_announced_past_the_limit_is_413_at_once(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(dynamodb, dir.path(), &[]).await;
    let mut stream = login_begun(server.addr(), 52_428_800, "{").await;

    let answer = answer_within(&mut stream, Duration::from_secs(3)).await;

    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // The body is not read, so the connection ends after the answer, and the answer says so.
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{answer}"
    );
}

/// A body that stops short of its `Content-Length` is the client's fault: a JSON 400 once it has
/// been quiet for the body timeout (5 s), not the request deadline's 503 (9 s), which tells a
/// client to retry what it sent. The server code is the same on both stores: run on the embedded
/// one.
#[tokio::test]
async fn a_body_that_stops_short_is_a_400() {
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(false, dir.path(), &[]).await;
    // Timed from before the request is sent, so the server's 5 s cannot have begun earlier.
    let started = std::time::Instant::now();
    let mut stream = login_begun(server.addr(), 100, "{\"username\": ").await;

    let answer = answer_within(&mut stream, Duration::from_secs(8)).await;

    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("application/json"), "{answer}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(4), "{waited:?}");
}

/// A body sent slowly, never quiet for the body timeout, and whole only after the request deadline
/// (9 s) is answered for what it says: API Gateway reads a body before it invokes the function,
/// so the deadline counts the handler's work, not the client's upload. Before the local server
/// read bodies first, this was a 503 telling the client to retry, its write perhaps done. The
/// server code is the same on both stores: run on the embedded one.
#[tokio::test]
async fn a_body_sent_slowly_is_answered_for_what_it_says() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(false, dir.path(), &[]).await;
    let body = r#"{"username": "nobody-here", "password": "not-this-one"}"#;
    let mut stream = login_begun(server.addr(), body.len() as u64, &body[..5]).await;
    // Four bytes a second, quiet far less than the body timeout even on a busy machine, whole
    // after 13 s.
    for part in body.as_bytes()[5..].chunks(4) {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        stream.write_all(part).await.expect("sent");
    }

    let answer = answer_within(&mut stream, Duration::from_secs(5)).await;

    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

/// A request that reads no body but is sent one that stops short (a task's `DELETE` here) is a
/// 400 and is not carried out: API Gateway never invokes a function for a body that did not
/// arrive. It used to delete the task, after the body timeout. The server code is the same on
/// both stores: run on the embedded one.
#[tokio::test]
async fn a_delete_whose_body_stops_short_is_refused_and_not_done() {
    let answer = a_refused_delete("content-length: 100", b"abc", Duration::from_secs(8)).await;

    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("application/json"), "{answer}");
}

/// A body past the 64 KiB limit sent in chunks, with no `Content-Length`, to a route that reads
/// none (a task's `DELETE` here) is a 413 and is not carried out, as one announced is: it used to
/// be ignored and the task deleted. The server code is the same on both stores: run on the
/// embedded one.
#[tokio::test]
async fn a_chunked_body_past_the_limit_is_413_on_a_route_that_reads_none() {
    let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
    let body = format!("{}0\r\n\r\n", chunk.repeat(5));

    let answer = a_refused_delete(
        "transfer-encoding: chunked",
        body.as_bytes(),
        Duration::from_secs(5),
    )
    .await;

    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/json"), "{answer}");
}

/// A body that keeps trickling in, never quiet for the body timeout, is cut off once it has taken
/// 30 s in all: a JSON 400, not a request (and a server shutdown waiting for it) held for as long
/// as the client likes. The server code is the same on both stores: run on the embedded one.
#[tokio::test]
async fn a_body_trickling_past_30_s_is_a_400() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(false, dir.path(), &[]).await;
    let mut stream = login_begun(server.addr(), 100, "{").await;
    let started = std::time::Instant::now();
    let trickle = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if stream.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(31), trickle).await;

    // Already answered: the body timeout alone would answer 5 s after the last byte.
    let answer = answer_within(&mut stream, Duration::from_secs(2)).await;

    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("application/json"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_secs(29),
        "{:?}",
        started.elapsed()
    );
}

/// A stopping server waits for the requests in progress for 10 s at most: a client still
/// trickling its body in (which may take 30 s) is cut off, not waited for, and the server exits
/// cleanly. The server code is the same on both stores: run on the embedded one.
#[tokio::test]
async fn a_stop_waits_at_most_10_s_for_a_body_still_arriving() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(false, dir.path(), &[]).await;
    let mut stream = login_begun(server.addr(), 100, "{").await;
    let trickle = tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if stream.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;

    let started = std::time::Instant::now();
    let stopped = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("stopped");

    let took = started.elapsed();
    assert!(stopped.status.success(), "{:?}", stopped.status);
    assert!(took < Duration::from_secs(15), "{took:?}");
    trickle.abort();
}

/// A connection that sends nothing, a head that never ends, or nothing after its last answer is
/// closed once the head deadline passes (slowloris), instead of being held open for as long as
/// the client likes. The server code is the same on both stores: run on the embedded one.
#[tokio::test]
async fn a_connection_without_a_whole_head_in_time_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(false, dir.path(), &[]).await;
    let addr = server.addr();
    let head_timeout = Duration::from_secs(10);
    let hold = |sent: &'static str| async move {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connected");
        stream.write_all(sent.as_bytes()).await.expect("sent");
        let started = std::time::Instant::now();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(head_timeout * 2, stream.read_to_end(&mut answer)).await;
        assert!(
            read.is_ok(),
            "{sent:?}: still open after {:?}",
            head_timeout * 2
        );
        (
            started.elapsed(),
            String::from_utf8_lossy(&answer).into_owned(),
        )
    };

    let (nothing, partial, idle) = tokio::join!(
        hold(""),
        hold("GET /api/v1/tasks/ HTTP/1.1\r\nHost: x\r\n"),
        hold("GET /api/v1/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    );

    for (what, (after, _)) in [("nothing", &nothing), ("half", &partial), ("idle", &idle)] {
        assert!(*after >= head_timeout / 2, "{what}: closed after {after:?}");
    }
    assert!(
        idle.1.starts_with("HTTP/1.1 404"),
        "the request before was answered: {}",
        idle.1
    );
}

/// A client that takes none of its answers (here, pipelined requests for 200 MB of them) is cut
/// off once a write has waited 10 s for it, instead of holding its answers, and the socket, for as
/// long as it stays connected. The server code is the same on both stores: run on the embedded one.
#[tokio::test]
async fn a_client_that_takes_none_of_its_answers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(false, dir.path(), &[]).await;
    let tcp = tokio::net::TcpSocket::new_v4().expect("a socket");
    tcp.set_recv_buffer_size(4096).expect("a small window");
    let addr = server.addr().parse().expect("an address");
    let mut stream = tcp.connect(addr).await.expect("connected");
    let request = format!("GET /api/v1/openapi.json HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let (requests, answer) = (2_000, 100_000);
    stream
        .write_all(request.repeat(requests).as_bytes())
        .await
        .expect("sent");

    tokio::time::sleep(Duration::from_secs(18)).await;
    let mut received = 0;
    let mut buffer = vec![0; 1 << 16];
    let reading = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(read @ 1..) = stream.read(&mut buffer).await {
            received += read;
        }
    });
    reading.await.expect("the connection ends");
    assert!(
        received < requests * answer / 2,
        "{received} bytes: every answer was kept for the client"
    );
}
