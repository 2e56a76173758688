//! The DynamoDB store against the store contract, on DynamoDB Local (started by the test process
//! from the jar `scripts/install-tools` installs; the tests fail, never skip, without it). The
//! tables are created from `template.yaml`.

mod support;

/// One set of tables for every case.
mod backend {
    use std::sync::Arc;

    use shared::store::{ImportStore, Stores};

    pub async fn stores() -> Stores {
        importing().await.0
    }

    pub async fn importing() -> (Stores, Arc<dyn ImportStore>) {
        crate::support::dynamo_stores_with_import().await
    }

    /// The importer over tables no other test touches: for what a store holds once.
    pub async fn importing_fresh() -> (Stores, Arc<dyn ImportStore>) {
        crate::support::fresh_dynamo_stores_with_import().await
    }
}

mod contract;

#[tokio::test]
async fn a_tasks_table_without_the_by_created_index_is_refused_by_name() {
    let local = support::dynamodb_local().await;
    let config = shared::store::DynamoConfig {
        users_table: String::new(),
        tasks_table: String::new(),
        connections_table: String::new(),
        endpoint: Some(local.endpoint().to_owned()),
        emulator_key: None,
    };
    let client = config.client();
    let name = format!("old-tasks-{}", uuid::Uuid::new_v4().simple());
    let template = testkit::schema::TEMPLATE;
    let older = template.replacen(
        "        - IndexName: by_created",
        "        - IndexName: by_nothing",
        1,
    );
    assert_ne!(older, template, "the template declares by_created");
    testkit::schema::create_table(&client, &older, "TasksTable", &name)
        .await
        .expect("a table of the older shape");

    let refused = testkit::schema::create_table(&client, template, "TasksTable", &name).await;

    let message = format!("{:#}", refused.expect_err("an older table must be refused"));
    assert!(
        message.contains(&name) && message.contains("by_created"),
        "{message}"
    );
}
