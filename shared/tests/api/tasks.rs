//! One task: create, read, update and delete.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{TASK_FIELDS, TASKS, TestApp, assert_uuid, id_of, keys, task_path, timestamp};

fn not_found() -> Value {
    json!({ "detail": "Task not found" })
}

#[tokio::test]
async fn create_task_answers_201_with_defaults() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let response = app
        .post_json(TASKS, &json!({ "title": "Write the notes" }), Some(&access))
        .await;

    response.assert_status(StatusCode::CREATED);
    let task = &response.json;
    assert_eq!(keys(task), TASK_FIELDS, "no owner field");
    assert_uuid(id_of(task));
    assert_eq!(task["title"], "Write the notes");
    assert_eq!(task["description"], "");
    assert_eq!(task["status_task"], "TO DO");
    assert_eq!(
        timestamp(task, "date_created"),
        timestamp(task, "last_updated")
    );
}

#[tokio::test]
async fn create_task_keeps_every_field_sent() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    for status in ["TO DO", "IN PROGRESS", "DONE"] {
        let body =
            json!({ "title": "Analytical engine", "description": "Note G", "status_task": status });

        let task = app.create_task(&access, &body).await;

        assert_eq!(task["title"], "Analytical engine");
        assert_eq!(task["description"], "Note G");
        assert_eq!(task["status_task"], status);
    }
}

#[tokio::test]
async fn create_task_accepts_boundary_lengths() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let body = json!({ "title": "t".repeat(100), "description": "d".repeat(10_000) });

    let task = app.create_task(&access, &body).await;

    assert_eq!(task["title"].as_str().map(str::len), Some(100));
    assert_eq!(task["description"].as_str().map(str::len), Some(10_000));
}

#[tokio::test]
async fn create_task_is_also_served_at_the_original_create_path() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    for path in [
        "/api/v1/tasks/create/",
        "/api/v1/tasks/create",
        "/api/v1/tasks",
    ] {
        let response = app
            .post_json(path, &json!({ "title": path }), Some(&access))
            .await;

        response.assert_status(StatusCode::CREATED);
        assert_eq!(response.json["title"], path);
        let stored = app
            .get(&task_path(id_of(&response.json)), Some(&access))
            .await;
        stored.assert_body(StatusCode::OK, response.json.clone());
    }
}

#[tokio::test]
async fn create_task_with_bad_fields_is_400_naming_each() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "missing title",
            json!({}),
            json!({ "title": ["This field is required."] }),
        ),
        (
            "empty title",
            json!({ "title": "" }),
            json!({ "title": ["This field may not be blank."] }),
        ),
        (
            "blank title",
            json!({ "title": "   " }),
            json!({ "title": ["This field may not be blank."] }),
        ),
        (
            "101-character title",
            json!({ "title": "t".repeat(101) }),
            json!({ "title": ["Ensure this field has no more than 100 characters."] }),
        ),
        (
            "10,001-character description",
            json!({ "title": "ok", "description": "d".repeat(10_001) }),
            json!({ "description": ["Ensure this field has no more than 10000 characters."] }),
        ),
        (
            "lowercase status",
            json!({ "title": "ok", "status_task": "done" }),
            json!({ "status_task": ["\"done\" is not a valid choice."] }),
        ),
        (
            "unknown status",
            json!({ "title": "ok", "status_task": "LATER" }),
            json!({ "status_task": ["\"LATER\" is not a valid choice."] }),
        ),
        (
            "everything wrong",
            json!({ "description": "d".repeat(10_001), "status_task": "Done" }),
            json!({
                "title": ["This field is required."],
                "description": ["Ensure this field has no more than 10000 characters."],
                "status_task": ["\"Done\" is not a valid choice."],
            }),
        ),
    ];
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    for (case, body, errors) in cases {
        let response = app.post_json(TASKS, &body, Some(&access)).await;

        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            response.json
        );
        assert_eq!(response.json, errors, "{case}");
    }
    assert_eq!(
        app.get(TASKS, Some(&access)).await.json["count"],
        0,
        "nothing was created"
    );
}

#[tokio::test]
async fn create_task_ignores_mass_assigned_fields() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let (grace, grace_access, _) = app.register("grace_hopper").await;
    let chosen_id = "00000000-0000-7000-8000-000000000001";
    let body = json!({
        "title": "Mine",
        "id": chosen_id,
        "date_created": "2000-01-01T00:00:00Z",
        "last_updated": "2000-01-01T00:00:00Z",
        "owner": id_of(&grace),
        "user_id": id_of(&grace),
    });

    let task = app.create_task(&access, &body).await;

    assert_eq!(keys(&task), TASK_FIELDS);
    assert_ne!(id_of(&task), chosen_id);
    assert_ne!(task["date_created"], "2000-01-01T00:00:00Z");
    app.get(&task_path(id_of(&task)), Some(&access))
        .await
        .assert_status(StatusCode::OK);
    app.get(&task_path(id_of(&task)), Some(&grace_access))
        .await
        .assert_body(StatusCode::NOT_FOUND, not_found());
}

#[tokio::test]
async fn create_task_trims_the_title() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let task = app
        .create_task(&access, &json!({ "title": "  Padded  " }))
        .await;

    assert_eq!(task["title"], "Padded");
}

#[tokio::test]
async fn get_task_answers_exactly_what_create_answered() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let created = app
        .create_task(
            &access,
            &json!({ "title": "Read", "description": "Menabrea", "status_task": "IN PROGRESS" }),
        )
        .await;

    let response = app.get(&task_path(id_of(&created)), Some(&access)).await;
    let without_slash = app
        .get(&format!("{TASKS}{}", id_of(&created)), Some(&access))
        .await;

    response.assert_body(StatusCode::OK, created.clone());
    without_slash.assert_body(StatusCode::OK, created);
}

#[tokio::test]
async fn get_task_accepts_an_uppercase_id() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let created = app.create_task(&access, &json!({ "title": "Read" })).await;

    let response = app
        .get(&task_path(&id_of(&created).to_uppercase()), Some(&access))
        .await;

    response.assert_body(StatusCode::OK, created);
}

#[tokio::test]
async fn update_task_changes_only_the_fields_sent() {
    for method in [Method::PUT, Method::PATCH] {
        let app = TestApp::new().await;
        let (_, access, _) = app.register("ada_lovelace").await;
        let created = app
            .create_task(
                &access,
                &json!({ "title": "Draft", "description": "first", "status_task": "TO DO" }),
            )
            .await;
        let path = task_path(id_of(&created));
        let edits = [
            json!({ "status_task": "IN PROGRESS" }),
            json!({ "title": "Final" }),
            json!({ "description": "" }),
            json!({ "status_task": "DONE", "title": "Shipped" }),
        ];
        let mut expected = created.clone();
        for edit in edits {
            tokio::time::sleep(Duration::from_millis(2)).await;

            let response = app
                .request(method.clone(), &path, Some(&edit), Some(&access))
                .await;

            response.assert_status(StatusCode::OK);
            for (field, value) in edit.as_object().into_iter().flatten() {
                expected[field] = value.clone();
            }
            let updated = &response.json;
            assert_eq!(keys(updated), TASK_FIELDS);
            for field in ["id", "title", "description", "status_task", "date_created"] {
                assert_eq!(updated[field], expected[field], "{method} {edit}: {field}");
            }
            assert!(
                timestamp(updated, "last_updated") > timestamp(&expected, "last_updated"),
                "{method}: moved"
            );
            expected = updated.clone();
            app.get(&path, Some(&access))
                .await
                .assert_body(StatusCode::OK, expected.clone());
        }
    }
}

#[tokio::test]
async fn update_task_with_bad_fields_is_400_and_changes_nothing() {
    let cases: Vec<(Value, Value)> = vec![
        (
            json!({ "title": "" }),
            json!({ "title": ["This field may not be blank."] }),
        ),
        (
            json!({ "title": "t".repeat(101) }),
            json!({ "title": ["Ensure this field has no more than 100 characters."] }),
        ),
        (
            json!({ "description": "d".repeat(10_001) }),
            json!({ "description": ["Ensure this field has no more than 10000 characters."] }),
        ),
        (
            json!({ "status_task": "done" }),
            json!({ "status_task": ["\"done\" is not a valid choice."] }),
        ),
        (
            json!({ "title": "ok", "status_task": "in progress" }),
            json!({ "status_task": ["\"in progress\" is not a valid choice."] }),
        ),
    ];
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let created = app
        .create_task(&access, &json!({ "title": "Keep me" }))
        .await;
    let path = task_path(id_of(&created));
    for method in [Method::PUT, Method::PATCH] {
        for (body, errors) in &cases {
            let response = app
                .request(method.clone(), &path, Some(body), Some(&access))
                .await;

            response.assert_body(StatusCode::BAD_REQUEST, errors.clone());
        }
    }
    app.get(&path, Some(&access))
        .await
        .assert_body(StatusCode::OK, created);
}

#[tokio::test]
async fn update_task_ignores_id_dates_and_owner_in_the_body() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let (other, _, _) = app.register("grace_hopper").await;
    let created = app.create_task(&access, &json!({ "title": "Mine" })).await;
    let body = json!({
        "id": "00000000-0000-7000-8000-000000000001",
        "date_created": "2000-01-01T00:00:00Z",
        "last_updated": "2000-01-01T00:00:00Z",
        "owner": id_of(&other),
        "user_id": id_of(&other),
    });

    let response = app
        .patch_json(&task_path(id_of(&created)), &body, Some(&access))
        .await;

    response.assert_status(StatusCode::OK);
    assert_eq!(response.json["id"], created["id"]);
    assert_eq!(response.json["date_created"], created["date_created"]);
    assert_ne!(response.json["last_updated"], "2000-01-01T00:00:00Z");
    app.get(&task_path(id_of(&created)), Some(&access))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn delete_task_answers_200_then_the_task_is_gone() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let created = app
        .create_task(&access, &json!({ "title": "Short-lived" }))
        .await;
    let path = task_path(id_of(&created));

    let response = app.delete(&path, Some(&access)).await;

    response.assert_body(
        StatusCode::OK,
        json!({ "message": "Task deleted successfully" }),
    );
    app.get(&path, Some(&access))
        .await
        .assert_body(StatusCode::NOT_FOUND, not_found());
    app.delete(&path, Some(&access))
        .await
        .assert_body(StatusCode::NOT_FOUND, not_found());
}

#[tokio::test]
async fn delete_task_accepts_the_path_without_trailing_slash() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let created = app
        .create_task(&access, &json!({ "title": "Short-lived" }))
        .await;

    let response = app
        .delete(&format!("{TASKS}{}", id_of(&created)), Some(&access))
        .await;

    response.assert_body(
        StatusCode::OK,
        json!({ "message": "Task deleted successfully" }),
    );
}
