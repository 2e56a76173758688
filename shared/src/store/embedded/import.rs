//! Imports from the original app: a batch of users, or of one owner's tasks with their counts,
//! each in one write transaction that skips what an earlier run stored.

use async_trait::async_trait;
use redb::{ReadableTable, TableDefinition};

use super::tasks::{count, owner_exists, put, read_task, stored_task};
use super::users::{claim_guards, get_user, put_user};
use super::{Ctx, EmbeddedStore, TASKS};
use crate::domain::{Task, TaskId, TaskStatus, User, UserId};
use crate::store::import::{check_batch, check_import};
use crate::store::{
    IMPORT_TASKS_BATCH, IMPORT_USERS_BATCH, ImportStore, Imported, Missing, StoreError, TaskCounts,
};

/// What an import records for the runs after it: [`ORPHANS_OWNER`].
pub(super) const IMPORT: TableDefinition<&str, &[u8]> = TableDefinition::new("import");
/// The id of the user ownerless tasks go to ([`ImportStore::record_orphans_owner`]).
const ORPHANS_OWNER: &str = "orphans_owner";

fn user_id(bytes: &[u8]) -> anyhow::Result<UserId> {
    UserId::from_bytes(bytes).ok_or_else(|| anyhow::anyhow!("not a user id"))
}

#[async_trait]
impl ImportStore for EmbeddedStore {
    async fn import_users(&self, users: &[User]) -> Result<Vec<Imported>, StoreError> {
        check_batch(users.len(), IMPORT_USERS_BATCH)?;
        let users = users.to_vec();
        self.write(move |tx| {
            let mut outcomes = Vec::with_capacity(users.len());
            for user in &users {
                if get_user(tx, user.id)?.is_some() {
                    outcomes.push(Imported::Present);
                    continue;
                }
                let name = Some(user.username.as_ref());
                match claim_guards(tx, user.id, name, Some(user.email.as_ref())) {
                    Ok(()) => {
                        put_user(tx, user)?;
                        outcomes.push(Imported::Created);
                    }
                    Err(StoreError::Taken { username, email }) => {
                        outcomes.push(Imported::Taken { username, email });
                    }
                    Err(other) => return Err(other),
                }
            }
            Ok(outcomes)
        })
        .await
    }

    async fn import_tasks(&self, owner: UserId, tasks: &[Task]) -> Result<u64, StoreError> {
        check_import(owner, tasks)?;
        let tasks = tasks.to_vec();
        self.write(move |tx| {
            if !owner_exists(tx, owner)? {
                return Err(StoreError::Missing(Missing::User));
            }
            let mut added = TaskCounts::default();
            for task in &tasks {
                if stored_task(tx, task)?.is_none() {
                    put(tx, task)?;
                    added.apply(task.status, 1);
                }
            }
            count(tx, owner, |counts| {
                for status in TaskStatus::ALL {
                    counts.apply(status, added.of(Some(status)).cast_signed());
                }
            })?;
            Ok(added.total)
        })
        .await
    }

    async fn stored_tasks(
        &self,
        owner: UserId,
        ids: &[TaskId],
    ) -> Result<Vec<Option<Task>>, StoreError> {
        check_batch(ids.len(), IMPORT_TASKS_BATCH)?;
        let ids = ids.to_vec();
        self.read(move |tx| {
            let tasks = tx.open_table(TASKS)?;
            ids.iter().map(|&id| read_task(&tasks, owner, id)).collect()
        })
        .await
    }

    async fn orphans_owner(&self) -> Result<Option<UserId>, StoreError> {
        self.read(|tx| {
            let table = tx.open_table(IMPORT)?;
            let recorded = table.get(ORPHANS_OWNER)?;
            recorded.map(|owner| user_id(owner.value())).transpose()
        })
        .await
    }

    async fn record_orphans_owner(&self, owner: UserId) -> Result<UserId, StoreError> {
        self.write(move |tx| {
            let mut table = tx.open_table(IMPORT).ctx("opening import")?;
            if let Some(recorded) = table.get(ORPHANS_OWNER).ctx("reading import")? {
                return Ok(user_id(recorded.value())?);
            }
            let id = owner.as_uuid().as_bytes().as_slice();
            table.insert(ORPHANS_OWNER, id).ctx("writing import")?;
            Ok(owner)
        })
        .await
    }
}
