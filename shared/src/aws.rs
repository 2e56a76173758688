//! The AWS SDK configuration every AWS client here is built from, and its HTTPS client: the
//! environment's credentials and region, an emulator's endpoint, and built-in roots over rustls.

use std::time::Instant;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{
    ConfigBag, Intercept, RuntimeComponents, SharedCredentialsProvider,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

use crate::config::env;

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

/// Logs each call an AWS client makes, at `debug`: the service and operation
/// (`DynamoDB`/`TransactWriteItems`, `ApiGatewayManagementApi`/`PostToConnection`, ...), the
/// attempts it took, whether it succeeded, and `ms` from its start to its outcome. The line is
/// written inside the request's spans, so it carries the Lambda request id and the route. Off
/// unless `RUST_LOG` asks for it (`info,shared::aws=debug`): a line per call would cost more in
/// CloudWatch Logs than the call itself. The SDK logs its calls too, but with the credentials, so
/// its crates stay at `info` ([`crate::telemetry::QUIET`]).
#[derive(Debug, Clone, Copy)]
pub struct CallLog;

/// When the call began, from its first hook to its last.
#[derive(Debug, Clone)]
struct Began(Instant);

impl Storable for Began {
    type Storer = StoreReplace<Self>;
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if tracing::enabled!(tracing::Level::DEBUG) {
            cfg.interceptor_state().store_put(Began(Instant::now()));
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Began(began)) = cfg.load::<Began>() else {
            return Ok(());
        };
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("?", "?"), |m| (m.service(), m.name()));
        tracing::debug!(
            service,
            operation,
            attempts = cfg
                .load::<RequestAttempts>()
                .map_or(0, RequestAttempts::attempts),
            ok = matches!(context.output_or_error(), Some(Ok(_))),
            ms = began.elapsed().as_secs_f64() * 1e3,
            "AWS call"
        );
        Ok(())
    }
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
                hex::encode(digest)
            })
            .collect();
        assert_eq!(fingerprints, FINGERPRINTS);
    }
}
