//! A dry run writes nothing: no data dir, no store file, no change to an existing store; nor
//! does a run that fails on its `--orphans-to` user. A run that cannot start says why.

use super::support::run_expecting_exit;
use super::{IMPORTABLE_TASKS, IMPORTABLE_USERS, Setup, assert_run};

/// Whether any of the target exists: the embedded store's file, or a DynamoDB table.
pub async fn target_exists(setup: &Setup) -> bool {
    let Some(config) = &setup.dynamodb else {
        return setup.dir.path().join("taskmaster.redb").exists();
    };
    let client = config.patient_client();
    let tables = [
        &config.users_table,
        &config.tasks_table,
        &config.connections_table,
    ];
    for table in tables {
        if client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .is_ok()
        {
            return true;
        }
    }
    false
}

on_both_stores!(an_orphans_to_user_that_cannot_take_tasks_fails_the_run_before_it_writes);

async fn an_orphans_to_user_that_cannot_take_tasks_fails_the_run_before_it_writes(dynamodb: bool) {
    let setup = Setup::new(dynamodb).await;
    let refused = "is not imported: its";
    for (name, why) in [
        (
            "nobody_here",
            "no such user in the target or in the source".to_owned(),
        ),
        (
            "bad",
            format!("user \"bad\" {refused} email \"not-an-email\" is refused"),
        ),
        (
            "dupe",
            format!("user \"dupe\" {refused} username or email is also user \"ada\"'s"),
        ),
    ] {
        let run = setup.import(&["--orphans-to", name]);

        assert_eq!(run.status.code(), Some(1), "{run:#?}");
        let said = format!("--orphans-to {name:?}: {why}");
        assert!(run.stderr.contains(&said), "no {said:?} in {run:#?}");
        assert!(!target_exists(&setup).await, "{name}: written: {run:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_into_a_missing_data_dir_creates_nothing_and_reads_it_as_empty() {
    let setup = Setup::new(false).await;
    let data_dir = setup.dir.path().join("not-yet");
    let db = setup.db.display().to_string();

    let run = run_expecting_exit(&["import-django", "--from", &db, "--dry-run"], &data_dir);

    let totals = format!("users: 6 in the source: {IMPORTABLE_USERS} to import, 0 already there");
    let missing = "taskmaster.redb does not exist: the import would create it";
    assert_run(&run, 2, &[&totals, missing, "dry run: nothing was written"]);
    assert!(!data_dir.exists(), "the data dir was created: {run:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_over_an_imported_store_leaves_its_file_as_it_was() {
    let setup = Setup::new(false).await;
    assert_run(&setup.import(&[]), 2, &[]);
    let file = setup.dir.path().join("taskmaster.redb");
    let before = std::fs::read(&file).expect("reading the store");

    let run = setup.import(&["--dry-run"]);

    let totals = [
        format!("users: 6 in the source: 0 to import, {IMPORTABLE_USERS} already there"),
        format!("tasks: 1004 in the source: 0 to import, {IMPORTABLE_TASKS} already there"),
    ];
    assert_run(&run, 2, &[&totals[0], &totals[1]]);
    let after = std::fs::read(&file).expect("reading the store");
    assert!(before == after, "the dry run changed {}", file.display());
}

#[tokio::test]
async fn a_missing_or_foreign_database_exits_1_and_says_why() {
    let setup = Setup::new(false).await;
    let foreign = setup.dir.path().join("foreign.sqlite3");
    rusqlite::Connection::open(&foreign)
        .and_then(|db| db.execute_batch("CREATE TABLE other (id integer)"))
        .expect("a database of something else");
    let missing = setup.dir.path().join("missing.sqlite3");

    for (path, why) in [
        (missing, "does not exist"),
        (foreign, "is not the original app's database"),
    ] {
        let path = path.display().to_string();
        let run = run_expecting_exit(&["import-django", "--from", &path], setup.dir.path());
        assert_eq!(run.status.code(), Some(1), "{run:#?}");
        assert!(run.stderr.contains(why), "{run:#?}");
    }
    let orphans = setup.import(&["--orphans-to", "nobody_here"]);
    assert_eq!(orphans.status.code(), Some(1), "{orphans:#?}");
    assert!(
        orphans.stderr.contains("--orphans-to \"nobody_here\""),
        "{orphans:#?}"
    );
}

/// A source a writer keeps locked (the original app still running, in SQLite's default journal
/// mode) is waited for 5 s, then refused with a message that says so, and nothing is written:
/// the import reads a copy it takes at once, never the live file row by row.
#[tokio::test]
async fn a_source_kept_locked_by_a_writer_exits_1_and_says_so() {
    let setup = Setup::new(false).await;
    let writer = rusqlite::Connection::open(&setup.db).expect("the source");
    writer
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("a writer's lock");

    let run = setup.import(&[]);

    assert_eq!(run.status.code(), Some(1), "{run:#?}");
    assert!(run.stderr.contains("locked by another process"), "{run:#?}");
    assert!(!target_exists(&setup).await, "nothing written");
    writer.execute_batch("COMMIT").expect("the lock let go");
}

/// An import into the data dir of a running server is refused, whichever store the server runs
/// on: one on DynamoDB Local would never see an embedded store written beside it (the import
/// used to report every row imported into it).
#[tokio::test]
async fn an_import_into_the_data_dir_of_a_server_on_dynamodb_local_is_refused() {
    let setup = Setup::new(false).await;
    let _server = super::support::Server::start_with(setup.dir.path(), &["--start-dynamodb-local"]);

    let run = setup.import(&[]);

    assert!(!run.status.success(), "{run:#?}");
    assert!(
        run.stderr.contains("in use by another taskmaster-local"),
        "{run:#?}"
    );
    assert!(!setup.dir.path().join("taskmaster.redb").exists());
}

/// A dry run into an embedded store a running server holds open is refused, saying what to do,
/// as the import itself would be.
#[tokio::test]
async fn a_dry_run_beside_a_running_embedded_server_is_refused() {
    let setup = Setup::new(false).await;
    let _server = super::support::Server::start(setup.dir.path());

    let run = setup.import(&["--dry-run"]);

    assert_eq!(run.status.code(), Some(1), "{run:#?}");
    assert!(
        run.stderr.contains("a taskmaster-local serving it?"),
        "{run:#?}"
    );
}
