//! Configuration, read once from the environment at cold start.

use std::time::Duration;

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
/// | `TASKMASTER_SESSION_MAX_AGE` | a login session's longest life, refreshes included, seconds | 2592000 (30 days) |
///
/// and the login and registration limits, [`LimitsConfig`].
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The key new tokens are signed with.
    pub jwt_secret: SecretString,
    /// Keys whose tokens are accepted too, never used to sign: the previous key after a rotation,
    /// the next one before it. On Lambda, read when a token first names one or a page cursor first
    /// fails the current key.
    pub accepted_jwt_secrets: AcceptedSecrets,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
    /// How long a login session may last from its sign-in, however often it is refreshed: then
    /// its user signs in again (OWASP ASVS 4.0.3, V3.3.2: at most 30 days at level 1).
    pub session_max_age_seconds: i64,
    /// Failed logins and registrations allowed per window.
    pub limits: LimitsConfig,
}

/// The shortest signing key accepted: HS256 wants at least its own output size.
pub const MIN_SECRET_BYTES: usize = 32;

impl AuthConfig {
    pub const DEFAULT_ACCESS_TTL: i64 = 15 * 60;
    pub const DEFAULT_REFRESH_TTL: i64 = 14 * 24 * 60 * 60;
    pub const DEFAULT_SESSION_MAX_AGE: i64 = 30 * 24 * 60 * 60;

    /// With the given secret and the default lifetimes.
    pub fn with_secret(secret: impl Into<String>) -> Self {
        Self {
            jwt_secret: SecretString::from(secret.into()),
            accepted_jwt_secrets: AcceptedSecrets::default(),
            access_ttl_seconds: Self::DEFAULT_ACCESS_TTL,
            refresh_ttl_seconds: Self::DEFAULT_REFRESH_TTL,
            session_max_age_seconds: Self::DEFAULT_SESSION_MAX_AGE,
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
            session_max_age_seconds: seconds(
                "TASKMASTER_SESSION_MAX_AGE",
                Self::DEFAULT_SESSION_MAX_AGE,
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
        let config = crate::aws::aws_sdk_config(endpoint.as_deref(), false);
        let config = aws_sdk_secretsmanager::config::Builder::from(&config)
            .interceptor(crate::aws::CallLog)
            .build();
        Self::from_secrets_manager(&aws_sdk_secretsmanager::Client::from_conf(config), &arn).await
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
        config.session_max_age_seconds =
            seconds("TASKMASTER_SESSION_MAX_AGE", Self::DEFAULT_SESSION_MAX_AGE)?;
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
    /// How long a login that finds the places held only by attempts still in progress first
    /// waits before counting itself again (it doubles each time, six counts in all:
    /// [`crate::service::limits`]). Not a variable: 40 ms, which tests lengthen, since how long
    /// the attempts ahead take is the machine's.
    pub in_progress_pause: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            login_failures_per_username: 20,
            login_failures_per_address: 100,
            login_window_seconds: 15 * 60,
            registrations_per_address: 20,
            registration_window_seconds: 60 * 60,
            in_progress_pause: Duration::from_millis(40),
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
            in_progress_pause: default.in_progress_pause,
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

/// Refuses a signing key shorter than [`MIN_SECRET_BYTES`], naming where it came from.
pub fn check_length(name: &str, secret: &str) -> anyhow::Result<()> {
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
