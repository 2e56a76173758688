//! Open WebSocket connections in the connections table: `USER#<uid>` / `CONN#<id>` lists a
//! user's connections (one Query), `CONN#<id>` / `OWNER` finds a connection's user. Both carry the
//! TTL attribute `expires_at`, a little past API Gateway's 2-hour connection limit.

use anyhow::Context;
use async_trait::async_trait;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

use super::error::{ConditionalError, Failure, store_error};
use super::{DynamoStore, Item, from_item, n, s, tx};
use crate::domain::{SessionId, Timestamp, UserId};
use crate::store::{Connection, ConnectionStore, StoreError};

/// A user's listing item: the connection id, when it was made and when it expires, and its
/// token's expiry and epoch (an item without them is of a token long expired).
fn listed(user: UserId, item: Item) -> anyhow::Result<Connection> {
    #[derive(serde::Deserialize)]
    struct Listed {
        connection_id: String,
        connected_at: Timestamp,
        expires_at: i64,
        #[serde(default)]
        token_expires_at: i64,
        #[serde(default)]
        epoch: u64,
        #[serde(default)]
        sid: Option<SessionId>,
    }
    let listed: Listed = from_item(item)?;
    let time = |unix| Timestamp::from_unix(unix).context("connection time out of range");
    Ok(Connection {
        id: listed.connection_id,
        user_id: user,
        connected_at: listed.connected_at,
        expires_at: time(listed.expires_at)?,
        token_expires_at: time(listed.token_expires_at)?,
        epoch: listed.epoch,
        sid: listed.sid,
    })
}

fn key(pk: String, sk: String) -> Item {
    Item::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn by_user(user: UserId, id: &str) -> Item {
    key(format!("USER#{user}"), format!("CONN#{id}"))
}

fn by_id(id: &str) -> Item {
    key(format!("CONN#{id}"), "OWNER".to_owned())
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn add_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let expires_at = n(connection.expires_at.unix());
        let mut listed = by_user(connection.user_id, &connection.id);
        listed.insert("connection_id".into(), s(connection.id.clone()));
        listed.insert(
            "connected_at".into(),
            s(connection.connected_at.to_string()),
        );
        listed.insert("expires_at".into(), expires_at.clone());
        listed.insert(
            "token_expires_at".into(),
            n(connection.token_expires_at.unix()),
        );
        listed.insert("epoch".into(), n(connection.epoch));
        if let Some(sid) = connection.sid {
            listed.insert("sid".into(), s(sid.to_string()));
        }
        let mut owner = by_id(&connection.id);
        owner.insert("user_id".into(), s(connection.user_id.to_string()));
        owner.insert("expires_at".into(), expires_at);
        let items = vec![
            tx::put(&self.connections, listed, None, vec![], vec![])?,
            tx::put(&self.connections, owner, None, vec![], vec![])?,
        ];
        self.transact(items).await.map_err(StoreError::from)
    }

    async fn renew_connection(&self, connection: &Connection) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.connections)
            .set_key(Some(by_user(connection.user_id, &connection.id)))
            .update_expression(match connection.sid {
                Some(_) => "SET token_expires_at = :expires, epoch = :epoch, sid = :sid",
                None => "SET token_expires_at = :expires, epoch = :epoch REMOVE sid",
            })
            .set_expression_attribute_values(connection.sid.map(|sid| {
                std::collections::HashMap::from([(":sid".to_owned(), s(sid.to_string()))])
            }))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":expires", n(connection.token_expires_at.unix()))
            .expression_attribute_values(":epoch", n(connection.epoch))
            .send()
            .await;
        match result.map_err(|e| UpdateItemError::classify(e, "renewing connection")) {
            Ok(_) => Ok(true),
            Err(Failure::Condition { .. }) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    async fn connection_owner(&self, id: &str) -> Result<Option<UserId>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.connections)
            .set_key(Some(by_id(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(e, "reading connection owner"))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let owner = item
            .get("user_id")
            .and_then(|v| v.as_s().ok())
            .and_then(|v| UserId::parse(v));
        Ok(Some(owner.context("connection without a user id")?))
    }

    async fn connections_of(&self, user: UserId) -> Result<Vec<Connection>, StoreError> {
        let mut connections = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.connections)
                .key_condition_expression("pk = :pk AND begins_with(sk, :conn)")
                .consistent_read(true)
                .filter_expression("expires_at > :now")
                .expression_attribute_values(":pk", s(format!("USER#{user}")))
                .expression_attribute_values(":conn", s("CONN#"))
                .expression_attribute_values(":now", n(Timestamp::now().unix()))
                .projection_expression(
                    "connection_id, connected_at, expires_at, token_expires_at, epoch, sid",
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error(e, "listing connections"))?;
            for item in output.items.unwrap_or_default() {
                // One unreadable item must not cost the owner's other connections the message.
                match listed(user, item) {
                    Ok(connection) => connections.push(connection),
                    Err(error) => {
                        tracing::warn!(error = format!("{error:#}"), %user, "unreadable connection item skipped")
                    }
                }
            }
            match output.last_evaluated_key {
                Some(last) => start = Some(last),
                None => return Ok(connections),
            }
        }
    }

    async fn remove_connection(&self, user: UserId, id: &str) -> Result<(), StoreError> {
        let items = vec![
            tx::delete(&self.connections, by_user(user, id), None, vec![], vec![])?,
            tx::delete(&self.connections, by_id(id), None, vec![], vec![])?,
        ];
        self.transact(items).await.map_err(StoreError::from)
    }
}
