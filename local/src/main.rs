//! `taskmaster-local`: the whole taskmaster API on one machine, over the embedded store.

mod secret;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use shared::config::AuthConfig;
use shared::http::{all_routes, app};
use shared::store::{EmbeddedStore, Stores};
use shared::AppState;

/// Runs every taskmaster endpoint on one local HTTP server. Data lives in DATA_DIR and survives
/// restarts; without TASKMASTER_JWT_SECRET a signing key is generated once and kept there.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "TASKMASTER_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Directory holding the database and the generated signing key.
    #[arg(long, env = "TASKMASTER_DATA_DIR", default_value = ".taskmaster")]
    data_dir: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("taskmaster-local: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot use data dir {}", args.data_dir.display()))?;
    let secret = secret::load_or_create(&args.data_dir)?;
    let auth = AuthConfig::from_env(Some(secret))?;
    let store = EmbeddedStore::open(&args.data_dir.join("taskmaster.redb"))?;
    let state = AppState::new(Stores::new(store), &auth);

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    // The one line on stdout, so scripts and tests can find the port.
    println!("taskmaster-local listening on http://{addr}");
    tracing::info!(data_dir = %args.data_dir.display(), "serving the API at http://{addr}/api/v1/");
    axum::serve(listener, app(all_routes(), state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
}
