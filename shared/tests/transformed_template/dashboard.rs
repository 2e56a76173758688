//! The dashboard: its body is JSON once CloudFormation fills in its `${...}` references, every
//! reference names something of this stack, and its API Gateway graphs read the stages the APIs
//! really have (a wrong stage draws an empty graph and says nothing).

use serde_json::Value;

use crate::{TRANSFORMED, api_stage, resources};

/// The body with each `${Name}` or `${Name.Attribute}` replaced by `Name`, and the names.
fn substituted(body: &str) -> (String, Vec<String>) {
    let (mut out, mut names, mut rest) = (String::new(), Vec::new(), body);
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("an unclosed ${") + start;
        let name = rest[start + 2..end].split('.').next().unwrap().to_owned();
        out.push_str(&name);
        names.push(name);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    (out, names)
}

#[test]
fn the_dashboard_is_json_of_this_stacks_resources_and_api_stages() {
    let dashboards: Vec<_> = resources()
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Dashboard")
        .collect();
    assert_eq!(dashboards.len(), 1);
    let body = dashboards[0]["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("the body is one Fn::Sub string");
    let (json, names) = substituted(body);
    for name in &names {
        assert!(
            name.starts_with("AWS::")
                || resources().contains_key(name)
                || TRANSFORMED["Parameters"].get(name).is_some(),
            "the dashboard names {name}, not of this stack"
        );
    }
    let dashboard: Value = serde_json::from_str(&json).expect("the dashboard body is JSON");
    let mut apis = Vec::new();
    for widget in dashboard["widgets"].as_array().expect("widgets") {
        for metric in widget["properties"]["metrics"].as_array().expect("metrics") {
            let fields: Vec<&str> = metric
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if fields.first() != Some(&"AWS/ApiGateway") {
                continue;
            }
            let dimension = |name: &str| {
                let at = fields.iter().position(|f| *f == name);
                at.map(|i| fields[i + 1].to_owned())
                    .unwrap_or_else(|| panic!("{metric}: no {name}"))
            };
            let api = dimension("ApiId");
            assert_eq!(dimension("Stage"), api_stage(&api), "{metric}");
            apis.push(api);
        }
    }
    for api in ["HttpApi", "WebSocketApi"] {
        assert!(apis.iter().any(|a| a == api), "no graph of {api}");
    }
}
