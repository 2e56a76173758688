//! Tasks and their counts, in the tasks table: one partition per user.

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{KeysAndAttributes, TransactWriteItem};

use super::error::{Failure, store_error};
use super::sessions::{ENDED, check_session, no_session};
use super::{DynamoStore, Item, from_item, n, s, to_item, tx};
use crate::domain::{Session, Task, TaskId, TaskOrder, TaskStatus, Timestamp, UserId};
use crate::store::{
    Created, IdempotentCreate, ListQuery, Missing, Position, StoreError, TaskCounts, TaskPage,
    TaskStore,
};

fn key(owner: UserId, sk: String) -> Item {
    Item::from([
        ("pk".to_owned(), s(format!("USER#{owner}"))),
        ("sk".to_owned(), s(sk)),
    ])
}

pub(super) fn task_key(owner: UserId, id: TaskId) -> Item {
    key(owner, format!("TASK#{id}"))
}

pub(super) fn counts_key(owner: UserId) -> Item {
    key(owner, "COUNTS".to_owned())
}

/// The `by_created` index's sort key: `<date_created>#<id>`. Timestamps are fixed-width RFC 3339
/// in UTC, so the strings sort as the times do.
fn created_sk(order: &TaskOrder) -> String {
    format!("{}#{}", order.created, order.id)
}

/// The `by_status` index's sort key: `<STATUS>#<date_created>#<id>`.
fn status_sk(status: TaskStatus, order: &TaskOrder) -> String {
    format!("{}#{}", status.as_str(), created_sk(order))
}

pub(crate) fn task_item(task: &Task) -> anyhow::Result<Item> {
    let mut item = to_item(task)?;
    item.extend(task_key(task.owner, task.id));
    item.insert("created_sk".into(), s(created_sk(&task.order())));
    item.insert("status_sk".into(), s(status_sk(task.status, &task.order())));
    Ok(item)
}

/// The counts attribute of a status (the field names of [`TaskCounts`]).
pub(super) fn count_attribute(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::ToDo => "to_do",
        TaskStatus::InProgress => "in_progress",
        TaskStatus::Done => "done",
    }
}

const UNCHANGED: &str = "#version = :before";

impl DynamoStore {
    /// Adds `delta` to the total and to `status`'s count, in a transaction.
    fn count(
        &self,
        owner: UserId,
        status: TaskStatus,
        delta: i64,
    ) -> anyhow::Result<TransactWriteItem> {
        tx::update(
            &self.tasks,
            counts_key(owner),
            "ADD #total :delta, #status :delta",
            None,
            vec![(":delta", n(delta))],
            vec![("#total", "total"), ("#status", count_attribute(status))],
        )
    }

    /// Moves one task from one status count to another, in a transaction.
    fn recount(
        &self,
        owner: UserId,
        from: TaskStatus,
        to: TaskStatus,
    ) -> anyhow::Result<TransactWriteItem> {
        tx::update(
            &self.tasks,
            counts_key(owner),
            "ADD #from :minus, #to :plus",
            None,
            vec![(":minus", n(-1)), (":plus", n(1))],
            vec![
                ("#from", count_attribute(from)),
                ("#to", count_attribute(to)),
            ],
        )
    }
}

impl DynamoStore {
    /// `owner`'s counts, read in one `BatchGetItem` with the owner's user item (strongly
    /// consistent): `Missing(User)` when the owner does not exist, `Missing(Session)` when it no
    /// longer honours `session`.
    async fn counts_of_existing_owner(
        &self,
        owner: UserId,
        session: Session,
    ) -> Result<TaskCounts, StoreError> {
        let read = |key: Item| {
            KeysAndAttributes::builder()
                .keys(key)
                .consistent_read(true)
                .projection_expression(
                    "pk, #total, to_do, in_progress, done, session_epoch, #ended",
                )
                .expression_attribute_names("#total", "total")
                .expression_attribute_names("#ended", ENDED)
                .build()
                .context("building batch read")
        };
        let user_key = Item::from([("pk".to_owned(), s(format!("USER#{owner}")))]);
        let reads = [
            (&self.tasks, read(counts_key(owner))?),
            (&self.users, read(user_key)?),
        ];
        let mut tables = self
            .batch_get(reads, "reading task counts and owner")
            .await?;
        let Some(user) = tables
            .remove(&self.users)
            .and_then(|items| items.into_iter().next())
        else {
            return Err(StoreError::Missing(Missing::User));
        };
        check_session(&user, session)?;
        let counts = tables
            .remove(&self.tasks)
            .and_then(|items| items.into_iter().next());
        Ok(counts.map(from_item).transpose()?.unwrap_or_default())
    }

    /// One page of `owner`'s tasks as `query` asks (newest first), and whether more lie beyond it.
    async fn page_of(
        &self,
        owner: UserId,
        query: &ListQuery,
    ) -> Result<(Vec<Task>, bool), StoreError> {
        let (newest_first, from) = match query.position {
            Position::First => (true, None),
            Position::After(id) => (true, Some(id)),
            Position::Before(id) => (false, Some(id)),
        };
        let (index, sort_key) = match query.status {
            Some(_) => ("by_status", "status_sk"),
            None => ("by_created", "created_sk"),
        };
        let mut start = from.map(|order: TaskOrder| {
            let mut start = task_key(owner, order.id);
            let position = match query.status {
                Some(status) => status_sk(status, &order),
                None => created_sk(&order),
            };
            start.insert(sort_key.into(), s(position));
            start
        });
        // The COUNTS item has neither index key, so both indexes hold tasks only.
        let (condition, prefix) = match query.status {
            Some(status) => (
                "pk = :pk AND begins_with(status_sk, :prefix)",
                Some(format!("{}#", status.as_str())),
            ),
            None => ("pk = :pk", None),
        };
        let mut values = Item::from([(":pk".to_owned(), s(format!("USER#{owner}")))]);
        values.extend(prefix.map(|prefix| (":prefix".to_owned(), s(prefix))));
        let wanted = query.limit + 1;
        let mut items = Vec::with_capacity(wanted);
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.tasks)
                .index_name(index)
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!newest_first)
                .consistent_read(true)
                .limit(i32::try_from(wanted - items.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error(e, "listing tasks"))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(last) if items.len() < wanted => start = Some(last),
                _ => break,
            }
        }
        let more = items.len() > query.limit;
        let mut tasks = items
            .into_iter()
            .take(query.limit)
            .map(from_item)
            .collect::<anyhow::Result<Vec<Task>>>()?;
        if !newest_first {
            tasks.reverse();
        }
        Ok((tasks, more))
    }
}

/// A failed version condition means the task changed, or is gone.
fn changed_or_gone(existed: bool) -> StoreError {
    if existed {
        StoreError::Conflict
    } else {
        StoreError::Missing(Missing::Task)
    }
}

/// The users-table key of `owner`'s idempotency key `key`.
fn idempotency_key(owner: UserId, key: &str) -> String {
    format!("IDEMPOTENCY#{owner}#{key}")
}

impl DynamoStore {
    /// The writes of a new task: the task (new), its count, and its owner's session check.
    fn insert(&self, task: &Task, session: Session) -> Result<Vec<TransactWriteItem>, StoreError> {
        Ok(vec![
            tx::put(
                &self.tasks,
                task_item(task)?,
                Some("attribute_not_exists(pk)"),
                vec![],
                vec![],
            )?,
            self.count(task.owner, task.status, 1)?,
            self.session_check(task.owner, session)?,
        ])
    }
}

#[async_trait]
impl TaskStore for DynamoStore {
    #[tracing::instrument(skip_all)]
    async fn create_task(&self, task: &Task, session: Session) -> Result<(), StoreError> {
        let items = self.insert(task, session)?;
        self.transact(items).await.map_err(|failure| match failure {
            Failure::Cancelled(_) if failure.failed_at(2) => no_session(failure.existed_at(2)),
            Failure::Cancelled(_) => StoreError::Conflict,
            other => other.into(),
        })
    }

    /// One transaction: the task, its count, the owner's existence and the key, which may be
    /// taken again only once its earlier use has expired (TTL deletion may lag).
    async fn create_task_once(
        &self,
        create: &IdempotentCreate,
        session: Session,
    ) -> Result<Created, StoreError> {
        let mut items = self.insert(&create.task, session)?;
        let record = Item::from([
            (
                "pk".to_owned(),
                s(idempotency_key(create.task.owner, &create.key)),
            ),
            (
                "record".to_owned(),
                s(serde_json::to_string(create).context("encoding key record")?),
            ),
            ("expires_at".to_owned(), n(create.expires_at.unix())),
        ]);
        items.push(tx::put(
            &self.users,
            record,
            Some("attribute_not_exists(pk) OR expires_at < :now"),
            vec![(":now", n(Timestamp::now().unix()))],
            vec![],
        )?);
        match self.transact(items).await {
            Ok(()) => Ok(Created::New),
            // An ended session first: its key's earlier task is not handed back to it either.
            Err(failure) if failure.failed_at(2) => Err(no_session(failure.existed_at(2))),
            Err(failure) if failure.failed_at(3) => {
                let earlier = failure
                    .item_at(3)
                    .and_then(|item| item.get("record")?.as_s().ok())
                    .context("a used idempotency key without its record")?;
                Ok(Created::Earlier(
                    serde_json::from_str(earlier).context("decoding key record")?,
                ))
            }
            Err(Failure::Cancelled(_)) => Err(StoreError::Conflict),
            Err(other) => Err(other.into()),
        }
    }

    async fn task(&self, owner: UserId, id: TaskId) -> Result<Option<Task>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tasks)
            .set_key(Some(task_key(owner, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(e, "reading task"))?;
        Ok(output.item.map(from_item).transpose()?)
    }

    /// One transaction: the task (on its version), the counts if its status moves, and the
    /// owner's session check.
    #[tracing::instrument(skip_all)]
    async fn update_task(
        &self,
        before: &Task,
        after: &Task,
        session: Session,
    ) -> Result<(), StoreError> {
        let mut items = vec![
            tx::put(
                &self.tasks,
                task_item(after)?,
                Some(UNCHANGED),
                vec![(":before", n(before.version))],
                vec![("#version", "version")],
            )?,
            self.session_check(after.owner, session)?,
        ];
        if before.status != after.status {
            items.push(self.recount(after.owner, before.status, after.status)?);
        }
        self.transact(items).await.map_err(|failure| match failure {
            Failure::Cancelled(_) if failure.failed_at(1) => no_session(failure.existed_at(1)),
            Failure::Cancelled(_) => changed_or_gone(failure.existed_at(0)),
            other => other.into(),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn delete_task(&self, task: &Task, session: Session) -> Result<(), StoreError> {
        let items = vec![
            tx::delete(
                &self.tasks,
                task_key(task.owner, task.id),
                Some(UNCHANGED),
                vec![(":before", n(task.version))],
                vec![("#version", "version")],
            )?,
            self.count(task.owner, task.status, -1)?,
            self.session_check(task.owner, session)?,
        ];
        self.transact(items).await.map_err(|failure| match failure {
            Failure::Cancelled(_) if failure.failed_at(2) => no_session(failure.existed_at(2)),
            Failure::Cancelled(_) => changed_or_gone(failure.existed_at(0)),
            other => other.into(),
        })
    }

    /// One `BatchGetItem` (the counts and the owner) beside one `Query` (on the `by_created`
    /// index, or `by_status` when filtering): one round trip, not two. The page is dropped unread
    /// when the owner's session has ended. A second Query page only if DynamoDB's 1 MB page limit
    /// cut the first one short.
    async fn list_tasks(
        &self,
        owner: UserId,
        session: Session,
        query: &ListQuery,
    ) -> Result<TaskPage, StoreError> {
        let (counts, page) = tokio::join!(
            self.counts_of_existing_owner(owner, session),
            self.page_of(owner, query)
        );
        // The session's refusal first: a revoked token learns nothing from a failed Query.
        let counts = counts?;
        let (tasks, more) = page?;
        Ok(TaskPage {
            count: counts.of(query.status),
            tasks,
            more,
        })
    }
}
