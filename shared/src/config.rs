//! Configuration, read once from the environment at cold start.

use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::{AcceptedSecrets, LoadSecrets};

/// Everything taskmaster reads from its environment.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `TASKMASTER_JWT_SECRET_ARN` | Secrets Manager secret holding the signing keys (Lambda; see [`crate::signing_keys`]) | unset |
/// | `TASKMASTER_SECRETSMANAGER_ENDPOINT` | Secrets Manager endpoint override (tests) | AWS |
/// | `TASKMASTER_JWT_SECRET` | HS256 signing key, at least 32 bytes, when no ARN is set | required then (the local server makes one) |
/// | `TASKMASTER_ACCESS_TOKEN_TTL` | access token lifetime, seconds | 900 |
/// | `TASKMASTER_REFRESH_TOKEN_TTL` | refresh token lifetime, seconds | 1209600 (14 days) |
///
/// and the login and registration limits, [`LimitsConfig`].
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The key new tokens are signed with.
    pub jwt_secret: SecretString,
    /// Keys whose tokens are accepted too, never used to sign: the previous key after a rotation,
    /// the next one before it. On Lambda, read when a token first names one.
    pub accepted_jwt_secrets: AcceptedSecrets,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
    /// Failed logins and registrations allowed per window.
    pub limits: LimitsConfig,
}

/// The shortest signing key accepted: HS256 wants at least its own output size.
pub const MIN_SECRET_BYTES: usize = 32;

impl AuthConfig {
    pub const DEFAULT_ACCESS_TTL: i64 = 15 * 60;
    pub const DEFAULT_REFRESH_TTL: i64 = 14 * 24 * 60 * 60;

    /// With the given secret and the default lifetimes.
    pub fn with_secret(secret: impl Into<String>) -> Self {
        Self {
            jwt_secret: SecretString::from(secret.into()),
            accepted_jwt_secrets: AcceptedSecrets::default(),
            access_ttl_seconds: Self::DEFAULT_ACCESS_TTL,
            refresh_ttl_seconds: Self::DEFAULT_REFRESH_TTL,
            limits: LimitsConfig::default(),
        }
    }

    /// Reads the variables above; the secret may be supplied instead by the caller (`fallback`).
    pub fn from_env(fallback_secret: Option<String>) -> anyhow::Result<Self> {
        let secret = match (env("TASKMASTER_JWT_SECRET"), fallback_secret) {
            (Some(secret), _) | (None, Some(secret)) => secret,
            (None, None) => {
                anyhow::bail!("neither TASKMASTER_JWT_SECRET_ARN nor TASKMASTER_JWT_SECRET is set")
            }
        };
        check_length("TASKMASTER_JWT_SECRET", &secret)?;
        Ok(Self {
            jwt_secret: SecretString::from(secret),
            accepted_jwt_secrets: AcceptedSecrets::default(),
            access_ttl_seconds: seconds("TASKMASTER_ACCESS_TOKEN_TTL", Self::DEFAULT_ACCESS_TTL)?,
            refresh_ttl_seconds: seconds(
                "TASKMASTER_REFRESH_TOKEN_TTL",
                Self::DEFAULT_REFRESH_TTL,
            )?,
            limits: LimitsConfig::from_env()?,
        })
    }

    /// For a Lambda's cold start: the signing keys from the Secrets Manager secret named by
    /// `TASKMASTER_JWT_SECRET_ARN` (see [`crate::signing_keys`]), or else as
    /// [`AuthConfig::from_env`] reads them; the lifetimes from the environment either way.
    pub async fn load() -> anyhow::Result<Self> {
        let Some(arn) = env("TASKMASTER_JWT_SECRET_ARN") else {
            return Self::from_env(None);
        };
        let endpoint = env("TASKMASTER_SECRETSMANAGER_ENDPOINT");
        let config = aws_sdk_config(endpoint.as_deref(), false);
        Self::from_secrets_manager(&aws_sdk_secretsmanager::Client::new(&config), &arn).await
    }

    /// [`AuthConfig::load`] on a task of its own, begun now: a cold start builds its other
    /// clients while the key read waits on the network.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it spawns the read at once).
    pub fn load_in_background() -> impl Future<Output = anyhow::Result<Self>> {
        use tracing::Instrument;
        let read = tokio::spawn(Self::load().in_current_span());
        async move {
            use anyhow::Context;
            read.await.context("the signing key read stopped")?
        }
    }

    /// The current signing key of the secret `arn` ([`crate::signing_keys::current`]), its other
    /// versions to be read when a token first names one, and the lifetimes from the environment.
    pub async fn from_secrets_manager(
        client: &aws_sdk_secretsmanager::Client,
        arn: &str,
    ) -> anyhow::Result<Self> {
        let current = crate::signing_keys::current(client, arn).await?;
        check_length("the signing key secret", current.expose_secret())?;
        let mut config = Self::with_secret(current.expose_secret());
        let (client, arn) = (client.clone(), arn.to_owned());
        config.accepted_jwt_secrets = AcceptedSecrets::OnFirstNeed(LoadSecrets::new(move || {
            let (client, arn) = (client.clone(), arn.clone());
            async move {
                let secrets = crate::signing_keys::every_version(&client, &arn).await?;
                // A version too short to be a key is left out on its own: the others still count.
                Ok(secrets
                    .into_iter()
                    .filter(|secret| {
                        let checked = check_length(
                            "a version of the signing key secret",
                            secret.expose_secret(),
                        );
                        if let Err(error) = &checked {
                            tracing::error!(error = %error, "left out of the accepted keys");
                        }
                        checked.is_ok()
                    })
                    .collect())
            }
        }));
        config.access_ttl_seconds =
            seconds("TASKMASTER_ACCESS_TOKEN_TTL", Self::DEFAULT_ACCESS_TTL)?;
        config.refresh_ttl_seconds =
            seconds("TASKMASTER_REFRESH_TOKEN_TTL", Self::DEFAULT_REFRESH_TTL)?;
        config.limits = LimitsConfig::from_env()?;
        Ok(config)
    }
}

/// How many failed logins and registrations are allowed, kept in the store so they hold across
/// Lambda containers (see [`crate::service::limits`]). Windows are fixed, aligned to the epoch.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `TASKMASTER_LOGIN_FAILURES_PER_USERNAME` | failed logins per login name (username or email, any case) per window | 20 |
/// | `TASKMASTER_LOGIN_FAILURES_PER_ADDRESS` | failed logins per client address per window | 100 |
/// | `TASKMASTER_LOGIN_WINDOW` | the failed-login window, seconds | 900 (15 minutes) |
/// | `TASKMASTER_REGISTRATIONS_PER_ADDRESS` | registration attempts per client address per window | 20 |
/// | `TASKMASTER_REGISTRATION_WINDOW` | the registration window, seconds | 3600 (1 hour) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    pub login_failures_per_username: u64,
    pub login_failures_per_address: u64,
    pub login_window_seconds: i64,
    pub registrations_per_address: u64,
    pub registration_window_seconds: i64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            login_failures_per_username: 20,
            login_failures_per_address: 100,
            login_window_seconds: 15 * 60,
            registrations_per_address: 20,
            registration_window_seconds: 60 * 60,
        }
    }
}

impl LimitsConfig {
    /// Reads the variables above, each defaulting as listed.
    pub fn from_env() -> anyhow::Result<Self> {
        let default = Self::default();
        Ok(Self {
            login_failures_per_username: count(
                "TASKMASTER_LOGIN_FAILURES_PER_USERNAME",
                default.login_failures_per_username,
            )?,
            login_failures_per_address: count(
                "TASKMASTER_LOGIN_FAILURES_PER_ADDRESS",
                default.login_failures_per_address,
            )?,
            login_window_seconds: seconds("TASKMASTER_LOGIN_WINDOW", default.login_window_seconds)?,
            registrations_per_address: count(
                "TASKMASTER_REGISTRATIONS_PER_ADDRESS",
                default.registrations_per_address,
            )?,
            registration_window_seconds: seconds(
                "TASKMASTER_REGISTRATION_WINDOW",
                default.registration_window_seconds,
            )?,
        })
    }
}

fn count(name: &str, default: u64) -> anyhow::Result<u64> {
    match env(name) {
        None => Ok(default),
        Some(raw) => match raw.parse::<u64>() {
            Ok(value) if value > 0 => Ok(value),
            _ => anyhow::bail!("{name} must be a positive whole number, got {raw:?}"),
        },
    }
}

fn check_length(name: &str, secret: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        secret.len() >= MIN_SECRET_BYTES,
        "{name} must be at least {MIN_SECRET_BYTES} bytes"
    );
    Ok(())
}

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// A variable that must be set, with an error naming it.
pub fn required_env(name: &str) -> anyhow::Result<String> {
    env(name).ok_or_else(|| anyhow::anyhow!("{name} is not set"))
}

/// The longest lifetime or window a setting may give: ten years. Far past any sensible value,
/// and far from where adding it to a time overflows.
pub const MAX_SECONDS: i64 = 10 * 366 * 24 * 60 * 60;

fn seconds(name: &str, default: i64) -> anyhow::Result<i64> {
    match env(name) {
        None => Ok(default),
        Some(raw) => match raw.parse::<i64>() {
            Ok(value) if (1..=MAX_SECONDS).contains(&value) => Ok(value),
            _ => anyhow::bail!(
                "{name} must be a number of seconds from 1 to {MAX_SECONDS}, got {raw:?}"
            ),
        },
    }
}

/// The AWS SDK configuration every client here is built from (DynamoDB, DynamoDB Streams, the
/// WebSocket management API): credentials and region from the environment alone, plus an endpoint
/// override for an emulator (`local`: DynamoDB Local, the local management API), which gets dummy
/// credentials and `us-east-1` unless the environment sets them.
///
/// Not `aws_config::defaults(..).load()`: its provider chains (profile files, SSO, web identity
/// through STS, ECS, IMDS) and the settings it reads from profile files are code a Lambda never
/// runs, since Lambda hands every function its role's credentials and its region in the
/// environment, and that code would be linked into every bootstrap (see `docs/BUILD.md`). The SDK's
/// own defaults (identity cache) still apply, with our HTTPS client ([`https_client`]); its
/// retries and timeouts follow [`crate::retry`]; what the SDK would read from profile files or `AWS_ENDPOINT_URL`,
/// `AWS_MAX_ATTEMPTS` or `AWS_RETRY_MODE` does not.
/// Elsewhere, export credentials first (for example `aws configure export-credentials --format env`).
pub fn aws_sdk_config(endpoint: Option<&str>, local: bool) -> aws_config::SdkConfig {
    use aws_config::environment::EnvironmentVariableCredentialsProvider;

    let credentials = if local && env("AWS_ACCESS_KEY_ID").is_none() {
        SharedCredentialsProvider::new(local_credentials())
    } else {
        SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new())
    };
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| local.then(|| "us-east-1".to_owned()));
    sdk_config(endpoint, credentials, region)
}

/// The configuration for an emulator at `endpoint` that keeps its data apart by access key id
/// (DynamoDB Local without `-sharedDb`): `access_key`, in `us-east-1`, whatever the environment
/// says. Only a client holding the key reaches those tables.
pub fn emulator_sdk_config(endpoint: &str, access_key: &str) -> aws_config::SdkConfig {
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        access_key,
        "local",
        None,
        None,
        "taskmaster-local",
    );
    sdk_config(
        Some(endpoint),
        SharedCredentialsProvider::new(credentials),
        Some(EMULATOR_REGION.to_owned()),
    )
}

/// The region of [`emulator_sdk_config`]: DynamoDB Local names its database files after it.
pub const EMULATOR_REGION: &str = "us-east-1";

fn sdk_config(
    endpoint: Option<&str>,
    credentials: SharedCredentialsProvider,
    region: Option<String>,
) -> aws_config::SdkConfig {
    let mut builder = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(crate::retry::sdk_retry_config())
        .timeout_config(crate::retry::sdk_timeout_config())
        .credentials_provider(credentials);
    if let Some(region) = region {
        builder = builder.region(aws_config::Region::new(region));
    }
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
}

/// The roots the AWS clients trust ([`https_client`]): Amazon Trust Services' Amazon Root CA 1–4
/// and the Starfield Services root that cross-signs them, the roots every AWS service endpoint's
/// certificate chains to (DynamoDB, Secrets Manager, the WebSocket management API). Built in, so a
/// cold start reads and parses no system certificate store (`docs/COLD_STARTS_EARLIER.md`).
const AWS_ROOTS_PEM: &str = include_str!("../certs/aws-roots.pem");

/// An AWS client's HTTP client: hyper with rustls on `ring`, from the SDK's own builder with the
/// TLS provider chosen, where the SDK's default client would bring aws-lc, a second cryptography
/// library (see `auth/jwt_crypto.rs`), and trusting [`AWS_ROOTS_PEM`] alone instead of the
/// system's certificates, which cost a cold start 4–7 ms to load. One per SDK config, as the
/// default is: a pool shared by the whole process would hold connections whose tokio runtime may be
/// gone (each test has its own).
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{
        Provider, TlsContext, TrustStore, rustls_provider::CryptoMode,
    };
    let roots = TrustStore::empty().with_pem_certificate(AWS_ROOTS_PEM.as_bytes());
    // `build` only moves the fields into place: it has no error to return yet.
    let tls = TlsContext::builder()
        .with_trust_store(roots)
        .build()
        .expect("a TLS context of built-in roots");
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https();
    aws_sdk_dynamodb::config::SharedHttpClient::new(ConnectorOnFirstCall(client))
}

/// The SDK's hyper client, without the TLS connector it builds when an SDK client is constructed:
/// it builds one there only to load the system's certificates early, and drops it. With the
/// built-in roots that was 0.24 M instructions of every client's construction at cold start, for
/// nothing (docs/COLD_STARTS.md, callgrind). The connector a call needs is built at the first call
/// and kept, as before.
#[derive(Debug)]
struct ConnectorOnFirstCall(aws_sdk_dynamodb::config::SharedHttpClient);

impl aws_smithy_runtime_api::client::http::HttpClient for ConnectorOnFirstCall {
    fn http_connector(
        &self,
        settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_final_config(
        &self,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The dummy credentials an emulator gets (DynamoDB Local, the local management API).
pub fn local_credentials() -> aws_sdk_dynamodb::config::Credentials {
    aws_sdk_dynamodb::config::Credentials::new(
        "taskmasterlocal",
        "local",
        None,
        None,
        "taskmaster-local",
    )
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    /// SHA-256 of each root's DER, as Amazon Trust Services publishes them.
    const FINGERPRINTS: [&str; 5] = [
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e", // Amazon Root CA 1
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4", // Amazon Root CA 2
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4", // Amazon Root CA 3
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092", // Amazon Root CA 4
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5", // Starfield Services G2
    ];

    #[test]
    fn the_built_in_trust_store_holds_exactly_the_amazon_trust_services_roots() {
        let fingerprints: Vec<String> = super::AWS_ROOTS_PEM
            .split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|block| {
                let (body, _) = block
                    .split_once("-----END CERTIFICATE-----")
                    .expect("each certificate ends");
                let der = base64::engine::general_purpose::STANDARD
                    .decode(body.split_whitespace().collect::<String>())
                    .expect("base64 between the PEM markers");
                let digest = ring::digest::digest(&ring::digest::SHA256, &der);
                digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
            })
            .collect();
        assert_eq!(fingerprints, FINGERPRINTS);
    }
}
