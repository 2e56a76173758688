//! The local server's accept loop: axum's router over hyper's HTTP/1.1 connections, as
//! `axum::serve` would run it, with what that has no setting for: a deadline for a request's head,
//! and one for a client to take what is written to it. A client that opens a connection and sends
//! nothing, or a head a few bytes at a time, or that keeps a finished connection open without
//! another request ([`HEAD_TIMEOUT`]), or that takes none of its answers ([`WRITE_TIMEOUT`]), is
//! cut off (a body that stops short is refused by the router's own layer, [`BODY_TIMEOUT`]) instead of holding a socket (and a file descriptor, and its answers) for as long as it
//! likes. API Gateway shields the deployed functions from such clients.

use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt;

/// How long a connection may take to send a request's head, from its opening or the end of its
/// last answer.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write to a connection may wait for its client to take anything: a client that reads
/// nothing would otherwise hold its answers (and the socket) for as long as it stays connected.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request's body may go without a byte before it is refused (a 400): a client that
/// announced more than it sends. Well within the request deadline (`shared::http::deadline`).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stopping server waits for the requests in progress: past the request deadline
/// (9 s), so every request being handled is answered; a client still sending its body or head is
/// cut off instead of holding the stop for as long as `crate::whole_body` would read it.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// A 413 refuses a body without reading it (a client may have announced megabytes), and hyper then
/// closes the connection rather than read it all: the answer says so (`Connection: close`), so a
/// client does not send its next request on a connection about to end. API Gateway reads the whole
/// body before the function answers, so there the connection lives on.
fn close_after_refused_body(mut response: axum::response::Response) -> axum::response::Response {
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Serves `app` until `stop`, then until the requests in progress are answered.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    // A client may close its side once its request is sent (or close at once, leaving): the
    // request is still read whole and handled, as API Gateway hands a whole request to its
    // function. Without this, hyper drops a request whose client's end of file it reads first.
    http.timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .half_close(true);
    // Told when the server stops: each connection then finishes its request in progress.
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // One connection that failed before it was accepted: the next one may be fine.
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    // Out of file descriptors, most likely: wait for some to be given back.
                    tracing::warn!(%error, "accept error; pausing for a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // With the connection's peer address, for `peer::source_ip`.
        let service = app
            .clone()
            .map_request(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            })
            .map_response(close_after_refused_body);
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(WRITE_TIMEOUT));
        let io = TokioIo::new(Box::pin(stream));
        let connection = http
            .serve_connection(io, TowerToHyperService::new(service))
            .with_upgrades();
        let mut stopped = stopped.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => Some(ended),
                _ = stopped.wait_for(|&stopped| stopped) => None,
            };
            let ended = match ended {
                Some(ended) => ended,
                None => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    // No new connection waits in the backlog for an accept that will not come.
    drop(listener);
    stopping.send_replace(true);
    let drained = tokio::time::timeout(DRAIN_LIMIT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        // A client still sending a body (which may take 30 s) or a head: it is cut off.
        tracing::warn!(
            connections = connections.len(),
            "stopped waiting for connections after {} s",
            DRAIN_LIMIT.as_secs()
        );
        connections.shutdown().await;
    }
    Ok(())
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// Ctrl-C, or SIGTERM: what `kill`, systemd and container runtimes send to stop a service. Both
/// are watched from this call on (before the server says it is listening: a signal sent as soon
/// as it does must stop it cleanly, not by the signal's default action); the future ends at the
/// first of them.
pub fn stop_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let watch = |kind: SignalKind, name: &'static str| {
        signal(kind)
            .inspect_err(|error| tracing::warn!(%error, "cannot watch for {name}"))
            .ok()
    };
    let (mut interrupt, mut terminate) = (
        watch(SignalKind::interrupt(), "Ctrl-C"),
        watch(SignalKind::terminate(), "SIGTERM"),
    );
    async move {
        tokio::select! {
            () = received(interrupt.as_mut()) => {}
            () = received(terminate.as_mut()) => {}
        }
        tracing::info!("stopping: answering the requests in progress");
    }
}

/// The next delivery of `watched`; never, if it could not be watched.
async fn received(watched: Option<&mut tokio::signal::unix::Signal>) {
    match watched {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
