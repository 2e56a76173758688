//! The JWT signing keys on AWS: the versions of one Secrets Manager secret.
//!
//! The secret's `AWSCURRENT` version signs; `AWSPREVIOUS` (the key before the last rotation) and
//! `AWSPENDING` (a key being introduced) are accepted too. Rotating is then two moves of Secrets
//! Manager's own staging labels, each followed by new containers (docs/OPERATIONS.md): first the
//! new key goes in as `AWSPENDING`, so every container accepts it before any signs with it; then it
//! becomes `AWSCURRENT`, and Secrets Manager labels the old one `AWSPREVIOUS`, still accepted.
//!
//! A cold start reads [`current`] alone: nearly every token names the current key, and each read
//! is a request (and on AWS a TLS handshake) of its own. A container reads [`every_version`] the
//! first time a token names another key or a page cursor fails the current one (`crate::auth`,
//! `AcceptedSecrets::OnFirstNeed`; one read for both). The
//! functions get the secret's ARN, never its value, and may call only
//! `secretsmanager:GetSecretValue` on it.

use anyhow::Context;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use secrecy::SecretString;

/// The staging labels read, the signing one first.
pub const STAGES: [&str; 3] = ["AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"];

/// The key that signs: the `AWSCURRENT` version of `secret` (its ARN).
#[tracing::instrument(skip_all)]
pub async fn current(client: &Client, secret: &str) -> anyhow::Result<SecretString> {
    version(client, secret, STAGES[0])
        .await?
        .context("the signing key secret has no AWSCURRENT version")
}

/// Every version a label of [`STAGES`] names now, read at once; a label with no version is
/// simply absent. `AWSCURRENT` is among them: it may have moved since the cold start.
#[tracing::instrument(skip_all)]
pub async fn every_version(client: &Client, secret: &str) -> anyhow::Result<Vec<SecretString>> {
    let [current, previous, pending] = STAGES.map(|stage| version(client, secret, stage));
    let (current, previous, pending) = tokio::try_join!(current, previous, pending)?;
    Ok(current.into_iter().chain(previous).chain(pending).collect())
}

/// One stage's value; `None` when no version carries that label (an error for `AWSCURRENT`,
/// which every secret has).
async fn version(
    client: &Client,
    secret: &str,
    stage: &str,
) -> anyhow::Result<Option<SecretString>> {
    let result = client
        .get_secret_value()
        .secret_id(secret)
        .version_stage(stage)
        .send()
        .await;
    match result {
        Ok(output) => match output.secret_string {
            Some(value) => Ok(Some(SecretString::from(value.trim().to_owned()))),
            None if stage == STAGES[0] => {
                anyhow::bail!("the signing key's {stage} version is not a string")
            }
            None => {
                // Left out on its own, like a version too short to be a key.
                tracing::error!(stage, "a signing key version is not a string: left out");
                Ok(None)
            }
        },
        Err(error)
            if stage != STAGES[0]
                && error
                    .as_service_error()
                    .is_some_and(GetSecretValueError::is_resource_not_found_exception) =>
        {
            Ok(None)
        }
        Err(error) => Err(anyhow::Error::new(error))
            .with_context(|| format!("reading the signing key ({stage}) from Secrets Manager")),
    }
}
