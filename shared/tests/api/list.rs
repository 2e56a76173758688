//! The task list: its envelope, order, exact counts, page sizes, links and whose tasks it shows.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{Response, TASKS, TestApp, id_of, keys, path_of, str_field, task_path};

const HOST: &str = "api.example.test";

/// `GET path` as a client at `HOST` would send it.
pub(super) async fn list(app: &TestApp, path: &str, token: &str) -> Response {
    let bearer = format!("Bearer {token}");
    app.raw(
        Method::GET,
        path,
        None,
        axum::body::Body::empty(),
        &[("host", HOST), ("authorization", &bearer)],
    )
    .await
}

/// The ids of a page's results, in order.
pub(super) fn ids(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|task| id_of(task).to_owned())
        .collect()
}

/// The ids of `tasks`, newest first.
pub(super) fn newest_first(tasks: &[Value]) -> Vec<String> {
    tasks
        .iter()
        .rev()
        .map(|task| id_of(task).to_owned())
        .collect()
}

/// Follows `link` (`next` or `previous`) of `page`, asserting 200.
pub(super) async fn follow(app: &TestApp, page: &Value, link: &str, token: &str) -> Value {
    let url = str_field(page, link);
    assert!(
        url.starts_with(&format!("http://{HOST}/api/v1/tasks/?")),
        "{link} = {url}"
    );
    let response = list(app, &path_of(url), token).await;
    response.assert_status(StatusCode::OK);
    response.json
}

/// The `cursor` query parameter of a page URL.
pub(super) fn cursor_of(url: &str) -> &str {
    url.split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("cursor="))
        .unwrap_or_else(|| panic!("no cursor in {url}"))
}

#[tokio::test]
async fn list_answers_the_envelope_newest_first() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 3).await;

    let response = list(&app, TASKS, &access).await;

    response.assert_status(StatusCode::OK);
    assert_eq!(
        keys(&response.json),
        ["count", "next", "previous", "results"]
    );
    assert_eq!(response.json["count"], 3);
    assert_eq!(response.json["next"], Value::Null);
    assert_eq!(response.json["previous"], Value::Null);
    assert_eq!(ids(&response.json), newest_first(&tasks));
    assert_eq!(
        response.json["results"][0], tasks[2],
        "each result is the task as created"
    );
}

#[tokio::test]
async fn list_of_a_new_user_is_empty() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let response = list(&app, "/api/v1/tasks", &access).await;

    response.assert_body(
        StatusCode::OK,
        json!({ "count": 0, "next": null, "previous": null, "results": [] }),
    );
}

#[tokio::test]
async fn list_pages_by_ten_by_default() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 11).await;

    let first = list(&app, TASKS, &access).await;

    first.assert_status(StatusCode::OK);
    assert_eq!(first.json["count"], 11);
    assert_eq!(ids(&first.json), newest_first(&tasks)[..10]);
    assert!(first.json["next"].is_string());
    assert_eq!(first.json["previous"], Value::Null);
    let second = follow(&app, &first.json, "next", &access).await;
    assert_eq!(ids(&second), [id_of(&tasks[0])]);
    assert_eq!(second["next"], Value::Null);
    assert_eq!(second["count"], 11);
}

#[tokio::test]
async fn list_with_page_size_out_of_bounds_is_400() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    for bad in [
        "0",
        "101",
        "abc",
        "-1",
        "",
        "1.5",
        "99999999999999999999999",
    ] {
        let response = list(&app, &format!("{TASKS}?page_size={bad}"), &access).await;

        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "page_size={bad}: {}",
            response.json
        );
        response.assert_field_error(
            "page_size",
            "Ensure this value is a whole number from 1 to 100.",
        );
    }
}

#[tokio::test]
async fn list_accepts_page_sizes_one_and_a_hundred() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 3).await;

    let one = list(&app, &format!("{TASKS}?page_size=1"), &access).await;
    let hundred = list(&app, &format!("{TASKS}?page_size=100"), &access).await;

    assert_eq!(ids(&one.json), [id_of(&tasks[2])]);
    assert!(
        one.json["next"]
            .as_str()
            .is_some_and(|next| next.contains("page_size=1&")),
        "{}",
        one.json["next"]
    );
    assert_eq!(ids(&hundred.json), newest_first(&tasks));
    assert_eq!(hundred.json["next"], Value::Null);
}

#[tokio::test]
async fn a_name_given_twice_in_the_query_takes_its_last_value_as_the_original_did() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 3).await;

    let twice = list(&app, &format!("{TASKS}?page_size=1&page_size=2"), &access).await;

    twice.assert_status(StatusCode::OK);
    assert_eq!(ids(&twice.json), newest_first(&tasks)[..2]);
}

#[tokio::test]
async fn list_links_are_absolute_http_urls_from_host_and_forwarded_proto() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    app.create_tasks(&access, 3).await;
    let bearer = format!("Bearer {access}");
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("host", "tasks.example.org")],
            "http://tasks.example.org/api/v1/tasks/?page_size=2&cursor=",
        ),
        (
            &[
                ("host", "tasks.example.org"),
                ("x-forwarded-proto", "https"),
            ],
            "https://tasks.example.org/api/v1/tasks/?page_size=2&cursor=",
        ),
        (
            &[
                ("host", "localhost:3000"),
                ("x-forwarded-proto", "https, http"),
            ],
            "https://localhost:3000/api/v1/tasks/?page_size=2&cursor=",
        ),
        (
            &[
                ("host", "tasks.example.org"),
                ("x-forwarded-proto", "javascript"),
            ],
            "http://tasks.example.org/api/v1/tasks/?page_size=2&cursor=",
        ),
        (
            &[("host", "evil.example@tasks.example.org/phish?")],
            "http://localhost/api/v1/tasks/?page_size=2&cursor=",
        ),
    ];
    for (headers, prefix) in cases {
        let mut headers = headers.to_vec();
        headers.push(("authorization", &bearer));

        let response = app
            .raw(
                Method::GET,
                "/api/v1/tasks/?page_size=2",
                None,
                axum::body::Body::empty(),
                &headers,
            )
            .await;

        response.assert_status(StatusCode::OK);
        let next = response.str("next");
        assert!(
            next.starts_with(prefix),
            "{next} should start with {prefix}"
        );
    }
}

#[tokio::test]
async fn list_with_a_bad_status_filter_is_400() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let response = list(&app, &format!("{TASKS}?status_task=done"), &access).await;

    response.assert_field_error("status_task", "\"done\" is not a valid choice.");
}

/// An empty status is no filter, as django-filter (and so a client's "All" choice) reads it.
#[tokio::test]
async fn list_with_an_empty_status_filter_lists_every_status() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    app.create_task(&access, &json!({ "title": "a", "status_task": "DONE" }))
        .await;
    app.create_task(&access, &json!({ "title": "b" })).await;

    let response = list(&app, &format!("{TASKS}?status_task="), &access).await;

    response.assert_status(StatusCode::OK);
    assert_eq!(response.json["count"], 2);
}

#[tokio::test]
async fn another_user_sees_none_of_your_tasks() {
    let app = TestApp::new().await;
    let (_, ada, _) = app.register("ada_lovelace").await;
    let (_, grace, _) = app.register("grace_hopper").await;
    app.create_tasks(&ada, 12).await;
    let graces = app
        .create_task(&grace, &json!({ "title": "Grace's only task" }))
        .await;

    let ada_page = list(&app, TASKS, &ada).await;
    let grace_page = list(&app, TASKS, &grace).await;
    let grace_done = list(&app, &format!("{TASKS}?status_task=TO%20DO"), &grace).await;

    assert_eq!(ada_page.json["count"], 12);
    assert!(!ids(&ada_page.json).contains(&id_of(&graces).to_owned()));
    grace_page.assert_body(
        StatusCode::OK,
        json!({ "count": 1, "next": null, "previous": null, "results": [graces] }),
    );
    assert_eq!(grace_done.json["count"], 1);
}

#[tokio::test]
async fn count_follows_create_delete_and_status_change() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let count = |query: &'static str| {
        let (app, access) = (&app, &access);
        async move {
            let response = list(app, &format!("{TASKS}{query}"), access).await;
            response.assert_status(StatusCode::OK);
            response.json["count"].as_u64().expect("a count")
        }
    };
    let tasks = app.create_tasks(&access, 3).await;
    assert_eq!(
        (
            count("").await,
            count("?status_task=TO%20DO").await,
            count("?status_task=DONE").await
        ),
        (3, 3, 0)
    );

    app.patch_json(
        &task_path(id_of(&tasks[0])),
        &json!({ "status_task": "DONE" }),
        Some(&access),
    )
    .await
    .assert_status(StatusCode::OK);
    assert_eq!(
        (
            count("").await,
            count("?status_task=TO%20DO").await,
            count("?status_task=DONE").await
        ),
        (3, 2, 1)
    );

    app.put_json(
        &task_path(id_of(&tasks[1])),
        &json!({ "status_task": "IN PROGRESS" }),
        Some(&access),
    )
    .await
    .assert_status(StatusCode::OK);
    app.put_json(
        &task_path(id_of(&tasks[1])),
        &json!({ "status_task": "IN PROGRESS" }),
        Some(&access),
    )
    .await
    .assert_status(StatusCode::OK);
    assert_eq!(
        count("?status_task=IN%20PROGRESS").await,
        1,
        "an unchanged status is not counted twice"
    );

    app.delete(&task_path(id_of(&tasks[0])), Some(&access))
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        (
            count("").await,
            count("?status_task=TO%20DO").await,
            count("?status_task=DONE").await
        ),
        (2, 1, 0)
    );

    app.create_task(
        &access,
        &json!({ "title": "Done already", "status_task": "DONE" }),
    )
    .await;
    assert_eq!(
        (
            count("").await,
            count("?status_task=DONE").await,
            count("?status_task=IN%20PROGRESS").await
        ),
        (3, 1, 1)
    );
}

#[tokio::test]
async fn list_reflects_an_update_in_place() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 3).await;

    let updated = app
        .patch_json(
            &task_path(id_of(&tasks[0])),
            &json!({ "title": "Renamed" }),
            Some(&access),
        )
        .await;

    let page = list(&app, TASKS, &access).await;
    assert_eq!(
        ids(&page.json),
        newest_first(&tasks),
        "an update does not reorder"
    );
    assert_eq!(page.json["results"][2], updated.json);
}
