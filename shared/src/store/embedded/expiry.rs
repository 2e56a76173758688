//! What DynamoDB's TTL does for the deployed tables: records past their `expires_at` deleted.
//! Refresh tokens, idempotency keys and WebSocket connections would otherwise pile up in a local
//! server that runs for weeks. (Throttle counters are dropped on the write path: `limits`.)

use std::time::Duration;

use redb::WriteTransaction;

use super::{CONNECTION_OWNERS, CONNECTIONS, EmbeddedStore, IDEMPOTENT_CREATES, decode, users};
use crate::domain::Timestamp;
use crate::store::{Connection, IdempotentCreate, StoreError};

impl EmbeddedStore {
    /// Deletes every expired record, in one transaction.
    pub async fn sweep_expired(&self) -> Result<(), StoreError> {
        self.write(|tx| Ok(sweep(tx)?)).await
    }

    /// Sweeps every `every` from now on, for as long as the runtime runs (DynamoDB's TTL deletes
    /// within days of the expiry; here it is minutes).
    pub fn keep_swept(&self, every: Duration) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if let Err(error) = store.sweep_expired().await {
                    tracing::warn!(%error, "could not delete expired records");
                }
            }
        });
    }
}

/// Deletes what has expired: run at every open, and by [`EmbeddedStore::sweep_expired`].
pub(super) fn sweep(tx: &WriteTransaction) -> anyhow::Result<()> {
    let now = Timestamp::now();
    users::drop_expired_tokens(&mut tx.open_table(super::REFRESH_TOKENS)?)?;
    tx.open_table(IDEMPOTENT_CREATES)?
        .retain(|_, bytes| decode::<IdempotentCreate>(bytes).is_ok_and(|c| c.expires_at > now))?;
    let mut gone = Vec::new();
    tx.open_table(CONNECTIONS)?
        .retain(|_, bytes| match decode::<Connection>(bytes) {
            Ok(connection) if connection.expires_at <= now => {
                gone.push(connection.id);
                false
            }
            _ => true,
        })?;
    let mut owners = tx.open_table(CONNECTION_OWNERS)?;
    for id in gone {
        owners.remove(id.as_str())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::ReadableTableMetadata;

    use super::*;
    use crate::domain::{Task, TaskDescription, TaskId, TaskStatus, TaskTitle, UserId};
    use crate::store::{ConnectionStore, RefreshToken, TokenStore};

    async fn rows(store: &EmbeddedStore) -> [u64; 4] {
        store
            .read(|tx| {
                Ok([
                    tx.open_table(super::super::REFRESH_TOKENS)?.len()?,
                    tx.open_table(IDEMPOTENT_CREATES)?.len()?,
                    tx.open_table(CONNECTIONS)?.len()?,
                    tx.open_table(CONNECTION_OWNERS)?.len()?,
                ])
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn expired_tokens_keys_and_connections_are_deleted_live_ones_kept() {
        let store = EmbeddedStore::in_memory().unwrap();
        let user = UserId::new();
        let (past, future) = (
            Timestamp::from_unix(1).unwrap(),
            Timestamp::now().plus_seconds(600),
        );
        for (jti, expires_at) in [("old", past), ("new", future)] {
            let token = RefreshToken {
                jti: jti.into(),
                user_id: user,
                expires_at,
            };
            store.add_refresh(&token, 0).await.unwrap();
        }
        for (id, expires_at) in [("gone", past), ("open", future)] {
            let connection = Connection {
                id: id.into(),
                user_id: user,
                connected_at: past,
                expires_at,
                token_expires_at: future,
                epoch: 0,
            };
            store.add_connection(&connection).await.unwrap();
        }
        let key = move |key: &str, expires_at| IdempotentCreate {
            key: key.into(),
            fingerprint: "f".into(),
            task: Task {
                id: TaskId::new(),
                owner: user,
                title: TaskTitle::parse("t".into()).unwrap(),
                description: TaskDescription::parse(String::new()).unwrap(),
                status: TaskStatus::ToDo,
                date_created: past,
                last_updated: past,
                version: 0,
            },
            expires_at,
        };
        store
            .write(move |tx| {
                let mut table = tx.open_table(IDEMPOTENT_CREATES).unwrap();
                for (name, expires_at) in [("old", past), ("new", future)] {
                    let record = super::super::encode(&key(name, expires_at))?;
                    table.insert(name.as_bytes(), record.as_slice()).unwrap();
                }
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(rows(&store).await, [2, 2, 2, 2]);

        store.sweep_expired().await.unwrap();

        assert_eq!(rows(&store).await, [1, 1, 1, 1]);
        assert_eq!(store.connection_owner("gone").await.unwrap(), None);
        assert_eq!(store.connection_owner("open").await.unwrap(), Some(user));
    }
}
