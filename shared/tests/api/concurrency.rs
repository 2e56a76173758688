//! Simultaneous requests over one router: uniqueness holds under a race.

use axum::http::StatusCode;
use futures::future::join_all;
use serde_json::json;

use super::helpers::{PASSWORD, REGISTER, Response, TestApp};

const RACERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_simultaneous_registrations_of_one_username_make_exactly_one_account() {
    // Arrange: eight bodies with one username in different cases and eight different emails.
    let app = TestApp::new().await;
    let bodies: Vec<_> = (0..RACERS)
        .map(|i| {
            let username = if i % 2 == 0 {
                "racing_user"
            } else {
                "RACING_USER"
            };
            let email = format!("racer{i}@example.com");
            json!({ "username": username, "email": email, "password": PASSWORD })
        })
        .collect();

    // Act
    let responses = join_all(
        bodies
            .iter()
            .map(|body| app.post_json(REGISTER, body, None)),
    )
    .await;

    // Assert
    let created: Vec<_> = responses
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    let refused: Vec<_> = responses
        .iter()
        .filter(|r| r.status == StatusCode::BAD_REQUEST)
        .collect();
    assert_eq!(created.len(), 1, "{responses:?}");
    assert_eq!(refused.len(), RACERS - 1, "{responses:?}");
    for response in &refused {
        assert_eq!(
            response.json,
            json!({ "username": ["User with this username already exists."] })
        );
    }
    let winner = &created[0].json;
    let login = app.login_ok("racing_user", PASSWORD).await;
    assert_eq!(login.user["id"], winner["id"]);
    assert_eq!(login.user["email"], winner["email"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_simultaneous_registrations_of_one_email_make_exactly_one_account() {
    let app = TestApp::new().await;
    let bodies: Vec<_> = (0..RACERS)
        .map(|i| {
            let username = format!("racer_{i}");
            json!({ "username": username, "email": "Same@Example.com", "password": PASSWORD })
        })
        .collect();

    let responses = join_all(
        bodies
            .iter()
            .map(|body| app.post_json(REGISTER, body, None)),
    )
    .await;

    let created = responses
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{responses:?}");
    for response in responses.iter().filter(|r| r.status != StatusCode::CREATED) {
        response.assert_field_error("email", "User with this email already exists.");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_refreshes_of_one_token_succeed_once() {
    let app = TestApp::new().await;
    let (_, _, refresh) = app.register("ada_lovelace").await;

    let responses = join_all((0..RACERS).map(|_| app.refresh(&refresh))).await;

    let ok = responses
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let refused = responses
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!((ok, refused), (1, RACERS - 1), "{responses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_creates_are_all_counted() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let bodies: Vec<_> = (0..20)
        .map(|i| json!({ "title": format!("Parallel {i}") }))
        .collect();

    let responses = join_all(
        bodies
            .iter()
            .map(|body| app.post_json("/api/v1/tasks/", body, Some(&access))),
    )
    .await;

    assert!(responses.iter().all(|r| r.status == StatusCode::CREATED));
    let list = app.get("/api/v1/tasks/?page_size=100", Some(&access)).await;
    assert_eq!(list.json["count"], 20);
    assert_eq!(list.json["results"].as_array().map(Vec::len), Some(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_renames_to_one_free_name_give_it_to_exactly_one_user() {
    let app = TestApp::new().await;
    let mut tokens = Vec::new();
    for i in 0..4 {
        tokens.push(app.register(&format!("renamer_{i}")).await.1);
    }

    let rename = json!({ "username": "Prize_Name" });
    let responses = join_all(
        tokens
            .iter()
            .map(|token| app.patch_json("/api/v1/auth/profile/", &rename, Some(token))),
    )
    .await;

    let winners: Vec<_> = responses
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1, "{responses:?}");
    for response in responses.iter().filter(|r| r.status != StatusCode::OK) {
        response.assert_field_error("username", "User with this username already exists.");
    }
    let login = app.login_ok("prize_name", PASSWORD).await;
    assert_eq!(login.user["id"], winners[0].json["id"]);
}

/// Racing status changes and deletes may be refused with 409 (the client retries), but the
/// counts must always equal what the listing holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_status_changes_and_deletes_keep_counts_exact() {
    // Arrange
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 6).await;
    let statuses = ["TO DO", "IN PROGRESS", "DONE"];
    let mut requests = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        let path = format!("/api/v1/tasks/{}/", task["id"].as_str().expect("an id"));
        for status in statuses {
            requests.push((path.clone(), Some(json!({ "status_task": status }))));
        }
        if i % 2 == 0 {
            requests.push((path, None));
        }
    }

    // Act
    let responses = join_all(requests.iter().map(|(path, body)| async {
        match body {
            Some(body) => app.patch_json(path, body, Some(&access)).await,
            None => app.delete(path, Some(&access)).await,
        }
    }))
    .await;

    // Assert
    for response in &responses {
        assert!(
            [StatusCode::OK, StatusCode::NOT_FOUND, StatusCode::CONFLICT]
                .contains(&response.status),
            "{response:?}"
        );
    }
    let all = app
        .get("/api/v1/tasks/?page_size=100", Some(&access))
        .await
        .json;
    let results = all["results"].as_array().expect("results").clone();
    assert_eq!(all["count"], results.len());
    let deleted = responses
        .iter()
        .filter(|r| r.json == json!({ "message": "Task deleted successfully" }))
        .count();
    assert_eq!(
        results.len(),
        tasks.len() - deleted,
        "every successful delete is gone, nothing else"
    );
    for status in statuses {
        let query = format!(
            "/api/v1/tasks/?page_size=100&status_task={}",
            status.replace(' ', "%20")
        );
        let page = app.get(&query, Some(&access)).await.json;
        let listed = results
            .iter()
            .filter(|task| task["status_task"] == status)
            .count();
        assert_eq!(page["count"], listed, "{status}");
        assert_eq!(
            page["results"].as_array().map(Vec::len),
            Some(listed),
            "{status}"
        );
    }
}

/// A profile edit landing while a password change is hashing: both land, neither is lost nor
/// answered 409 (the password change applies itself again on top of the edit).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_profile_edit_racing_a_password_change_loses_neither() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let change = json!({
        "old_password": PASSWORD,
        "new_password_1": "a-brand-new-passphrase",
        "new_password_2": "a-brand-new-passphrase",
    });
    let edit = json!({ "first_name": "Augusta" });

    let (password, profile) = tokio::join!(
        app.post_json("/api/v1/auth/profile/password/", &change, Some(&access)),
        app.patch_json("/api/v1/auth/profile/", &edit, Some(&access)),
    );

    password.assert_status(StatusCode::OK);
    profile.assert_status(StatusCode::OK);
    let user = app.login_ok("ada_lovelace", "a-brand-new-passphrase").await;
    assert_eq!(user.user["first_name"], "Augusta");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_edits_without_if_match_all_succeed_and_the_last_one_stands() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let task = app
        .create_task(&access, &json!({ "title": "Contended" }))
        .await;
    let path = format!("/api/v1/tasks/{}/", task["id"].as_str().unwrap());
    let titles: Vec<String> = (0..RACERS).map(|i| format!("Edit {i}")).collect();
    let bodies: Vec<_> = titles
        .iter()
        .map(|title| json!({ "title": title }))
        .collect();

    let responses = join_all(
        bodies
            .iter()
            .map(|body| app.patch_json(&path, body, Some(&access))),
    )
    .await;

    let statuses: Vec<_> = responses.iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "without If-Match the last write wins, none is refused: {statuses:?}"
    );
    // The last write is the one with the highest version: its title is the one stored.
    let version = |r: &Response| -> u64 {
        let tag = r.header("etag").expect("an ETag");
        tag.trim_matches('"').parse().expect("a version")
    };
    let last = responses.iter().max_by_key(|r| version(r)).unwrap();
    let stored = app.get(&path, Some(&access)).await;
    assert_eq!(stored.json["title"], last.json["title"]);
    assert_eq!(version(&stored), version(last));
    assert!(titles.contains(&stored.json["title"].as_str().unwrap().to_owned()));
}
