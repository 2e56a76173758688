//! The WebSocket API's routes: `$connect` authenticates and records the connection,
//! `$disconnect` forgets it, `$default` answers a ping with a pong and anything else with a short
//! JSON error.

use std::sync::Arc;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use serde_json::json;

use crate::auth::{JwtKeys, TokenType};
use crate::config::AuthConfig;
use crate::domain::Timestamp;
use crate::error::Error;
use crate::store::{Connection, ConnectionStore, Stores, UserStore};

/// API Gateway closes a WebSocket after 2 hours; a connection's record outlives it a little.
pub const CONNECTION_LIFETIME_SECONDS: i64 = 2 * 60 * 60 + 10 * 60;

#[derive(Clone)]
pub struct Gateway {
    users: Arc<dyn UserStore>,
    connections: Arc<dyn ConnectionStore>,
    jwt: Arc<JwtKeys>,
}

/// A refusal or failure, with the status and body the REST API gives the same [`Error`] (a 500's
/// cause is logged, never sent).
fn error_response(error: &Error) -> ApiGatewayProxyResponse {
    match error {
        Error::Unexpected(cause) => {
            tracing::error!(error = format!("{cause:#}"), "WebSocket route failed");
        }
        Error::Unavailable => tracing::warn!("WebSocket route: the store is throttling"),
        _ => {}
    }
    response(i64::from(error.status().as_u16()), error.body())
}

fn response(status: i64, body: serde_json::Value) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.headers.insert(
        "content-type",
        "application/json".parse().expect("a valid header value"),
    );
    response.body = Some(Body::Text(body.to_string()));
    response
}

/// The access token of a connection request: `Authorization: Bearer <token>`, the original
/// clients' raw `Authorization: <token>`, or `?token=<token>` (browsers cannot set headers).
fn access_token(request: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    if let Some(value) = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        return match value.split_once(char::is_whitespace) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
            Some(_) => None,
            None => Some(value),
        };
    }
    request.query_string_parameters.first("token")
}

impl Gateway {
    pub fn new(stores: &Stores, jwt: Arc<JwtKeys>) -> Self {
        Self {
            users: stores.users.clone(),
            connections: stores.connections.clone(),
            jwt,
        }
    }

    /// For `ws-connect`'s cold start: DynamoDB and the JWT secret from the environment.
    pub async fn from_env() -> anyhow::Result<Self> {
        let auth = AuthConfig::from_env(None)?;
        let stores = Stores::from_env().await?;
        Ok(Self::new(&stores, Arc::new(JwtKeys::new(&auth))))
    }

    /// `$connect`: only a valid access token of an existing user gets a connection; anything
    /// else is refused at the handshake.
    // Connection ids are capabilities (they address a socket): logged at DEBUG only.
    #[tracing::instrument(level = "debug", skip_all, fields(connection_id))]
    pub async fn connect(
        &self,
        request: ApiGatewayWebsocketProxyRequest,
    ) -> ApiGatewayProxyResponse {
        let Some(id) = request.request_context.connection_id.clone() else {
            return error_response(&no_connection_id());
        };
        tracing::Span::current().record("connection_id", id.as_str());
        let Some(token) = access_token(&request) else {
            return error_response(&Error::MissingCredentials);
        };
        let Some(claims) = self.jwt.decode(token, TokenType::Access) else {
            return error_response(&Error::InvalidToken);
        };
        match self.users.user(claims.user_id).await {
            Ok(Some(_)) => {}
            Ok(None) => return error_response(&Error::InvalidToken),
            Err(error) => return error_response(&Error::from(error)),
        }
        let now = Timestamp::now();
        let connection = Connection {
            id,
            user_id: claims.user_id,
            connected_at: now,
            expires_at: now.plus_seconds(CONNECTION_LIFETIME_SECONDS),
        };
        match self.connections.add_connection(&connection).await {
            Ok(()) => response(200, json!({ "detail": "Connected." })),
            Err(error) => error_response(&Error::from(error)),
        }
    }

    /// `$disconnect`, as [`disconnect`] with this gateway's connections.
    pub async fn disconnect(
        &self,
        request: ApiGatewayWebsocketProxyRequest,
    ) -> ApiGatewayProxyResponse {
        disconnect(self.connections.as_ref(), request).await
    }
}

/// `$disconnect`: forgets the connection (one already gone is fine). Needs no token, so
/// `ws-disconnect` holds no secret.
// Connection ids are capabilities (they address a socket): logged at DEBUG only.
#[tracing::instrument(level = "debug", skip_all, fields(connection_id))]
pub async fn disconnect(
    connections: &dyn ConnectionStore,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let Some(id) = request.request_context.connection_id else {
        return error_response(&no_connection_id());
    };
    tracing::Span::current().record("connection_id", id.as_str());
    let result = match connections.connection_owner(&id).await {
        Ok(Some(owner)) => connections.remove_connection(owner, &id).await,
        Ok(None) => Ok(()),
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => response(200, json!({ "detail": "Disconnected." })),
        Err(error) => error_response(&Error::from(error)),
    }
}

fn no_connection_id() -> Error {
    Error::BadRequest("No connection id.".to_owned())
}

/// `$default`: clients mostly listen. `{"action": "ping"}` is answered `{"action": "pong"}`: a
/// client sends it every few minutes so API Gateway's 10-minute idle timeout never closes its
/// socket. Any other message gets a short error back, and the connection stays.
pub fn message(request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let action = request
        .body
        .as_deref()
        .and_then(|body| serde_json::from_str::<serde_json::Value>(body).ok())
        .and_then(|body| body.get("action")?.as_str().map(str::to_owned));
    match action.as_deref() {
        Some("ping") => response(200, json!({ "action": "pong" })),
        _ => response(
            200,
            json!({ "action": "error", "detail": "This socket delivers task events; the only message it accepts is {\"action\": \"ping\"}." }),
        ),
    }
}
