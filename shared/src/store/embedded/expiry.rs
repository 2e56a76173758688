//! What DynamoDB's TTL does for the deployed tables: records past their `expires_at` deleted.
//! Refresh tokens, idempotency keys and WebSocket connections would otherwise pile up in a local
//! server that runs for weeks. (Throttle counters are dropped on the write path: `limits`.)

use std::time::Duration;

use redb::{ReadableTable, WriteTransaction};

use super::{
    CONNECTION_OWNERS, CONNECTIONS, EmbeddedStore, IDEMPOTENT_CREATES, REFRESH_TOKENS, decode,
    tokens,
};
use crate::domain::Timestamp;
use crate::store::{Connection, StoreError};

/// Records deleted per write transaction: writes queued behind a sweep wait for one batch only.
const BATCH: usize = 500;

impl EmbeddedStore {
    /// Deletes every expired record: found on a snapshot, then deleted a batch at a time (each
    /// record checked again), so other writes go on in between. The search reads whole tables,
    /// so it runs on a blocking thread, not in place as the requests' reads do.
    pub async fn sweep_expired(&self) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let committer = self.committer.clone();
        let expired = tokio::task::spawn_blocking(move || {
            let tx = committer.snapshot();
            expired(
                &tx.open_table(REFRESH_TOKENS)?,
                &tx.open_table(IDEMPOTENT_CREATES)?,
                &tx.open_table(CONNECTIONS)?,
                now,
            )
        })
        .await
        .map_err(|e| {
            StoreError::Unexpected(anyhow::Error::new(e).context("the expiry search"))
        })??;
        for batch in expired.chunks(BATCH) {
            let batch = batch.to_vec();
            self.write(move |tx| Ok(delete(tx, &batch, now)?)).await?;
        }
        Ok(())
    }

    /// Sweeps every `every` from now on, for as long as the runtime runs (DynamoDB's TTL deletes
    /// within days of the expiry; here it is minutes). The task holds a clone of the store, and
    /// ends with the runtime.
    pub fn keep_swept(&self, every: Duration) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            // After a machine's sleep, one sweep, not one per tick missed.
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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

/// A record past its expiry, by table.
#[derive(Debug, Clone)]
pub(super) enum Expired {
    Token(String),
    Key(Vec<u8>),
    Connection { key: Vec<u8>, id: String },
}

/// Every record of these tables past its expiry at `now`.
pub(super) fn expired(
    tokens: &impl ReadableTable<&'static str, &'static [u8]>,
    keys: &impl ReadableTable<&'static [u8], &'static [u8]>,
    connections: &impl ReadableTable<&'static [u8], &'static [u8]>,
    now: Timestamp,
) -> anyhow::Result<Vec<Expired>> {
    let mut found = Vec::new();
    for entry in tokens.iter()? {
        let (jti, bytes) = entry?;
        if tokens::token_expired(bytes.value(), now) {
            found.push(Expired::Token(jti.value().to_owned()));
        }
    }
    for entry in keys.iter()? {
        let (key, bytes) = entry?;
        if key_expired(bytes.value(), now) {
            found.push(Expired::Key(key.value().to_vec()));
        }
    }
    for entry in connections.iter()? {
        let (key, bytes) = entry?;
        if let Ok(connection) = decode::<Connection>(bytes.value())
            && connection.expires_at <= now
        {
            let key = key.value().to_vec();
            found.push(Expired::Connection {
                key,
                id: connection.id,
            });
        }
    }
    Ok(found)
}

/// Deletes what has expired, in `tx` at once: at every open, before anything else writes.
pub(super) fn sweep(tx: &WriteTransaction) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let found = expired(
        &tx.open_table(REFRESH_TOKENS)?,
        &tx.open_table(IDEMPOTENT_CREATES)?,
        &tx.open_table(CONNECTIONS)?,
        now,
    )?;
    delete(tx, &found, now)
}

/// Deletes `expired`, each record checked again: one renewed since it was found stays.
pub(super) fn delete(
    tx: &WriteTransaction,
    expired: &[Expired],
    now: Timestamp,
) -> anyhow::Result<()> {
    let mut tokens = tx.open_table(REFRESH_TOKENS)?;
    let mut keys = tx.open_table(IDEMPOTENT_CREATES)?;
    let mut connections = tx.open_table(CONNECTIONS)?;
    let mut owners = tx.open_table(CONNECTION_OWNERS)?;
    for record in expired {
        match record {
            Expired::Token(jti) => {
                let gone = tokens
                    .get(jti.as_str())?
                    .is_some_and(|b| tokens::token_expired(b.value(), now));
                if gone {
                    tokens.remove(jti.as_str())?;
                }
            }
            Expired::Key(key) => {
                let gone = keys
                    .get(key.as_slice())?
                    .is_some_and(|b| key_expired(b.value(), now));
                if gone {
                    keys.remove(key.as_slice())?;
                }
            }
            Expired::Connection { key, id } => {
                let gone = connections.get(key.as_slice())?.is_some_and(|b| {
                    decode::<Connection>(b.value()).is_ok_and(|c| c.expires_at <= now)
                });
                if gone {
                    connections.remove(key.as_slice())?;
                    owners.remove(id.as_str())?;
                }
            }
        }
    }
    Ok(())
}

/// Whether a stored idempotency key is past its expiry (an unreadable one counts as past): after
/// its last whole second, as a create reads it (and DynamoDB compares it). Only its expiry is
/// read: the record holds its whole task, up to ~40 KB of description.
fn key_expired(bytes: &[u8], now: Timestamp) -> bool {
    !decode::<Expiry>(bytes).is_ok_and(|c| c.expires_at.unix() >= now.unix())
}

/// The one field of a stored [`crate::store::IdempotentCreate`] its expiry needs.
#[derive(serde::Deserialize)]
struct Expiry {
    expires_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use redb::ReadableTableMetadata;

    use super::*;
    use crate::domain::{Task, TaskDescription, TaskId, TaskStatus, TaskTitle, UserId};
    use crate::store::{ConnectionStore, IdempotentCreate, RefreshToken, TokenStore};

    async fn rows(store: &EmbeddedStore) -> [u64; 4] {
        store
            .read(|tx| {
                Ok([
                    tx.open_table(REFRESH_TOKENS)?.len()?,
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
                sid: None,
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
                sid: None,
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
