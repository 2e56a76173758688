//! Imports from the original app: users in batches of up to 33 (three puts each), tasks in
//! batches of up to 98 of one owner with their counts and the owner check, each batch one
//! transaction that skips what an earlier run stored.

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, TransactWriteItem};

use super::error::{ConditionalError, Failure};
use super::tasks::{count_attribute, counts_key, task_item, task_key};
use super::users::{guard_item, key};
use super::{DynamoStore, Item, from_item, n, s, tx};
use crate::domain::{Task, TaskId, TaskStatus, User, UserId};
use crate::store::import::{check_batch, check_import};
use crate::store::{
    IMPORT_TASKS_BATCH, IMPORT_USERS_BATCH, ImportStore, Imported, Missing, StoreError, TaskCounts,
};

#[async_trait]
impl ImportStore for DynamoStore {
    /// The whole batch in one transaction (three puts a user); if that is cancelled (a user of
    /// an earlier run, a taken name or email), each user in a transaction of its own.
    #[tracing::instrument(skip_all, fields(users = users.len()))]
    async fn import_users(&self, users: &[User]) -> Result<Vec<Imported>, StoreError> {
        check_batch(users.len(), IMPORT_USERS_BATCH)?;
        if users.len() > 1 && !guards_repeat(users) {
            let mut items = Vec::with_capacity(users.len() * 3);
            for user in users {
                items.extend(self.new_user_items(user)?);
            }
            match self.transact(items).await {
                Ok(()) => return Ok(vec![Imported::Created; users.len()]),
                Err(Failure::Cancelled(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        let mut outcomes = Vec::with_capacity(users.len());
        for user in users {
            outcomes.push(self.import_user(user).await?);
        }
        Ok(outcomes)
    }

    /// One transaction per try: the tasks not yet stored (`attribute_not_exists`), the counts
    /// update and the owner check. Tasks a cancelled try names as already there are dropped and
    /// the rest sent again, so a batch a crashed run already wrote costs two round trips.
    #[tracing::instrument(skip_all, fields(tasks = tasks.len()))]
    async fn import_tasks(&self, owner: UserId, tasks: &[Task]) -> Result<u64, StoreError> {
        check_import(owner, tasks)?;
        let mut pending: Vec<&Task> = tasks.iter().collect();
        while !pending.is_empty() {
            let mut added = TaskCounts::default();
            let mut items = Vec::with_capacity(pending.len() + 2);
            for task in &pending {
                items.push(tx::put(
                    &self.tasks,
                    task_item(task)?,
                    Some("attribute_not_exists(pk)"),
                    vec![],
                    vec![],
                )?);
                added.apply(task.status, 1);
            }
            items.push(self.add_counts(owner, &added)?);
            items.push(self.owner_check(owner)?);
            let failure = match self.transact(items).await {
                Ok(()) => return Ok(added.total),
                Err(failure @ Failure::Cancelled(_)) => failure,
                Err(other) => return Err(other.into()),
            };
            if failure.failed_at(pending.len() + 1) {
                return Err(StoreError::Missing(Missing::User));
            }
            let before = pending.len();
            let mut index = 0;
            pending.retain(|_| {
                index += 1;
                !failure.failed_at(index - 1)
            });
            if pending.len() == before {
                return Err(StoreError::Conflict);
            }
        }
        Ok(0)
    }

    /// One `BatchGetItem`, sent again (5 tries in all) while DynamoDB leaves keys unprocessed.
    async fn stored_tasks(
        &self,
        owner: UserId,
        ids: &[TaskId],
    ) -> Result<Vec<Option<Task>>, StoreError> {
        check_batch(ids.len(), IMPORT_TASKS_BATCH)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(ids.iter().map(|&id| task_key(owner, id)).collect()))
            .consistent_read(true)
            .build()
            .context("building batch read")?;
        let mut tries = 1;
        let mut found = loop {
            let read = self.batch_get([(&self.tasks, keys.clone())], "reading tasks back");
            match read.await {
                Err(StoreError::Throttled) if tries < 5 => {
                    tokio::time::sleep(std::time::Duration::from_millis(100 << tries)).await;
                    tries += 1;
                }
                other => break other?,
            }
        };
        let mut stored = std::collections::HashMap::new();
        for item in found.remove(&self.tasks).unwrap_or_default() {
            let task: Task = from_item(item)?;
            stored.insert(task.id, task);
        }
        Ok(ids.iter().map(|id| stored.remove(id)).collect())
    }

    async fn orphans_owner(&self) -> Result<Option<UserId>, StoreError> {
        let item = self
            .get(key(ORPHANS_OWNER.into()), "reading import")
            .await?;
        Ok(item.as_ref().map(recorded_owner).transpose()?)
    }

    /// One conditional put; when it finds a record, one read of it.
    async fn record_orphans_owner(&self, owner: UserId) -> Result<UserId, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.users)
            .set_item(Some(guard_item(ORPHANS_OWNER.into(), owner)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put.map_err(|e| PutItemError::classify(e, "writing import")) {
            Ok(_) => Ok(owner),
            Err(Failure::Condition { .. }) => {
                let recorded = self.orphans_owner().await?;
                Ok(recorded.context("the import record went missing")?)
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// The users table's item naming the user ownerless tasks go to
/// ([`ImportStore::record_orphans_owner`]), in a `user_id` as a guard's.
const ORPHANS_OWNER: &str = "IMPORT#ORPHANS_OWNER";

fn recorded_owner(item: &Item) -> anyhow::Result<UserId> {
    let id = item.get("user_id").and_then(|v| v.as_s().ok());
    id.and_then(|id| UserId::parse(id))
        .context("an import record without a user id")
}

impl DynamoStore {
    /// Imports one user in its own transaction, reading what stopped it from the cancellation.
    async fn import_user(&self, user: &User) -> Result<Imported, StoreError> {
        match self.transact(self.new_user_items(user)?).await {
            Ok(()) => Ok(Imported::Created),
            Err(failure @ Failure::Cancelled(_)) if failure.failed_at(0) => Ok(Imported::Present),
            Err(failure @ Failure::Cancelled(_)) => Ok(Imported::Taken {
                username: failure.failed_at(1),
                email: failure.failed_at(2),
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// A transaction's check that `owner`'s user item exists.
    fn owner_check(&self, owner: UserId) -> anyhow::Result<TransactWriteItem> {
        tx::check(
            &self.users,
            Item::from([("pk".to_owned(), s(format!("USER#{owner}")))]),
            "attribute_exists(pk)",
            vec![],
            vec![],
        )
    }

    /// Adds a batch's counts, in a transaction.
    fn add_counts(&self, owner: UserId, added: &TaskCounts) -> anyhow::Result<TransactWriteItem> {
        let mut values = vec![(":total", n(added.total))];
        let mut names = vec![("#total", "total")];
        let mut expression = "ADD #total :total".to_owned();
        for (status, name, value) in [
            (TaskStatus::ToDo, "#to_do", ":to_do"),
            (TaskStatus::InProgress, "#in_progress", ":in_progress"),
            (TaskStatus::Done, "#done", ":done"),
        ] {
            expression.push_str(&format!(", {name} {value}"));
            values.push((value, n(added.of(Some(status)))));
            names.push((name, count_attribute(status)));
        }
        tx::update(
            &self.tasks,
            counts_key(owner),
            &expression,
            None,
            values,
            names,
        )
    }
}

/// Whether two users of `users` would write the same guard (one transaction may not write an
/// item twice).
fn guards_repeat(users: &[User]) -> bool {
    let mut seen = std::collections::HashSet::new();
    users.iter().any(|user| {
        !seen.insert(format!("USERNAME#{}", user.username))
            || !seen.insert(format!("EMAIL#{}", user.email))
    })
}
