//! The alarms: each notifies the optional topic, says why, and watches this stack's resources,
//! every function's errors and throttles, the stream, the tables, both APIs' 5xx.

use serde_json::{Value, json};

use crate::{api_stage, resources, target};

/// (alarm, metric) of every metric every alarm reads: a metric-math alarm's `MetricStat`s, or a
/// single-metric alarm's own properties (which name it the same way).
fn alarm_metric_objects() -> Vec<(String, Value)> {
    let mut metrics = Vec::new();
    for (id, alarm) in resources()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
    {
        let props = &alarm["Properties"];
        match props["Metrics"].as_array() {
            Some(queries) => metrics.extend(
                queries
                    .iter()
                    .filter_map(|q| q.get("MetricStat"))
                    .map(|s| (id.clone(), s["Metric"].clone())),
            ),
            None => metrics.push((id.clone(), props.clone())),
        }
    }
    metrics
}

/// (alarm, namespace, metric name, dimension target) of every metric every alarm reads.
fn alarm_metrics() -> Vec<(String, String, String, String)> {
    alarm_metric_objects()
        .into_iter()
        .map(|(id, metric)| {
            let dimension = metric["Dimensions"][0]["Value"].clone();
            (
                id,
                target(&metric["Namespace"]),
                metric["MetricName"].as_str().unwrap().to_owned(),
                target(&dimension),
            )
        })
        .collect()
}

#[test]
fn every_alarm_notifies_the_optional_topic_and_watches_resources_of_this_stack() {
    let notify = json!({ "Fn::If": ["NotifyAlarmTopic", [{ "Ref": "AlarmTopicArn" }], { "Ref": "AWS::NoValue" }] });
    let alarms: Vec<_> = resources()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    assert!(alarms.len() >= 5, "{} alarms", alarms.len());
    for (id, alarm) in &alarms {
        let props = &alarm["Properties"];
        assert_eq!(props["AlarmActions"], notify, "{id}: AlarmActions");
        assert_eq!(props["OKActions"], notify, "{id}: OKActions");
        assert!(
            props["AlarmDescription"]
                .as_str()
                .is_some_and(|d| d.len() > 20),
            "{id}: says why"
        );
        assert_eq!(props["TreatMissingData"], "notBreaching", "{id}");
    }
    let metrics = alarm_metrics();
    // The functions' own metrics (EMF) are in the stack's namespace, by binary name.
    let namespace = "taskmaster/${AWS::StackName}";
    let binaries = crate::binaries();
    for (alarm, space, _, dimension) in &metrics {
        let ours = space == namespace && binaries.contains(dimension);
        assert!(
            resources().contains_key(dimension) || dimension == "$default" || ours,
            "{alarm}: watches {dimension}, not a resource of this stack"
        );
    }
    assert_eq!(
        crate::resources()
            .values()
            .filter(|r| r["Type"] == "AWS::Lambda::Function")
            .map(|f| target(
                &f["Properties"]["Environment"]["Variables"]["TASKMASTER_METRICS_NAMESPACE"]
            ))
            .collect::<std::collections::BTreeSet<_>>(),
        [namespace.to_owned()].into(),
        "every function emits into the namespace the alarms read"
    );
    let watched = |namespace: &str, name: &str, on: &str| {
        metrics
            .iter()
            .filter(|(_, n, m, d)| n == namespace && m == name && d == on)
            .count()
    };
    // Each message sent to the failure queue, and one left there too long.
    for name in ["NumberOfMessagesSent", "ApproximateAgeOfOldestMessage"] {
        assert_eq!(watched("AWS/SQS", name, "TaskStreamFailures"), 1, "{name}");
    }
    assert_eq!(watched(namespace, "RecordsSkipped", "task-stream"), 1);
    assert_eq!(
        watched("AWS/Lambda", "IteratorAge", "TaskStreamFunction"),
        1
    );
    assert_eq!(
        watched(
            "AWS/Lambda",
            "DestinationDeliveryFailures",
            "TaskStreamFunction"
        ),
        1
    );
    assert_eq!(watched("AWS/ApiGateway", "5xx", "HttpApi"), 1);
    assert_eq!(watched("AWS/ApiGateway", "Count", "HttpApi"), 1);
    // A route's function that cannot be invoked at all: no handler runs to count it.
    assert_eq!(
        watched("AWS/ApiGateway", "ExecutionError", "WebSocketApi"),
        1
    );
    // `$default` answers its failures inside 200 messages, but counts each as its error's status.
    for route in ["ws-connect", "ws-disconnect", "ws-default"] {
        for name in ["Errors5xx", "Requests"] {
            assert_eq!(watched(namespace, name, route), 1, "{name} of {route}");
        }
    }
    let tables = ["UsersTable", "TasksTable", "ConnectionsTable"].map(|table| {
        (
            "AWS/DynamoDB",
            table,
            ["ReadThrottleEvents", "WriteThrottleEvents"],
        )
    });
    let functions = resources()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::Function")
        .map(|(id, _)| ("AWS/Lambda", id.as_str(), ["Errors", "Throttles"]));
    for (namespace, id, names) in tables.into_iter().chain(functions) {
        for name in names {
            assert_eq!(
                watched(namespace, name, id),
                1,
                "{name} of {id}: watched once"
            );
        }
    }
}

/// An API Gateway metric names its API and stage; a stage the API does not have is a metric no
/// request ever writes, and its alarm would stay quiet whatever happened.
#[test]
fn api_gateway_alarms_name_the_stage_each_api_really_has() {
    let mut seen = 0;
    for (id, metric) in alarm_metric_objects()
        .iter()
        .filter(|(_, m)| m["Namespace"] == "AWS/ApiGateway")
    {
        let dimension = |name: &str| {
            metric["Dimensions"]
                .as_array()
                .and_then(|ds| ds.iter().find(|d| d["Name"] == name))
                .map(|d| target(&d["Value"]))
                .unwrap_or_else(|| panic!("{id}: no {name} dimension"))
        };
        let api = dimension("ApiId");
        assert_eq!(dimension("Stage"), api_stage(&api), "{id}: stage");
        seen += 1;
    }
    assert!(seen >= 3, "{seen} API Gateway metrics checked");
}
