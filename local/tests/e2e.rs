//! End to end: the built `taskmaster-local` binary on a free port, driven over real HTTP, as a new
//! user on a fresh machine would (no `TASKMASTER_JWT_SECRET`, an empty data dir).

mod support;

/// The server on a DynamoDB Local it starts itself.
#[path = "e2e/dynamodb_local.rs"]
mod dynamodb_local;

use std::path::Path;

use reqwest::StatusCode;
use serde_json::json;
use support::{Api, Server, run_expecting_exit, run_expecting_exit_in, tokens, unique_name};

fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary data dir")
}

#[tokio::test]
async fn a_new_user_registers_logs_in_creates_lists_and_refreshes() {
    let dir = data_dir();
    let server = Server::start(dir.path());
    let api = Api::new(&server);
    let name = unique_name("Walker");
    let email = format!("{name}@Example.COM");

    let registered = api
        .register(&name, &email)
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(registered.str("username"), name.to_lowercase());
    assert_eq!(registered.str("email"), email.to_lowercase());
    assert_eq!(registered.body["is_superuser"], false);
    assert!(
        registered.body.get("password").is_none(),
        "{}",
        registered.body
    );

    let logged_in = api
        .login(&email.to_uppercase())
        .await
        .expect(StatusCode::OK);
    assert_eq!(logged_in.str("id"), registered.str("id"));
    assert!(
        logged_in.body["last_login"].is_string(),
        "{}",
        logged_in.body
    );
    let (access, refresh) = tokens(&logged_in);

    let task = json!({ "title": "Walk the whole API", "status_task": "IN PROGRESS" });
    let created = api.post("tasks/", task, Some(&access)).await;
    let created = created.expect(StatusCode::CREATED);
    assert_eq!(created.str("title"), "Walk the whole API");
    assert_eq!(created.str("description"), "");
    assert_eq!(created.str("status_task"), "IN PROGRESS");
    let id = created.str("id");

    let listed = api.get("tasks/", &access).await.expect(StatusCode::OK);
    assert_eq!(listed.body["count"], 1);
    assert_eq!(listed.body["results"], json!([created.body]));
    assert!(listed.body["next"].is_null() && listed.body["previous"].is_null());

    let rotated = api.refresh(&refresh).await;
    let rotated = rotated.expect(StatusCode::OK);
    let (new_access, new_refresh) = (rotated.str("access"), rotated.str("refresh"));
    assert_ne!(new_refresh, refresh, "the refresh token rotates");
    let fetched = api.get(&format!("tasks/{id}/"), &new_access).await;
    assert_eq!(fetched.expect(StatusCode::OK).body, created.body);
    let reused = api.refresh(&refresh).await;
    reused.expect(StatusCode::UNAUTHORIZED);
    // The replay ended every session of the user: the rotated pair is dead too.
    let next = api.refresh(&new_refresh).await;
    next.expect(StatusCode::UNAUTHORIZED);
    let gone = api.get(&format!("tasks/{id}/"), &new_access).await;
    gone.expect(StatusCode::UNAUTHORIZED);

    let stopped = server.interrupt();
    assert!(
        stopped.status.success(),
        "Ctrl-C ends the server cleanly: {stopped:#?}"
    );
    assert_eq!(
        stopped.later_stdout,
        Vec::<String>::new(),
        "one stdout line only"
    );
    let logged = stopped
        .stderr
        .lines()
        .filter(|line| line.contains("/api/v1/"))
        .count();
    assert!(
        logged >= 7,
        "a log line per request on stderr:\n{}",
        stopped.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_simultaneous_registrations_of_one_username_make_one_account() {
    let dir = data_dir();
    let server = Server::start(dir.path());
    let api = Api::new(&server);
    let name = unique_name("racer");

    let racers: Vec<_> = (0..8)
        .map(|i| {
            let api = api.clone();
            // Half of them spell the name in capitals: it is the same name.
            let username = if i % 2 == 0 {
                name.to_uppercase()
            } else {
                name.clone()
            };
            let email = format!("racer{i}.{name}@example.com");
            tokio::spawn(async move { (email.clone(), api.register(&username, &email).await) })
        })
        .collect();
    let mut answers = Vec::new();
    for racer in racers {
        answers.push(racer.await.expect("a registration"));
    }

    let statuses: Vec<StatusCode> = answers.iter().map(|(_, answer)| answer.status).collect();
    let winners: Vec<&String> = answers
        .iter()
        .filter(|(_, answer)| answer.status == StatusCode::CREATED)
        .map(|(email, _)| email)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one 201: {statuses:?}");
    for (_, answer) in answers
        .iter()
        .filter(|(_, a)| a.status != StatusCode::CREATED)
    {
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        let messages = answer.body["username"].as_array();
        assert!(messages.is_some_and(|m| !m.is_empty()), "{}", answer.body);
        assert!(answer.body.get("email").is_none(), "only the name is taken");
    }
    let logged_in = api.login(&name).await.expect(StatusCode::OK);
    assert_eq!(&logged_in.str("email"), winners[0]);
    for (email, answer) in &answers {
        if answer.status != StatusCode::CREATED {
            api.login(email).await.expect(StatusCode::UNAUTHORIZED);
        }
    }
}

#[tokio::test]
async fn a_restart_on_the_same_data_dir_keeps_users_tasks_and_the_secret() {
    let dir = data_dir();
    let server = Server::start(dir.path());
    let api = Api::new(&server);
    let name = unique_name("keeper");
    let registered = api.register(&name, &format!("{name}@example.com")).await;
    let (access, refresh) = tokens(&registered.expect(StatusCode::CREATED));
    let task = json!({ "title": "Survive a restart", "description": "kept on disk" });
    let created = api.post("tasks/", task, Some(&access)).await;
    let created = created.expect(StatusCode::CREATED);
    let secret_path = dir.path().join("jwt-secret");
    let secret = std::fs::read_to_string(&secret_path).expect("the generated secret");
    assert!(secret.trim().len() >= 32, "a secret of at least 32 bytes");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_path)
            .expect("secret metadata")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the secret is readable by its owner only"
        );
    }
    let stopped = server.interrupt();
    assert!(stopped.status.success(), "{stopped:#?}");

    let server = Server::start(dir.path());
    let api = Api::new(&server);

    let task_url = format!("tasks/{}/", created.str("id"));
    let fetched = api.get(&task_url, &access).await.expect(StatusCode::OK);
    assert_eq!(
        fetched.body, created.body,
        "a token from before the restart still works"
    );
    let listed = api.get("tasks/", &access).await.expect(StatusCode::OK);
    assert_eq!(listed.body["count"], 1);
    api.login(&name).await.expect(StatusCode::OK);
    let rotated = api.refresh(&refresh).await;
    let (_, refresh) = {
        let rotated = rotated.expect(StatusCode::OK);
        (rotated.str("access"), rotated.str("refresh"))
    };
    let kept = std::fs::read_to_string(&secret_path).expect("the secret");
    assert_eq!(kept, secret, "the secret is not regenerated");

    // Killed outright, it still keeps what it acknowledged.
    drop(server);
    let server = Server::start(dir.path());
    let api = Api::new(&server);
    let listed = api.get("tasks/", &access).await.expect(StatusCode::OK);
    assert_eq!(listed.body["count"], 1);
    let rotated = api.refresh(&refresh).await;
    rotated.expect(StatusCode::OK);
}

#[test]
fn a_bad_flag_exits_non_zero_with_a_clear_message() {
    let dir = data_dir();
    let cases: [(&[&str], &[&str]); 3] = [
        (&["--addr", "nonsense"], &["--addr", "nonsense"]),
        (&["--no-such-flag"], &["--no-such-flag"]),
        // A server flag before a command is refused, not dropped: the command would otherwise
        // work on another store than the one the flags name.
        (
            &["--addr", "127.0.0.1:0", "set-password", "--username", "ada"],
            &["set-password", "--addr"],
        ),
    ];

    for (args, mentioned) in cases {
        let failed = run_expecting_exit(args, dir.path());

        assert!(!failed.status.success(), "{args:?} succeeded: {failed:#?}");
        for word in mentioned {
            assert!(
                failed.stderr.contains(word),
                "{args:?}: stderr lacks {word:?}: {failed:#?}"
            );
        }
        assert!(
            !failed.stdout.contains("listening"),
            "{args:?}: {failed:#?}"
        );
        assert!(!failed.stderr.contains("panicked"), "{args:?}: {failed:#?}");
    }
}

#[test]
fn an_unusable_data_dir_exits_non_zero_with_a_clear_message() {
    let dir = data_dir();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("writing a file");
    let under_file = file.join("data");

    let failed = run_expecting_exit(&["--addr", "127.0.0.1:0"], &under_file);

    assert!(!failed.status.success(), "{failed:#?}");
    let path = under_file.display().to_string();
    assert!(
        failed.stderr.contains(&path),
        "the message names the dir: {failed:#?}"
    );
    assert!(
        failed.stderr.contains("data dir"),
        "the message says what is wrong: {failed:#?}"
    );
    assert!(!failed.stderr.contains("panicked"), "{failed:#?}");
    assert!(!failed.stdout.contains("listening"), "{failed:#?}");
}

#[test]
fn a_short_kept_signing_key_exits_non_zero_naming_its_file() {
    let dir = data_dir();
    let key_file = dir.path().join("jwt-secret");
    std::fs::write(&key_file, "zz").expect("writing a short key");

    let failed = run_expecting_exit(&["--addr", "127.0.0.1:0"], dir.path());

    assert!(!failed.status.success(), "{failed:#?}");
    assert!(
        failed.stderr.contains(&key_file.display().to_string()),
        "the message names the key's file: {failed:#?}"
    );
    assert!(
        !failed.stderr.contains("TASKMASTER_JWT_SECRET"),
        "not the variable, which is unset: {failed:#?}"
    );
    assert!(!failed.stdout.contains("listening"), "{failed:#?}");
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_fails_while_the_first_runs() {
    let dir = data_dir();
    let first = Server::start(dir.path());
    let api = Api::new(&first);
    let name = unique_name("first");
    api.register(&name, &format!("{name}@example.com"))
        .await
        .expect(StatusCode::CREATED);

    let failed = run_expecting_exit(&["--addr", "127.0.0.1:0"], dir.path());

    assert!(!failed.status.success(), "{failed:#?}");
    assert!(
        failed.stderr.contains("in use"),
        "the message says the data is in use: {failed:#?}"
    );
    assert!(!failed.stderr.contains("panicked"), "{failed:#?}");
    assert!(!failed.stdout.contains("listening"), "{failed:#?}");
    api.login(&name).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn a_start_that_cannot_listen_creates_nothing() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to hold");
    let addr = taken.local_addr().expect("its address").to_string();
    let parent = data_dir();
    let dir = parent.path().join("never-made");

    let failed = run_expecting_exit(&["--addr", &addr], &dir);

    assert!(!failed.status.success(), "{failed:#?}");
    assert!(failed.stderr.contains("cannot listen"), "{failed:#?}");
    assert!(!dir.exists(), "no data dir for a server that never ran");

    // Nor one that cannot start DynamoDB Local: started where it is not installed.
    let elsewhere = data_dir();
    let args = ["--addr", "127.0.0.1:0", "--start-dynamodb-local"];
    let failed = run_expecting_exit_in(elsewhere.path(), &args, &dir);
    assert!(failed.stderr.contains("not installed"), "{failed:#?}");
    assert!(!dir.exists(), "no data dir for a server that never ran");
}

/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    meta.permissions().mode() & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[tokio::test]
async fn a_new_data_directory_and_its_files_are_readable_by_their_owner_only() {
    let parent = data_dir();
    let dir = parent.path().join("fresh");
    let server = Server::start(&dir);
    Api::new(&server)
        .register(&unique_name("Private"), "private@example.com")
        .await
        .expect(StatusCode::CREATED);

    assert_eq!(mode(&dir), 0o700, "the data directory");
    assert_eq!(mode(&dir.join("taskmaster.redb")), 0o600, "the database");
    assert_eq!(mode(&dir.join("jwt-secret")), 0o600, "the signing key");
}

#[tokio::test]
async fn a_signing_key_left_open_to_others_is_made_private_at_the_start() {
    let dir = data_dir();
    let secret_path = dir.path().join("jwt-secret");
    let secret = "0123456789abcdef".repeat(6);
    std::fs::write(&secret_path, &secret).expect("writing a signing key");
    // As an older version (or a hand-made key) left it.
    set_mode(&secret_path, 0o644);

    let _server = Server::start(dir.path());

    assert_eq!(mode(&secret_path), 0o600, "the signing key");
    let kept = std::fs::read_to_string(&secret_path).expect("the signing key");
    assert_eq!(kept, secret, "the key itself is kept");
}

/// A SIGTERM sent as soon as the server says it is listening stops it cleanly: its signal handlers
/// are in place before that line, not at its first wait for them (then the signal's default
/// action ended it).
#[tokio::test]
async fn a_stop_right_after_the_listening_line_is_clean() {
    let dir = data_dir();
    for attempt in 0..5 {
        let stopped = Server::start(dir.path()).terminate();
        assert!(stopped.status.success(), "attempt {attempt}: {stopped:#?}");
    }
}

/// DynamoDB Local starts in a data dir given as a relative path, as the default `.taskmaster` is
/// (it failed with "Invalid directory for database creation": Java ran inside the directory its
/// relative `-dbPath` named).
#[tokio::test]
async fn dynamodb_local_starts_in_a_relative_data_dir() {
    let here = std::env::current_dir().expect("a working directory");
    let parent = tempfile::tempdir_in(&here).expect("a directory here");
    let relative = parent.path().strip_prefix(&here).unwrap().join("data");
    assert!(relative.is_relative(), "{}", relative.display());

    let server = Server::start_with(&relative, &["--start-dynamodb-local"]);

    Api::new(&server)
        .register(&unique_name("Relative"), "relative@example.com")
        .await
        .expect(StatusCode::CREATED);
}
