//! The tables as `template.yaml` declares them, created from that same file in DynamoDB Local,
//! so the local and cloud schemas cannot drift.

use anyhow::{Context, bail};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, LocalSecondaryIndex, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use serde_norway::Value;

use shared::store::DynamoConfig;

/// The SAM template, compiled in.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// The `Properties` of the table resource `logical_id` in `template`.
pub fn table_properties(template: &str, logical_id: &str) -> anyhow::Result<Value> {
    let doc: Value = serde_norway::from_str(template).context("parsing template.yaml")?;
    let resource = &doc["Resources"][logical_id];
    if resource["Type"].as_str() != Some("AWS::DynamoDB::Table") {
        bail!("template.yaml has no AWS::DynamoDB::Table named {logical_id}");
    }
    Ok(resource["Properties"].clone())
}

/// The `Timeout` of the function resource `logical_id` in `template`, or the one its `Globals` give.
pub fn function_timeout(template: &str, logical_id: &str) -> anyhow::Result<std::time::Duration> {
    let doc: Value = serde_norway::from_str(template).context("parsing template.yaml")?;
    let function = &doc["Resources"][logical_id];
    if function["Type"].as_str() != Some("AWS::Serverless::Function") {
        bail!("template.yaml has no AWS::Serverless::Function named {logical_id}");
    }
    let seconds = function["Properties"]["Timeout"]
        .as_u64()
        .or_else(|| doc["Globals"]["Function"]["Timeout"].as_u64())
        .with_context(|| format!("{logical_id} has no Timeout"))?;
    Ok(std::time::Duration::from_secs(seconds))
}

/// Whether the function built from binary `binary` has the environment variable `name` in
/// `template` (its own `Environment`, not the `Globals`).
pub fn function_has_variable(template: &str, binary: &str, name: &str) -> anyhow::Result<bool> {
    let doc: Value = serde_norway::from_str(template).context("parsing template.yaml")?;
    let resources = doc["Resources"]
        .as_mapping()
        .context("template.yaml has no Resources")?;
    let function = resources
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .with_context(|| format!("template.yaml builds no function from {binary}"))?;
    Ok(function["Properties"]["Environment"]["Variables"]
        .get(name)
        .is_some())
}

/// How Lambda's event source mapping hands a DynamoDB stream to a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSource {
    /// Records per batch at most (`BatchSize`).
    pub batch_size: usize,
    /// Deliveries of a failing batch before it is given up: the first and `MaximumRetryAttempts`.
    pub attempts: u32,
    /// How long the function may run on one batch (its `Timeout`).
    pub timeout: std::time::Duration,
}

/// How the one `AWS::Lambda::EventSourceMapping` whose `FunctionName` is `!Ref logical_id` hands
/// a stream to that function in `template`.
pub fn stream_source(template: &str, logical_id: &str) -> anyhow::Result<StreamSource> {
    let doc: Value = serde_norway::from_str(template).context("parsing template.yaml")?;
    let resources = doc["Resources"]
        .as_mapping()
        .context("template.yaml has no Resources")?;
    let names_function = |mapping: &Value| match &mapping["Properties"]["FunctionName"] {
        Value::Tagged(tagged) => tagged.tag == "Ref" && tagged.value.as_str() == Some(logical_id),
        _ => false,
    };
    let mut mappings = resources.values().filter(|resource| {
        resource["Type"].as_str() == Some("AWS::Lambda::EventSourceMapping")
            && names_function(resource)
    });
    let (Some(mapping), None) = (mappings.next(), mappings.next()) else {
        bail!("{logical_id} needs exactly one event source mapping naming it with !Ref");
    };
    let number = |field: &str| {
        mapping["Properties"][field]
            .as_u64()
            .with_context(|| format!("{logical_id}'s event source mapping has no {field}"))
    };
    Ok(StreamSource {
        batch_size: usize::try_from(number("BatchSize")?)?,
        attempts: u32::try_from(number("MaximumRetryAttempts")?)? + 1,
        timeout: function_timeout(template, logical_id)?,
    })
}

fn text<'a>(value: &'a Value, field: &str) -> anyhow::Result<&'a str> {
    value[field]
        .as_str()
        .with_context(|| format!("{field} missing in a table definition"))
}

fn key_schema(list: &Value) -> anyhow::Result<Vec<KeySchemaElement>> {
    let elements = list.as_sequence().context("KeySchema is not a list")?;
    elements
        .iter()
        .map(|e| {
            Ok(KeySchemaElement::builder()
                .attribute_name(text(e, "AttributeName")?)
                .key_type(KeyType::from(text(e, "KeyType")?))
                .build()?)
        })
        .collect()
}

/// Creates the table `logical_id` of the template under `name` unless it exists, with its
/// keys, indexes, stream and TTL. An existing table must have the template's local secondary
/// indexes (they cannot be added later): one made by an older template is refused, by name.
pub async fn create_table(
    client: &Client,
    template: &str,
    logical_id: &str,
    name: &str,
) -> anyhow::Result<()> {
    let props = table_properties(template, logical_id)?;
    if let Ok(existing) = client.describe_table().table_name(name).send().await {
        let has: Vec<&str> = existing
            .table()
            .map(|table| table.local_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .filter_map(|index| index.index_name())
            .collect();
        let wanted = props["LocalSecondaryIndexes"].as_sequence();
        for index in wanted.into_iter().flatten() {
            let index = text(index, "IndexName")?;
            if !has.contains(&index) {
                bail!(
                    "table {name} predates its index {index}, which only a new table can have: \
                     delete the table (with DynamoDB Local's files, DATA_DIR/dynamodb) and start again"
                );
            }
        }
        return Ok(());
    }
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for attribute in props["AttributeDefinitions"]
        .as_sequence()
        .context("AttributeDefinitions")?
    {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(attribute, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(text(attribute, "AttributeType")?))
                .build()?,
        );
    }
    request = request.set_key_schema(Some(key_schema(&props["KeySchema"])?));
    for index in props["LocalSecondaryIndexes"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        request = request.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name(text(index, "IndexName")?)
                .set_key_schema(Some(key_schema(&index["KeySchema"])?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(text(
                            &index["Projection"],
                            "ProjectionType",
                        )?))
                        .build(),
                )
                .build()?,
        );
    }
    if let Some(view) = props["StreamSpecification"]["StreamViewType"].as_str() {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view))
                .build()?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        // Created meanwhile by a concurrent caller (parallel tests).
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return Ok(());
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("creating table {name}"))),
    }
    if let Some(attribute) = props["TimeToLiveSpecification"]["AttributeName"].as_str() {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("enabling TTL on {name}"))?;
    }
    Ok(())
}

/// Creates every table the store needs, as the compiled-in template declares them.
pub async fn create_tables(client: &Client, config: &DynamoConfig) -> anyhow::Result<()> {
    create_table(client, TEMPLATE, "UsersTable", &config.users_table).await?;
    create_table(client, TEMPLATE, "TasksTable", &config.tasks_table).await?;
    create_table(
        client,
        TEMPLATE,
        "ConnectionsTable",
        &config.connections_table,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE_WITH_STREAM: &str = r#"
Globals:
  Function:
    Timeout: 10
Resources:
  Streamer:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 45
  StreamerMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Streamer
      BatchSize: 25
      MaximumRetryAttempts: 2
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Api:
          Type: HttpApi
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      FunctionName: !Ref Plain
      BatchSize: 10
      MaximumRetryAttempts: 1
  Twice:
    Type: AWS::Serverless::Function
  TwiceFirst:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Twice
      BatchSize: 10
      MaximumRetryAttempts: 1
  TwiceSecond:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Twice
      BatchSize: 20
      MaximumRetryAttempts: 1
"#;

    #[test]
    fn a_stream_source_is_read_from_the_mapping_naming_the_function() {
        let source = stream_source(TEMPLATE_WITH_STREAM, "Streamer").unwrap();
        assert_eq!(
            source,
            StreamSource {
                batch_size: 25,
                attempts: 3,
                timeout: std::time::Duration::from_secs(45),
            }
        );
        // Named only by a resource that is no mapping; by two mappings.
        assert!(stream_source(TEMPLATE_WITH_STREAM, "Plain").is_err());
        assert!(stream_source(TEMPLATE_WITH_STREAM, "Twice").is_err());
    }

    #[test]
    fn the_shipped_template_gives_the_stream_function_its_source() {
        stream_source(TEMPLATE, "TaskStreamFunction").unwrap();
    }
}
