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

/// The only users-table items `task-create` may put: Idempotency-Key records.
const IDEMPOTENCY_KEYS: &str = "IDEMPOTENCY#*";
/// Refresh tokens: the only users-table items a login, a refresh or a password change may put,
/// and a logout delete.
const REFRESH_TOKENS: &str = "REFRESH#*";
/// Username and email guards: the only items a profile change may put or delete.
const GUARDS: &str = "USERNAME#*,EMAIL#*";
/// `GetConnection`: what `$connect` and a renewal at the cap ask of the management API.
const GET_CONNECTION: &str = "execute-api:ManageConnections arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${WebSocketStageName}/GET/@connections/*";
/// Limit counters and users: what a login, a password change or a profile change may update.
const COUNTERS_AND_USERS: &str = "LIMIT#*,USER#*";

tokio::task_local! {
    static FUNCTION: &'static str;
}

/// What `binary`'s role may do beyond logging and tracing, as "action resource" lines; a grant
/// limited to items whose partition key matches one of some patterns (`dynamodb:LeadingKeys`, `*`
/// matching any rest) ends with " keys PATTERN,PATTERN…".
pub fn granted(binary: &str) -> Vec<String> {
    let (users, tasks, connections) = ("UsersTable", "TasksTable", "ConnectionsTable");
    let on = |table: &'static str, actions: &[&'static str]| -> Vec<String> {
        actions
            .iter()
            .map(|a| format!("dynamodb:{a} {table}"))
            .collect()
    };
    let keyed = |actions: &[&'static str], keys: &str| -> Vec<String> {
        actions
            .iter()
            .map(|a| format!("dynamodb:{a} {users} keys {keys}"))
            .collect()
    };
    match binary {
        "register" => [
            keyed(&["UpdateItem"], "LIMIT#*"),
            keyed(&["PutItem"], "USER#*,USERNAME#*,EMAIL#*,REFRESH#*"),
        ]
        .concat(),
        "login" => [
            on(users, &["GetItem"]),
            keyed(&["UpdateItem"], COUNTERS_AND_USERS),
            keyed(&["PutItem"], REFRESH_TOKENS),
        ]
        .concat(),
        "ws-connect" => [
            on(users, &["GetItem"]),
            on(connections, &["DeleteItem", "PutItem", "Query"]),
            vec![GET_CONNECTION.to_owned()],
        ]
        .concat(),
        "password-update" | "logout-all" | "logout" | "token-refresh" => [
            match binary {
                "logout" => [
                    on(users, &["BatchGetItem"]),
                    keyed(&["UpdateItem"], "USER#*"),
                    keyed(&["DeleteItem"], REFRESH_TOKENS),
                ]
                .concat(),
                "password-update" => [
                    on(users, &["GetItem"]),
                    keyed(&["UpdateItem"], COUNTERS_AND_USERS),
                    keyed(&["PutItem"], REFRESH_TOKENS),
                ]
                .concat(),
                "token-refresh" => [
                    on(users, &["BatchGetItem", "ConditionCheckItem", "GetItem"]),
                    keyed(&["UpdateItem"], "REFRESH#*,USER#*"),
                    keyed(&["PutItem"], REFRESH_TOKENS),
                ]
                .concat(),
                _ => [on(users, &["GetItem"]), keyed(&["UpdateItem"], "USER#*")].concat(),
            },
            on(connections, &["DeleteItem", "Query"]),
            vec!["execute-api:ManageConnections arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${WebSocketStageName}/DELETE/@connections/*".to_owned()],
        ]
        .concat(),
        "profile-get" => on(users, &["GetItem"]),
        "profile-update" => [
            on(users, &["GetItem"]),
            keyed(&["UpdateItem"], COUNTERS_AND_USERS),
            keyed(&["DeleteItem", "PutItem"], GUARDS),
        ]
        .concat(),
        "token-verify" => on(users, &["BatchGetItem", "GetItem"]),
        "task-create" => [
            on(users, &["ConditionCheckItem", "GetItem"]),
            keyed(&["PutItem"], IDEMPOTENCY_KEYS),
            on(tasks, &["PutItem", "UpdateItem"]),
        ]
        .concat(),
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
            on("${TasksTable.Arn}/stream/*", &["DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"]),
            vec![
                "sqs:SendMessage TaskStreamFailures".to_owned(),
                "execute-api:ManageConnections arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${WebSocketStageName}/POST/@connections/*".to_owned(),
                "execute-api:ManageConnections arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${WebSocketStageName}/DELETE/@connections/*".to_owned(),
            ],
        ]
        .concat(),
        "ws-default" => [
            on(users, &["GetItem"]),
            on(connections, &["DeleteItem", "Query", "UpdateItem"]),
            vec![GET_CONNECTION.to_owned()],
        ]
        .concat(),
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

/// The IAM actions a DynamoDB request needs, as "action resource" lines of [`granted`], each
/// with the partition key of the item it acts on where there is one: a transaction needs each
/// item's own action on its table (the DynamoDB developer guide, "Using IAM with DynamoDB
/// transactions"), a batch its action on each table, a query of an index the action on the
/// table's indexes.
fn needed(operation: &str, body: &Value) -> BTreeSet<(String, Option<String>)> {
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
                        let line = format!("dynamodb:{action} {}", table(&one["TableName"]));
                        needed.insert((line, partition_key(one)));
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
                needed.insert((format!("dynamodb:{operation} {}", table(&name)), None));
            }
        }
        _ => {
            let table = table(&body["TableName"]);
            let resource = match body.get("IndexName") {
                Some(_) => format!("${{{table}.Arn}}/index/*"),
                None => table.to_owned(),
            };
            let key = (operation != "Query")
                .then(|| partition_key(body))
                .flatten();
            needed.insert((format!("dynamodb:{operation} {resource}"), key));
        }
    }
    needed
}

/// The partition key (`pk`) of the item a request or transaction item names.
fn partition_key(request: &Value) -> Option<String> {
    let item = request.get("Item").or(request.get("Key"))?;
    item["pk"]["S"].as_str().map(str::to_owned)
}

/// Whether `grants` (a function's lines of [`granted`]) allow `line` on the item of partition key
/// `key`.
fn allowed(grants: &[String], line: &str, key: Option<&str>) -> bool {
    grants.iter().any(|grant| match grant.split_once(" keys ") {
        None => grant == line,
        Some((granted_line, patterns)) => {
            granted_line == line
                && key.is_some_and(|key| {
                    patterns
                        .split(',')
                        .any(|pattern| match pattern.strip_suffix('*') {
                            Some(prefix) => key.starts_with(prefix),
                            None => key == pattern,
                        })
                })
        }
    })
}

/// The actions of a DynamoDB request (its operation and JSON body) that `function` may not make,
/// as "action resource" lines, with the item's key where a grant is limited by it.
pub fn denied(function: &str, operation: &str, body: &Value) -> Vec<String> {
    let grants = granted(function);
    needed(operation, body)
        .into_iter()
        .filter(|(line, key)| !allowed(&grants, line, key.as_deref()))
        .map(|(line, key)| match key {
            Some(key) => format!("{line} (item {key})"),
            None => line,
        })
        .collect()
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
        let denied = denied(function, operation, &body);
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
