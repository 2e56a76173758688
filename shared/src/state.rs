//! The state every handler shares, built once per process (per Lambda container).

use std::sync::Arc;

use crate::auth::JwtKeys;
use crate::config::AuthConfig;
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
        Self { accounts: AccountService::new(&stores, jwt.clone()), tasks: TaskService::new(&stores), jwt }
    }
}
