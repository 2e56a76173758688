//! The server on a DynamoDB Local it starts itself (`--start-dynamodb-local`): its data kept in
//! the data directory, privately, out of reach of other hosts and of pages in a browser, and of a
//! second server on the same directory.

use reqwest::StatusCode;
use serde_json::json;

use super::support::{Api, Server, run_expecting_exit, tokens, unique_name};
use super::{data_dir, mode, set_mode};

#[tokio::test]
async fn on_dynamodb_local_the_data_survives_a_restart() {
    // `--start-dynamodb-local` keeps DynamoDB Local's files in the data dir (not in memory).
    let dir = data_dir();
    let flags = ["--start-dynamodb-local"];
    let server = Server::start_with(dir.path(), &flags);
    let api = Api::new(&server);
    let name = unique_name("durable");
    let registered = api.register(&name, &format!("{name}@example.com")).await;
    let (access, _) = tokens(&registered.expect(StatusCode::CREATED));
    let task = json!({ "title": "Kept by DynamoDB Local" });
    let created = api
        .post("tasks/", task, Some(&access))
        .await
        .expect(StatusCode::CREATED);
    // A second server on the same data dir would start a second DynamoDB Local on the same files:
    // it is refused before it starts anything, and the first goes on.
    let second = run_expecting_exit(
        &["--addr", "127.0.0.1:0", "--start-dynamodb-local"],
        dir.path(),
    );
    assert!(!second.status.success(), "{second:#?}");
    assert!(
        second.stderr.contains("in use by another taskmaster-local"),
        "{second:#?}"
    );
    assert!(
        !second.stderr.contains("started DynamoDB Local"),
        "{second:#?}"
    );
    api.get("tasks/", &access).await.expect(StatusCode::OK);
    // DynamoDB Local takes connections on every interface, with any signature: the server keeps
    // its tables under a key of its own, so a client without the key (another host) finds none,
    // and no page in a browser may read DynamoDB Local's answers.
    let endpoint = dynamodb_local_endpoint(&server.log());
    let key = std::fs::read_to_string(dir.path().join("dynamodb/access-key")).expect("the key");
    assert_eq!(list_tables(&endpoint, "AKIDSOMEONEELSE").await, json!([]));
    assert_eq!(
        list_tables(&endpoint, key.trim()).await,
        json!([
            "taskmaster-connections",
            "taskmaster-tasks",
            "taskmaster-users"
        ])
    );
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, &endpoint)
        .header("origin", "http://a-page.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "x-amz-target,content-type,authorization",
        )
        .send()
        .await
        .expect("a preflight");
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        preflight.headers()
    );
    // Stopped as a service manager stops it: SIGTERM ends it as cleanly as Ctrl-C, DynamoDB Local
    // with it.
    let stopped = server.terminate();
    assert!(stopped.status.success(), "{stopped:#?}");
    let dynamodb_dir = dir.path().join("dynamodb");
    assert!(
        dynamodb_dir.is_dir(),
        "DynamoDB Local's files are in the data dir"
    );
    assert_eq!(mode(&dynamodb_dir), 0o700, "DynamoDB Local's directory");
    // Its database file (what the restart below reads back) is private too.
    for file in std::fs::read_dir(&dynamodb_dir).expect("its listing") {
        let file = file.expect("an entry").path();
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    // As an older version left it: open to other users, it is made private again at the start.
    set_mode(&dynamodb_dir, 0o755);

    let server = Server::start_with(dir.path(), &flags);
    assert_eq!(mode(&dynamodb_dir), 0o700, "DynamoDB Local's directory");
    let api = Api::new(&server);
    api.login(&name).await.expect(StatusCode::OK);
    let listed = api.get("tasks/", &access).await.expect(StatusCode::OK);
    assert_eq!(listed.body["count"], 1);
    assert_eq!(listed.body["results"][0], created.body);
}

/// The server cannot work without the DynamoDB Local it started: when that dies (killed, out of
/// memory), the server stops too, saying why and with a failure status, for whatever supervises it
/// to see, instead of answering every request with a 503 for ever.
#[tokio::test]
async fn the_server_stops_when_its_dynamodb_local_dies() {
    let dir = data_dir();
    let mut server = Server::start_with(dir.path(), &["--start-dynamodb-local"]);
    let endpoint = dynamodb_local_endpoint(&server.log());
    let port = endpoint.rsplit(':').next().expect("a port");
    // Java, whose last argument is its port (`testkit::DynamoDbLocal`).
    let found = std::process::Command::new("pgrep")
        .args(["-f", "--", &format!("java .*-port {port}$")])
        .output()
        .expect("running pgrep");
    let pids = String::from_utf8(found.stdout).expect("pids");
    // The shell around it (and its forks) carries the same arguments.
    let is_java = |pid: &&str| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|name| name.trim() == "java")
    };
    let [java] = pids.split_whitespace().filter(is_java).collect::<Vec<_>>()[..] else {
        panic!("not one Java listening on {port}: {pids:?}");
    };
    let killed = std::process::Command::new("kill")
        .args(["-KILL", java])
        .status()
        .expect("running kill");
    assert!(killed.success());

    let stopped = server.wait(std::time::Duration::from_secs(20));

    assert_eq!(stopped.status.code(), Some(1), "{stopped:#?}");
    assert!(
        stopped
            .stderr
            .contains("the DynamoDB Local it started exited"),
        "{stopped:#?}"
    );
}

/// The address of the DynamoDB Local the server started, from its log.
fn dynamodb_local_endpoint(log: &str) -> String {
    let line = log
        .lines()
        .find(|line| line.contains("started DynamoDB Local"))
        .unwrap_or_else(|| panic!("no DynamoDB Local in the log: {log}"));
    let at = line.find("http://127.0.0.1:").expect("its endpoint");
    let port: String = line[at + 17..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    format!("http://127.0.0.1:{port}")
}

/// The table names DynamoDB Local lists to a client signing (badly) as `access_key`, as any host
/// could.
async fn list_tables(endpoint: &str, access_key: &str) -> serde_json::Value {
    let credential = format!("{access_key}/20260101/us-east-1/dynamodb/aws4_request");
    let answer = reqwest::Client::new()
        .post(endpoint)
        .header("x-amz-target", "DynamoDB_20120810.ListTables")
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=00"),
        )
        .body("{}")
        .send()
        .await
        .expect("a ListTables");
    let body: serde_json::Value = answer.json().await.expect("a JSON answer");
    assert!(body["TableNames"].is_array(), "{body}");
    body["TableNames"].clone()
}

/// A data dir holding the embedded store's data, started on DynamoDB Local, starts on DynamoDB
/// Local's own (empty) data: the log says so, and names the file this run does not read.
#[tokio::test]
async fn a_data_dir_of_the_other_store_is_named_in_a_warning() {
    let dir = data_dir();
    drop(Server::start(dir.path()));
    assert!(dir.path().join("taskmaster.redb").is_file());

    let server = Server::start_with(dir.path(), &["--start-dynamodb-local"]);

    let log = server.log();
    assert!(
        log.contains("also holds") && log.contains("taskmaster.redb"),
        "{log}"
    );
}
