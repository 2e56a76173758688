//! A Lambda's cold start, run beside the runtime's first poll for an event.
//!
//! What a function builds at cold start (its SDK clients, and for most the signing key, read from
//! Secrets Manager) is mostly a wait on the network. On an on-demand cold start an invocation is
//! already waiting for the new container, so [`Starting::begin`] spawns the build and returns at
//! once: the runtime asks for that invocation while the key read is in flight, and the invocation
//! waits for whatever is left of the build. The build's cost is then in the first request, not in
//! the init phase; bench/cold-start measures both (docs/COLD_STARTS.md).
//!
//! Where Lambda initialises a container ahead of any invocation (provisioned concurrency,
//! SnapStart, or any initialisation type this code does not know), it freezes the container as
//! soon as the runtime polls, which would freeze the key read mid-flight and thaw it onto a
//! connection long gone: there the build finishes before the first poll, as it used to, and a
//! failed build fails the init.
//!
//! A failed build is not kept: the invocation that finds it answers an error (an HTTP function a
//! JSON 503 with `Retry-After`, see [`serve`]) and the next one builds again.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::Router;
use axum::response::IntoResponse as _;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;
use tracing::Instrument as _;

use crate::AppState;
use crate::error::Error;

/// Reads the configuration, and returns the build that uses it.
type Configure<T> = Box<dyn Fn() -> anyhow::Result<Build<T>> + Send + Sync>;
type Build<T> = Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send>>;

/// A function's state (its router, gateway or notifier), being built or built.
pub struct Starting<T> {
    built: OnceCell<T>,
    /// The build begun at cold start, until an invocation takes it over.
    begun: Mutex<Option<JoinHandle<anyhow::Result<T>>>>,
    configure: Configure<T>,
}

impl<T: Send + Sync + 'static> Starting<T> {
    /// Reads the function's configuration with `configure` (an error fails the cold start) and
    /// begins the build it returns on a task of its own. On an on-demand cold start (Lambda's
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`) it returns at once; otherwise once the build is done,
    /// with its error if it failed.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it spawns the build at once).
    pub async fn begin<F, Fut>(configure: F) -> anyhow::Result<Arc<Self>>
    where
        F: Fn() -> anyhow::Result<Fut> + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
    {
        let configure: Configure<T> = Box::new(move || Ok(Box::pin(configure()?)));
        let begun = tokio::spawn(configure()?.in_current_span());
        let starting = Arc::new(Self {
            built: OnceCell::new(),
            begun: Mutex::new(Some(begun)),
            configure,
        });
        if !on_demand() {
            starting.get().await?;
        }
        Ok(starting)
    }

    /// The state, once built: the build begun at cold start, or a new one if that failed.
    ///
    /// # Errors
    /// The build's, logged here; the next call builds again.
    pub async fn get(&self) -> anyhow::Result<&T> {
        self.built
            .get_or_try_init(|| async {
                let begun = self.begun.lock().unwrap_or_else(|e| e.into_inner()).take();
                let built = match begun {
                    Some(task) => task.await.context("the cold start's build stopped")?,
                    None => (self.configure)()?.in_current_span().await,
                };
                built.inspect_err(|error| {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "the function's state could not be built; the next invocation tries again"
                    );
                })
            })
            .await
    }
}

/// Whether this container was started for an invocation waiting on it (Lambda sets
/// `AWS_LAMBDA_INITIALIZATION_TYPE` to `on-demand`, `provisioned-concurrency` or `snap-start`).
fn on_demand() -> bool {
    std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").is_ok_and(|kind| kind == "on-demand")
}

/// Runs an HTTP function: `routes` on the production state ([`AppState::from_env`]), built as
/// [`Starting::begin`] says. While the state cannot be built, a request is answered 503 with
/// `Retry-After`, in JSON.
///
/// # Errors
/// A build that failed ahead of any invocation, or the runtime's.
pub async fn serve(routes: fn() -> Router<AppState>) -> Result<(), lambda_http::Error> {
    let app = Starting::begin(move || {
        let state = AppState::from_env()?;
        Ok(async move { Ok(crate::http::app(routes(), state.await?)) })
    })
    .await?;
    lambda_http::run(tower::service_fn(move |request: lambda_http::Request| {
        let app = app.clone();
        async move {
            match app.get().await {
                Ok(router) => router.clone().oneshot(request).await,
                // Counted as any answer is (`Errors5xx`, the HTTP API's 5xx alarm).
                Err(_) => {
                    let context = request.extensions().get::<lambda_http::Context>().cloned();
                    let unavailable = async { Error::Unavailable.into_response() };
                    let status = |answer: &axum::response::Response| Some(answer.status().as_u16());
                    Ok(crate::metrics::invocation(context.as_ref(), status, unavailable).await)
                }
            }
        }
    }))
    .await
}
