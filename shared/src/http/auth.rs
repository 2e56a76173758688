//! Registration, login and the token endpoints.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::AppJson;
use super::profile::UserBody;
use super::route;
use crate::AppState;
use crate::auth::TokenPair;
use crate::domain::{Email, FieldErrors, Password, PersonName, User, Username};
use crate::error::Result;
use crate::service::accounts::NewUser;

pub const REGISTER: &str = "/api/v1/auth/register";
pub const LOGIN: &str = "/api/v1/auth/login";
pub const TOKEN_VERIFY: &str = "/api/v1/auth/token/verify";
pub const TOKEN_REFRESH: &str = "/api/v1/auth/token/refresh";
pub const LOGOUT: &str = "/api/v1/auth/logout";

pub fn register() -> Router<AppState> {
    route(REGISTER, post(register_user))
}

pub fn login() -> Router<AppState> {
    route(LOGIN, post(login_user))
}

pub fn token_verify() -> Router<AppState> {
    route(TOKEN_VERIFY, post(verify_token))
}

pub fn token_refresh() -> Router<AppState> {
    route(TOKEN_REFRESH, post(refresh_token))
}

pub fn logout() -> Router<AppState> {
    route(LOGOUT, post(logout_user))
}

#[derive(Debug, Deserialize)]
pub struct RegisterRequest {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

impl TryFrom<RegisterRequest> for NewUser {
    type Error = FieldErrors;

    fn try_from(body: RegisterRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let username = errors.required("username", body.username, Username::parse);
        let email = errors.required("email", body.email, Email::parse);
        let password = errors.required("password", body.password, Password::parse);
        let first_name = errors
            .optional("first_name", body.first_name, PersonName::parse)
            .flatten();
        let last_name = errors
            .optional("last_name", body.last_name, PersonName::parse)
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

#[derive(Debug, Serialize)]
pub struct TokensBody {
    pub access: String,
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
#[derive(Debug, Serialize)]
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

async fn register_user(
    State(state): State<AppState>,
    AppJson(body): AppJson<RegisterRequest>,
) -> Result<(StatusCode, Json<AuthBody>)> {
    let new = NewUser::try_from(body)?;
    let (user, pair) = state.accounts.register(new).await?;
    Ok((StatusCode::CREATED, Json(AuthBody::new(&user, pair))))
}

#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    username: Option<String>,
    password: Option<String>,
}

async fn login_user(
    State(state): State<AppState>,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<Json<AuthBody>> {
    let mut errors = FieldErrors::default();
    let username = errors.required("username", body.username, Ok);
    let password = errors.required("password", body.password, Ok);
    let (Some(username), Some(password)) = (username, password) else {
        return Err(errors.into());
    };
    let (user, pair) = state.accounts.login(&username, &password).await?;
    Ok(Json(AuthBody::new(&user, pair)))
}

/// Reads one required string field of a token body.
fn token_field(field: &str, value: Option<String>) -> Result<String> {
    let mut errors = FieldErrors::default();
    errors
        .required(field, value, Ok)
        .ok_or_else(|| errors.into())
}

#[derive(Debug, Deserialize)]
pub struct VerifyRequest {
    token: Option<String>,
}

async fn verify_token(
    State(state): State<AppState>,
    AppJson(body): AppJson<VerifyRequest>,
) -> Result<Json<serde_json::Value>> {
    state
        .accounts
        .verify_token(&token_field("token", body.token)?)
        .await?;
    Ok(Json(serde_json::json!({ "message": "Token is valid" })))
}

#[derive(Debug, Deserialize)]
pub struct RefreshRequest {
    refresh: Option<String>,
}

async fn refresh_token(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> Result<Json<TokensBody>> {
    let pair = state
        .accounts
        .refresh(&token_field("refresh", body.refresh)?)
        .await?;
    Ok(Json(pair.into()))
}

async fn logout_user(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> Result<StatusCode> {
    state
        .accounts
        .logout(&token_field("refresh", body.refresh)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
