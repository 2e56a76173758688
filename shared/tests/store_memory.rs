//! The embedded store against the store contract in its in-memory form, the one the API suite
//! (`api.rs`) and the other in-process suites run on: the same code as on disk (`store_embedded.rs`)
//! over redb's in-memory backend, which never syncs.

/// A fresh in-memory database for each case.
mod backend {
    use std::sync::Arc;

    use shared::store::{EmbeddedStore, ImportStore, Stores};

    pub async fn stores() -> Stores {
        importing().await.0
    }

    pub async fn importing() -> (Stores, Arc<dyn ImportStore>) {
        let store = EmbeddedStore::in_memory().expect("an in-memory database");
        Stores::with_import(store)
    }

    /// Every store here is fresh.
    pub async fn importing_fresh() -> (Stores, Arc<dyn ImportStore>) {
        importing().await
    }
}

mod contract;
