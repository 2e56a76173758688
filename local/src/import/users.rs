//! The user step of an import: users in batches, each checked against the target's (and this
//! import's) usernames and emails as a registration is; a refused user's tasks are reported as
//! its.

use std::collections::HashSet;

use shared::domain::{User, UserId};
use shared::store::{IMPORT_USERS_BATCH, Imported};

use super::Import;
use super::report::Report;
use super::source::UserRow;

impl Import {
    /// The user step: every user of the source, in batches; the refused ones reported.
    pub(super) async fn users(
        &mut self,
        rows: Vec<UserRow>,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let mut batch: Vec<(String, User)> = Vec::with_capacity(IMPORT_USERS_BATCH);
        for row in rows {
            self.bar.inc(1);
            if let Some(note) = &row.note {
                report.note(format!("user {}: {note}", row.label));
            }
            match row.user {
                Ok(user) => batch.push((row.label, user)),
                Err(why) => self.refuse(row.id, &row.label, &why, report),
            }
            if batch.len() == IMPORT_USERS_BATCH {
                self.user_batch(std::mem::take(&mut batch), report).await?;
            }
        }
        self.user_batch(batch, report).await
    }

    async fn user_batch(
        &mut self,
        batch: Vec<(String, User)>,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let users: Vec<User> = batch.iter().map(|(_, user)| user.clone()).collect();
        let outcomes = if self.dry_run {
            self.predict(&users).await?
        } else {
            self.stores.users.import_users(&users).await?
        };
        for ((label, user), outcome) in batch.into_iter().zip(outcomes) {
            let keys = claim_keys(&user);
            match outcome {
                Imported::Created | Imported::Present => {
                    let count = match outcome {
                        Imported::Created => &mut report.users.imported,
                        _ => &mut report.users.present,
                    };
                    *count += 1;
                    for key in keys {
                        self.claimed.entry(key).or_insert_with(|| label.clone());
                    }
                    self.owners.insert(user.id, user.username);
                }
                Imported::Taken { username, email } => {
                    let clashes: Vec<String> = [(username, &keys[0]), (email, &keys[1])]
                        .into_iter()
                        .filter(|(taken, _)| *taken)
                        .map(|(_, key)| match self.claimed.get(key) {
                            Some(other) => format!("its {key} is also user {other}'s"),
                            None => {
                                format!("its {key} belongs to an account already in taskmaster")
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

    /// What [`shared::store::UserStore::import_users`] would answer, found by reading only.
    async fn predict(&self, users: &[User]) -> anyhow::Result<Vec<Imported>> {
        let mut outcomes = Vec::with_capacity(users.len());
        // Claims of this batch's earlier users, which `claimed` does not hold yet.
        let mut batch = HashSet::new();
        for user in users {
            if self.stores.users.user(user.id).await?.is_some() {
                outcomes.push(Imported::Present);
                continue;
            }
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
        Ok(outcomes)
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
        format!("username {}", user.username),
        format!("email {}", user.email),
    ]
}
