//! The caller's tasks.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete as delete_method, get as get_method, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::conditional::{
    IdempotencyKey, IdempotencyKeyParam, IfMatchParam, IfMatchReadParam, IfNoneMatchParam,
    IfNoneMatchWriteParam, ReadPreconditions, WritePreconditions, etag,
};
use super::error::Message;
use super::extract::{AppJson, AuthUser, LastQuery, TaskPath, nullable};
use super::openapi::{
    BearerErrors, Conflict, IdempotencyKeyReused, JsonErrors, PreconditionFailed, StorageFull,
    TaskNotFound,
};
use super::{pages, route};
use crate::AppState;
use crate::domain::{
    FieldErrors, TaskDescription, TaskStatus, TaskTitle, TaskView, Text, non_null,
};
use crate::error::Result;
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

/// Create and update bodies: every field optional here; create requires a title. Updates change
/// only the fields sent. A field sent as `null` is a 400 naming it, as the original app answered.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TaskRequest {
    /// Trimmed of surrounding whitespace.
    #[schema(value_type = String, required = false, min_length = 1, max_length = 100)]
    #[schema(examples("Buy milk"))]
    #[serde(default, deserialize_with = "nullable")]
    title: Option<Option<Text>>,
    /// `""` when a task is created without one.
    #[schema(value_type = String, required = false, max_length = 10000)]
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<Text>>,
    /// `TO DO` when a task is created without one.
    #[schema(value_type = TaskStatus, required = false)]
    #[serde(default, deserialize_with = "nullable")]
    status_task: Option<Option<Text>>,
}

/// The create body's schema: a [`TaskRequest`] with `title` required.
pub struct NewTaskRequest;

impl PartialSchema for NewTaskRequest {
    /// [`TaskRequest`]'s own schema with `title` required, written out whole: an `allOf` of it and
    /// a bare `required` gives generated clients an intersection no body fits (openapi-typescript
    /// types the second part `Record<string, never>`).
    fn schema() -> RefOr<Schema> {
        let mut schema = TaskRequest::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.required.push("title".to_owned());
            object.description = Some("A new task: `title` is required.".to_owned());
        }
        schema
    }
}

impl ToSchema for NewTaskRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((TaskRequest::name().into(), TaskRequest::schema()));
        TaskRequest::schemas(schemas);
    }
}

impl TryFrom<TaskRequest> for TaskChanges {
    type Error = FieldErrors;

    fn try_from(body: TaskRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let changes = TaskChanges {
            title: errors
                .optional("title", body.title, non_null(TaskTitle::parse))
                .flatten(),
            description: errors
                .optional(
                    "description",
                    body.description,
                    non_null(TaskDescription::parse),
                )
                .flatten(),
            status: errors
                .optional("status_task", body.status_task, non_null(TaskStatus::parse))
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
            .optional(
                "description",
                body.description,
                non_null(TaskDescription::parse),
            )
            .flatten();
        let status = errors
            .optional("status_task", body.status_task, non_null(TaskStatus::parse))
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

/// Create a task
///
/// With an `Idempotency-Key`, retrying is safe: a repeat of the same request within 24 hours
/// answers the first answer again (201, the same task, `Idempotent-Replayed: true`) and creates
/// nothing; the same key with other fields is a 422. Also served at the original app's
/// `/api/v1/tasks/create/` (deprecated).
#[utoipa::path(
    post, path = "/api/v1/tasks/", tag = "tasks", security(("bearer" = [])),
    params(IdempotencyKeyParam),
    request_body = NewTaskRequest,
    responses(
        (status = 201, description = "The new task", body = TaskView, headers(("ETag" = String, description = "The task's version, for If-Match and If-None-Match"), ("Location" = String, description = "The new task's URL path, `/api/v1/tasks/{id}/`"), ("Idempotent-Replayed" = String, description = "`true` on the answer to a repeated request (same Idempotency-Key and fields): nothing was created"))),
        (status = 403, response = StorageFull),
        (status = 409, response = Conflict),
        (status = 422, response = IdempotencyKeyReused),
        BearerErrors,
        JsonErrors,
    )
)]
pub(crate) async fn create_task(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    key: IdempotencyKey,
    AppJson(body): AppJson<TaskRequest>,
) -> Result<Response> {
    let created = state.tasks.create(owner, body.try_into()?, key.0).await?;
    let location = format!("/api/v1/tasks/{}/", created.task.id);
    let mut response = (
        StatusCode::CREATED,
        etag(&created.task),
        [(header::LOCATION, location)],
        Json(TaskView::from(created.task)),
    )
        .into_response();
    if created.replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// Show a task
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}/", tag = "tasks", security(("bearer" = [])),
    params(TaskIdParam, IfMatchReadParam, IfNoneMatchParam),
    responses(
        (status = 200, description = "The task", body = TaskView, headers(("ETag" = String, description = "The task's version, for If-Match and If-None-Match"))),
        (status = 304, description = "Unchanged since the version in If-None-Match: no body", headers(("ETag" = String, description = "The task's version, for If-Match and If-None-Match"))),
        (status = 404, response = TaskNotFound),
        (status = 412, response = PreconditionFailed),
        BearerErrors,
    )
)]
pub(crate) async fn show_task(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    TaskPath(id): TaskPath,
    preconditions: ReadPreconditions,
) -> Result<Response> {
    let task = state.tasks.get(owner, &id).await?;
    if preconditions.unchanged(&task)? {
        return Ok((StatusCode::NOT_MODIFIED, etag(&task)).into_response());
    }
    Ok((etag(&task), Json(TaskView::from(task))).into_response())
}

/// Update a task
///
/// PUT and PATCH alike change only the fields sent; `last_updated` moves, `date_created` stays.
#[utoipa::path(
    method(put, patch), path = "/api/v1/tasks/{id}/", tag = "tasks", security(("bearer" = [])),
    params(TaskIdParam, IfMatchParam, IfNoneMatchWriteParam), request_body = TaskRequest,
    responses(
        (status = 200, description = "The updated task", body = TaskView, headers(("ETag" = String, description = "The task's version, for If-Match and If-None-Match"))),
        (status = 403, response = StorageFull),
        (status = 404, response = TaskNotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        BearerErrors,
        JsonErrors,
    )
)]
pub(crate) async fn update_task(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    TaskPath(id): TaskPath,
    WritePreconditions(preconditions): WritePreconditions,
    AppJson(body): AppJson<TaskRequest>,
) -> Result<Response> {
    let task = state
        .tasks
        .update(owner, &id, body.try_into()?, &preconditions)
        .await?;
    Ok((etag(&task), Json(TaskView::from(task))).into_response())
}

/// Delete a task
#[utoipa::path(
    delete, path = "/api/v1/tasks/{id}/", tag = "tasks", security(("bearer" = [])),
    params(TaskIdParam, IfMatchParam, IfNoneMatchWriteParam),
    responses(
        (
            status = 200, description = "The task is deleted", body = Message,
            example = json!({ "message": "Task deleted successfully" })
        ),
        (status = 404, response = TaskNotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        BearerErrors,
    )
)]
pub(crate) async fn delete_task(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    TaskPath(id): TaskPath,
    WritePreconditions(preconditions): WritePreconditions,
) -> Result<Json<Message>> {
    state.tasks.delete(owner, &id, &preconditions).await?;
    Ok(Json(Message {
        message: "Task deleted successfully",
    }))
}

/// The `{id}` of a task route, as documented ([`TaskPath`] reads it).
#[derive(IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
pub struct TaskIdParam(
    /// The task's id. Any other text, and another user's id, is a 404.
    #[param(value_type = String, format = Uuid)]
    pub String,
);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Tasks per page, at most: a page whose tasks would not fit in a 6 MiB answer holds fewer,
    /// and its `next` goes on from its last one.
    #[param(value_type = u32, required = false, minimum = 1, maximum = 100)]
    #[param(default = json!(DEFAULT_PAGE_SIZE))]
    page_size: Option<String>,
    /// Only tasks with this status (`count` then counts only those); empty: every status.
    #[param(value_type = TaskStatus, required = false)]
    status_task: Option<String>,
    /// An opaque position: follow `next` and `previous` rather than building it. It belongs to
    /// its listing: sent with another `status_task` than its own (the links carry it), it is a
    /// 400.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

/// The list envelope: `next`/`previous` are absolute URLs, or null at either end.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskListBody {
    /// All of the caller's tasks that match, not only this page's.
    pub count: u64,
    #[schema(format = "uri", required = true)]
    pub next: Option<String>,
    #[schema(format = "uri", required = true)]
    pub previous: Option<String>,
    /// Newest first.
    pub results: Vec<TaskView>,
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
        // Empty is no filter, as django-filter reads it: a client's "All" choice sends it so.
        let status_task = params.status_task.filter(|status| !status.is_empty());
        let status = errors.optional("status_task", status_task, TaskStatus::parse);
        errors.into_result()?;
        Ok(PageRequest {
            status: status.flatten(),
            page_size: page_size.flatten().unwrap_or(DEFAULT_PAGE_SIZE),
            cursor: params.cursor,
        })
    }
}

/// List tasks
///
/// The caller's tasks, newest first, a page at a time.
#[utoipa::path(
    get, path = "/api/v1/tasks/", tag = "tasks", security(("bearer" = [])), params(ListParams),
    responses(
        (status = 200, description = "A page of tasks", body = TaskListBody),
        (status = 400, response = super::openapi::BadRequest),
        BearerErrors,
    )
)]
pub(crate) async fn list_tasks(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    LastQuery(params): LastQuery<ListParams>,
) -> Result<Response> {
    let mut request = PageRequest::try_from(params)?;
    let (page_size, status) = (request.page_size, request.status);
    let base = pages::base_url(&headers, &uri);
    // The links keep the size asked for: the pages after a cut one are cut only if they must be.
    let url = |cursor: String| pages::page_url(&base, page_size, status, &cursor);
    loop {
        let list = state.tasks.list(owner, request.clone()).await?;
        let page = TaskListBody {
            count: list.count,
            next: list.next.map(url),
            previous: list.previous.map(url),
            results: list.tasks.into_iter().map(TaskView::from).collect(),
        };
        let body = serde_json::to_vec(&page).map_err(anyhow::Error::from)?;
        if pages::fits(&body) || request.page_size == 1 {
            return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
        }
        // Read the page again cut to what fits, so that its links start from its last task.
        let fit = pages::fitting(&page.results).min(page.results.len() - 1);
        request.page_size = fit.max(1);
    }
}
