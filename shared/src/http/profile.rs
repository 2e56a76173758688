//! The caller's own profile and password.

use axum::extract::State;
use axum::routing::{get as get_method, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::{AppJson, AuthUser};
use super::route;
use crate::AppState;
use crate::domain::{Email, FieldErrors, Password, PersonName, Timestamp, User, UserId, Username};
use crate::error::Result;
use crate::service::accounts::ProfileChanges;

pub const PROFILE: &str = "/api/v1/auth/profile";
pub const PASSWORD: &str = "/api/v1/auth/profile/password";

pub fn get() -> Router<AppState> {
    route(PROFILE, get_method(show_profile))
}

/// PUT and PATCH alike: only the fields sent change.
pub fn update() -> Router<AppState> {
    route(
        PROFILE,
        axum::routing::put(update_profile).patch(update_profile),
    )
}

pub fn password() -> Router<AppState> {
    route(PASSWORD, post(change_password))
}

/// A user as clients see it: never the password, never internal counters.
#[derive(Debug, Serialize)]
pub struct UserBody {
    pub id: UserId,
    pub first_name: String,
    pub last_name: String,
    pub username: String,
    pub email: String,
    pub last_updated: Timestamp,
    pub last_login: Option<Timestamp>,
    pub is_superuser: bool,
}

impl From<&User> for UserBody {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            first_name: user.first_name.to_string(),
            last_name: user.last_name.to_string(),
            username: user.username.to_string(),
            email: user.email.to_string(),
            last_updated: user.last_updated,
            last_login: user.last_login,
            is_superuser: user.is_superuser,
        }
    }
}

async fn show_profile(
    State(state): State<AppState>,
    AuthUser(id): AuthUser,
) -> Result<Json<UserBody>> {
    Ok(Json((&state.accounts.profile(id).await?).into()))
}

#[derive(Debug, Deserialize)]
pub struct ProfileRequest {
    username: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

impl TryFrom<ProfileRequest> for ProfileChanges {
    type Error = FieldErrors;

    fn try_from(body: ProfileRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let changes = ProfileChanges {
            username: errors
                .optional("username", body.username, Username::parse)
                .flatten(),
            email: errors.optional("email", body.email, Email::parse).flatten(),
            first_name: errors
                .optional("first_name", body.first_name, PersonName::parse)
                .flatten(),
            last_name: errors
                .optional("last_name", body.last_name, PersonName::parse)
                .flatten(),
        };
        errors.into_result().map(|()| changes)
    }
}

async fn update_profile(
    State(state): State<AppState>,
    AuthUser(id): AuthUser,
    AppJson(body): AppJson<ProfileRequest>,
) -> Result<Json<UserBody>> {
    let user = state.accounts.update_profile(id, body.try_into()?).await?;
    Ok(Json((&user).into()))
}

#[derive(Debug, Deserialize)]
pub struct PasswordRequest {
    old_password: Option<String>,
    new_password_1: Option<String>,
    new_password_2: Option<String>,
}

async fn change_password(
    State(state): State<AppState>,
    AuthUser(id): AuthUser,
    AppJson(body): AppJson<PasswordRequest>,
) -> Result<Json<serde_json::Value>> {
    let mut errors = FieldErrors::default();
    let old = errors.required("old_password", body.old_password, Ok);
    let confirmation = errors.required("new_password_2", body.new_password_2, Ok);
    let new = errors.required("new_password_1", body.new_password_1, |new| {
        if confirmation
            .as_deref()
            .is_some_and(|confirmation| confirmation != new)
        {
            return Ok(None);
        }
        Password::parse(new).map(Some)
    });
    let (Some(old), Some(new), true) = (old, new, errors.is_empty()) else {
        return Err(errors.into());
    };
    let Some(new) = new else {
        return Err(FieldErrors::single(
            "new_password_2",
            "Value should be same as new_password_1",
        )
        .into());
    };
    state.accounts.change_password(id, &old, new).await?;
    Ok(Json(
        serde_json::json!({ "detail": "password updated successfully" }),
    ))
}
