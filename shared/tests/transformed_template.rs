//! `template.yaml` as CloudFormation receives it: the SAM transform, made offline by the pinned
//! samtranslator (`scripts/transformed-template`, the code `sam validate` runs), checked for what
//! a deploy must get right and no linter checks: every function's exact permissions, tracing, no
//! signing key by value anywhere, the alarms' targets and what they watch, the dashboard's body, the tables' retention.
//! Needs `.tools/venv` (scripts/install-tools); fails, never skips, without it.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::LazyLock;

use serde_json::{Value, json};

mod support;

mod transformed_template {
    mod alarms;
    mod dashboard;
    mod item_grants;
    mod stream;
}

static TRANSFORMED: LazyLock<Value> = LazyLock::new(|| {
    let root = testkit::repo_root();
    let python = root.join(".tools/venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/install-tools",
        python.display()
    );
    let output = Command::new(python)
        .arg(root.join("scripts/transformed-template"))
        .output()
        .expect("running scripts/transformed-template");
    assert!(
        output.status.success(),
        "the SAM transform failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the transformed template is JSON")
});

fn resources() -> &'static serde_json::Map<String, Value> {
    TRANSFORMED["Resources"].as_object().unwrap()
}

/// The function binaries' names, one per `functions/src/bin/<name>.rs`.
fn binaries() -> Vec<String> {
    std::fs::read_dir(testkit::repo_root().join("functions/src/bin"))
        .unwrap()
        .map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.trim_end_matches(".rs").to_owned()
        })
        .collect()
}

/// The stage an API of this stack really has, by the API's logical id: the HTTP API's `$default`,
/// or what names the WebSocket API's stage.
fn api_stage(api: &str) -> String {
    match api {
        "HttpApi" => "$default".to_owned(),
        "WebSocketApi" => resources()
            .values()
            .find(|r| {
                r["Type"] == "AWS::ApiGatewayV2::Stage"
                    && target(&r["Properties"]["ApiId"]) == "WebSocketApi"
            })
            .map(|stage| target(&stage["Properties"]["StageName"]))
            .expect("the WebSocket API's stage"),
        other => panic!("no API {other} in this stack"),
    }
}

/// The logical id a `Ref`, `Fn::GetAtt` or `Fn::Sub` points at (its text when it names none).
fn target(value: &Value) -> String {
    if let Some(id) = value["Ref"].as_str() {
        return id.to_owned();
    }
    if let Some(id) = value["Fn::GetAtt"][0].as_str() {
        return id.to_owned();
    }
    match &value["Fn::Sub"] {
        Value::Array(sub) => target(sub[1].as_object().unwrap().values().next().unwrap()),
        Value::String(text) => text.clone(),
        _ => value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned),
    }
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// binary → (inline grants as "action target", managed policy names), for every function.
fn permissions() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let mut all = BTreeMap::new();
    for resource in resources().values() {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let role = &resources()[&target(&resource["Properties"]["Role"])]["Properties"];
        let mut grants = BTreeSet::new();
        for policy in role["Policies"].as_array().into_iter().flatten() {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                assert_eq!(
                    statement["Effect"], "Allow",
                    "{binary}: only Allow statements"
                );
                let keys = leading_keys(binary, statement);
                for action in as_list(&statement["Action"]) {
                    for resource in as_list(&statement["Resource"]) {
                        let action = action.as_str().unwrap();
                        assert!(!action.contains('*'), "{binary}: wildcard action {action}");
                        assert_ne!(
                            resource,
                            &json!("*"),
                            "{binary}: {action} on every resource"
                        );
                        grants.insert(format!("{action} {}{keys}", target(resource)));
                    }
                }
            }
        }
        let managed = role["ManagedPolicyArns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|arn| arn.as_str().unwrap().rsplit('/').next().unwrap().to_owned())
            .collect();
        all.insert(binary.to_owned(), (grants, managed));
    }
    all
}

/// A statement's condition, as the " keys PATTERN,…" of [`support::iam::granted`]'s lines: the only
/// condition a grant may carry is patterns of the items' partition keys.
fn leading_keys(binary: &str, statement: &Value) -> String {
    let Some(condition) = statement.get("Condition") else {
        return String::new();
    };
    let keys = &condition["ForAllValues:StringLike"];
    let patterns = keys["dynamodb:LeadingKeys"]
        .as_array()
        .filter(|_| condition.as_object().unwrap().len() == 1)
        .filter(|_| keys.as_object().is_some_and(|keys| keys.len() == 1))
        .unwrap_or_else(|| panic!("{binary}: a condition other than LeadingKeys: {condition}"));
    let patterns: Vec<&str> = patterns.iter().map(|p| p.as_str().unwrap()).collect();
    assert!(!patterns.is_empty(), "{binary}: {condition}");
    format!(" keys {}", patterns.join(","))
}

const KEY: &str = "secretsmanager:GetSecretValue JwtSigningKey";

/// The functions that check or issue tokens: every REST endpoint, and `$connect`.
fn key_holders() -> BTreeSet<String> {
    shared::http::ENDPOINTS
        .iter()
        .map(|e| e.function.to_owned())
        .chain(["ws-connect".to_owned(), "ws-default".to_owned()])
        .collect()
}

#[test]
fn every_function_has_exactly_its_permissions_and_is_traced() {
    let permissions = permissions();
    assert_eq!(permissions.len(), testkit::function_binaries().len());
    for (binary, (grants, managed)) in &permissions {
        let mut expected: BTreeSet<String> = support::iam::granted(binary).into_iter().collect();
        if key_holders().contains(binary) {
            expected.insert(KEY.to_owned());
        }
        assert_eq!(grants, &expected, "{binary}: inline permissions");
        // Logging and tracing only: SAM's DynamoDB event would add AWSLambdaDynamoDBExecutionRole,
        // which reads every stream in the account (the template maps the stream itself).
        let want: BTreeSet<String> = ["AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"]
            .map(str::to_owned)
            .into();
        assert_eq!(managed, &want, "{binary}: managed policies");
    }
    for resource in resources()
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Function")
    {
        assert_eq!(resource["Properties"]["TracingConfig"]["Mode"], "Active");
    }
}

#[test]
fn no_function_environment_holds_a_secret_and_the_key_holders_get_only_its_arn() {
    let text = TRANSFORMED.to_string();
    assert!(
        !text.contains("{{resolve:"),
        "no dynamic reference resolves a secret into the stack"
    );
    let mut holders = BTreeSet::new();
    for resource in resources()
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Function")
    {
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let variables = resource["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap();
        for (name, value) in variables {
            if name == "TASKMASTER_JWT_SECRET_ARN" {
                assert_eq!(
                    value,
                    &json!({ "Ref": "JwtSigningKey" }),
                    "{binary}: the ARN"
                );
                assert_eq!(
                    resources()["JwtSigningKey"]["Type"],
                    "AWS::SecretsManager::Secret"
                );
                holders.insert(binary.to_owned());
                continue;
            }
            let upper = name.to_uppercase();
            for word in ["SECRET", "PASSWORD", "KEY", "TOKEN"] {
                assert!(
                    !upper.contains(word) || upper.ends_with("_TTL"),
                    "{binary}: {name} looks like a secret"
                );
            }
            assert!(
                value.is_string()
                    || value.get("Ref").is_some()
                    || value.get("Fn::Sub").is_some()
                    || value.get("Fn::GetAtt").is_some(),
                "{binary}: {name} = {value}"
            );
        }
    }
    assert_eq!(holders, key_holders());
    let generated = &resources()["JwtSigningKey"]["Properties"];
    assert!(
        generated.get("SecretString").is_none(),
        "the value is generated, never written"
    );
    assert!(
        generated["GenerateSecretString"]["PasswordLength"]
            .as_u64()
            .unwrap()
            >= 32
    );
}

/// Each function writes JSON logs to a group of its own, which the function names (so the group,
/// with its retention, exists before anything can invoke the function) and which is named after
/// the stack and the binary: `/aws/lambda/<stack>/<binary>`.
#[test]
fn every_function_logs_to_its_own_group_made_before_it_with_retention() {
    let mut groups = BTreeSet::new();
    for resource in resources()
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Function")
    {
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let logging = &resource["Properties"]["LoggingConfig"];
        assert_eq!(logging["LogFormat"], "JSON", "{binary}");
        // Lambda would otherwise drop JSON lines below INFO, whatever RUST_LOG lets through.
        assert_eq!(logging["ApplicationLogLevel"], "TRACE", "{binary}");
        let id = logging["LogGroup"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{binary}: LoggingConfig.LogGroup is no Ref: {logging}"));
        let group = &resources()[id];
        assert_eq!(group["Type"], "AWS::Logs::LogGroup", "{binary}: {id}");
        assert_eq!(
            group["Properties"]["LogGroupName"],
            json!({ "Fn::Sub": format!("/aws/lambda/${{AWS::StackName}}/{binary}") }),
            "{binary}: {id}"
        );
        assert_eq!(
            group["Properties"]["RetentionInDays"],
            json!({ "Ref": "LogRetentionDays" }),
            "{binary}: {id}"
        );
        assert!(groups.insert(id), "{binary} shares {id}");
    }
    assert_eq!(
        groups.len(),
        binaries().len(),
        "one group per function binary"
    );
}

#[test]
fn data_survives_a_delete_but_not_a_failed_first_create() {
    for table in ["UsersTable", "TasksTable", "ConnectionsTable"] {
        let resource = &resources()[table];
        assert_eq!(
            resource["DeletionPolicy"], "RetainExceptOnCreate",
            "{table}"
        );
        assert_eq!(resource["UpdateReplacePolicy"], "Retain", "{table}");
    }
    let parameter = &TRANSFORMED["Parameters"]["WebSocketAccessLogs"];
    assert_eq!(
        parameter["Default"], "off",
        "the account-wide log role is opt-in"
    );
    for id in ["ApiGatewayLogRole", "ApiGatewayAccount"] {
        assert_eq!(
            resources()[id]["Condition"],
            "CreateApiGatewayLogRole",
            "{id}"
        );
        assert_eq!(
            resources()[id]["DeletionPolicy"],
            "RetainExceptOnCreate",
            "{id}"
        );
    }
}
