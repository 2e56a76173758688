//! Whether a row an earlier run brought over still matches the source. A re-import never
//! overwrites one that does not (it may have been changed in taskmaster since): it names the
//! fields that differ, by the original's column names, for the report.

use shared::domain::{Task, User};

use super::source::{INACTIVE_SESSION_EPOCH, UNUSABLE_PASSWORD};

/// The fields in which `stored` differs from the user the source makes now.
pub fn user_fields(source: &User, stored: &User) -> Vec<&'static str> {
    differing([
        ("username", source.username != stored.username),
        ("email", source.email != stored.email),
        ("first_name", source.first_name != stored.first_name),
        ("last_name", source.last_name != stored.last_name),
        ("is_superuser", source.is_superuser != stored.is_superuser),
        ("is_active", active(source) != active(stored)),
        // Once taskmaster holds an argon2 hash, the user has logged in there (and the Django
        // hash was replaced) or changed its password: the source's hash says nothing about it.
        (
            "password",
            !upgraded(stored) && django_hash(source) != django_hash(stored),
        ),
    ])
}

/// The fields in which `stored` differs from the task the source makes now.
pub fn task_fields(source: &Task, stored: &Task) -> Vec<&'static str> {
    differing([
        ("title", source.title != stored.title),
        ("description", source.description != stored.description),
        ("status_task", source.status != stored.status),
        ("date_created", source.date_created != stored.date_created),
        ("last_updated", source.last_updated != stored.last_updated),
    ])
}

fn differing<const N: usize>(checks: [(&'static str, bool); N]) -> Vec<&'static str> {
    checks
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field))
        .collect()
}

/// Whether the user's hash is taskmaster's own (argon2id), not the one the import wrote.
pub fn upgraded(user: &User) -> bool {
    shared::auth::is_argon2_hash(&user.password_hash)
}

/// Whether the user came over active. An inactive one is imported with session epoch 1 and
/// can never log in, so it never gets an argon2 hash; an active one reaches epoch 1 only by
/// logging in (then revoking its sessions), which upgraded its hash first.
fn active(user: &User) -> bool {
    upgraded(user) || user.session_epoch < INACTIVE_SESSION_EPOCH
}

/// The Django hash the import wrote, without the unusable-password marker: an inactive user's
/// hash comes over behind it, and so does an unverifiable one (which an earlier version wrote
/// without it: the two are alike).
fn django_hash(user: &User) -> &str {
    user.password_hash
        .as_str()
        .trim_start_matches(UNUSABLE_PASSWORD)
}
