//! `taskmaster-local import-django` end to end: the binary imports a fixture database of the
//! original app into each store; the stores, and the server over them, show the result.

/// Runs each of the async `fn case(dynamodb: bool)` named on the embedded store and on DynamoDB
/// Local; defined before the modules so that theirs run on both too.
macro_rules! on_both_stores {
    ($($case:ident),+ $(,)?) => {
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $case() {
                super::$case(false).await;
            })+
        }
        mod on_dynamodb {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $case() {
                super::$case(true).await;
            })+
        }
    };
}

#[path = "import/dry_run.rs"]
mod dry_run;
#[path = "import/fixture.rs"]
mod fixture;
#[path = "import/reimport.rs"]
mod reimport;
#[path = "import/report.rs"]
mod report;
#[path = "import/sessions.rs"]
mod sessions;
#[path = "import/source_rows.rs"]
mod source_rows;
mod support;

use std::collections::HashSet;
use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::json;
use shared::domain::{Task, TaskStatus, UserId, Username};
use shared::store::{DynamoConfig, DynamoStore, EmbeddedStore, ListQuery, Position, Stores};
use testkit::DynamoDbLocal;

use fixture::{BUSY, BUSY_TASKS, IMPORTABLE_TASKS, IMPORTABLE_USERS, OLD_PASSWORD};
use support::{Api, Failed, Server, run_expecting_exit, unique_name};

/// A fixture database and an empty target: a data dir, or fresh tables on DynamoDB Local.
struct Setup {
    dir: tempfile::TempDir,
    db: PathBuf,
    dynamodb: Option<DynamoConfig>,
}

impl Setup {
    async fn new(dynamodb: bool) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = dir.path().join("db.sqlite3");
        fixture::build(&db);
        let dynamodb = if dynamodb {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let local = DynamoDbLocal::per_process(&root)
                .await
                .unwrap_or_else(|e| panic!("DynamoDB Local is required for this test: {e:#}"));
            let suffix = unique_name("i").replace('_', "-");
            Some(DynamoConfig {
                users_table: format!("users-{suffix}"),
                tasks_table: format!("tasks-{suffix}"),
                connections_table: format!("conns-{suffix}"),
                endpoint: Some(local.endpoint().to_owned()),
                emulator_key: None,
            })
        } else {
            None
        };
        Self { dir, db, dynamodb }
    }

    /// The flags that choose the target store.
    fn target_flags(&self) -> Vec<String> {
        let Some(config) = &self.dynamodb else {
            return Vec::new();
        };
        [
            "--dynamodb-endpoint",
            config.endpoint.as_deref().unwrap_or_default(),
            "--users-table",
            &config.users_table,
            "--tasks-table",
            &config.tasks_table,
            "--connections-table",
            &config.connections_table,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// Runs the import with `extra` flags, to its end.
    fn import(&self, extra: &[&str]) -> Failed {
        let db = self.db.display().to_string();
        let mut args = vec!["import-django".to_owned(), "--from".to_owned(), db];
        args.extend(self.target_flags());
        args.extend(extra.iter().map(|flag| flag.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_expecting_exit(&args, self.dir.path())
    }

    /// The target, opened directly (the embedded file only while no process holds it).
    fn stores(&self) -> Stores {
        match &self.dynamodb {
            Some(config) => Stores::new(DynamoStore::new(config.patient_client(), config)),
            None => {
                let path = self.dir.path().join("taskmaster.redb");
                Stores::new(EmbeddedStore::open(&path).expect("opening the imported store"))
            }
        }
    }

    fn server(&self) -> Server {
        let flags = self.target_flags();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Server::start_with(self.dir.path(), &flags)
    }
}

/// Asserts how a run ended: its exit code and report lines.
#[track_caller]
fn assert_run(run: &Failed, code: i32, lines: &[&str]) {
    assert_eq!(run.status.code(), Some(code), "{run:#?}");
    for line in lines {
        assert!(run.stdout.contains(line), "no {line:?} in:\n{}", run.stdout);
    }
}

fn user_id(name: &str) -> UserId {
    let user = fixture::users().into_iter().find(|u| u.username == name);
    UserId::parse(&fixture::api_id(&user.expect("a fixture user"))).expect("an id")
}

/// Every task of `owner`, newest first, read a page of 100 at a time.
async fn all_tasks(stores: &Stores, owner: UserId) -> (u64, Vec<Task>) {
    let (mut tasks, mut position) = (Vec::new(), Position::First);
    loop {
        let query = ListQuery {
            status: None,
            limit: 100,
            position,
        };
        let page = stores
            .tasks
            .list_tasks(owner, first_session(owner), &query)
            .await
            .expect("listing");
        tasks.extend(page.tasks.iter().cloned());
        match page.tasks.last() {
            Some(last) if page.more => position = Position::After(last.order()),
            _ => return (page.count, tasks),
        }
    }
}

/// What a full import leaves: the importable users, exact counts, lists by creation time.
async fn assert_imported(stores: &Stores, busy_tasks: usize) {
    let name = |n: &str| Username::existing(n.into()).expect("a name");
    for (username, expected) in [
        ("ada", true),
        ("grace.hopper", true),
        ("sleeper", true),
        ("first.last+x@home", true),
        ("dupe", false),
        ("bad", false),
    ] {
        let found = stores.users.user_by_username(&name(username)).await;
        assert_eq!(found.expect("reading").is_some(), expected, "{username}");
    }
    let grace = stores
        .users
        .user(user_id("Grace.Hopper"))
        .await
        .expect("reading");
    assert_eq!(grace.expect("grace").email.as_ref(), "grace@example.com");
    let sleeper = stores
        .users
        .user(user_id("sleeper"))
        .await
        .expect("reading");
    assert!(
        sleeper
            .expect("sleeper")
            .password_hash
            .starts_with("!pbkdf2_sha256$")
    );

    let (count, tasks) = all_tasks(stores, user_id(BUSY)).await;
    assert_eq!((count, tasks.len()), (busy_tasks as u64, busy_tasks));
    assert!(
        tasks
            .windows(2)
            .all(|w| w[0].date_created > w[1].date_created),
        "newest first by creation time"
    );
    let ids: HashSet<_> = tasks.iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), busy_tasks, "each task once");
    let expected = fixture::busy_task_created(BUSY_TASKS - 1).and_utc();
    assert_eq!(
        tasks[0].date_created.to_string(),
        expected.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    );
    for (status, want) in [(TaskStatus::ToDo, 334), (TaskStatus::Done, 333)] {
        let query = ListQuery {
            status: Some(status),
            limit: 1,
            position: Position::First,
        };
        let page = stores
            .tasks
            .list_tasks(user_id(BUSY), first_session(user_id(BUSY)), &query)
            .await;
        assert_eq!(page.expect("listing").count, want, "{status:?}");
    }
}

const REFUSALS: [&str; 4] = [
    "user \"dupe\": its email ada@example.com is also user \"ada\"'s",
    "user \"bad\": its email \"not-an-email\" is refused",
    "it has no owner (--orphans-to USERNAME",
    "was not imported",
];

on_both_stores!(
    the_fixture_imports_with_a_report_of_every_row_left_out,
    a_second_run_imports_nothing_twice,
    a_crashed_run_is_finished_by_the_next,
    a_dry_run_reports_and_writes_nothing,
    orphans_to_gives_ownerless_tasks_to_that_user,
    old_passwords_log_in_after_the_import_and_are_upgraded,
);

async fn the_fixture_imports_with_a_report_of_every_row_left_out(dynamodb: bool) {
    let setup = Setup::new(dynamodb).await;

    let run = setup.import(&[]);

    let totals = [
        format!(
            "users: 6 in the source: {IMPORTABLE_USERS} imported, 0 already there, 2 not imported"
        ),
        format!(
            "tasks: 1004 in the source: {IMPORTABLE_TASKS} imported, 0 already there, 2 not imported"
        ),
    ];
    assert_run(&run, 2, &[&totals[0], &totals[1]]);
    assert_run(&run, 2, &REFUSALS);
    assert_run(&run, 2, &["user \"sleeper\": inactive in the original"]);
    assert_imported(&setup.stores(), BUSY_TASKS).await;
}

async fn a_second_run_imports_nothing_twice(dynamodb: bool) {
    let setup = Setup::new(dynamodb).await;
    assert_run(&setup.import(&[]), 2, &[]);

    let again = setup.import(&[]);

    let totals = [
        format!("users: 6 in the source: 0 imported, {IMPORTABLE_USERS} already there"),
        format!("tasks: 1004 in the source: 0 imported, {IMPORTABLE_TASKS} already there"),
    ];
    assert_run(&again, 2, &[&totals[0], &totals[1]]);
    assert_imported(&setup.stores(), BUSY_TASKS).await;
}

async fn a_crashed_run_is_finished_by_the_next(dynamodb: bool) {
    let setup = Setup::new(dynamodb).await;

    let crashed = setup.import(&["--crash-after-batches", "4"]);
    assert!(!crashed.status.success(), "{crashed:#?}");
    let (partial, listed) = all_tasks(&setup.stores(), user_id(BUSY)).await;
    assert!(
        partial > 0 && partial < BUSY_TASKS as u64 && listed.len() as u64 == partial,
        "the crash left part of the tasks, counted exactly: {partial}"
    );
    let resumed = setup.import(&[]);

    let totals = [
        format!("users: 6 in the source: 0 imported, {IMPORTABLE_USERS} already there"),
        format!(
            "{} imported, {partial} already there",
            IMPORTABLE_TASKS - partial
        ),
    ];
    assert_run(&resumed, 2, &[&totals[0], &totals[1]]);
    assert_imported(&setup.stores(), BUSY_TASKS).await;
}

async fn a_dry_run_reports_and_writes_nothing(dynamodb: bool) {
    let setup = Setup::new(dynamodb).await;

    let run = setup.import(&["--dry-run"]);

    let totals = [
        format!("users: 6 in the source: {IMPORTABLE_USERS} to import"),
        format!("tasks: 1004 in the source: {IMPORTABLE_TASKS} to import"),
        "dry run: nothing was written".to_owned(),
        "does not exist: the import would create it (read as empty)".to_owned(),
    ];
    assert_run(&run, 2, &[&totals[0], &totals[1], &totals[2], &totals[3]]);
    assert_run(&run, 2, &REFUSALS);
    assert!(
        !dry_run::target_exists(&setup).await,
        "nothing created: {run:#?}"
    );
}

async fn orphans_to_gives_ownerless_tasks_to_that_user(dynamodb: bool) {
    let setup = Setup::new(dynamodb).await;

    let run = setup.import(&["--orphans-to", "ADA"]);

    let totals = format!(
        "{} imported, 0 already there, 1 not imported",
        IMPORTABLE_TASKS + 1
    );
    // The first run says where they went too, not only the runs after it.
    let note = "ownerless tasks go to user \"ada\" (--orphans-to)";
    assert_run(&run, 2, &[&totals, note]);
    let stores = setup.stores();
    let (count, tasks) = all_tasks(&stores, user_id(BUSY)).await;
    assert_eq!(count, BUSY_TASKS as u64 + 1);
    assert!(
        tasks
            .iter()
            .any(|task| task.title.as_ref() == "made anonymously")
    );
}

async fn old_passwords_log_in_after_the_import_and_are_upgraded(dynamodb: bool) {
    let setup = Setup::new(dynamodb).await;
    assert_run(&setup.import(&[]), 2, &[]);
    let server = setup.server();
    let api = Api::new(&server);

    let mut access = String::new();
    for login in ["ada", "Grace.Hopper", "fl@example.com", "first.last+x@home"] {
        let body = json!({ "username": login, "password": OLD_PASSWORD });
        let answer = api.post("auth/login/", body, None).await;
        let answer = answer.expect(StatusCode::OK);
        if login == "ada" {
            access = support::tokens(&answer).0;
        }
    }
    let wrong = json!({ "username": "ada", "password": "not-it" });
    api.post("auth/login/", wrong, None)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    let sleeper = json!({ "username": "sleeper", "password": OLD_PASSWORD });
    api.post("auth/login/", sleeper, None)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    let page = api.get("tasks/", &access).await.expect(StatusCode::OK);
    assert_eq!(page.body["count"], BUSY_TASKS);
    assert_eq!(
        page.body["results"][0]["title"],
        format!("task {}", BUSY_TASKS - 1)
    );
    drop(server);

    let ada = setup
        .stores()
        .users
        .user(user_id(BUSY))
        .await
        .expect("reading");
    let hash = ada.expect("ada").password_hash;
    assert!(hash.starts_with("$argon2id$"), "upgraded on login: {hash}");

    // The source's hash no longer matters: a re-run does not say ada cannot log in.
    fixture::edit(
        &setup.db,
        "UPDATE accounts_user SET password = 'sha1$salt$0123' WHERE username = 'ada'",
    );
    let again = setup.import(&[]);
    assert_run(&again, 2, &["user \"sleeper\": inactive in the original"]);
    assert!(!again.stdout.contains("user \"ada\": "), "{}", again.stdout);
}

/// An imported user's first session: epoch 0, no login session.
fn first_session(user: UserId) -> shared::domain::Session {
    shared::domain::Session {
        user,
        epoch: 0,
        sid: None,
    }
}
