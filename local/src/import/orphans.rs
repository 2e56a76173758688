//! `--orphans-to`: the user ownerless tasks go to, found before anything is written, so that a
//! name that cannot take them fails the run (exit 1) while the target is still as it was; and
//! recorded in the target by the first run that gives them one, so that every later run gives
//! them to the same user, named or not, and none is stored twice.

use anyhow::{anyhow, bail};
use shared::domain::{UserId, Username};
use shared::store::{ImportStore, Stores};

use super::source::UserRow;

/// The id of the user `name` stands for: one already in the target, or one of the source that
/// this run imports. A source user refused for its own columns, or whose username or email a
/// user of the target or an earlier user of the source holds, is refused here, as the user
/// step will refuse it. (Should the user step refuse it all the same, its ownerless tasks are
/// reported as not imported.)
pub async fn owner(stores: &Stores, name: &str, users: &[UserRow]) -> anyhow::Result<UserId> {
    let fail = |why: String| anyhow!("--orphans-to {name:?}: {why}");
    let username = Username::existing(name.to_owned()).map_err(fail)?;
    if let Some(user) = stores.users.user_by_username(&username).await? {
        return Ok(user.id);
    }
    let mut refused = None;
    for (at, row) in users.iter().enumerate() {
        if row.username.as_ref() != Some(&username) {
            continue;
        }
        let not_imported = |why: &str| format!("user {} is not imported: {why}", row.label);
        let user = match &row.user {
            Ok(user) => user,
            // A later row of the same name (in another case) may still be imported.
            Err(why) => {
                refused.get_or_insert_with(|| not_imported(why));
                continue;
            }
        };
        if stores.users.user(user.id).await?.is_some() {
            return Ok(user.id);
        }
        if stores.users.user_by_email(&user.email).await?.is_some() {
            let why = "its email belongs to an account already in taskmaster";
            return Err(fail(not_imported(why)));
        }
        // Users are imported in the source's order: of two that clash, the earlier one.
        let earlier = users[..at].iter().find(|other| {
            other
                .user
                .as_ref()
                .is_ok_and(|other| other.username == user.username || other.email == user.email)
        });
        if let Some(earlier) = earlier {
            let why = format!("its username or email is also user {}'s", earlier.label);
            return Err(fail(not_imported(&why)));
        }
        return Ok(user.id);
    }
    let why = refused.unwrap_or_else(|| "no such user in the target or in the source".to_owned());
    Err(fail(why))
}

/// The user this run gives ownerless tasks to, read before anything is written: the one an
/// earlier run recorded, else the one `--orphans-to` named (`requested`). A request for another
/// user than the recorded one fails the run (exit 1) with the target as it was.
pub async fn settle(
    import: &dyn ImportStore,
    stores: &Stores,
    requested: Option<UserId>,
) -> anyhow::Result<Option<UserId>> {
    let Some(recorded) = import.orphans_owner().await? else {
        return Ok(requested);
    };
    if requested.is_some_and(|requested| requested != recorded) {
        let name = name_of(stores, recorded).await?;
        bail!(
            "--orphans-to: an earlier import gave the ownerless tasks to user {name}; run again \
             with --orphans-to {name}, or without --orphans-to, which gives them to that user too"
        );
    }
    Ok(Some(recorded))
}

/// Records `owner` as the user ownerless tasks go to, before a real run writes the first of
/// them (the user is in the target by then); fails if another run recorded someone else since
/// this one read the record.
pub async fn record(
    import: &dyn ImportStore,
    stores: &Stores,
    owner: UserId,
) -> anyhow::Result<()> {
    let recorded = import.record_orphans_owner(owner).await?;
    if recorded != owner {
        let name = name_of(stores, recorded).await?;
        bail!("--orphans-to: another import gave the ownerless tasks to user {name} meanwhile");
    }
    Ok(())
}

/// How messages name the user `id`: its username, quoted (its id if it is not in the target).
pub async fn name_of(stores: &Stores, id: UserId) -> anyhow::Result<String> {
    Ok(match stores.users.user(id).await? {
        Some(user) => format!("{:?}", user.username.as_ref()),
        None => id.to_string(),
    })
}
