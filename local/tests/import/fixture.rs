//! The original app's SQLite database, built here: its two tables as its model made them, and
//! rows covering what the move-in must handle (mixed-case names, an email that differs from
//! another only by case, an invalid email, an inactive user, a legacy-shaped username, an
//! ownerless task, a user with 1,000 tasks whose random ids disagree with their creation order).

use std::path::Path;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rusqlite::{Connection, params};
use testkit::original::{DJANGO_ITERATIONS, django_hash};

/// Every fixture user's password in the original (six characters: the original allowed that).
pub const OLD_PASSWORD: &str = "s3cret";
/// The user with many tasks, and how many.
pub const BUSY: &str = "ada";
pub const BUSY_TASKS: usize = 1_000;

/// One fixture user: (id as 32 hex, username, email, active, tasks).
pub struct FixtureUser {
    pub id: String,
    pub username: &'static str,
    pub email: &'static str,
    active: bool,
    pub tasks: usize,
}

/// The users, in the order they joined. `dupe` has `ada`'s email in another case and `bad` an
/// invalid one: both are reported, and so is `dupe`'s task.
pub fn users() -> Vec<FixtureUser> {
    let user = |n: u128, username, email, active, tasks| FixtureUser {
        id: format!("{:032x}", 0xa0_u128 << 120 | n),
        username,
        email,
        active,
        tasks,
    };
    vec![
        user(1, BUSY, "ada@example.com", true, BUSY_TASKS),
        user(2, "Grace.Hopper", "Grace@Example.COM", true, 2),
        user(3, "dupe", "ADA@example.com", true, 1),
        user(4, "bad", "not-an-email", true, 0),
        user(5, "sleeper", "sleeper@example.com", false, 0),
        user(6, "first.last+x@home", "fl@example.com", true, 0),
    ]
}

/// The users the import brings over.
pub const IMPORTABLE_USERS: u64 = 4;
/// Tasks it brings over without `--orphans-to`: ada's and Grace's.
pub const IMPORTABLE_TASKS: u64 = BUSY_TASKS as u64 + 2;

/// The creation time of ada's task `n` (one minute apart, the newest last).
pub fn busy_task_created(n: usize) -> NaiveDateTime {
    start() + Duration::minutes(n as i64)
}

fn start() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 5, 16)
        .and_then(|day| day.and_hms_micro_opt(4, 17, 48, 532_089))
        .expect("a date")
}

fn stamp(time: NaiveDateTime) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Writes the fixture database at `path`.
pub fn build(path: &Path) {
    let mut db = Connection::open(path).expect("creating the fixture database");
    db.execute_batch(
        "CREATE TABLE accounts_user (
            id char(32) NOT NULL PRIMARY KEY, username varchar(255) NOT NULL UNIQUE,
            email varchar(255) NOT NULL UNIQUE, password varchar(128) NULL,
            first_name varchar(255) NULL, last_name varchar(255) NULL, last_login datetime NULL,
            date_joined datetime NOT NULL, date_created datetime NOT NULL,
            last_updated datetime NOT NULL, is_superuser bool NOT NULL, is_staff bool NOT NULL,
            is_active bool NOT NULL);
        CREATE TABLE taskmanager_task (
            id char(32) NOT NULL PRIMARY KEY,
            user_id char(32) NULL REFERENCES accounts_user (id),
            title varchar(100) NOT NULL, description text NOT NULL,
            status_task varchar(20) NOT NULL, date_created datetime NOT NULL,
            last_updated datetime NOT NULL);",
    )
    .expect("creating the original's tables");
    let tx = db.transaction().expect("a transaction");
    // One real hash at the original's cost; the others cheaper, as an older Django made them.
    let busy_hash = django_hash(OLD_PASSWORD, "adasalt0123", DJANGO_ITERATIONS);
    let cheap_hash = django_hash(OLD_PASSWORD, "othersalt42", 1_000);
    for (n, user) in users().iter().enumerate() {
        let joined = stamp(start() - Duration::days(400 - n as i64));
        let hash = if user.username == BUSY {
            &busy_hash
        } else {
            &cheap_hash
        };
        tx.execute(
            "INSERT INTO accounts_user VALUES (?1, ?2, ?3, ?4, 'First', NULL, NULL, ?5, ?5, ?5, 0, 0, ?6)",
            params![user.id, user.username, user.email, hash, joined, user.active],
        )
        .expect("inserting a user");
        for t in 0..user.tasks {
            // Random (UUIDv4) ids: their order is not the creation order.
            let created = stamp(busy_task_created(t) + Duration::days(n as i64));
            let status = ["TO DO", "IN PROGRESS", "DONE"][t % 3];
            tx.execute(
                "INSERT INTO taskmanager_task VALUES (?1, ?2, ?3, 'from the original', ?4, ?5, ?5)",
                params![
                    uuid::Uuid::new_v4().simple().to_string(),
                    user.id,
                    format!("task {t}"),
                    status,
                    created
                ],
            )
            .expect("inserting a task");
        }
    }
    tx.execute(
        "INSERT INTO taskmanager_task VALUES (?1, NULL, 'made anonymously', '', 'TO DO', ?2, ?2)",
        params![uuid::Uuid::new_v4().simple().to_string(), stamp(start())],
    )
    .expect("inserting an ownerless task");
    tx.commit().expect("committing the fixture");
}

/// A fixture user's id with dashes, as the API shows it.
pub fn api_id(user: &FixtureUser) -> String {
    uuid::Uuid::parse_str(&user.id).expect("a uuid").to_string()
}

/// Changes the source database at `path` with `sql`.
pub fn edit(path: &Path, sql: &str) {
    open(path)
        .execute_batch(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The source, opened with foreign keys unchecked: SQLite checks them only when asked to, so a
/// source can hold a task of nobody.
fn open(path: &Path) -> Connection {
    let db = Connection::open(path).expect("opening the fixture");
    db.execute_batch("PRAGMA foreign_keys = OFF")
        .expect("turning foreign keys off");
    db
}

/// A fixture user's id as the source holds it (32 hex characters).
pub fn source_id(username: &str) -> String {
    let user = users().into_iter().find(|u| u.username == username);
    user.expect("a fixture user").id
}

/// Adds a task of `owner` (an id as the source holds it, of a user there or not; `None`:
/// ownerless) to the source.
pub fn add_task(path: &Path, id: &str, owner: Option<&str>, title: &str, created: &str) {
    open(path)
        .execute(
            "INSERT INTO taskmanager_task VALUES (?1, ?2, ?3, '', 'TO DO', ?4, ?4)",
            params![id, owner, title, created],
        )
        .expect("adding a task");
}

/// A `pbkdf2_sha256` hash of the original's shape (a 32-byte key), of no password the tests use.
pub const A_HASH: &str = "pbkdf2_sha256$1000$salt$a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=";

/// Adds a user that joined at `joined` to the source, with a password of the original's shape.
pub fn add_user(path: &Path, id: &str, username: &str, email: &str, joined: &str) {
    open(path)
        .execute(
            "INSERT INTO accounts_user VALUES (?1, ?2, ?3, ?5, '', '', NULL, ?4, ?4, ?4, 0, 0, 1)",
            params![id, username, email, joined, A_HASH],
        )
        .expect("adding a user");
}

/// Leaves in the source only what an import takes (no `dupe`, `bad` nor ownerless task), and
/// `busy_tasks` of ada's tasks: a run of it exits 0, quickly. The source then holds
/// [`IMPORTABLE_USERS`] users and `busy_tasks + 2` tasks.
pub fn keep_importable(path: &Path, busy_tasks: usize) {
    let (ada, dupe, bad) = (source_id(BUSY), source_id("dupe"), source_id("bad"));
    edit(
        path,
        &format!(
            "DELETE FROM taskmanager_task WHERE user_id IS NULL OR user_id IN ('{dupe}', '{bad}')
                OR (user_id = '{ada}' AND CAST(substr(title, 6) AS INTEGER) >= {busy_tasks});
             DELETE FROM accounts_user WHERE id IN ('{dupe}', '{bad}');"
        ),
    );
}

/// The id the source holds for the task of `owner` (as the source holds it) titled `title`.
pub fn task_id(path: &Path, owner: &str, title: &str) -> String {
    let sql = "SELECT id FROM taskmanager_task WHERE user_id = ?1 AND title = ?2";
    open(path)
        .query_row(sql, params![owner, title], |row| row.get(0))
        .expect("a task of that title")
}

/// Drops the original's constraints (NOT NULL, keys) from the source, as a copy edited by hand
/// may have lost them.
pub fn loosen(path: &Path) {
    let mut sql = String::new();
    for table in ["accounts_user", "taskmanager_task"] {
        sql += &format!(
            "ALTER TABLE {table} RENAME TO strict;
             CREATE TABLE {table} AS SELECT * FROM strict;
             DROP TABLE strict;"
        );
    }
    edit(path, &sql);
}
