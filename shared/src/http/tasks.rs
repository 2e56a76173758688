//! The caller's tasks.

use axum::extract::rejection::QueryRejection;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{delete as delete_method, get as get_method, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::{AppJson, AuthUser, TaskPath};
use super::route;
use crate::AppState;
use crate::domain::{FieldErrors, Task, TaskDescription, TaskId, TaskStatus, TaskTitle, Timestamp};
use crate::error::{Error, Result};
use crate::service::tasks::{NewTask, PageRequest, TaskChanges};

pub const TASKS: &str = "/api/v1/tasks";
/// Where the original app served task creation; still accepted.
pub const TASK_CREATE: &str = "/api/v1/tasks/create";
pub const TASK: &str = "/api/v1/tasks/{id}";

pub const DEFAULT_PAGE_SIZE: usize = 10;
pub const MAX_PAGE_SIZE: usize = 100;

pub fn create() -> Router<AppState> {
    route(TASKS, post(create_task)).merge(route(TASK_CREATE, post(create_task)))
}

pub fn list() -> Router<AppState> {
    route(TASKS, get_method(list_tasks))
}

pub fn get() -> Router<AppState> {
    route(TASK, get_method(show_task))
}

/// PUT and PATCH alike: only the fields sent change.
pub fn update() -> Router<AppState> {
    route(TASK, put(update_task).patch(update_task))
}

pub fn delete() -> Router<AppState> {
    route(TASK, delete_method(delete_task))
}

/// A task as clients see it (no owner, no version).
#[derive(Debug, Serialize)]
pub struct TaskBody {
    pub id: TaskId,
    pub title: String,
    pub description: String,
    pub status_task: TaskStatus,
    pub date_created: Timestamp,
    pub last_updated: Timestamp,
}

impl From<Task> for TaskBody {
    fn from(task: Task) -> Self {
        Self {
            id: task.id,
            title: task.title.into(),
            description: task.description.into(),
            status_task: task.status,
            date_created: task.date_created,
            last_updated: task.last_updated,
        }
    }
}

/// Create and update bodies: every field optional here; create requires a title.
#[derive(Debug, Deserialize)]
pub struct TaskRequest {
    title: Option<String>,
    description: Option<String>,
    status_task: Option<String>,
}

impl TryFrom<TaskRequest> for TaskChanges {
    type Error = FieldErrors;

    fn try_from(body: TaskRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let changes = TaskChanges {
            title: errors
                .optional("title", body.title, TaskTitle::parse)
                .flatten(),
            description: errors
                .optional("description", body.description, TaskDescription::parse)
                .flatten(),
            status: errors
                .optional("status_task", body.status_task, TaskStatus::parse)
                .flatten(),
        };
        errors.into_result().map(|()| changes)
    }
}

impl TryFrom<TaskRequest> for NewTask {
    type Error = FieldErrors;

    fn try_from(body: TaskRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let title = errors.required("title", body.title, TaskTitle::parse);
        let description = errors
            .optional("description", body.description, TaskDescription::parse)
            .flatten();
        let status = errors
            .optional("status_task", body.status_task, TaskStatus::parse)
            .flatten();
        match title {
            Some(title) if errors.is_empty() => Ok(NewTask {
                title,
                description: description.unwrap_or_default(),
                status: status.unwrap_or_default(),
            }),
            _ => Err(errors),
        }
    }
}

async fn create_task(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    AppJson(body): AppJson<TaskRequest>,
) -> Result<(StatusCode, Json<TaskBody>)> {
    let task = state.tasks.create(owner, body.try_into()?).await?;
    Ok((StatusCode::CREATED, Json(task.into())))
}

async fn show_task(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    TaskPath(id): TaskPath,
) -> Result<Json<TaskBody>> {
    Ok(Json(state.tasks.get(owner, &id).await?.into()))
}

async fn update_task(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    TaskPath(id): TaskPath,
    AppJson(body): AppJson<TaskRequest>,
) -> Result<Json<TaskBody>> {
    let task = state.tasks.update(owner, &id, body.try_into()?).await?;
    Ok(Json(task.into()))
}

async fn delete_task(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    TaskPath(id): TaskPath,
) -> Result<Json<serde_json::Value>> {
    state.tasks.delete(owner, &id).await?;
    Ok(Json(
        serde_json::json!({ "message": "Task deleted successfully" }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    page_size: Option<String>,
    status_task: Option<String>,
    cursor: Option<String>,
}

/// The list envelope: `next`/`previous` are absolute URLs, or null at either end.
#[derive(Debug, Serialize)]
pub struct TaskListBody {
    pub count: u64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<TaskBody>,
}

impl TryFrom<ListParams> for PageRequest {
    type Error = FieldErrors;

    fn try_from(params: ListParams) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let page_size = errors.optional("page_size", params.page_size, |raw| {
            match raw.parse::<usize>() {
                Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => Ok(size),
                _ => Err(format!(
                    "Ensure this value is a whole number from 1 to {MAX_PAGE_SIZE}."
                )),
            }
        });
        let status = errors.optional("status_task", params.status_task, TaskStatus::parse);
        errors.into_result()?;
        Ok(PageRequest {
            status: status.flatten(),
            page_size: page_size.flatten().unwrap_or(DEFAULT_PAGE_SIZE),
            cursor: params.cursor,
        })
    }
}

async fn list_tasks(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<TaskListBody>> {
    let Query(params) = params.map_err(|rejection| Error::BadRequest(rejection.body_text()))?;
    let request = PageRequest::try_from(params)?;
    let (page_size, status) = (request.page_size, request.status);
    let list = state.tasks.list(owner, request).await?;
    let base = base_url(&headers, &uri);
    let url = |cursor: String| page_url(&base, page_size, status, &cursor);
    Ok(Json(TaskListBody {
        count: list.count,
        next: list.next.map(url),
        previous: list.previous.map(url),
        results: list.tasks.into_iter().map(TaskBody::from).collect(),
    }))
}

/// `scheme://host/path` of this request, as the client addressed it (`X-Forwarded-Proto` honoured).
fn base_url(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let first = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
    };
    let scheme = first("x-forwarded-proto")
        .or(uri.scheme_str())
        .unwrap_or("http");
    let host = first(header::HOST.as_str())
        .or(uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    format!("{scheme}://{host}{}", uri.path())
}

fn page_url(base: &str, page_size: usize, status: Option<TaskStatus>, cursor: &str) -> String {
    let status = status
        .map(|s| format!("&status_task={}", s.as_str().replace(' ', "%20")))
        .unwrap_or_default();
    format!("{base}?page_size={page_size}{status}&cursor={cursor}")
}
