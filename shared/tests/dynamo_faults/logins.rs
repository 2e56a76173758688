//! A login's counts when DynamoDB fails: a count made or lost on our side never locks the name
//! out, and a count that lands twice counts one attempt.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::dynamo_harness::{Fault, Faulty};

/// The body of a login of `app`'s user with its right password.
async fn right_login(app: &Faulty) -> Value {
    let (_, profile, _) = app
        .clean
        .send("GET", "/api/v1/auth/profile/", Some(&app.access), None)
        .await;
    json!({ "username": profile["username"], "password": "correct-horse-battery" })
}

/// The right login `body` gets in, through the store without faults.
async fn the_name_is_open(app: &Faulty, body: Value) {
    let (status, json, _) = app
        .clean
        .send("POST", "/api/v1/auth/login/", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

/// 25 right logins at once through `fault` each fail on our side (a 503), and the name is still
/// open after them.
async fn failed_logins_leave_the_name_open(fault: Fault) {
    let app = Faulty::new(fault).await;
    let body = right_login(&app).await;

    let logins = (0..25).map(|_| {
        app.faulty
            .send("POST", "/api/v1/auth/login/", None, Some(body.clone()))
    });
    for (status, json, _) in futures::future::join_all(logins).await {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    }

    the_name_is_open(&app, body).await;
}

/// A login that fails on our side (DynamoDB down) is no guess of the client's: its count is taken
/// back, so a user who kept retrying through an outage is not locked out after it. (The counts
/// stayed, as attempts in progress, and the right password got a 429 once there were 20.)
#[tokio::test]
async fn logins_that_fail_on_our_side_do_not_lock_the_name_out() {
    let internal = json!({ "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "down" });
    failed_logins_leave_the_name_open(Fault::always("GetItem", internal)).await;
}

/// A login's count whose first send lands but whose answer is lost is sent again by the SDK and
/// lands twice; it still counts the attempt once, and the right password takes it back whole.
/// (When the count was a number, each such login left one attempt in progress: the 20th right
/// login in a window waited for them, then got a 429.)
#[tokio::test]
async fn a_count_that_lands_twice_counts_one_attempt() {
    // The count is the one `UpdateItem` that asks for the item's new state.
    let app = Faulty::new(Fault::every_first_answer_lost("UpdateItem", "ALL_NEW")).await;
    let body = right_login(&app).await;

    for login in 1..=25 {
        app.faulty.calls.take();
        let (status, json, _) = app
            .faulty
            .send("POST", "/api/v1/auth/login/", None, Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::OK, "login {login}: {json}");
        let counts = app.faulty.calls.take();
        let sends = counts.iter().filter(|call| *call == "UpdateItem").count();
        assert_eq!(
            sends, 3,
            "login {login}: the count sent twice, then taken back: {counts:?}"
        );
    }
}

/// A login counts its name and its address in two writes; when one fails on our side, the other
/// is taken back, or it would hold a place under the name's limit until the window ends (before,
/// 25 such logins left the name 25 attempts in progress, and the right password got a 429).
#[tokio::test]
async fn a_login_whose_address_count_fails_takes_back_its_name_count() {
    let internal = json!({ "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "down" });
    let app = Faulty::new(Fault::always("UpdateItem", internal).holding("login-addr")).await;
    let body = right_login(&app).await;
    let from_an_address = || {
        let mut request = testkit::http::request(
            axum::http::Method::POST,
            "/api/v1/auth/login/",
            Some(&body),
            None,
        );
        let address = std::net::IpAddr::from([203, 0, 113, 7]);
        request
            .extensions_mut()
            .insert(shared::http::client::with_source_ip(address));
        testkit::http::send(&app.faulty.app, request)
    };

    for response in futures::future::join_all((0..25).map(|_| from_an_address())).await {
        assert_eq!(
            response.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            response.json
        );
    }

    let (status, json, _) = app
        .clean
        .send("POST", "/api/v1/auth/login/", None, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

/// A count whose every send landed but whose answers never came (DynamoDB answering past the
/// call's timeout) fails the login on our side, and is taken back like any other such failure:
/// a user retrying through it is not locked out after it. (Only the counts that answered were
/// taken back: each such login held a place, and the 20th one after them got a 429.)
#[tokio::test]
async fn a_count_that_landed_but_failed_is_taken_back() {
    failed_logins_leave_the_name_open(Fault::every_answer_lost("UpdateItem", "ALL_NEW")).await;
}
