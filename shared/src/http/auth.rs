//! Registration, login and the token endpoints.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::client::ClientIp;
use super::error::Message;
use super::extract::{AppJson, AuthUser, nullable};
use super::openapi::{
    BearerErrors, Conflict, JsonErrors, LoginFailed, TokenRejected, TooManyRequests,
};
use super::profile::UserBody;
use super::{carrying_tokens, route};
use crate::AppState;
use crate::auth::TokenPair;
use crate::domain::{Email, Ended, FieldErrors, Password, PersonName, Text, User, Username, text};
use crate::error::{Error, Result};
use crate::service::accounts::NewUser;
use crate::service::sessions::Refresh;

pub const REGISTER: &str = "/api/v1/auth/register";
pub const LOGIN: &str = "/api/v1/auth/login";
pub const TOKEN_VERIFY: &str = "/api/v1/auth/token/verify";
pub const TOKEN_REFRESH: &str = "/api/v1/auth/token/refresh";
pub const LOGOUT: &str = "/api/v1/auth/logout";
pub const LOGOUT_ALL: &str = "/api/v1/auth/logout/all";

pub fn register() -> Router<AppState> {
    carrying_tokens(route(REGISTER, post(register_user)))
}

pub fn login() -> Router<AppState> {
    carrying_tokens(route(LOGIN, post(login_user)))
}

pub fn token_verify() -> Router<AppState> {
    route(TOKEN_VERIFY, post(verify_token))
}

pub fn token_refresh() -> Router<AppState> {
    carrying_tokens(route(TOKEN_REFRESH, post(refresh_token)))
}

pub fn logout() -> Router<AppState> {
    route(LOGOUT, post(logout_user))
}

pub fn logout_all() -> Router<AppState> {
    route(LOGOUT_ALL, post(logout_everywhere))
}

/// A new account. Username and email are case-insensitive: stored lowercased, unique in any case.
#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(value_type = String, required = true, min_length = 4, max_length = 30)]
    #[schema(pattern = "^[A-Za-z0-9_]+$", examples("ada_lovelace"))]
    #[serde(default, deserialize_with = "nullable")]
    username: Option<Option<Text>>,
    #[schema(value_type = String, required = true, format = Email, max_length = 254)]
    #[schema(examples("ada@example.com"))]
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<Text>>,
    /// Not entirely digits; read without whitespace at either end (so are a login's and a
    /// password change's); never returned.
    #[schema(value_type = String, required = true, format = Password)]
    #[schema(min_length = 8, max_length = 128)]
    #[serde(default, deserialize_with = "nullable")]
    password: Option<Option<Text>>,
    #[schema(value_type = Option<String>, required = false, max_length = 150, examples("Ada"))]
    first_name: Option<Text>,
    #[schema(value_type = Option<String>, required = false, max_length = 150, examples("Lovelace"))]
    last_name: Option<Text>,
}

impl TryFrom<RegisterRequest> for NewUser {
    type Error = FieldErrors;

    fn try_from(body: RegisterRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let username = errors.required("username", body.username, Username::parse);
        let email = errors.required("email", body.email, Email::parse);
        let password = errors.required("password", body.password, Password::parse);
        let first_name = errors
            .optional("first_name", body.first_name, text(PersonName::parse))
            .flatten();
        let last_name = errors
            .optional("last_name", body.last_name, text(PersonName::parse))
            .flatten();
        match (username, email, password) {
            (Some(username), Some(email), Some(password)) if errors.is_empty() => Ok(NewUser {
                username,
                email,
                password,
                first_name: first_name.unwrap_or_default(),
                last_name: last_name.unwrap_or_default(),
            }),
            _ => Err(errors),
        }
    }
}

/// A token pair: `access` for `Authorization: Bearer`, `refresh` (single use) for a new pair.
#[derive(Serialize, ToSchema)]
pub struct TokensBody {
    /// An HS256 JWT, valid for 15 minutes.
    pub access: String,
    /// An HS256 JWT, valid for 14 days (no later than 30 days after its session's sign-in),
    /// consumed by its first use.
    pub refresh: String,
}

impl From<TokenPair> for TokensBody {
    fn from(pair: TokenPair) -> Self {
        Self {
            access: pair.access,
            refresh: pair.refresh,
        }
    }
}

/// The user plus a fresh token pair: what register and login answer.
#[derive(Serialize, ToSchema)]
pub struct AuthBody {
    #[serde(flatten)]
    pub user: UserBody,
    pub tokens: TokensBody,
}

impl AuthBody {
    fn new(user: &User, pair: TokenPair) -> Self {
        Self {
            user: user.into(),
            tokens: pair.into(),
        }
    }
}

/// Register a new user
///
/// Answers with the user and a first token pair. A taken username or email is a 400 naming that
/// field. Attempts are limited per client address (20 an hour by default): past that, 429 with
/// `Retry-After`.
#[utoipa::path(
    post, path = "/api/v1/auth/register/", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered: the user and a token pair", body = AuthBody),
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        JsonErrors,
    )
)]
pub(crate) async fn register_user(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    AppJson(body): AppJson<RegisterRequest>,
) -> Result<(StatusCode, Json<AuthBody>)> {
    let new = NewUser::try_from(body)?;
    let (user, pair) = state.accounts.register(new, client).await?;
    Ok((StatusCode::CREATED, Json(AuthBody::new(&user, pair))))
}

/// Credentials: `username` takes the username or the email address, in any case.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(value_type = String, required = true, examples("ada_lovelace"))]
    #[serde(default, deserialize_with = "nullable")]
    username: Option<Option<Text>>,
    #[schema(value_type = String, required = true, format = Password)]
    #[serde(default, deserialize_with = "nullable")]
    password: Option<Option<Text>>,
}

/// Log in
///
/// By username or email, in any case. Answers with the user and a new token pair. Failed logins
/// are limited per login name (20 in 15 minutes by default, known or unknown names alike) and per
/// client address (100): past that, every attempt, with the right password too, is 429 with
/// `Retry-After` until the window ends.
#[utoipa::path(
    post, path = "/api/v1/auth/login/", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in: the user and a token pair", body = AuthBody),
        (status = 401, response = LoginFailed),
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        JsonErrors,
    )
)]
pub(crate) async fn login_user(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<Json<AuthBody>> {
    let mut errors = FieldErrors::default();
    let username = errors.required("username", body.username, Ok);
    let password = errors.required("password", body.password, Ok);
    let (Some(username), Some(password)) = (username, password) else {
        return Err(errors.into());
    };
    let (user, pair) = state
        .accounts
        .login(&username, &password, client)
        .await
        .inspect_err(|error| {
            use crate::metrics::{Counter, count};
            match error {
                crate::Error::InvalidCredentials => count(Counter::LoginsFailed, 1),
                crate::Error::TooManyRequests { .. } => count(Counter::LoginsThrottled, 1),
                _ => {}
            }
        })?;
    Ok(Json(AuthBody::new(&user, pair)))
}

/// Reads one required string field of a token body.
fn token_field(field: &str, value: Option<Option<Text>>) -> Result<String> {
    let mut errors = FieldErrors::default();
    errors
        .required(field, value, Ok)
        .ok_or_else(|| errors.into())
}

/// A token to check: an access token, or a refresh token.
#[derive(Deserialize, ToSchema)]
pub struct VerifyRequest {
    #[schema(value_type = String, required = true)]
    #[serde(default, deserialize_with = "nullable")]
    token: Option<Option<Text>>,
}

/// Verify a token
///
/// Valid for an access token of an existing user, or a refresh token that could still be used.
#[utoipa::path(
    post, path = "/api/v1/auth/token/verify/", tag = "auth", request_body = VerifyRequest,
    responses(
        (
            status = 200, description = "The token is valid", body = Message,
            example = json!({ "message": "Token is valid" })
        ),
        (status = 401, response = TokenRejected),
        JsonErrors,
    )
)]
pub(crate) async fn verify_token(
    State(state): State<AppState>,
    AppJson(body): AppJson<VerifyRequest>,
) -> Result<Json<Message>> {
    state
        .accounts
        .verify_token(&token_field("token", body.token)?)
        .await?;
    Ok(Json(Message {
        message: "Token is valid",
    }))
}

/// A refresh token, for refresh and logout.
#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(value_type = String, required = true)]
    #[serde(default, deserialize_with = "nullable")]
    refresh: Option<Option<Text>>,
}

/// Refresh the token pair
///
/// The refresh token rotates: it is consumed, and a second use is a 401 that ends the token's
/// login session (its other tokens are refused too, and its open WebSockets are closed).
#[utoipa::path(
    post, path = "/api/v1/auth/token/refresh/", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokensBody),
        (status = 401, response = TokenRejected),
        (status = 409, response = Conflict),
        JsonErrors,
    )
)]
pub(crate) async fn refresh_token(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> Result<Json<TokensBody>> {
    let refresh = state
        .accounts
        .refresh(&token_field("refresh", body.refresh)?)
        .await?;
    match refresh {
        Refresh::Rotated(pair) => Ok(Json(pair.into())),
        Refresh::Reused(ended) => {
            if let Some((user, ended)) = ended {
                state.close_sockets(user, ended).await;
            }
            Err(Error::TokenRejected)
        }
    }
}

/// Log out
///
/// Ends the session the refresh token sent belongs to (one sign-in and its refreshes): that
/// refresh token and every access token of the session are refused from now on, and its open
/// WebSockets are closed; the user's other sessions go on. Logging out twice is fine. A refresh
/// token from before tokens named their session is revoked alone.
#[utoipa::path(
    post, path = "/api/v1/auth/logout/", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 204, description = "The session has ended"),
        (status = 401, response = TokenRejected),
        JsonErrors,
    )
)]
pub(crate) async fn logout_user(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> Result<StatusCode> {
    let ended = state
        .accounts
        .logout(&token_field("refresh", body.refresh)?)
        .await?;
    if let Some((user, ended)) = ended {
        state.close_sockets(user, ended).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Log out everywhere
///
/// Ends every session of the caller: every access and refresh token issued before (this one
/// included) is refused from now on, on every device, and every open WebSocket is closed. No body
/// (one announced past 64 KiB is refused, as on every route).
#[utoipa::path(
    post, path = "/api/v1/auth/logout/all/", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session of the user has ended"),
        (status = 409, response = Conflict),
        BearerErrors,
    )
)]
pub(crate) async fn logout_everywhere(
    State(state): State<AppState>,
    AuthUser(session): AuthUser,
) -> Result<StatusCode> {
    let epoch = state.accounts.logout_all(session).await?;
    state
        .close_sockets(session.user, Ended::Before(epoch))
        .await;
    Ok(StatusCode::NO_CONTENT)
}
