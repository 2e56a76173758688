//! The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]` and the
//! DTOs' `ToSchema` annotations so that it cannot drift from the code.
//! `UPDATE_OPENAPI=1 cargo test -p shared --test openapi` writes the committed copy, `openapi.json`
//! at the repository root, and that test fails whenever the copy differs from the code. Every host
//! serves that copy at [`OPENAPI`] (the local server, and on AWS the `fallback` function, which
//! thus links neither utoipa's generation nor any handler).

use axum::Router;
use axum::http::Method;
use axum::routing::get as get_method;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Deprecated, OpenApi as Document};
use utoipa::{IntoResponses, Modify, OpenApi, ToResponse, ToSchema};

mod headers;
mod outcomes;

use super::endpoints::EndpointDocs;
use super::error::{Detail, TokenError, ValidationErrors};
use super::{ENDPOINTS, route};

pub const OPENAPI: &str = "/api/v1/openapi.json";

/// The name of the bearer security scheme that authenticated operations require.
pub const BEARER: &str = "bearer";

const DESCRIPTION: &str = "\
taskmaster keeps a to-do list per user. Register (or log in) to receive a short-lived access \
token and a rotating refresh token, then send the access token as `Authorization: Bearer <token>` \
to read and change your profile and to create, list, update and delete your own tasks; other \
users' tasks are invisible (404). Bodies are JSON both ways, errors included: a failed validation \
names every bad field (`{\"field\": [\"message\"]}`), any other error carries a `detail` message. \
Every path is listed with its trailing slash and without it; both forms behave the same.\n\n\
Real time (a WebSocket, outside this document): connect to `/ws/tasks/` with an access token \
(`Authorization: Bearer <token>`, or `?token=<token>` from a browser). Each change to one of your \
tasks arrives as `{\"action\": \"task_create\" | \"task_update\" | \"task_delete\", ...}`, the task as \
this API returns it (a delete carries its `id`). Send `{\"action\": \"ping\"}` within every 10 \
minutes (answered `{\"action\": \"pong\"}`), and `{\"action\": \"authenticate\", \"token\": \"<new \
access token>\"}` with each new access token (answered `{\"action\": \"authenticated\", \
\"expires_at\": ...}`): a socket whose token has expired, or whose session ended (a password \
change, `auth/logout/all/`), hears nothing more and is closed. Every socket ends after 2 hours.";

/// The document's frame: its description, shared schemas and responses, security and tags. The
/// operations come from the endpoint table ([`EndpointDocs`]); see [`document`].
#[derive(OpenApi)]
#[openapi(
    info(title = "taskmaster", version = env!("CARGO_PKG_VERSION"), description = DESCRIPTION),
    servers((url = "/", description = "The host that serves this document")),
    components(
        schemas(Detail, TokenError, ValidationErrors),
        responses(
            BadRequest,
            Unauthorized,
            LoginFailed,
            TokenRejected,
            TaskNotFound,
            Conflict,
            StorageFull,
            PreconditionFailed,
            IdempotencyKeyReused,
            PayloadTooLarge,
            UnsupportedMediaType,
            TooManyRequests,
            Unavailable,
        )
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Registration, login and tokens"),
        (name = "profile", description = "The caller's own account"),
        (name = "tasks", description = "The caller's tasks"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// The whole document, as served and as committed in `openapi.json`.
pub fn document() -> Document {
    let mut doc = ApiDoc::openapi();
    doc.merge(EndpointDocs::openapi());
    Aliases.modify(&mut doc);
    // The `default` response first, so that it gets the shared headers too.
    outcomes::Outcomes.modify(&mut doc);
    headers::CommonHeaders.modify(&mut doc);
    doc
}

/// The committed `openapi.json`, byte for byte what [`document`] generates (tested).
pub const COMMITTED: &str = include_str!("../../../openapi.json");

/// `GET /api/v1/openapi.json`: the committed document.
pub fn get<S: Clone + Send + Sync + 'static>() -> Router<S> {
    route(OPENAPI, get_method(serve_document))
}

/// This OpenAPI document
#[utoipa::path(
    get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
pub(crate) async fn serve_document() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        COMMITTED,
    )
}

/// What a 400 carries.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum BadRequestBody {
    // `detail` first: a client trying each shape in turn would take it for a field's errors.
    Detail(Detail),
    Fields(ValidationErrors),
}

/// What a 401 of an authenticated route carries: no credentials, or a bad token.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum AuthFailure {
    // The token's error first: its `code` is what a client refreshes on, and a client trying each
    // shape in turn would otherwise take it for a bare `detail` and drop the code.
    Token(TokenError),
    Missing(Detail),
}

/// Invalid input: every bad field with its messages (`non_field_errors` for a body that is not a
/// JSON object), or a `detail` for a body or query that cannot be parsed at all, or a header of
/// the wrong shape (`Idempotency-Key`).
#[derive(ToResponse)]
#[response(examples(
    ("fields" = (value = json!({ "username": ["This field is required."] }))),
    ("malformed" = (value = json!({
        "detail": "JSON parse error - EOF while parsing an object at line 1 column 1"
    }))),
))]
pub struct BadRequest(#[to_schema] pub BadRequestBody);

/// No usable access token: none sent, or one that is malformed, expired, of the wrong type or
/// of a user who no longer exists.
#[derive(ToResponse)]
#[response(
    headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`")),
    examples(
        ("missing" = (value = json!({
            "detail": "Authentication credentials were not provided."
        }))),
        ("invalid" = (value = json!({
            "detail": "Given token not valid for any token type",
            "code": "token_not_valid"
        }))),
    )
)]
pub struct Unauthorized(#[to_schema] pub AuthFailure);

/// Unknown user or wrong password (the same answer for both).
#[derive(ToResponse)]
#[response(
    headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`")),
    example = json!({ "detail": "Invalid login credentials" })
)]
pub struct LoginFailed(pub Detail);

/// The token in the body is invalid, expired, revoked or already used.
#[derive(ToResponse)]
#[response(
    headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`")),
    example = json!({ "detail": "Token is invalid or expired", "code": "token_not_valid" })
)]
pub struct TokenRejected(pub TokenError);

/// No such task of the caller's: unknown, deleted, another user's, or a malformed id.
#[derive(ToResponse)]
#[response(example = json!({ "detail": "Task not found" }))]
pub struct TaskNotFound(pub Detail);

/// Concurrent writes kept winning over this one; retrying is safe.
#[derive(ToResponse)]
#[response(example = json!({
    "detail": "The resource was changed by another request; please retry."
}))]
pub struct Conflict(pub Detail);

/// The caller's tasks have reached the storage limit of one account (DynamoDB's 10 GB for one
/// user's items): delete some to make room.
#[derive(ToResponse)]
#[response(example = json!({
    "detail": "Your tasks have reached the storage limit of one account; delete some tasks to make room."
}))]
pub struct StorageFull(pub Detail);

/// A write's `If-Match` or `If-None-Match` refused the task's current version: read it again.
#[derive(ToResponse)]
#[response(example = json!({
    "detail": "The task's current version is not one this request's If-Match or If-None-Match allows; read it again before changing it."
}))]
pub struct PreconditionFailed(pub Detail);

/// The `Idempotency-Key` was used before for a create with other fields.
#[derive(ToResponse)]
#[response(example = json!({
    "detail": "This Idempotency-Key was already used for a different request; use a new key for a new task."
}))]
pub struct IdempotencyKeyReused(pub Detail);

/// The body is over 64 KiB.
#[derive(ToResponse)]
#[response(example = json!({ "detail": "Request body is too large (limit 64 KiB)." }))]
pub struct PayloadTooLarge(pub Detail);

/// A body was sent with a content type other than JSON.
#[derive(ToResponse)]
#[response(example = json!({ "detail": "Unsupported media type; send application/json, in UTF-8, uncompressed." }))]
pub struct UnsupportedMediaType(pub Detail);

/// Too many failed logins for this login name or from this address, or too many registrations
/// from this address, in the current window: every attempt is refused until it ends.
#[derive(ToResponse)]
#[response(
    headers((
        "Retry-After" = u32,
        description = "Seconds until the window ends and attempts are accepted again"
    )),
    example = json!({ "detail": "Request was throttled. Expected available in 840 seconds." })
)]
pub struct TooManyRequests(pub Detail);

/// The store is throttling; retry after the given delay.
#[derive(ToResponse)]
#[response(
    headers(("Retry-After" = u32, description = "Seconds to wait before retrying")),
    example = json!({ "detail": "The service is busy; please retry shortly." })
)]
pub struct Unavailable(pub Detail);

/// The failures of every endpoint that reads a JSON body.
#[derive(IntoResponses)]
pub enum JsonErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] BadRequest),
    #[response(status = 413)]
    PayloadTooLarge(#[ref_response] PayloadTooLarge),
    #[response(status = 415)]
    UnsupportedMediaType(#[ref_response] UnsupportedMediaType),
    #[response(status = 503)]
    Unavailable(#[ref_response] Unavailable),
}

/// The failures of every endpoint that needs an access token: a route that reads no body still
/// refuses one announced past 64 KiB, once the token is checked.
#[derive(IntoResponses)]
pub enum BearerErrors {
    #[response(status = 401)]
    Unauthorized(#[ref_response] Unauthorized),
    #[response(status = 413)]
    PayloadTooLarge(#[ref_response] PayloadTooLarge),
    #[response(status = 503)]
    Unavailable(#[ref_response] Unavailable),
}

/// Declares the `bearer` scheme: an access token from register, login or refresh.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("An access token (`token_type: access`, 15 minutes)."))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// Adds what the routers serve beyond the annotated paths: the original app's task-create path
/// (deprecated), and every path in its other trailing-slash form. Operation ids stay unique: an
/// operation serving several methods gets the method appended, an alias a suffix.
struct Aliases;

impl Modify for Aliases {
    fn modify(&self, doc: &mut Document) {
        let annotated = std::mem::take(&mut doc.paths.paths);
        for (path, mut item) in annotated {
            distinct_method_ids(&mut item);
            let legacy = legacy_aliases(&path, &item);
            for (path, item) in std::iter::once((path, item)).chain(legacy) {
                let (other, suffix) = match path.strip_suffix('/') {
                    Some(bare) => (bare.to_owned(), "_without_slash"),
                    None => (format!("{path}/"), "_with_slash"),
                };
                let mut alias = item.clone();
                operations(&mut alias).for_each(|(_, op)| suffix_id(op, suffix));
                doc.paths.paths.insert(path, item);
                doc.paths.paths.insert(other, alias);
            }
        }
    }
}

/// The operations of `item`, with their method names.
fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("patch", &mut item.patch),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
}

/// `update_task` serving PUT and PATCH becomes `update_task_put` and `update_task_patch`.
fn distinct_method_ids(item: &mut PathItem) {
    let ids: Vec<String> = operations(item)
        .filter_map(|(_, op)| op.operation_id.clone())
        .collect();
    for (method, op) in operations(item) {
        let shared = op
            .operation_id
            .as_ref()
            .is_some_and(|id| ids.iter().filter(|other| *other == id).count() > 1);
        if shared {
            suffix_id(op, &format!("_{method}"));
        }
    }
}

/// The original app's paths of the endpoint at `path` (the other paths of its row in
/// [`ENDPOINTS`]), as deprecated copies of its operations.
fn legacy_aliases(path: &str, item: &PathItem) -> Vec<(String, PathItem)> {
    let mut aliases = Vec::new();
    for endpoint in ENDPOINTS {
        if format!("{}/", endpoint.paths[0]) != path {
            continue;
        }
        for alias in &endpoint.paths[1..] {
            let (mut source, mut copy) = (item.clone(), PathItem::default());
            for method in endpoint.methods {
                let (Some(from), Some(to)) = (
                    slot(&mut source, method).and_then(Option::take),
                    slot(&mut copy, method),
                ) else {
                    continue;
                };
                let mut operation = from;
                operation.deprecated = Some(Deprecated::True);
                operation.description = Some(format!(
                    "Deprecated alias of `{method} {}/`, kept for clients of the original app.",
                    endpoint.paths[0]
                ));
                suffix_id(&mut operation, "_legacy");
                *to = Some(operation);
            }
            if copy != PathItem::default() {
                aliases.push((format!("{alias}/"), copy));
            }
        }
    }
    aliases
}

/// The operation slot of `method` in `item`.
fn slot<'a>(item: &'a mut PathItem, method: &Method) -> Option<&'a mut Option<Operation>> {
    Some(match *method {
        Method::GET => &mut item.get,
        Method::PUT => &mut item.put,
        Method::POST => &mut item.post,
        Method::DELETE => &mut item.delete,
        Method::PATCH => &mut item.patch,
        _ => return None,
    })
}

fn suffix_id(op: &mut Operation, suffix: &str) {
    if let Some(id) = &mut op.operation_id {
        id.push_str(suffix);
    }
}
