//! The WebSocket API's routes: `$connect` authenticates and records the connection with its
//! token's expiry, session epoch and login session, `$disconnect` forgets it, `$default` answers a
//! ping with a pong, renews the connection's session on `authenticate`, and answers anything else
//! with a short JSON error.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use serde_json::json;

use super::cap::{self, CONNECTIONS_RETRY_AFTER_SECONDS, MAX_CONNECTIONS_PER_USER, Management};
use super::notifier::Notifier;
use crate::auth::{Claims, JwtKeys, TokenType};
use crate::config::AuthConfig;
use crate::domain::Timestamp;
use crate::error::Error;
use crate::store::{Connection, ConnectionStore, Stores, UserStore};

/// API Gateway closes a WebSocket after 2 hours; a connection's record outlives it a little.
pub const CONNECTION_LIFETIME_SECONDS: i64 = 2 * 60 * 60 + 10 * 60;

/// How long a route may take before it answers 503, as the REST functions' request deadline
/// does: the WebSocket functions' `Timeout` is 10 s, and a route that ran past it would count as
/// a failed invocation. `$connect` keeps [`FORGET_WITHIN`] more, one whole SDK attempt, to forget
/// a connection it was recording when the deadline came. A record that still outlives it (the
/// store too slow even for that) hears nothing once API Gateway answers 410 for it, and is
/// removed then by the stream function, or by its expiry.
pub const ROUTE_DEADLINE: Duration = Duration::from_secs(6);
pub const FORGET_WITHIN: Duration = crate::retry::SDK_ATTEMPT_TIMEOUT;

#[derive(Clone)]
pub struct Gateway {
    users: Arc<dyn UserStore>,
    connections: Arc<dyn ConnectionStore>,
    jwt: Arc<JwtKeys>,
    /// Asked which of a user's connections are gone before one more is refused at the cap.
    management: Option<Arc<Management>>,
}

/// A refusal or failure, with the status and body the REST API gives the same [`Error`] (a 500's
/// cause is logged, never sent).
fn error_response(error: &Error) -> ApiGatewayProxyResponse {
    match error {
        Error::Unexpected(cause) => {
            tracing::error!(error = format!("{cause:#}"), "WebSocket route failed");
        }
        Error::Unavailable => tracing::warn!("WebSocket route: the store is unavailable"),
        _ => {}
    }
    let mut answer = response(i64::from(error.status().as_u16()), error.body());
    if let Some(seconds) = error.retry_after() {
        answer.headers.insert("retry-after", seconds.into());
    }
    answer
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
            management: None,
        }
    }

    /// With the management API to ask at a user's cap which connections are gone.
    #[must_use]
    pub fn with_management(self, management: Management) -> Self {
        Self {
            management: Some(Arc::new(management)),
            ..self
        }
    }

    /// For `ws-connect`'s and `ws-default`'s cold starts: DynamoDB, the signing keys
    /// ([`AuthConfig::load`]), and where it is set (`ws-connect`'s template entry sets it)
    /// `TASKMASTER_WS_ENDPOINT` for the management API, whose client is made on first use.
    pub async fn from_env() -> anyhow::Result<Self> {
        let auth = AuthConfig::load_in_background();
        let endpoint = std::env::var("TASKMASTER_WS_ENDPOINT").ok();
        let stores = Stores::from_env().await?;
        let gateway = Self::new(&stores, Arc::new(JwtKeys::new(&auth.await?)));
        Ok(match endpoint.filter(|endpoint| !endpoint.is_empty()) {
            Some(endpoint) => gateway.with_management(Management::new(move || {
                Notifier::management_client(&endpoint, None)
            })),
            None => gateway,
        })
    }

    /// `$connect`: only a valid access token of an existing user gets a connection; anything
    /// else is refused at the handshake. The session is checked before the connection is
    /// recorded and again after, so a connection made while the sessions end is never left open.
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
        let recorded = OnceLock::new();
        let admitted = tokio::time::timeout(ROUTE_DEADLINE, self.admit(&request, id, &recorded));
        if let Ok(answer) = admitted.await {
            return answer;
        }
        tracing::warn!("$connect stopped at its deadline");
        if let Some(connection) = recorded.get() {
            self.forget(connection).await;
        }
        error_response(&Error::Unavailable)
    }

    /// Forgets a connection `$connect` refuses after recording it (or trying to), within
    /// [`FORGET_WITHIN`]; a failure is logged.
    async fn forget(&self, connection: &Connection) {
        let forget = self
            .connections
            .remove_connection(connection.user_id, &connection.id);
        match tokio::time::timeout(FORGET_WITHIN, forget).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "forgetting a refused connection failed")
            }
            Err(_) => tracing::warn!("forgetting a refused connection took too long"),
        }
    }

    /// `$connect`'s work: the connection `id` is put in `recorded` just before it is written.
    async fn admit(
        &self,
        request: &ApiGatewayWebsocketProxyRequest,
        id: String,
        recorded: &OnceLock<Connection>,
    ) -> ApiGatewayProxyResponse {
        let Some(token) = access_token(request) else {
            return error_response(&Error::MissingCredentials);
        };
        let claims = match self.current_claims(token).await {
            Ok(claims) => claims,
            Err(error) => return error_response(&error),
        };
        let now = Timestamp::now();
        let connection = Connection {
            id,
            user_id: claims.user_id,
            connected_at: now,
            expires_at: now.plus_seconds(CONNECTION_LIFETIME_SECONDS),
            token_expires_at: token_expiry(&claims),
            epoch: claims.session_epoch,
            sid: claims.sid,
        };
        let connection = recorded.get_or_init(|| connection);
        if let Err(error) = self.connections.add_connection(connection).await {
            // A send that timed out may still have been applied.
            self.forget(connection).await;
            return error_response(&Error::from(error));
        }
        // A session ending meanwhile (a logout, logout-all, a password change) is written to the
        // user's record first; the ending request then lists the connections to close. Reading
        // the user again after recording this one means either that listing finds it or this
        // read sees the session ended. Beside that read, the user's open connections are
        // counted ([`Self::may_listen`]).
        let refused = self.may_listen(&claims, &connection.id).await;
        match refused {
            Ok(()) => response(200, json!({ "detail": "Connected." })),
            Err(error) => {
                self.forget(connection).await;
                error_response(&error)
            }
        }
    }

    /// The claims of a valid access token of an existing user whose session is still current
    /// (one strongly consistent read of the user).
    async fn current_claims(&self, token: &str) -> Result<Claims, Error> {
        let claims = self
            .jwt
            .decode(token, TokenType::Access)
            .await?
            .ok_or(Error::InvalidToken)?;
        self.session_is_current(&claims).await?;
        Ok(claims)
    }

    /// Whether the user of `claims` still exists and honours their session (one strongly
    /// consistent read of the user).
    async fn session_is_current(&self, claims: &Claims) -> Result<(), Error> {
        crate::service::session_user(self.users.as_ref(), claims.session())
            .await
            .map(|_| ())
    }

    /// `$default`: clients mostly listen. `{"action": "ping"}` is answered `{"action": "pong"}`: a
    /// client sends it every few minutes so API Gateway's 10-minute idle timeout never closes its
    /// socket. `{"action": "authenticate", "token": "<access token>"}` renews the connection's
    /// session with a newer access token of the same user, answered `{"action": "authenticated",
    /// "expires_at": ...}`; a token that is invalid, revoked or another user's is answered with an
    /// error and changes nothing. Any other message gets a short error back; the connection stays.
    pub async fn message(
        &self,
        request: ApiGatewayWebsocketProxyRequest,
    ) -> ApiGatewayProxyResponse {
        match tokio::time::timeout(ROUTE_DEADLINE, self.answer(request)).await {
            Ok(answer) => answer,
            Err(_) => {
                tracing::warn!("$default stopped at its deadline");
                refusal(&Error::Unavailable)
            }
        }
    }

    async fn answer(&self, request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        let body = request
            .body
            .as_deref()
            .and_then(|body| serde_json::from_str::<serde_json::Value>(body).ok());
        let action = body.as_ref().and_then(|body| body.get("action")?.as_str());
        match action {
            Some("ping") => response(200, json!({ "action": "pong" })),
            Some("authenticate") => {
                let token = body
                    .as_ref()
                    .and_then(|body| body.get("token")?.as_str())
                    .unwrap_or_default();
                let id = request.request_context.connection_id.as_deref();
                match self.authenticate(id.unwrap_or_default(), token).await {
                    Ok(expires_at) => response(
                        200,
                        json!({ "action": "authenticated", "expires_at": expires_at.to_string() }),
                    ),
                    Err(error) => refusal(&error),
                }
            }
            _ => refusal(&Error::BadRequest(
                "This socket delivers task events; the messages it accepts are {\"action\": \"ping\"} and {\"action\": \"authenticate\", \"token\": \"<access token>\"}.".to_owned(),
            )),
        }
    }

    /// Binds connection `id` to the session of `token`, if it is a current access token of the
    /// connection's own user; answers the token's expiry.
    async fn authenticate(&self, id: &str, token: &str) -> Result<Timestamp, Error> {
        let claims = self.current_claims(token).await?;
        let mine = self.connections.connections_of(claims.user_id).await?;
        // Another user's connection (or one already gone) is not among this user's.
        let before = mine
            .into_iter()
            .find(|c| c.id == id)
            .ok_or(Error::InvalidToken)?;
        let connection = Connection {
            token_expires_at: token_expiry(&claims),
            epoch: claims.session_epoch,
            sid: claims.sid,
            ..before.clone()
        };
        // Renewed only if still recorded: a `$disconnect` that ran meanwhile is not undone.
        if !self.connections.renew_connection(&connection).await? {
            return Err(Error::InvalidToken);
        }
        // A session ending meanwhile lists the connections to close before this renewal may
        // land: read again, as `$connect` does, and count again: a renewal into a current session
        // makes a connection of an ended one count again. Refused, the connection goes back to the session
        // it had (a refused message changes nothing); one left renewed into the ended session
        // hears nothing and is closed at the user's next change.
        if let Err(refused) = self.may_listen(&claims, &connection.id).await {
            if let Err(error) = self.connections.renew_connection(&before).await {
                tracing::warn!(error = %error, "a refused renewal not undone");
            }
            return Err(refused);
        }
        Ok(connection.token_expires_at)
    }

    /// Whether the user of `claims` still honours its session, and holds at most
    /// [`MAX_CONNECTIONS_PER_USER`] open connections (a just recorded or renewed one among them):
    /// one read of the user beside one listing of its connections. A connection of an ended
    /// session does not count (ending it closes it); one whose token has expired does, until its
    /// socket closes (`cap::holds_place` says why). A socket that died without its `$disconnect`
    /// stops holding a place once the management API says it is gone (see [`Management`]), or
    /// once its record expires. Concurrent connections past the bound may all be refused, never
    /// all let in.
    async fn may_listen(&self, claims: &Claims, this: &str) -> Result<(), Error> {
        let (user, listed) = tokio::join!(
            self.users.user(claims.user_id),
            self.connections.connections_of(claims.user_id)
        );
        match (user?, listed?) {
            (Some(user), listed) if claims.session().is_current(&user) => {
                let management = self.management.as_deref();
                let connections = self.connections.as_ref();
                let counted = cap::counted(&listed, &user, this, management, connections).await;
                if counted > MAX_CONNECTIONS_PER_USER {
                    tracing::warn!(user_id = %claims.user_id, "connection refused: too many open");
                    return Err(Error::TooManyRequests {
                        retry_after: CONNECTIONS_RETRY_AFTER_SECONDS,
                    });
                }
                Ok(())
            }
            _ => Err(Error::InvalidToken),
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

/// When a token's claims say it expires.
fn token_expiry(claims: &Claims) -> Timestamp {
    Timestamp::from_unix(claims.exp).unwrap_or_else(Timestamp::now)
}

/// A `$default` message refused: the gateway's error shape (`action: error`, and the body the
/// REST API gives the same error), counted in the metrics as that error's status. The connection
/// stays open.
fn refusal(error: &Error) -> ApiGatewayProxyResponse {
    crate::metrics::answered(error.status().as_u16());
    if let Error::Unexpected(cause) = error {
        tracing::error!(error = format!("{cause:#}"), "WebSocket message failed");
    }
    let mut body = error.body();
    if let Some(fields) = body.as_object_mut() {
        fields.insert("action".to_owned(), json!("error"));
    } else {
        body = json!({ "action": "error", "detail": body });
    }
    response(200, body)
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
    let forget = async {
        match connections.connection_owner(&id).await? {
            Some(owner) => connections.remove_connection(owner, &id).await,
            None => Ok(()),
        }
    };
    match tokio::time::timeout(ROUTE_DEADLINE, forget).await {
        Ok(Ok(())) => response(200, json!({ "detail": "Disconnected." })),
        Ok(Err(error)) => error_response(&Error::from(error)),
        Err(_) => {
            // The record's TTL removes it, or the stream function at the user's next change.
            tracing::warn!("$disconnect stopped at its deadline");
            error_response(&Error::Unavailable)
        }
    }
}

fn no_connection_id() -> Error {
    Error::BadRequest("No connection id.".to_owned())
}
