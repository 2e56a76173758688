//! The import's report: whom a task not imported belongs to, and a reader that stops reading it.

use std::process::{Command, Stdio};

use super::fixture::{self, BUSY};
use super::{Setup, assert_run, user_id};

/// Adds a task owned by `owner` (an id of 32 hex characters, in the source or not) to the source.
fn add_task(setup: &Setup, id: &str, owner: &str) {
    fixture::add_task(&setup.db, id, Some(owner), "added", "2024-05-16 04:17:48");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_users_tasks_are_reported_as_that_users_with_why() {
    let setup = Setup::new(false).await;
    let bads = "c0000000000000000000000000000001";
    let strangers = "c0000000000000000000000000000002";
    add_task(&setup, bads, &fixture::source_id("bad"));
    add_task(&setup, strangers, "d0000000000000000000000000000009");

    let run = setup.import(&[]);

    let bad = format!(
        "task {bads}: its owner, user \"bad\", was not imported: its email \"not-an-email\" is refused"
    );
    let dupe = "its owner, user \"dupe\", was not imported: its email ada@example.com is also user \"ada\"'s";
    let stranger = format!(
        "task {strangers}: its owner d0000000-0000-0000-0000-000000000009 is not in the source's users"
    );
    assert_run(&run, 2, &[&bad, dupe, &stranger]);
    let wrongly = run.stdout.matches("is not in the source's users").count();
    assert_eq!(wrongly, 1, "only the stranger's task:\n{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_ends_the_report_not_the_import() {
    let setup = Setup::new(false).await;
    let (reader, writer) = std::io::pipe().expect("a pipe");
    // The reader is gone before the first line, as `| head` is once it has its lines.
    drop(reader);

    let run = Command::new(env!("CARGO_BIN_EXE_taskmaster-local"))
        .args(["import-django", "--from"])
        .arg(&setup.db)
        .arg("--data-dir")
        .arg(setup.dir.path())
        .env_remove("TASKMASTER_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("running the import");

    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let ada = setup.stores().users.user(user_id(BUSY)).await;
    assert!(ada.expect("reading").is_some(), "the import ran to its end");
}
