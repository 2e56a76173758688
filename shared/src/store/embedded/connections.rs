//! Open WebSocket connections: by user, and a reverse entry by connection id.

use anyhow::Context;
use async_trait::async_trait;
use redb::ReadableTable;

use super::{CONNECTION_OWNERS, CONNECTIONS, Ctx, EmbeddedStore, decode, encode};
use crate::domain::{Timestamp, UserId};
use crate::store::{Connection, ConnectionStore, StoreError};

/// `user ++ id`: a user's connections sort together.
fn key(user: UserId, id: &str) -> Vec<u8> {
    let mut key = user.as_uuid().as_bytes().to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

#[async_trait]
impl ConnectionStore for EmbeddedStore {
    async fn add_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let connection = connection.clone();
        self.write(move |tx| {
            let mut connections = tx.open_table(CONNECTIONS).ctx("opening connections")?;
            let record = encode(&connection)?;
            connections
                .insert(
                    key(connection.user_id, &connection.id).as_slice(),
                    record.as_slice(),
                )
                .ctx("writing connection")?;
            let mut owners = tx
                .open_table(CONNECTION_OWNERS)
                .ctx("opening connection owners")?;
            owners
                .insert(
                    connection.id.as_str(),
                    connection.user_id.as_uuid().as_bytes().as_slice(),
                )
                .ctx("writing owner")?;
            Ok(())
        })
        .await
    }

    async fn renew_connection(&self, connection: &Connection) -> Result<bool, StoreError> {
        let connection = connection.clone();
        self.write(move |tx| {
            let mut connections = tx.open_table(CONNECTIONS).ctx("opening connections")?;
            let key = key(connection.user_id, &connection.id);
            let Some(bytes) = connections.get(key.as_slice()).ctx("reading connection")? else {
                return Ok(false);
            };
            let mut stored: Connection = decode(bytes.value())?;
            drop(bytes);
            stored.token_expires_at = connection.token_expires_at;
            stored.epoch = connection.epoch;
            stored.sid = connection.sid;
            let record = encode(&stored)?;
            connections
                .insert(key.as_slice(), record.as_slice())
                .ctx("renewing connection")?;
            Ok(true)
        })
        .await
    }

    async fn connection_owner(&self, id: &str) -> Result<Option<UserId>, StoreError> {
        let id = id.to_owned();
        self.read(move |tx| {
            let owners = tx.open_table(CONNECTION_OWNERS)?;
            let Some(owner) = owners.get(id.as_str())? else {
                return Ok(None);
            };
            let owner =
                UserId::from_bytes(owner.value()).context("connection without a user id")?;
            Ok(Some(owner))
        })
        .await
    }

    async fn connections_of(&self, user: UserId) -> Result<Vec<Connection>, StoreError> {
        self.read(move |tx| {
            let connections = tx.open_table(CONNECTIONS)?;
            let prefix = user.as_uuid().as_bytes().to_vec();
            let now = Timestamp::now();
            let mut live = Vec::new();
            for entry in connections.range(prefix.as_slice()..)? {
                let (key, value) = entry?;
                if !key.value().starts_with(&prefix) {
                    break;
                }
                // One unreadable record must not cost the owner's other connections the message
                // (as on DynamoDB).
                match decode::<Connection>(value.value()) {
                    Ok(connection) if connection.expires_at > now => live.push(connection),
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(error = format!("{error:#}"), %user, "unreadable connection record skipped");
                    }
                }
            }
            Ok(live)
        })
        .await
    }

    async fn remove_connection(&self, user: UserId, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |tx| {
            tx.open_table(CONNECTIONS)
                .ctx("opening connections")?
                .remove(key(user, &id).as_slice())
                .ctx("removing connection")?;
            tx.open_table(CONNECTION_OWNERS)
                .ctx("opening connection owners")?
                .remove(id.as_str())
                .ctx("removing owner")?;
            Ok(())
        })
        .await
    }
}
