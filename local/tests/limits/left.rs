//! Clients that leave before their answer (a phone losing its signal, a page that logs out as it
//! unloads): as a Lambda invocation does, their requests' handling runs to its end.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::support;

/// `method path` with a JSON `body` and, if given, a bearer token, as raw HTTP/1.1 for `addr`.
fn raw_request(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> String {
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}content-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Writes `request` to `addr` on a connection of its own, and closes it at once.
async fn send_and_leave(addr: &str, request: &str) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connected");
    stream.write_all(request.as_bytes()).await.expect("sent");
}

/// A new user of `api`: its name, its access token, and its `last_login` as its registration
/// set it (a registration signs its user in; a login's record moves it on).
async fn registered(api: &support::Api, prefix: &str) -> (String, String, String) {
    let name = support::unique_name(prefix);
    let registered = api.register(&name, &format!("{name}@example.com")).await;
    let registered = registered.expect(reqwest::StatusCode::CREATED);
    let (access, _) = support::tokens(&registered);
    (name, access, registered.str("last_login"))
}

/// A right login of `name`, as raw HTTP/1.1 for `addr`.
fn login_request(addr: &str, name: &str) -> String {
    let body = serde_json::json!({ "username": name, "password": support::PASSWORD }).to_string();
    raw_request(addr, "POST", "/api/v1/auth/login/", None, &body)
}

/// Waits until a login of the user of `access` is recorded (its `last_login` is no longer
/// `signed_up`), failing the test at `deadline`.
async fn until_a_login_is_recorded(
    api: &support::Api,
    access: &str,
    signed_up: &str,
    deadline: tokio::time::Instant,
) {
    loop {
        let profile = api.get("auth/profile/", access).await;
        let profile = profile.expect(reqwest::StatusCode::OK);
        if profile.str("last_login") != signed_up {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no login recorded: {}",
            profile.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clients that each write a whole request and close their connection at once: ten creates make
/// ten tasks, and a right login is recorded. hyper used to drop such a request once it read the
/// client's end of file (on DynamoDB, 0 of the 10 creates; on the embedded store, the login).
pub async fn a_request_closed_as_soon_as_sent_is_still_handled(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(dynamodb, dir.path(), &[]).await;
    let api = support::Api::new(&server);
    let (name, access, signed_up) = registered(&api, "leaving").await;
    let addr = server.addr();
    for n in 0..10 {
        let body = serde_json::json!({ "title": format!("closed {n}") }).to_string();
        send_and_leave(
            addr,
            &raw_request(addr, "POST", "/api/v1/tasks/", Some(&access), &body),
        )
        .await;
    }
    send_and_leave(addr, &login_request(addr, &name)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = api
            .get("tasks/", &access)
            .await
            .expect(reqwest::StatusCode::OK);
        if list.body["count"] == 10 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every create was handled: {}",
            list.body["count"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until_a_login_is_recorded(&api, &access, &signed_up, deadline).await;
}

/// Clients that send a right login and close their connection before the answer (a phone losing
/// its signal): each login is handled to its end, as its Lambda invocation would be. It is
/// recorded (the user's `last_login`), and its attempt, counted before the hash, is taken back.
/// Cut short at the client's leaving, each stayed a failure, and four locked a limit of three.
pub async fn a_request_whose_client_left_is_handled_to_its_end(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let flags = ["--login-failures-per-username", "3"];
    let server = support::stores::server_on(dynamodb, dir.path(), &flags).await;
    let api = support::Api::new(&server);
    let (name, access, signed_up) = registered(&api, "left").await;
    let addr = server.addr();
    let request = login_request(addr, &name);
    // Left before the answer: checked, since a login that answered within the 10 ms proves
    // nothing. Tried again then, up to 20 times.
    let mut left = 0;
    for _ in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connected");
        stream.write_all(request.as_bytes()).await.expect("sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut answer = [0; 1];
        if matches!(stream.try_read(&mut answer), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        {
            left += 1;
        }
        drop(stream);
        if left == 4 {
            break;
        }
    }
    assert_eq!(
        left, 4,
        "logins answered within 10 ms: none left before its answer"
    );
    // Recorded: the logins ran to their end (each takes a hash; give them time). Cut short at the
    // client's leaving, none was.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    until_a_login_is_recorded(&api, &access, &signed_up, deadline).await;
    // And none left counted as a failure: the limit of three still lets a right login in.
    tokio::time::sleep(Duration::from_millis(500)).await;
    api.login(&name).await.expect(reqwest::StatusCode::OK);
}
