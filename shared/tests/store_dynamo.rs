//! The DynamoDB store against the store contract, on DynamoDB Local (started by the test process
//! from the jar `scripts/install-tools` installs; the tests fail, never skip, without it). The
//! tables are created from `template.yaml`.

mod contract;
mod support;

contract_tests!(support::dynamo_stores());
