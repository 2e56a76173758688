//! The state every handler shares, built once per process (per Lambda container).

use std::sync::Arc;

use secrecy::ExposeSecret;

use crate::auth::JwtKeys;
use crate::config::AuthConfig;
use crate::service::cursor::CursorKey;
use crate::service::limits::Limits;
use crate::service::{AccountService, TaskService};
use crate::store::Stores;

#[derive(Clone)]
pub struct AppState {
    pub accounts: AccountService,
    pub tasks: TaskService,
    pub jwt: Arc<JwtKeys>,
}

impl AppState {
    pub fn new(stores: Stores, auth: &AuthConfig) -> Self {
        let jwt = Arc::new(JwtKeys::new(auth));
        let cursors = CursorKey::new(auth.jwt_secret.expose_secret().as_bytes());
        Self {
            accounts: AccountService::new(
                &stores,
                jwt.clone(),
                Limits::new(stores.limits.clone(), auth.limits.clone()),
            ),
            tasks: TaskService::new(&stores, cursors),
            jwt,
        }
    }

    /// The production state, for a Lambda's cold start: the DynamoDB tables from the environment
    /// and the signing keys from Secrets Manager (see [`AuthConfig::load`] and [`Stores::from_env`]).
    pub async fn from_env() -> anyhow::Result<Self> {
        let auth = AuthConfig::load().await?;
        Ok(Self::new(Stores::from_env().await?, &auth))
    }
}
