//! The task step of an import: each row checked (its owner, its id against the rows before it)
//! and handed to the writer in batches of one owner; then what the writer found, and the tasks
//! the target holds for a user that the source does not.

use std::collections::hash_map::Entry;

use shared::domain::{Task, UserId};
use shared::store::{ListQuery, Missing, Position, StoreError};

use super::Import;
use super::report::{Report, counted};
use super::source::TaskRow;

impl Import {
    /// Checks one batch of task rows of one owner (or of none) and hands it to the writer.
    pub(super) async fn tasks(
        &mut self,
        rows: Vec<TaskRow>,
        orphans_to: Option<UserId>,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        self.bar.inc(rows.len() as u64);
        let ownerless = rows.first().is_some_and(|row| row.owner.is_none());
        let mut tasks: Vec<Task> = Vec::with_capacity(rows.len());
        let mut labels = Vec::with_capacity(rows.len());
        for row in rows {
            if let Ok(task) = &row.task {
                match self.task_ids.entry(task.id) {
                    Entry::Occupied(first) => {
                        let why = format!(
                            "its id is the same UUID as task {}'s (ids are read whatever their \
                             case and dashes): two rows for one task; fix one of them in the \
                             source and run again",
                            first.get()
                        );
                        report.refuse_task(&row.label, &why);
                        continue;
                    }
                    Entry::Vacant(entry) => {
                        entry.insert(row.label.clone());
                    }
                }
            }
            // A row that cannot be read (an owner that is not a UUID among its faults) is refused
            // for that, not as one without an owner.
            if row.owner.is_none()
                && let Err(why) = &row.task
            {
                report.refuse_task(&row.label, why);
                continue;
            }
            let owner = match row.owner {
                Some(owner) if self.owners.contains_key(&owner) => owner,
                Some(owner) if self.refused.contains_key(&owner) => {
                    report.refuse_task(&row.label, &self.refused[&owner]);
                    continue;
                }
                Some(owner) => {
                    let why = format!("its owner {owner} is not in the source's users");
                    report.refuse_task(&row.label, &why);
                    continue;
                }
                // The user `--orphans-to` named was checked before the run wrote anything, as the
                // user step would take it (one an earlier run recorded was in the target then);
                // should that step have refused it all the same, say so.
                None => match orphans_to {
                    Some(owner) if self.refused.contains_key(&owner) => {
                        let why = format!(
                            "it has no owner, and the user it goes to was not imported: {}",
                            self.refused[&owner]
                        );
                        report.refuse_task(&row.label, &why);
                        continue;
                    }
                    Some(owner) => owner,
                    // No run gave them an owner (one that did recorded it, and this run gives
                    // them to the same user).
                    None => {
                        let why = "it has no owner (--orphans-to USERNAME gives such tasks to a \
                                   user)";
                        report.refuse_task(&row.label, why);
                        continue;
                    }
                },
            };
            match row.task {
                Ok(task) => {
                    self.trimmed_titles += u64::from(row.trimmed_title);
                    tasks.push(Task { owner, ..task });
                    labels.push(row.label);
                }
                Err(why) => report.refuse_task(&row.label, &why),
            }
        }
        let Some(owner) = tasks.first().map(|task| task.owner) else {
            return Ok(());
        };
        if ownerless && !self.dry_run && !self.orphans_recorded {
            super::orphans::record(&*self.import, &self.stores, owner).await?;
            self.orphans_recorded = true;
        }
        self.writer.write(owner, tasks, labels).await
    }

    /// Once every batch is written: the writer's totals and the tasks it found changed, a note
    /// on trimmed titles, and per user an earlier run brought over, the tasks the target holds
    /// beyond the source's (one count read each).
    pub(super) async fn settle_tasks(&mut self, report: &mut Report) -> anyhow::Result<()> {
        report.tasks.imported += self.writer.imported;
        report.tasks.present += self.writer.present;
        for (label, fields) in std::mem::take(&mut self.writer.differing) {
            report.task_differs(&label, &fields);
        }
        if self.trimmed_titles > 0 {
            report.note(format!(
                "{} had spaces around the title in the source: trimmed, as every API write trims \
                 a title",
                counted(self.trimmed_titles, "task")
            ));
        }
        let mut earlier: Vec<(&UserId, &super::Owner)> = self
            .owners
            .iter()
            .filter(|(_, owner)| owner.earlier)
            .collect();
        earlier.sort_by_key(|(_, owner)| owner.at);
        for (id, owner) in earlier {
            let held = self.writer.held.get(id).copied().unwrap_or_default();
            let extra = self.task_count(*id).await?.saturating_sub(held);
            if extra == 0 {
                continue;
            }
            report.mismatch(format!(
                "user {}: taskmaster holds {} of this user that the source does not: deleted \
                 in the original after an earlier import, or created in taskmaster; \
                 not removed",
                owner.label,
                counted(extra, "task")
            ));
        }
        Ok(())
    }

    /// How many tasks the target holds for `owner`: the count a list page carries.
    async fn task_count(&self, owner: UserId) -> anyhow::Result<u64> {
        let query = ListQuery {
            status: None,
            limit: 1,
            position: Position::First,
        };
        // Any session epoch, no login session: this is no client's session.
        let any = shared::domain::Session {
            user: owner,
            epoch: u64::MAX,
            sid: None,
        };
        match self.stores.tasks.list_tasks(owner, any, &query).await {
            Ok(page) => Ok(page.count),
            // A dry run reads a tasks table it would create as an empty store, without users.
            Err(StoreError::Missing(Missing::User)) => Ok(0),
            Err(e) => Err(anyhow::Error::new(e).context("counting a user's tasks")),
        }
    }
}
