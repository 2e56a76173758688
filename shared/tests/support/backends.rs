//! The two stores a test crate runs its files on: each `*_dynamo.rs` crate runs the very same test
//! files as its embedded twin, with `use support::backends::dynamo as backend;` in place of
//! `embedded`. The files reach their store through `crate::backend`.

/// The embedded store, in memory: nothing is checked but behaviour.
pub mod embedded {
    use std::future::Future;
    use std::sync::Arc;

    use shared::store::{EmbeddedStore, ImportStore, Stores};

    /// A fresh, empty in-memory store.
    pub async fn stores() -> Stores {
        importing().await.0
    }

    /// A fresh, empty in-memory store, and the importer over it.
    pub async fn importing() -> (Stores, Arc<dyn ImportStore>) {
        Stores::with_import(EmbeddedStore::in_memory().expect("an in-memory store"))
    }

    /// The app as served: IAM is only DynamoDB's.
    pub fn router(app: axum::Router) -> axum::Router {
        app
    }

    /// Runs `work`: IAM is only DynamoDB's.
    pub async fn as_function<T>(_: &'static str, work: impl Future<Output = T>) -> T {
        work.await
    }
}

/// DynamoDB Local, each function's calls checked against its IAM grants ([`super::iam`]).
pub mod dynamo {
    use std::future::Future;
    use std::sync::Arc;

    use shared::store::{ImportStore, Stores};

    /// Fresh, empty tables (made from template.yaml), whose client refuses what the calling
    /// function's IAM role would.
    pub async fn stores() -> Stores {
        importing().await.0
    }

    /// Fresh, empty tables as above, and the importer over them.
    pub async fn importing() -> (Stores, Arc<dyn ImportStore>) {
        super::super::fresh_dynamo_stores_with_import().await
    }

    /// Each request run as the Lambda that serves it on AWS, for the IAM check.
    pub fn router(app: axum::Router) -> axum::Router {
        super::super::iam::as_lambdas(app)
    }

    /// Runs `work` as `function`, its DynamoDB calls checked against its IAM grants.
    pub async fn as_function<T>(function: &'static str, work: impl Future<Output = T>) -> T {
        super::super::iam::as_function(function, work).await
    }
}
