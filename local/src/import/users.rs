//! The user step of an import: users in batches, each checked against the target's (and this
//! import's) usernames and emails as a registration is; a refused user's tasks are reported as
//! its. A user an earlier run brought over is compared with the source, never overwritten.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use shared::domain::{User, UserId, Username};
use shared::store::{IMPORT_USERS_BATCH, Imported};

use super::report::{Report, plain, quoted};
use super::source::UserRow;
use super::{Import, Owner, compare};

/// A user of a batch, as the source makes it.
struct Pending {
    /// Its place in the source.
    at: usize,
    label: String,
    user: User,
    /// How it is brought over, when that needs saying: reported once it is.
    note: Option<String>,
}

impl Import {
    /// The user step: every user of the source, in batches; the refused ones reported.
    pub(super) async fn users(
        &mut self,
        rows: Vec<UserRow>,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        // Rows of one id (the same UUID in another case, or with and without dashes) would be
        // one account: none of them is imported, and the id's tasks are reported as theirs,
        // never given to one of them.
        let mut rows_of: HashMap<UserId, Vec<String>> = HashMap::new();
        for row in &rows {
            if let Some(id) = row.id {
                rows_of.entry(id).or_default().push(row.label.clone());
            }
        }
        let mut batch: Vec<Pending> = Vec::with_capacity(IMPORT_USERS_BATCH);
        for (at, row) in rows.into_iter().enumerate() {
            self.bar.inc(1);
            let shared_id = row
                .id
                .and_then(|id| rows_of.get(&id))
                .filter(|rows| rows.len() > 1);
            if let Some(labels) = shared_id {
                let others: Vec<&str> = labels
                    .iter()
                    .filter(|label| **label != row.label)
                    .map(String::as_str)
                    .collect();
                let why = format!(
                    "its id is the same UUID as user {}'s (ids are read whatever their case and \
                     dashes): rows for one account; fix them in the source and run again",
                    others.join("'s, user ")
                );
                self.refuse(row.id, &row.label, &why, report);
                continue;
            }
            match row.user {
                Ok(user) => batch.push(Pending {
                    at,
                    label: row.label,
                    user,
                    note: row.note,
                }),
                Err(why) => self.refuse(row.id, &row.label, &why, report),
            }
            if batch.len() == IMPORT_USERS_BATCH {
                self.user_batch(std::mem::take(&mut batch), report).await?;
            }
        }
        self.user_batch(batch, report).await?;
        self.shared_logins(report).await
    }

    async fn user_batch(&mut self, batch: Vec<Pending>, report: &mut Report) -> anyhow::Result<()> {
        let users: Vec<User> = batch.iter().map(|pending| pending.user.clone()).collect();
        let (outcomes, mut found) = if self.dry_run {
            self.predict(&users).await?
        } else {
            (self.import.import_users(&users).await?, Vec::new())
        };
        for (n, (pending, outcome)) in batch.into_iter().zip(outcomes).enumerate() {
            let Pending {
                at,
                label,
                user,
                note,
            } = pending;
            let mut brought = || {
                if let Some(note) = &note {
                    report.note(format!("user {label}: {note}"));
                }
            };
            match outcome {
                Imported::Created => {
                    brought();
                    report.users.imported += 1;
                    self.accept(at, label, user, false);
                }
                Imported::Present => {
                    let stored = match found.get_mut(n).and_then(Option::take) {
                        Some(stored) => stored,
                        None => self
                            .stores
                            .users
                            .user(user.id)
                            .await?
                            .context("reading back a user the import found already there")?,
                    };
                    let fields = compare::user_fields(&user, &stored);
                    if fields.is_empty() {
                        // The note (why it cannot log in) is the source row's: true of the user
                        // there only while it holds no password of taskmaster's own.
                        if !compare::upgraded(&stored) {
                            brought();
                        }
                        report.users.present += 1;
                    } else {
                        report.user_differs(&label, &fields);
                    }
                    // Its tasks still come over: the user is in the target, as it is there.
                    self.accept(at, label, stored, true);
                }
                Imported::Taken { username, email } => {
                    let taken = [
                        ("username", username, user.username.as_ref()),
                        ("email", email, user.email.as_ref()),
                    ];
                    let clashes: Vec<String> = taken
                        .into_iter()
                        .filter(|(_, taken, _)| *taken)
                        .map(|(what, _, value)| {
                            let shown = format!("{what} {}", plain(value));
                            match self.claimed.get(&claim_key(what, value)) {
                                Some(other) => format!("its {shown} is also user {other}'s"),
                                None => format!(
                                    "its {shown} belongs to an account already in taskmaster"
                                ),
                            }
                        })
                        .collect();
                    let why = format!(
                        "{} (the same whatever the case); fix one of the two in the source and run again",
                        clashes.join(", ")
                    );
                    self.refuse(Some(user.id), &label, &why, report);
                }
            }
        }
        Ok(())
    }

    /// Records a user that is in the target, as the target holds it, with what it claims.
    fn accept(&mut self, at: usize, label: String, user: User, earlier: bool) {
        for key in claim_keys(&user) {
            self.claimed.entry(key).or_insert_with(|| label.clone());
        }
        let owner = Owner {
            label,
            at,
            username: user.username,
            email: user.email,
            earlier,
        };
        self.owners.insert(user.id, owner);
    }

    /// What [`shared::store::ImportStore::import_users`] would answer, found by reading only,
    /// with the stored user where one is already there.
    async fn predict(&self, users: &[User]) -> anyhow::Result<(Vec<Imported>, Vec<Option<User>>)> {
        let mut outcomes = Vec::with_capacity(users.len());
        let mut found = Vec::with_capacity(users.len());
        // Claims of this batch's earlier users, which `claimed` does not hold yet.
        let mut batch = HashSet::new();
        for user in users {
            if let Some(stored) = self.stores.users.user(user.id).await? {
                outcomes.push(Imported::Present);
                found.push(Some(stored));
                continue;
            }
            found.push(None);
            let keys = claim_keys(user);
            let held = |key: &String| self.claimed.contains_key(key) || batch.contains(key);
            let username = held(&keys[0])
                || self
                    .stores
                    .users
                    .user_by_username(&user.username)
                    .await?
                    .is_some();
            let email = held(&keys[1])
                || self
                    .stores
                    .users
                    .user_by_email(&user.email)
                    .await?
                    .is_some();
            outcomes.push(if username || email {
                Imported::Taken { username, email }
            } else {
                batch.extend(keys);
                Imported::Created
            });
        }
        Ok((outcomes, found))
    }

    /// Notes each user whose email is another user's username (whatever the case): a login
    /// with that address finds the username first, so this user logs in by its own username.
    /// Looked up among this run's users, then in the target (one read per user).
    async fn shared_logins(&self, report: &mut Report) -> anyhow::Result<()> {
        let by_username: HashMap<&Username, (&UserId, &Owner)> = self
            .owners
            .iter()
            .map(|(id, owner)| (&owner.username, (id, owner)))
            .collect();
        let mut owners: Vec<(&UserId, &Owner)> = self.owners.iter().collect();
        owners.sort_by_key(|(_, owner)| owner.at);
        for (id, owner) in owners {
            // An address with characters no username has cannot be one.
            let Ok(name) = Username::existing(owner.email.to_string()) else {
                continue;
            };
            let other = match by_username.get(&name) {
                Some((other, found)) => (*other != id).then(|| found.label.clone()),
                None => self
                    .stores
                    .users
                    .user_by_username(&name)
                    .await?
                    .filter(|found| found.id != *id)
                    .map(|found| quoted(found.username.as_ref())),
            };
            if let Some(other) = other {
                let email = plain(owner.email.as_ref());
                report.note(format!(
                    "user {}: its email {email} is also the username of user {other}: a login \
                     as {email} reaches that user, so this one logs in by its username",
                    owner.label
                ));
            }
        }
        Ok(())
    }

    /// Reports a user not imported, and keeps why for its tasks' lines.
    fn refuse(&mut self, id: Option<UserId>, label: &str, why: &str, report: &mut Report) {
        report.refuse_user(label, why);
        if let Some(id) = id {
            let owner = format!("its owner, user {label}, was not imported: {why}");
            self.refused.insert(id, owner);
        }
    }
}

/// How `claimed` names what a user takes: its username and its email.
fn claim_keys(user: &User) -> [String; 2] {
    [
        claim_key("username", user.username.as_ref()),
        claim_key("email", user.email.as_ref()),
    ]
}

fn claim_key(what: &str, value: &str) -> String {
    format!("{what} {value}")
}
