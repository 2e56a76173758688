//! The DynamoDB store against the store contract, on DynamoDB Local (started by the test process
//! from the jar `scripts/install-tools` installs; the tests fail, never skip, without it). The
//! tables are created from `template.yaml`.

mod support;

/// One set of tables for every case.
mod backend {
    pub async fn stores() -> shared::store::Stores {
        crate::support::dynamo_stores().await
    }
}

mod contract;
