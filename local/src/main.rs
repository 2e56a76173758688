//! `taskmaster-local`: the whole taskmaster API on one machine, over the embedded store or
//! DynamoDB Local; and `taskmaster-local import-django`, the move-in from the original app.

mod cors;
mod data_dir;
mod default_route;
mod gateway_head;
mod import;
mod invoke;
mod limits;
mod management;
mod pages;
mod peer;
mod secret;
mod serve;
mod set_password;
mod store_args;
mod stream;
mod throttle;
mod whole_body;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::AppState;
use shared::realtime::{Gateway, Management, Notifier};

pub(crate) use crate::data_dir::{DATABASE_FILE, open_embedded, private_dir};
use crate::data_dir::{lock_data_dir, owned_private_dir};
use crate::ws::Registry;
use shared::config::AuthConfig;
use shared::http::{all_routes, app};
use shared::store::{DynamoConfig, DynamoStore, Stores};
use testkit::DynamoDbLocal;
use testkit::schema::create_tables;

/// The longest WebSocket limit the flags take, in seconds.
const ONE_YEAR: u64 = 366 * 24 * 60 * 60;

/// Runs every taskmaster endpoint on one local HTTP server. Data lives in DATA_DIR (or in DynamoDB
/// Local) and survives restarts; without TASKMASTER_JWT_SECRET a signing key is generated once and
/// kept in DATA_DIR.
#[derive(Debug, Parser)]
// A server flag before a command (`--data-dir X import-django`) is refused, not dropped: the
// command would work on another store than the one named.
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Args,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import the original Django app's database: users (old passwords keep working) and tasks.
    ImportDjango(import::ImportArgs),
    /// Give a user a new password, read from standard input, and end their sessions.
    SetPassword(set_password::SetPasswordArgs),
}

#[derive(Debug, clap::Args)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "TASKMASTER_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Address of the local API Gateway management API (`POST /@connections/{id}`).
    #[arg(
        long,
        env = "TASKMASTER_MANAGEMENT_ADDR",
        default_value = "127.0.0.1:0"
    )]
    management_addr: SocketAddr,
    /// Have the stream function post to the management API at this URL instead of the built-in
    /// one: a proxy in front of it, for fault runs (`bench/fault-management`). Requests still carry
    /// this run's key, so they reach the built-in one only through such a proxy.
    #[arg(
        long,
        env = "TASKMASTER_MANAGEMENT_URL",
        value_name = "URL",
        value_parser = store_args::http_url
    )]
    management_url: Option<String>,
    /// Close a WebSocket after this many seconds without a message either way (WebSocket pings
    /// do not count), as API Gateway does after 10 minutes (clients keep theirs open with
    /// `{"action": "ping"}`).
    #[arg(
        long,
        env = "TASKMASTER_WS_IDLE_TIMEOUT",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=ONE_YEAR),
        default_value_t = 600
    )]
    ws_idle_timeout: u64,
    /// Close every WebSocket after this many seconds, as API Gateway does after 2 hours.
    #[arg(
        long,
        env = "TASKMASTER_WS_MAX_DURATION",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=ONE_YEAR),
        default_value_t = 7200
    )]
    ws_max_duration: u64,
    /// Origins a browser page may call the API from, comma separated, as the stack's
    /// `CorsAllowOrigins` parameter (default: the template's default, `*`): each `*`, `https://*`,
    /// `http://*`, or scheme://host[:port] as a browser sends it.
    #[arg(
        long,
        env = "TASKMASTER_CORS_ALLOW_ORIGINS",
        value_delimiter = ',',
        value_parser = cors::parse_origin
    )]
    cors_allow_origins: Option<Vec<String>>,
    /// Directory holding the database and the generated signing key.
    #[arg(long, env = "TASKMASTER_DATA_DIR", default_value = ".taskmaster")]
    data_dir: PathBuf,
    /// Use DynamoDB at this endpoint (e.g. DynamoDB Local) instead of the embedded store; the
    /// tables are created from template.yaml if absent.
    #[arg(
        long,
        env = "TASKMASTER_DYNAMODB_ENDPOINT",
        value_name = "URL",
        value_parser = store_args::http_url,
        conflicts_with = "start_dynamodb_local"
    )]
    dynamodb_endpoint: Option<String>,
    /// Start DynamoDB Local (needs Java and `scripts/install-tools --dynamodb-only`), keeping its
    /// data in DATA_DIR/dynamodb, and use it. Its jar is looked for in the repository the
    /// current directory is in, or in $TASKMASTER_DYNAMODB_LOCAL_DIR.
    #[arg(long)]
    start_dynamodb_local: bool,
    #[command(flatten)]
    tables: store_args::Tables,
    #[command(flatten)]
    limits: limits::LimitArgs,
    #[command(flatten)]
    throttle: throttle::ThrottleArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init("taskmaster-local");
    let cli = Cli::parse();
    let (name, result) = match cli.command {
        None => (
            "taskmaster-local",
            run(cli.serve).await.map(|()| ExitCode::SUCCESS),
        ),
        Some(Command::ImportDjango(args)) => {
            ("taskmaster-local import-django", import::run(args).await)
        }
        Some(Command::SetPassword(args)) => (
            "taskmaster-local set-password",
            set_password::run(args).await,
        ),
    };
    result.unwrap_or_else(|error| {
        eprintln!("{name}: {error:#}");
        ExitCode::FAILURE
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    // Both addresses first: a start that cannot listen fails before it creates anything.
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let management = tokio::net::TcpListener::bind(args.management_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.management_addr))?;
    // Found before anything is created too, so a start that cannot run it leaves nothing behind.
    let jar_dir = if args.start_dynamodb_local {
        Some(DynamoDbLocal::find_jar_dir(&std::env::current_dir()?)?)
    } else {
        None
    };
    private_dir(&args.data_dir)?;
    // Held until the server stops: the store's files are this server's alone.
    let _lock = if args.dynamodb_endpoint.is_some() {
        None
    } else {
        Some(lock_data_dir(&args.data_dir)?)
    };
    // API Gateway's route throttling, if asked for: the HTTP API's routes, the WebSocket API's
    // handshakes; the local server's own pages are neither API's.
    let throttle = args.throttle.throttle(throttle::api_of)?;
    data_dir::warn_of_the_other_store(&args.data_dir, jar_dir.is_some());
    let secret = secret::load_or_create(&args.data_dir)?;
    let mut auth = AuthConfig::from_env(Some(secret))?;
    auth.limits = args.limits.apply(auth.limits);
    // Kept alive until the server stops; dropping it stops DynamoDB Local.
    let mut dynamodb_local = None;
    let (endpoint, emulator_key) = if let Some(jar_dir) = jar_dir {
        let db_dir = args.data_dir.join("dynamodb");
        owned_private_dir(&db_dir)?;
        let key = secret::dynamodb_local_key(&db_dir)?;
        let local = DynamoDbLocal::start(&jar_dir, Some(&db_dir), Some(&key)).await?;
        tracing::info!(endpoint = local.endpoint(), "started DynamoDB Local");
        let endpoint = local.endpoint().to_owned();
        dynamodb_local = Some(Arc::new(Mutex::new(local)));
        (Some(endpoint), Some(key))
    } else {
        (args.dynamodb_endpoint.clone(), None)
    };

    // The management API first: the stream function needs its address.
    let registry = Arc::new(Registry::default());
    let management_url = format!("http://{}", management.local_addr()?);
    let notify_url = args
        .management_url
        .clone()
        .unwrap_or_else(|| management_url.clone());
    // This run's key to the management API: only our own notifier and gateway hold it.
    let management_key = uuid::Uuid::new_v4().simple().to_string();
    tokio::spawn(serve::serve(
        management,
        management::routes(registry.clone(), management_key.clone()),
        std::future::pending(),
    ));

    let (stores, changes) = match endpoint {
        Some(endpoint) => {
            let config = DynamoConfig {
                emulator_key,
                ..args.tables.dynamo_config(&endpoint)
            };
            // Setting up, and reading the stream as Lambda's event source would, wait on no
            // request: a busy DynamoDB Local gets a batch job's patience there.
            let patient = config.patient_client();
            create_tables(&patient, &config).await.with_context(|| {
                format!(
                    "preparing tables on {}",
                    config.endpoint.as_deref().unwrap_or_default()
                )
            })?;
            tracing::info!(endpoint = config.endpoint.as_deref(), "using DynamoDB");
            let streams = aws_sdk_dynamodbstreams::Client::from_conf(
                aws_sdk_dynamodbstreams::config::Builder::from(&config.sdk_config())
                    .timeout_config(shared::retry::patient_timeout_config())
                    .build(),
            );
            let source = Changes::DynamoDb {
                client: patient,
                streams,
                table: config.tasks_table.clone(),
            };
            (
                Stores::new(DynamoStore::new(config.client(), &config)),
                source,
            )
        }
        None => {
            let store = open_embedded(&args.data_dir)?;
            // What DynamoDB's TTL does for the tables (expired tokens, keys, connections).
            store.keep_swept(Duration::from_secs(15 * 60));
            let changes = Changes::Embedded(store.subscribe());
            (Stores::new(store), changes)
        }
    };
    let notifier = Notifier::new(
        &stores,
        Notifier::management_client(&notify_url, Some(&management_key)),
    );
    let state = AppState::new(stores.clone(), &auth).with_sockets(notifier.clone());
    match changes {
        Changes::Embedded(receiver) => {
            tokio::spawn(stream::drive_embedded(receiver, notifier));
        }
        Changes::DynamoDb {
            client,
            streams,
            table,
        } => {
            let stream = stream::DynamoDbStream::open(&client, streams, &table).await?;
            tokio::spawn(stream.run(notifier));
        }
    }
    // `$connect` asks this server's own management API (never a fault run's proxy) which of a
    // user's connections are gone before it refuses one at the cap.
    let management = Notifier::management_client(&management_url, Some(&management_key));
    let gateway = Gateway::new(&stores, state.jwt.clone())
        .with_management(Management::new(move || management.clone()));

    let addr = listener.local_addr()?;
    let exited = Arc::new(OnceLock::new());
    let stop = stop_when(serve::stop_signal(), dynamodb_local.clone(), exited.clone());
    // The one line on stdout, so scripts and tests can find the port.
    println!("taskmaster-local listening on http://{addr}");
    tracing::info!(
        data_dir = %args.data_dir.display(),
        "serving the API under http://{addr}/api/v1/, its pages at http://{addr}/api/v1/docs/"
    );
    tracing::info!("task events at ws://{addr}/ws/tasks/, management API at {management_url}");
    tracing::info!(
        "web client at http://{addr}/, API docs at http://{addr}{}/",
        pages::DOCS
    );
    let limits = ws::Limits {
        idle: Duration::from_secs(args.ws_idle_timeout),
        max_duration: Duration::from_secs(args.ws_max_duration),
    };
    // Repeated header lines are joined for the HTTP API's routes only: the WebSocket API's
    // events keep every line (`ws::event`).
    let routes = all_routes()
        .merge(pages::routes())
        .layer(axum::middleware::from_fn(gateway_head::join_repeated))
        .merge(ws::routes(gateway, registry.clone(), limits));
    // HEAD goes where API Gateway sends it; each request runs to its end, as an invocation does.
    let invocations = invoke::Invocations::default();
    let app = app(routes, state)
        .layer(axum::middleware::from_fn_with_state(
            default_route::fallback(),
            default_route::head_to_fallback,
        ))
        .layer(axum::middleware::from_fn_with_state(
            invocations.clone(),
            invoke::to_its_end,
        ))
        .layer(axum::middleware::from_fn(whole_body::read_whole))
        .layer(axum::middleware::from_fn(peer::source_ip))
        .layer(axum::middleware::from_fn(gateway_head::refuse_oversized))
        // API Gateway hands a function the whole body; here a client may stop sending it. A body
        // that goes quiet for BODY_TIMEOUT is a read error, which `whole_body` answers with a 400
        // before any route runs.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            serve::BODY_TIMEOUT,
        ));
    // Before anything else of the API's, as API Gateway throttles before a function runs.
    let app = match throttle {
        Some(throttle) => app.layer(axum::middleware::from_fn_with_state(
            throttle,
            throttle::throttle,
        )),
        None => app,
    };
    let app = cors::wrap(app, args.cors_allow_origins.as_deref())?;
    serve::serve(listener, app, stop).await?;
    invocations.wait(serve::DRAIN_LIMIT).await;
    // Every request has ended; sockets close as API Gateway closes them, each `$disconnect` run.
    registry.close_all(Duration::from_secs(2)).await;
    // DynamoDB Local stops only now: the sockets' `$disconnect`s above still had it.
    drop(dynamodb_local);
    if let Some(status) = exited.get() {
        anyhow::bail!(
            "the DynamoDB Local it started exited ({status}); its output is in {}",
            args.data_dir.join("dynamodb/dynamodb-local.log").display()
        );
    }
    tracing::info!("stopped");
    Ok(())
}

/// What stops the server: `signal` (Ctrl-C, SIGTERM), or the DynamoDB Local it started exiting
/// (killed, out of memory), without which every request could only be a 503; how that one ended
/// is then kept in `exited`.
fn stop_when(
    signal: impl Future<Output = ()> + Send + 'static,
    dynamodb_local: Option<Arc<Mutex<DynamoDbLocal>>>,
    exited: Arc<OnceLock<std::process::ExitStatus>>,
) -> impl Future<Output = ()> + Send + 'static {
    let died = async move {
        let Some(local) = dynamodb_local else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let status = local
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .exited();
            if let Some(status) = status {
                tracing::error!(%status, "DynamoDB Local exited; stopping: nothing can be read or written without it");
                let _ = exited.set(status);
                return;
            }
        }
    };
    async move {
        tokio::select! {
            () = signal => {}
            () = died => {}
        }
    }
}

/// Where task changes come from.
enum Changes {
    Embedded(tokio::sync::mpsc::UnboundedReceiver<shared::domain::TaskChange>),
    DynamoDb {
        client: aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: String,
    },
}
