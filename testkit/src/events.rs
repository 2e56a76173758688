//! The recorded API Gateway events in `events/` and the data they are written for: one user
//! (`ada_lovelace`) owning one task. Every test that replays an event seeds with [`seed`] and
//! fills the event's placeholders with [`event`]; the cold-start bench seeds a user per invocation
//! with [`seed_tagged`].

use shared::AppState;
use shared::domain::{
    Email, Password, PersonName, Session, TaskStatus, TaskTitle, Timestamp, User, UserId, Username,
};
use shared::service::accounts::NewUser;
use shared::service::tasks::NewTask;
use shared::store::{RefreshToken, Stores};

use serde_json::{Value, json};

use crate::repo_root;

/// The user the events are written for.
pub const USERNAME: &str = "ada_lovelace";
pub const EMAIL: &str = "ada@example.com";
pub const PASSWORD: &str = "correct-horse-battery";
/// Who `events/register.json` registers once [`seed`] has taken [`USERNAME`].
pub const NEW_USERNAME: &str = "grace_hopper";
pub const NEW_EMAIL: &str = "grace@example.com";
/// The title of the task [`seed`] creates.
pub const TASK_TITLE: &str = "Existing task";

/// The registration of [`USERNAME`].
pub fn events_user() -> NewUser {
    user_tagged("")
}

/// The registration of [`USERNAME`] with `tag` after the name and before the email's `@`: the
/// same user again, under names of its own.
fn user_tagged(tag: &str) -> NewUser {
    NewUser {
        username: Username::parse(format!("{USERNAME}{tag}")).expect("username"),
        email: Email::parse(tagged_email(EMAIL, tag)).expect("email"),
        password: Password::parse(PASSWORD.into()).expect("password"),
        first_name: PersonName::default(),
        last_name: PersonName::default(),
    }
}

/// `email` with `tag` just before its `@`.
fn tagged_email(email: &str, tag: &str) -> String {
    email.replacen('@', &format!("{tag}@"), 1)
}

/// What [`seed`] made: the events' user, their tokens and their one task.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// What the user's names carry after [`USERNAME`] and before [`EMAIL`]'s `@`: empty for
    /// [`seed`]'s user, the tag given to [`seed_tagged`].
    pub tag: String,
    pub user_id: UserId,
    /// The session of `access` (the user at its first epoch).
    pub session: Session,
    pub access: String,
    pub refresh: String,
    pub task_id: String,
}

/// Registers [`USERNAME`] and creates one task of theirs.
pub async fn seed(state: &AppState) -> Seeded {
    seed_tagged(state, "").await
}

/// As [`seed`], a user of names of its own: [`USERNAME`] and [`EMAIL`] with `tag` in them. The
/// events [`event`] fills in for it name that user (and `register`'s a new one, tagged alike), so a
/// bench can hand every invocation a user of its own, whose state no earlier one has changed.
/// `tag` is lowercase letters, digits and `_`, short enough that [`NEW_USERNAME`] with it stays
/// a valid username (30 characters at most), as it goes into the names unchanged.
pub async fn seed_tagged(state: &AppState, tag: &str) -> Seeded {
    let (user, pair) = state
        .accounts
        .register(user_tagged(tag), None)
        .await
        .expect("registering");
    let task = NewTask {
        title: TaskTitle::parse(TASK_TITLE.into()).expect("title"),
        description: Default::default(),
        status: TaskStatus::ToDo,
    };
    let session = Session {
        user: user.id,
        epoch: user.session_epoch,
        sid: None,
    };
    let task = state
        .tasks
        .create(session, task, None)
        .await
        .expect("creating task")
        .task;
    Seeded {
        tag: tag.to_owned(),
        user_id: user.id,
        session,
        access: pair.access,
        refresh: pair.refresh,
        task_id: task.id.to_string(),
    }
}

/// `events/<function>.json`, its placeholders and names filled in for `seeded` (`register`'s
/// then names [`NEW_USERNAME`], who does not exist yet, tagged as `seeded` is); as recorded when
/// nothing was seeded.
pub fn event(function: &str, seeded: Option<&Seeded>) -> String {
    let path = repo_root().join("events").join(format!("{function}.json"));
    let event = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let Some(seeded) = seeded else {
        return event;
    };
    let tag = &seeded.tag;
    let (username, email) = if function == "register" {
        (NEW_USERNAME, NEW_EMAIL)
    } else {
        (USERNAME, EMAIL)
    };
    // The names first: a token filled in after them is never searched for one.
    event
        .replace(USERNAME, &format!("{username}{tag}"))
        .replace(EMAIL, &tagged_email(email, tag))
        .replace("<access-token>", &seeded.access)
        .replace("<refresh-token>", &seeded.refresh)
        .replace("<task-id>", &seeded.task_id)
}

/// `user`'s connection ids, sorted.
pub async fn connection_ids(stores: &Stores, user: UserId) -> Vec<String> {
    let mut ids: Vec<String> = stores
        .connections
        .connections_of(user)
        .await
        .expect("listing connections")
        .into_iter()
        .map(|connection| connection.id)
        .collect();
    ids.sort();
    ids
}

/// A user not stored yet, joined now, never logged in, with no names and no usable password
/// (`!`): for a test to store, or to change first.
pub fn unsaved_user(id: UserId, username: Username, email: Email) -> User {
    let now = Timestamp::now();
    User {
        id,
        username,
        email,
        first_name: PersonName::default(),
        last_name: PersonName::default(),
        password_hash: "!".to_owned(),
        is_superuser: false,
        date_joined: now,
        last_updated: now,
        last_login: None,
        version: 0,
        session_epoch: 0,
        ended_sessions: Default::default(),
    }
}

/// Stores a user with the id `id` (named after it, with no usable password) unless one is
/// stored already: for tests that need an owner only to exist, such as the stream function's,
/// which delivers only to the connections of an existing user's current session.
pub async fn ensure_user(stores: &Stores, id: UserId) -> User {
    let name = id.as_uuid().simple().to_string();
    let username = Username::existing(format!("owner_{name}")).expect("username");
    let user = unsaved_user(
        id,
        username,
        Email::parse(format!("{name}@example.com")).expect("email"),
    );
    let now = user.date_joined;
    if let Some(stored) = stores.users.user(id).await.expect("reading the user") {
        return stored;
    }
    let token = RefreshToken {
        jti: format!("seed-{name}"),
        user_id: id,
        expires_at: now,
        sid: None,
    };
    stores
        .users
        .create_user(&user, &token)
        .await
        .expect("storing the user");
    user
}

/// What replaying `events/<function>.json` must answer, on every host that replays it: the status,
/// and a JSON pointer into the body with the value there (`Null`: any string; an empty pointer: no
/// body). `register` answers with the name it registered, `registered`. `None` for a function with
/// no row here (a new endpoint): any 2xx will do.
pub fn expected_answer(function: &str, registered: &str) -> Option<(u16, &'static str, Value)> {
    Some(match function {
        "register" => (201, "/username", json!(registered)),
        "login" => (200, "/username", json!(USERNAME)),
        "token-verify" => (200, "/message", json!("Token is valid")),
        "token-refresh" => (200, "/refresh", Value::Null),
        "logout" | "logout-all" => (204, "", Value::Null),
        "profile-get" => (200, "/email", json!(EMAIL)),
        "profile-update" => (200, "/first_name", json!("Augusta")),
        "password-update" => (200, "/detail", json!("password updated successfully")),
        "task-create" => (201, "/title", json!("Write the report")),
        "task-get" => (200, "/title", json!(TASK_TITLE)),
        "task-update" => (200, "/status_task", json!("DONE")),
        "task-delete" => (200, "/message", json!("Task deleted successfully")),
        "task-list" => (200, "/results/0/title", json!(TASK_TITLE)),
        "fallback" => (404, "/detail", json!("Not found.")),
        _ => return None,
    })
}

/// How many functions [`expected_answer`] has a row for: a test asserts it, so a renamed
/// function cannot silently lose its row.
pub const EXPECTED_ANSWERS: usize = 15;

/// Checks a replayed event's answer (its status, and its JSON body or `Null` for none) against
/// [`expected_answer`]; the error says what differs.
pub fn check_answer(
    function: &str,
    registered: &str,
    status: u16,
    body: &Value,
) -> Result<(), String> {
    let Some((want_status, pointer, want)) = expected_answer(function, registered) else {
        return match status {
            200..300 => Ok(()),
            _ => Err(format!("{function}: {status} {body}")),
        };
    };
    if status != want_status {
        return Err(format!("{function}: {status}, not {want_status}: {body}"));
    }
    let right = match (pointer, &want) {
        ("", _) => body.is_null(),
        (pointer, Value::Null) => body.pointer(pointer).is_some_and(Value::is_string),
        (pointer, want) => body.pointer(pointer) == Some(want),
    };
    match right {
        true => Ok(()),
        false => Err(format!("{function}: {body} has not {want} at {pointer:?}")),
    }
}
