//! Who may touch a task: only its owner, with a valid access token; everyone else learns nothing.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{
    SECRET, TASKS, TestApp, assert_unauthorized, forge_tokens, id_of, invalid_token_body, task_path,
};

fn not_found() -> Value {
    json!({ "detail": "Task not found" })
}

#[tokio::test]
async fn a_foreign_deleted_or_malformed_task_id_is_404_for_every_method() {
    // Arrange: Grace's task, a task Ada deleted, a missing id and a malformed one.
    let app = TestApp::new().await;
    let (_, ada, _) = app.register("ada_lovelace").await;
    let (_, grace, _) = app.register("grace_hopper").await;
    let foreign = app
        .create_task(&grace, &json!({ "title": "Grace's" }))
        .await;
    let deleted = app.create_task(&ada, &json!({ "title": "Gone" })).await;
    app.delete(&task_path(id_of(&deleted)), Some(&ada))
        .await
        .assert_status(StatusCode::OK);
    let missing = uuid::Uuid::now_v7().to_string();
    let ids = [
        id_of(&foreign),
        id_of(&deleted),
        missing.as_str(),
        "not-a-uuid",
        "12345",
        "%20",
    ];
    let edit = json!({ "title": "Hijacked" });

    for id in ids {
        let path = task_path(id);
        // Act
        let responses = [
            app.get(&path, Some(&ada)).await,
            app.put_json(&path, &edit, Some(&ada)).await,
            app.patch_json(&path, &edit, Some(&ada)).await,
            app.delete(&path, Some(&ada)).await,
        ];

        // Assert
        for response in responses {
            assert_eq!(
                response.status,
                StatusCode::NOT_FOUND,
                "{id}: {}",
                response.json
            );
            assert_eq!(response.json, not_found(), "{id}");
        }
    }
    app.get(&task_path(id_of(&foreign)), Some(&grace))
        .await
        .assert_body(StatusCode::OK, foreign);
}

#[tokio::test]
async fn task_routes_need_an_access_token() {
    let app = TestApp::new().await;
    let (_, access, refresh) = app.register("ada_lovelace").await;
    let task = app
        .create_task(&access, &json!({ "title": "Private" }))
        .await;
    let path = task_path(id_of(&task));
    let body = json!({ "title": "x" });
    let requests: [(Method, &str, Option<&Value>); 7] = [
        (Method::GET, TASKS, None),
        (Method::POST, TASKS, Some(&body)),
        (Method::POST, "/api/v1/tasks/create/", Some(&body)),
        (Method::GET, &path, None),
        (Method::PUT, &path, Some(&body)),
        (Method::PATCH, &path, Some(&body)),
        (Method::DELETE, &path, None),
    ];
    for (method, path, body) in requests {
        let anonymous = app.request(method.clone(), path, body, None).await;
        let with_refresh = app
            .request(method.clone(), path, body, Some(&refresh))
            .await;
        let garbage = app
            .request(method.clone(), path, body, Some("garbage"))
            .await;

        assert_unauthorized(
            &anonymous,
            json!({ "detail": "Authentication credentials were not provided." }),
        );
        for response in [with_refresh, garbage] {
            assert_unauthorized(&response, invalid_token_body());
        }
    }
    app.get(&path, Some(&access))
        .await
        .assert_body(StatusCode::OK, task);
}

#[tokio::test]
async fn task_routes_refuse_a_token_of_a_user_that_does_not_exist() {
    // A validly signed access token whose user is gone (or never was) must get nothing.
    let app = TestApp::new().await;
    let ghost = forge_tokens(SECRET, &uuid::Uuid::new_v4().to_string(), 900, 900).access;

    let create = app
        .post_json(TASKS, &json!({ "title": "Orphan" }), Some(&ghost))
        .await;
    let list = app.get(TASKS, Some(&ghost)).await;

    assert_eq!(
        create.status,
        StatusCode::UNAUTHORIZED,
        "create answered {}",
        create.json
    );
    assert_eq!(
        list.status,
        StatusCode::UNAUTHORIZED,
        "list answered {}",
        list.json
    );
}
