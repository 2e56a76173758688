//! The state every handler shares, built once per process (per Lambda container).

use std::sync::Arc;

use crate::auth::JwtKeys;
use crate::config::AuthConfig;
use crate::domain::{Ended, UserId};
use crate::realtime::Notifier;
use crate::service::cursor::CursorKeys;
use crate::service::limits::Limits;
use crate::service::{AccountService, TaskService};
use crate::store::Stores;

#[derive(Clone)]
pub struct AppState {
    pub accounts: AccountService,
    pub tasks: TaskService,
    pub jwt: Arc<JwtKeys>,
    /// Closes a user's WebSockets when its sessions end, where the host has a WebSocket API
    /// (`TASKMASTER_WS_ENDPOINT` on AWS; the local server's management API).
    pub sockets: Option<Notifier>,
}

impl AppState {
    pub fn new(stores: Stores, auth: &AuthConfig) -> Self {
        let jwt = Arc::new(JwtKeys::new(auth));
        Self {
            accounts: AccountService::new(
                &stores,
                jwt.clone(),
                Limits::new(stores.limits.clone(), auth.limits.clone()),
            ),
            tasks: TaskService::new(&stores, CursorKeys::new(auth)),
            jwt,
            sockets: None,
        }
    }

    /// This state, closing a user's WebSockets through `sockets` when its sessions end.
    pub fn with_sockets(mut self, sockets: Notifier) -> Self {
        self.sockets = Some(sockets);
        self
    }

    /// Closes every WebSocket of `user` whose session `ended`, if this host has a WebSocket API.
    /// Deliveries check the session anyway: this makes the end prompt.
    pub async fn close_sockets(&self, user: UserId, ended: Ended) {
        if let Some(sockets) = &self.sockets {
            // Whatever stays open hears nothing: deliveries check the session.
            let _ = sockets.close_ended(user, ended).await;
        }
    }

    /// The production state, for a Lambda's cold start: the DynamoDB tables from the environment
    /// and the signing keys from Secrets Manager (see [`AuthConfig::load`] and [`Stores::from_env`]);
    /// with `TASKMASTER_WS_ENDPOINT` set (the functions that end sessions), the WebSocket API's
    /// management endpoint too. The clients are built while the key read is under way.
    pub async fn from_env() -> anyhow::Result<Self> {
        let auth = AuthConfig::load_in_background();
        let stores = Stores::from_env().await?;
        let sockets = std::env::var("TASKMASTER_WS_ENDPOINT")
            .ok()
            .map(|endpoint| Notifier::new(&stores, Notifier::management_client(&endpoint, None)));
        let state = Self::new(stores, &auth.await?);
        Ok(match sockets {
            Some(sockets) => state.with_sockets(sockets),
            None => state,
        })
    }
}
