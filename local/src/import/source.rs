//! The original app's SQLite database, read only: its users and tasks in the order the import
//! writes them, each row turned into our domain values or into the reason it cannot be.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row};
use shared::domain::{
    Email, PersonName, Task, TaskDescription, TaskId, TaskStatus, TaskTitle, Timestamp, User,
    UserId, Username,
};

use super::report::{plain, quoted};

/// The columns the import reads, per table (see the original app's model).
const USER_COLUMNS: &str = "id, username, email, password, first_name, last_name, last_login, \
    date_joined, last_updated, is_superuser, is_active";
const TASK_COLUMNS: &str =
    "id, user_id, title, description, status_task, date_created, last_updated";

/// What a user stored as its password in Django when it has none it can log in with.
pub const UNUSABLE_PASSWORD: &str = "!";

/// The longest password field a row may hold: Django's hashes are about 90 bytes.
const MAX_HASH_BYTES: usize = 512;

/// Why a stored password cannot be verified here, if it cannot: only Django's `pbkdf2_sha256`
/// is, of its shape and up to the iterations the server verifies
/// ([`shared::auth::unverifiable_pbkdf2`]).
fn unverifiable(hash: &str) -> Option<String> {
    let Some(rest) = hash.strip_prefix("pbkdf2_sha256$") else {
        // Django's `<algorithm>$…`, or a PHC string's `$<algorithm>$…`.
        let algorithm = hash
            .split('$')
            .find(|part| !part.is_empty())
            .unwrap_or_default();
        return Some(format!(
            "its password hash ({}) cannot be checked here",
            quoted(algorithm)
        ));
    };
    shared::auth::unverifiable_pbkdf2(rest).map(|why| format!("its password hash: {why}"))
}

/// The session epoch an inactive user is imported with: past the 0 that the original's access
/// tokens read as, so that none of them is honoured (the original refused them all).
pub const INACTIVE_SESSION_EPOCH: u64 = 1;

/// A user row: how the report names it, its id and username when they read (also for a row
/// refused for another column, so that its tasks are reported as its, and `--orphans-to` can
/// say why it cannot take tasks), and the user or why it cannot be imported, with a note about
/// how it was brought over when that needs saying.
#[derive(Debug)]
pub struct UserRow {
    pub label: String,
    pub id: Option<UserId>,
    pub username: Option<Username>,
    pub user: Result<User, String>,
    pub note: Option<String>,
}

/// A task row: its id as stored, its owner's (`None`: an ownerless task), the task (owned by
/// that owner, or by nobody yet) or why it cannot be imported, and whether its title lost
/// surrounding whitespace on the way (as every API write trims a title).
#[derive(Debug)]
pub struct TaskRow {
    pub label: String,
    pub owner: Option<UserId>,
    pub task: Result<Task, String>,
    pub trimmed_title: bool,
}

pub struct Source {
    connection: Connection,
}

/// How long the copy of a source waits for a writer holding it to let go.
const LOCK_WAIT: Duration = Duration::from_secs(5);

impl Source {
    /// Copies `path`, opened read-only, into memory in one step (SQLite's backup API), and checks
    /// the copy has the original app's two tables. Every read is then of one moment of the
    /// source, though the original app may still be writing to it, and holds no lock on it: the
    /// counts, the users and the tasks agree, and the app's own writes are kept waiting only for
    /// the copy.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            bail!("{} does not exist", path.display());
        }
        if !path.is_file() {
            bail!("{} is not a file", path.display());
        }
        let source = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut connection = Connection::open_in_memory().context("opening a copy in memory")?;
        copy(&source, &mut connection).with_context(|| format!("reading {}", path.display()))?;
        for (table, columns) in [
            ("accounts_user", USER_COLUMNS),
            ("taskmanager_task", TASK_COLUMNS),
        ] {
            connection
                .prepare(&format!("SELECT {columns} FROM {table} LIMIT 0"))
                .with_context(|| {
                    format!(
                        "{} is not the original app's database (table {table} with {columns})",
                        path.display()
                    )
                })?;
        }
        Ok(Self { connection })
    }

    /// How many users and tasks the database holds.
    pub fn counts(&self) -> anyhow::Result<(u64, u64)> {
        let count = |table: &str| {
            self.connection
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                    row.get::<_, i64>(0)
                })
                .map(i64::cast_unsigned)
                .with_context(|| format!("counting {table}"))
        };
        Ok((count("accounts_user")?, count("taskmanager_task")?))
    }

    /// Every user, earliest joined first (so of two accounts that clash, the older one is kept).
    pub fn users(&self) -> anyhow::Result<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM accounts_user ORDER BY date_joined, id");
        let mut statement = self.connection.prepare(&sql).context("reading users")?;
        let rows = statement.query_map([], |row| Ok(user_row(row)))?;
        rows.map(|row| row.context("reading a user")).collect()
    }

    /// Every task, grouped by owner (ownerless ones first), oldest first within each, to `each`.
    pub fn tasks(&self, mut each: impl FnMut(TaskRow) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM taskmanager_task ORDER BY user_id, date_created, id"
        );
        let mut statement = self.connection.prepare(&sql).context("reading tasks")?;
        let mut rows = statement.query([]).context("reading tasks")?;
        while let Some(row) = rows.next().context("reading a task")? {
            each(task_row(row))?;
        }
        Ok(())
    }
}

/// A text column: `None` for NULL; other types are refused, naming the column.
fn text(row: &Row, index: usize) -> Result<Option<String>, String> {
    let column = || {
        row.as_ref()
            .column_name(index)
            .unwrap_or("column")
            .to_owned()
    };
    match row.get_ref(index) {
        Ok(ValueRef::Null) => Ok(None),
        Ok(ValueRef::Text(bytes)) => String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| format!("its {} is not UTF-8", column())),
        Ok(ValueRef::Integer(n)) => Ok(Some(n.to_string())),
        _ => Err(format!("its {} is not text", column())),
    }
}

fn required(row: &Row, index: usize, name: &str) -> Result<String, String> {
    text(row, index)?.ok_or_else(|| format!("its {name} is missing"))
}

/// A boolean column (SQLite stores Django's as 0/1).
fn flag(row: &Row, index: usize) -> bool {
    matches!(row.get_ref(index), Ok(ValueRef::Integer(n)) if n != 0)
        || matches!(text(row, index), Ok(Some(t)) if t == "1" || t.eq_ignore_ascii_case("true"))
}

/// The original's UUIDs are 32 hex characters (dashes are accepted too).
fn user_id(raw: &str, what: &str) -> Result<UserId, String> {
    UserId::parse(raw).ok_or_else(|| format!("its {what} {} is not a UUID", quoted(raw)))
}

/// Django on SQLite stores UTC as `YYYY-MM-DD HH:MM:SS[.ffffff]`; a `T` in place of the space, and
/// RFC 3339, are read too. Only times Python's `datetime` (and so Django) can hold are taken:
/// years 1 to 9999, and no leap second (`:60`, which chrono reads and clients' date parsers
/// refuse).
pub fn parse_time(raw: &str, what: &str) -> Result<Timestamp, String> {
    let time = match DateTime::parse_from_rfc3339(raw) {
        Ok(time) => Some(time.with_timezone(&Utc)),
        // Django writes a space between date and time; its reader takes a `T` too.
        Err(_) => ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
            .into_iter()
            .find_map(|format| NaiveDateTime::parse_from_str(raw.trim(), format).ok())
            .map(|time| time.and_utc()),
    };
    match time {
        Some(time) if (1..=9999).contains(&time.year()) && time.nanosecond() < 1_000_000_000 => {
            Ok(time.into())
        }
        _ => Err(format!("its {what} {} is not a date and time", quoted(raw))),
    }
}

/// Copies all of `source` into `target` at once, waiting up to [`LOCK_WAIT`] for a writer
/// holding it.
fn copy(source: &Connection, target: &mut Connection) -> anyhow::Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let backup = Backup::new(source, target)?;
    let started = Instant::now();
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::Busy | StepResult::Locked if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(50));
            }
            StepResult::Busy | StepResult::Locked => bail!(
                "it stayed locked by another process (the original app writing?) for {} s: \
                 stop it, or import from a copy (sqlite3 db.sqlite3 '.backup copy.sqlite3')",
                LOCK_WAIT.as_secs()
            ),
            // `step(-1)` copies every page at once; anything else is SQLite's to explain.
            _ => bail!("the copy stopped part-way"),
        }
    }
}

fn user_row(row: &Row) -> UserRow {
    let raw_id = text(row, 0).ok().flatten().unwrap_or_default();
    let username = text(row, 1).ok().flatten().filter(|name| !name.is_empty());
    // A user without a username is named by its id, so its line still says which row it is.
    let label = match &username {
        Some(username) => quoted(username),
        None if raw_id.is_empty() => "without a username or an id".to_owned(),
        None => format!("with id {}", plain(&raw_id)),
    };
    let mut note = None;
    let user = user(row, &mut note);
    UserRow {
        label,
        id: user_id(&raw_id, "id").ok(),
        username: username.and_then(|name| Username::existing(name).ok()),
        user,
        note,
    }
}

fn user(row: &Row, note: &mut Option<String>) -> Result<User, String> {
    let id = user_id(&required(row, 0, "id")?, "id")?;
    let username = required(row, 1, "username")?;
    let username = Username::existing(username.clone())
        .map_err(|e| format!("its username {} is refused: {e}", quoted(&username)))?;
    let email = text(row, 2)?.ok_or("its email is missing")?;
    let email = Email::parse(email.clone())
        .map_err(|e| format!("its email {} is refused: {e}", quoted(&email)))?;
    let name = |index: usize, what: &str| {
        PersonName::parse(text(row, index)?.unwrap_or_default())
            .map_err(|e| format!("its {what} is refused: {e}"))
    };
    let date_joined = parse_time(&required(row, 7, "date_joined")?, "date_joined")?;
    let last_updated = match text(row, 8)? {
        Some(raw) => parse_time(&raw, "last_updated")?,
        None => date_joined,
    };
    let last_login = text(row, 6)?
        .map(|raw| parse_time(&raw, "last_login"))
        .transpose()?;
    let mut password_hash = text(row, 3)?.unwrap_or_default();
    if password_hash.len() > MAX_HASH_BYTES {
        return Err(format!(
            "its password is {} bytes long: no hasher makes one over {MAX_HASH_BYTES}",
            password_hash.len()
        ));
    }
    if password_hash.is_empty() || password_hash.starts_with(UNUSABLE_PASSWORD) {
        password_hash = UNUSABLE_PASSWORD.to_owned();
        *note = Some("had no usable password in the original: imported, cannot log in".into());
    } else if let Some(refusal) = unverifiable(&password_hash) {
        // Kept whole behind the marker, as an inactive user's is: it never verifies.
        password_hash = format!("{UNUSABLE_PASSWORD}{password_hash}");
        *note = Some(format!("{refusal}: imported, cannot log in"));
    }
    let active = flag(row, 10);
    if !active {
        // Kept whole behind the marker, so nothing is lost; it never verifies.
        password_hash = format!("{UNUSABLE_PASSWORD}{password_hash}");
        *note = Some(
            "inactive in the original: imported, cannot log in, and its original tokens are refused"
                .into(),
        );
    }
    Ok(User {
        id,
        username,
        email,
        first_name: name(4, "first_name")?,
        last_name: name(5, "last_name")?,
        password_hash,
        is_superuser: flag(row, 9),
        date_joined,
        last_updated,
        last_login,
        version: 0,
        session_epoch: if active { 0 } else { INACTIVE_SESSION_EPOCH },
        ended_sessions: Default::default(),
    })
}

fn task_row(row: &Row) -> TaskRow {
    let label = match text(row, 0).ok().flatten().filter(|id| !id.is_empty()) {
        Some(id) => plain(&id),
        None => "without an id".to_owned(),
    };
    let trimmed_title = matches!(text(row, 2), Ok(Some(title)) if title.trim() != title);
    let owner = match text(row, 1) {
        Ok(Some(raw)) => user_id(&raw, "owner").map(Some),
        Ok(None) => Ok(None),
        Err(why) => Err(why),
    };
    // An ownerless task gets its owner later, if it gets one at all.
    let task = owner
        .clone()
        .and_then(|owner| task(row, owner.unwrap_or(UserId::NOBODY)));
    TaskRow {
        label,
        owner: owner.unwrap_or_default(),
        task,
        trimmed_title,
    }
}

fn task(row: &Row, owner: UserId) -> Result<Task, String> {
    let raw = required(row, 0, "id")?;
    let id = TaskId::parse(&raw).ok_or_else(|| format!("its id {} is not a UUID", quoted(&raw)))?;
    let title = text(row, 2)?.ok_or("its title is missing")?;
    let title = TaskTitle::parse(title.clone())
        .map_err(|e| format!("its title {} is refused: {e}", quoted(&title)))?;
    let description = TaskDescription::parse(text(row, 3)?.unwrap_or_default())
        .map_err(|e| format!("its description is refused: {e}"))?;
    let status = required(row, 4, "status_task")?;
    // Not the domain's message: it would quote the value whole.
    let status = TaskStatus::parse(status.clone())
        .map_err(|_| format!("its status_task {} is not a valid choice", quoted(&status)))?;
    let date_created = parse_time(&required(row, 5, "date_created")?, "date_created")?;
    let last_updated = match text(row, 6)? {
        Some(raw) => parse_time(&raw, "last_updated")?,
        None => date_created,
    };
    Ok(Task {
        id,
        owner,
        title,
        description,
        status,
        date_created,
        last_updated,
        version: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_django_could_have_written_are_read_and_no_others() {
        for good in [
            "2024-05-16 04:17:48.052070",
            "2024-05-16 04:17:59",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59.999999",
            "2024-05-16T06:17:48.052070+02:00",
            "2024-05-16T04:17:48.532089",
        ] {
            assert!(parse_time(good, "date_created").is_ok(), "{good}");
        }
        for bad in [
            "2024-05-16 04:17:60",
            "2024-12-31 23:59:60.999999",
            "2024-12-31T23:59:60Z",
            "2024-12-31T23:59:60",
            "0000-01-01 00:00:00",
            "2024-02-30 00:00:00",
            "2024-05-16 24:00:00",
            "yesterday",
        ] {
            let refused = parse_time(bad, "date_created").expect_err(bad);
            assert!(refused.contains("is not a date and time"), "{refused}");
        }
    }
}
