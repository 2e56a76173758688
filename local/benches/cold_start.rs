//! Cold starts, measured from outside: each function's host release binary, and the bare runtime
//! (`functions/examples/bare-runtime.rs`, same profile), started fresh under the Lambda Runtime API
//! stand-in of the tests (`local/tests/lambda_runtime/api.rs`) with Lambda's environment, its
//! event from `events/`, and DynamoDB Local seeded with the events' user (below). Run by
//! `bench/cold-start`,
//! which builds the binaries first:
//!
//!     cargo bench -p taskmaster-local --bench cold_start -- BINARY_DIR [RUNS] [FUNCTION...]
//!
//! Per run, one fresh process is handed 1 + WARM invocations of its event, and each run of a function
//! follows one of the bare runtime, so the two share the moment (this machine's speed drifts from
//! minute to minute). Printed per function, as medians over the runs:
//! - init: process start → its first `next` call (what Lambda reports as Init Duration);
//! - bare init, × bare: the bare runtime's init over the runs paired with this function's, and the
//!   ratio of the two medians (the bare row, last, pools every pairing);
//! - first: the first invocation's latency (event handed out → answer posted);
//! - warm: the latency of the same request on the now warm process (median of the WARM repeats);
//! - extra: first − warm, what the first request pays for being first, and its quartiles over the
//!   runs (how much of it is noise);
//! - CPU: the process's CPU time per warm invocation (its threads' `/proc/PID/task/*/schedstat`
//!   across the warm repeats, divided by their number), what Lambda's CPU share scales;
//! - peak RSS: the process's `VmHWM` after all its invocations, the highest of the runs (not the
//!   median): what Lambda's memory must hold.
//!
//! Every invocation of a function whose event names the events' user (a token, a task, a login
//! name) gets a user of its own, seeded before the function's runs begin: a registration registers
//! a new name, a password change changes a password still current, a delete deletes a task that is
//! there, a refresh presents a token never used. First and warm then time the same path, the one a
//! client's request takes, which is what `extra` compares. Registering one user per invocation from
//! the events' one address would soon meet the registration limit, so the bench raises it
//! (`TASKMASTER_REGISTRATIONS_PER_ADDRESS`); the limit is still counted on every registration.

#[allow(dead_code, unused_imports)]
#[path = "../tests/lambda_runtime/api.rs"]
mod api;
#[allow(dead_code, unused_imports)]
#[path = "../tests/lambda_runtime/fixtures.rs"]
mod fixtures;
#[allow(dead_code, unused_imports)]
#[path = "../tests/lambda_runtime/process.rs"]
mod process;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use api::{Invocation, Outcome, RuntimeApi};
use fixtures::{Tables, USERNAME};
use process::{Function, lambda_env};
use shared::domain::{Timestamp, UserId};
use shared::store::Connection;
use testkit::events::{event, seed_tagged};

/// The owner of the task in `events/task-stream.json`.
const STREAM_OWNER: &str = "6f1c2a9e-8d0b-4c55-9a4e-1b2c3d4e5f60";

/// Warm repeats per run.
const WARM: usize = 5;
const BARE: &str = "bare-runtime";

struct Run {
    init: Duration,
    first: Duration,
    warm: Duration,
    cpu_per_warm: Duration,
    peak_rss_kib: u64,
    /// Each invocation's answer, as the function posted it.
    answers: Vec<Vec<u8>>,
}

/// CPU time so far of every live thread of process `pid`.
fn cpu_time(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's threads");
    let nanos: u64 = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split(' ').next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// The peak resident set of process `pid`, KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

/// One fresh process of `binary` as `function`, handed `events` (1 + [`WARM`]) in turn.
async fn run(
    binary: &PathBuf,
    function: &str,
    events: &[String],
    tables: &Tables,
    extra_env: &[(String, String)],
) -> Run {
    assert_eq!(
        events.len(),
        WARM + 1,
        "{function}: an event per invocation"
    );
    let invocations = events
        .iter()
        .enumerate()
        .map(|(i, event)| Invocation {
            request_id: format!("req-{i}"),
            function_name: function.to_owned(),
            event: event.clone(),
        })
        .collect();
    let mut api = RuntimeApi::start(invocations).await;
    let mut env = lambda_env(function, &api, &tables.config);
    env.extend_from_slice(extra_env);
    let started = Instant::now();
    let mut process = Function::start_command(function, Command::new(binary), env);
    let pid = process.pid().expect("a running process");
    let mut cpu_after_first = Duration::ZERO;
    let mut answers = Vec::new();
    for i in 0..=WARM {
        match process.outcome(&mut api).await {
            Outcome::Response { body, .. } => answers.push(body.to_vec()),
            other => panic!("{function}: {other:?}; output:\n{}", process.output()),
        }
        if i == 0 {
            cpu_after_first = cpu_time(pid);
        }
    }
    let cpu_per_warm = (cpu_time(pid).saturating_sub(cpu_after_first)) / WARM as u32;
    let peak_rss_kib = peak_rss_kib(pid);
    let (handed, answered) = api.timeline();
    assert_eq!(
        (handed.len(), answered.len()),
        (WARM + 1, WARM + 1),
        "{function}"
    );
    let latency = |i: usize| answered[i] - handed[i];
    Run {
        init: handed[0] - started,
        first: latency(0),
        warm: median((1..=WARM).map(latency).collect()),
        cpu_per_warm,
        peak_rss_kib,
        answers,
    }
}

/// Whether `function`'s recorded event names the events' user: a token, a task or a login name.
fn names_the_user(function: &str) -> bool {
    let recorded = event(function, None);
    ["<access-token>", "<refresh-token>", "<task-id>", USERNAME]
        .iter()
        .any(|placeholder| recorded.contains(placeholder))
}

/// The events of every run of `function` ([`WARM`] + 1 each): for one that names the events'
/// user, each for a user of its own, seeded now (tagged with the run and the invocation), so that
/// the seeding's hashing and writes are over before any process is timed; else the recorded event.
async fn events_of_runs(
    function: &str,
    named: bool,
    runs: usize,
    tables: &Tables,
) -> Vec<Vec<String>> {
    if !named {
        return vec![vec![event(function, None); WARM + 1]; runs];
    }
    let mut all = Vec::with_capacity(runs);
    for r in 0..runs {
        let mut events = Vec::with_capacity(WARM + 1);
        for i in 0..=WARM {
            let seeded = seed_tagged(&tables.state, &format!("_{r}_{i}")).await;
            events.push(event(function, Some(&seeded)));
        }
        all.push(events);
    }
    all
}

/// Whether the template gives `function` the WebSocket API's management endpoint: to close the
/// sockets of the sessions it ends, or (`ws-connect`) to ask which are gone at a user's cap.
fn manages_sockets(function: &str) -> bool {
    testkit::schema::function_has_variable(
        testkit::schema::TEMPLATE,
        function,
        "TASKMASTER_WS_ENDPOINT",
    )
    .unwrap_or_else(|e| panic!("{e:#}"))
}

/// For `task-stream`: the event's task owner with one open connection, and a management API that
/// takes every post; its endpoint.
async fn listening_owner(tables: &Tables) -> String {
    let owner = UserId::parse(STREAM_OWNER).expect("a user id");
    testkit::events::ensure_user(&tables.stores, owner).await;
    let now = Timestamp::now().plus_seconds(-60);
    let connection = Connection {
        id: "listening=".to_owned(),
        user_id: owner,
        connected_at: now,
        expires_at: now.plus_seconds(3600),
        token_expires_at: now.plus_seconds(3600),
        epoch: 0,
        sid: None,
    };
    tables
        .stores
        .connections
        .add_connection(&connection)
        .await
        .expect("recording the connection");
    let management = axum::Router::new().route(
        "/@connections/{id}",
        axum::routing::post(|| async { axum::http::StatusCode::OK }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, management).await });
    endpoint
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; everything else is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let dir = PathBuf::from(
        args.first()
            .expect("usage: cold_start BINARY_DIR [RUNS] [FUNCTION...]"),
    );
    let runs: usize = args.get(1).map_or(10, |n| n.parse().expect("RUNS"));
    let mut functions: Vec<String> = args.iter().skip(2).cloned().collect();
    if functions.is_empty() {
        functions = process::function_binaries();
    }
    let bare = dir.join("examples").join(BARE);
    println!(
        "{runs} fresh processes each, medians; binaries in {}; load {}",
        dir.display(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .next()
            .unwrap_or("?")
    );
    println!(
        "| function | init ms | bare init ms | × bare | first ms | warm ms | extra ms | extra p25–p75 | CPU ms/req | peak RSS MiB | bytes |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let bare_tables = Tables::create("cold-bare").await;
    let mut bare_runs = Vec::new();
    for function in functions {
        let binary = dir.join(&function);
        let tables = Tables::create(&format!("cold-{function}")).await;
        let named = names_the_user(&function);
        let events_of_runs = events_of_runs(&function, named, runs, &tables).await;
        let mut extra_env = vec![(
            "TASKMASTER_REGISTRATIONS_PER_ADDRESS".to_owned(),
            "1000000".to_owned(),
        )];
        if function == "task-stream" {
            extra_env.push((
                "TASKMASTER_WS_ENDPOINT".to_owned(),
                listening_owner(&tables).await,
            ));
        } else if manages_sockets(&function) {
            // Set as the template sets it, so that init does what it does on AWS; the bench's
            // users have no socket, so nothing is sent to it.
            extra_env.push((
                "TASKMASTER_WS_ENDPOINT".to_owned(),
                "http://127.0.0.1:9".to_owned(),
            ));
        }
        // Each start of the function follows one of the bare runtime, so that both see the same
        // moment of a machine whose speed drifts: × bare compares the two medians of this pairing.
        let (mut measured, mut beside) = (Vec::new(), Vec::new());
        let bare_events = vec!["{}".to_owned(); WARM + 1];
        for events in &events_of_runs {
            beside.push(run(&bare, BARE, &bare_events, &bare_tables, &[]).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
            let measured_run = run(&binary, &function, events, &tables, &extra_env).await;
            // A user of its own per invocation is for timing what a client's request does.
            if named {
                for answer in &measured_run.answers {
                    let status = process::api_response(&function, answer).status;
                    assert!(
                        (200..300).contains(&status),
                        "{function} answered {status}: not the path of a client's request"
                    );
                }
            }
            measured.push(measured_run);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let bare_init = median(beside.iter().map(|r| r.init).collect());
        print_row(&function, &measured, bare_init, &binary);
        bare_runs.extend(beside);
    }
    let bare_init = median(bare_runs.iter().map(|r| r.init).collect());
    print_row(BARE, &bare_runs, bare_init, &bare);
}

/// One row of the table: medians of `measured`, its init against `bare_init`.
fn print_row(function: &str, measured: &[Run], bare_init: Duration, binary: &PathBuf) {
    let init = median(measured.iter().map(|r| r.init).collect());
    let first = median(measured.iter().map(|r| r.first).collect());
    let warm = median(measured.iter().map(|r| r.warm).collect());
    let mut extras: Vec<Duration> = measured
        .iter()
        .map(|r| r.first.saturating_sub(r.warm))
        .collect();
    extras.sort_unstable();
    let quartile = |q: usize| extras[(extras.len() * q / 4).min(extras.len() - 1)];
    let cpu = median(measured.iter().map(|r| r.cpu_per_warm).collect());
    let rss = measured.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0);
    let bytes = std::fs::metadata(binary).map_or(0, |m| m.len());
    println!(
        "| {function} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1}–{:.1} | {:.2} | {:.1} | {bytes} |",
        ms(init),
        ms(bare_init),
        init.as_secs_f64() / bare_init.as_secs_f64(),
        ms(first),
        ms(warm),
        ms(quartile(2)),
        ms(quartile(1)),
        ms(quartile(3)),
        ms(cpu),
        rss as f64 / 1024.0,
    );
}
