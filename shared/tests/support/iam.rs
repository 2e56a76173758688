//! IAM in the tests: what each function's role may do on DynamoDB (the grants `template.yaml`
//! gives it, checked against the SAM-transformed template by `transformed_template.rs`), and an SDK
//! interceptor that refuses a call its function may not make, as AWS would with
//! AccessDeniedException. DynamoDB Local has no IAM, so without this a missing grant passes every
//! test and fails only on AWS.
//!
//! Which function is calling is known from the request: [`as_lambdas`] runs each request as the
//! function whose route it matches ([`shared::http::ENDPOINTS`]). Calls outside a request (seeding
//! through the stores) are not checked.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use axum::Router;
use serde_json::Value;
use shared::http::ENDPOINTS;

tokio::task_local! {
    static FUNCTION: &'static str;
}

/// What `binary`'s role may do beyond logging and tracing, as "action resource" lines.
pub fn granted(binary: &str) -> Vec<String> {
    let (users, tasks, connections) = ("UsersTable", "TasksTable", "ConnectionsTable");
    let on = |table: &'static str, actions: &[&'static str]| -> Vec<String> {
        actions
            .iter()
            .map(|a| format!("dynamodb:{a} {table}"))
            .collect()
    };
    match binary {
        "register" => on(users, &["PutItem", "UpdateItem"]),
        "login" => on(users, &["GetItem", "PutItem", "UpdateItem"]),
        "ws-connect" => [on(users, &["GetItem"]), on(connections, &["DeleteItem", "PutItem", "Query"])].concat(),
        "password-update" | "logout-all" | "logout" => [
            match binary {
                "logout" => on(users, &["BatchGetItem", "DeleteItem", "UpdateItem"]),
                "password-update" => on(users, &["GetItem", "PutItem", "UpdateItem"]),
                _ => on(users, &["GetItem", "UpdateItem"]),
            },
            on(connections, &["DeleteItem", "Query"]),
            vec!["execute-api:ManageConnections arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${WebSocketStageName}/DELETE/@connections/*".to_owned()],
        ]
        .concat(),
        "profile-get" => on(users, &["GetItem"]),
        "profile-update" => on(users, &["DeleteItem", "GetItem", "PutItem", "UpdateItem"]),
        "token-refresh" => on(
            users,
            &["BatchGetItem", "ConditionCheckItem", "GetItem", "PutItem", "UpdateItem"],
        ),
        "token-verify" => on(users, &["BatchGetItem", "GetItem"]),
        "task-create" => [on(users, &["ConditionCheckItem", "GetItem", "PutItem"]), on(tasks, &["PutItem", "UpdateItem"])].concat(),
        "task-delete" => [on(users, &["ConditionCheckItem", "GetItem"]), on(tasks, &["DeleteItem", "GetItem", "UpdateItem"])].concat(),
        "task-get" => [on(users, &["GetItem"]), on(tasks, &["GetItem"])].concat(),
        "task-update" => [on(users, &["ConditionCheckItem", "GetItem"]), on(tasks, &["GetItem", "PutItem", "UpdateItem"])].concat(),
        "task-list" => [
            on(users, &["BatchGetItem", "GetItem"]),
            on(tasks, &["BatchGetItem"]),
            on("${TasksTable.Arn}/index/*", &["Query"]),
        ]
        .concat(),
        "ws-disconnect" => on(connections, &["DeleteItem", "GetItem"]),
        "task-stream" => [
            on(connections, &["DeleteItem", "Query"]),
            on(users, &["GetItem"]),
            vec![
                "sqs:SendMessage TaskStreamFailures".to_owned(),
                "execute-api:ManageConnections arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${WebSocketStageName}/POST/@connections/*".to_owned(),
                "execute-api:ManageConnections arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${WebSocketStageName}/DELETE/@connections/*".to_owned(),
            ],
        ]
        .concat(),
        "ws-default" => [on(users, &["GetItem"]), on(connections, &["Query", "UpdateItem"])].concat(),
        "fallback" => Vec::new(),
        other => panic!("no expected permissions for {other}"),
    }
}

/// Runs `work` as `function`, whose grants [`Iam`] then checks.
pub async fn as_function<T>(function: &'static str, work: impl Future<Output = T>) -> T {
    FUNCTION.scope(function, work).await
}

/// `router` with each request run as the Lambda that serves its method and path on AWS, so
/// [`Iam`] knows whose grants to check.
pub fn as_lambdas(router: Router) -> Router {
    router.layer(axum::middleware::from_fn(
        async |request: axum::extract::Request, next: axum::middleware::Next| match function_of(
            request.method(),
            request.uri().path(),
        ) {
            Some(function) => FUNCTION.scope(function, next.run(request)).await,
            None => next.run(request).await,
        },
    ))
}

/// The function of [`ENDPOINTS`] serving `method path` (`{…}` matching one segment; a trailing
/// slash optional).
fn function_of(method: &axum::http::Method, path: &str) -> Option<&'static str> {
    let segments = |p: &str| -> Vec<String> {
        p.trim_end_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect()
    };
    let asked = segments(path);
    ENDPOINTS
        .iter()
        .filter(|endpoint| endpoint.methods.contains(method))
        .find(|endpoint| {
            endpoint.paths.iter().any(|p| {
                let route = segments(p);
                route.len() == asked.len()
                    && route
                        .iter()
                        .zip(&asked)
                        .all(|(r, a)| r.starts_with('{') || r == a)
            })
        })
        .map(|endpoint| endpoint.function)
}

/// The IAM actions a DynamoDB request needs, as "action resource" lines of [`granted`]: a
/// transaction needs each item's own action on its table (the DynamoDB developer guide, "Using
/// IAM with DynamoDB transactions"), a batch its action on each table, a query of an index the
/// action on the table's indexes.
fn needed(operation: &str, body: &Value) -> BTreeSet<String> {
    let table = |name: &Value| -> &'static str {
        match name.as_str().unwrap_or("").split('-').next() {
            Some("users") => "UsersTable",
            Some("tasks") => "TasksTable",
            Some("connections") => "ConnectionsTable",
            other => panic!("a table of no known kind: {other:?}"),
        }
    };
    let mut needed = BTreeSet::new();
    match operation {
        "TransactWriteItems" | "TransactGetItems" => {
            for item in body["TransactItems"].as_array().into_iter().flatten() {
                for (kind, action) in [
                    ("Put", "PutItem"),
                    ("Update", "UpdateItem"),
                    ("Delete", "DeleteItem"),
                    ("ConditionCheck", "ConditionCheckItem"),
                    ("Get", "GetItem"),
                ] {
                    if let Some(one) = item.get(kind) {
                        needed.insert(format!("dynamodb:{action} {}", table(&one["TableName"])));
                    }
                }
            }
        }
        "BatchGetItem" | "BatchWriteItem" => {
            for name in body["RequestItems"]
                .as_object()
                .into_iter()
                .flat_map(|items| items.keys())
            {
                let name = Value::String(name.clone());
                needed.insert(format!("dynamodb:{operation} {}", table(&name)));
            }
        }
        _ => {
            let table = table(&body["TableName"]);
            let resource = match body.get("IndexName") {
                Some(_) => format!("${{{table}.Arn}}/index/*"),
                None => table.to_owned(),
            };
            needed.insert(format!("dynamodb:{operation} {resource}"));
        }
    }
    needed
}

/// Refuses a DynamoDB call the calling function's role does not allow, before it is sent.
#[derive(Debug, Clone, Copy)]
pub struct Iam;

impl Intercept for Iam {
    fn name(&self) -> &'static str {
        "Iam"
    }

    // After serialization: before any other interceptor (a test's fault) changes the request.
    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(function) = FUNCTION.try_with(|f| *f) else {
            return Ok(());
        };
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target);
        let body: Value = request
            .body()
            .bytes()
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or(Value::Null);
        let allowed: BTreeSet<String> = granted(function).into_iter().collect();
        let denied: Vec<String> = needed(operation, &body)
            .into_iter()
            .filter(|action| !allowed.contains(action))
            .collect();
        if denied.is_empty() {
            return Ok(());
        }
        let refusal = format!("AccessDenied: {function} may not {}", denied.join(", "));
        eprintln!("{refusal}");
        Err(refusal.into())
    }
}

/// `client` refusing what [`Iam`] refuses.
pub fn checked(client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(client.config().to_builder().interceptor(Iam).build())
}
