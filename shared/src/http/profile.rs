//! The caller's own profile and password.

use axum::extract::State;
use axum::routing::{get as get_method, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::TokensBody;
use super::client::ClientIp;
use super::extract::{AppJson, AuthUser, nullable};
use super::openapi::{BearerErrors, Conflict, JsonErrors, TooManyRequests};
use super::{carrying_tokens, route};
use crate::AppState;
use crate::domain::{
    Email, Ended, FieldErrors, Password, PersonName, Text, Timestamp, User, UserId, Username,
    non_null,
};
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
    carrying_tokens(route(PASSWORD, post(change_password)))
}

/// A user as clients see it: never the password, never internal counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    pub first_name: String,
    pub last_name: String,
    /// Lowercased.
    pub username: String,
    /// Lowercased.
    pub email: String,
    #[schema(value_type = String, format = DateTime)]
    pub last_updated: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub last_login: Option<Timestamp>,
    /// Always false for accounts made through the API.
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

/// Show the caller's profile
#[utoipa::path(
    get, path = "/api/v1/auth/profile/", tag = "profile", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = UserBody),
        BearerErrors,
    )
)]
pub(crate) async fn show_profile(
    State(state): State<AppState>,
    AuthUser(id): AuthUser,
) -> Result<Json<UserBody>> {
    Ok(Json((&state.accounts.profile(id).await?).into()))
}

/// Profile changes: only the fields sent change; anything else in the body is ignored. A field
/// sent as `null` is a 400 naming it, as the original app answered.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileRequest {
    #[schema(value_type = String, required = false, min_length = 4, max_length = 30)]
    #[schema(pattern = "^[A-Za-z0-9_]+$")]
    #[serde(default, deserialize_with = "nullable")]
    username: Option<Option<Text>>,
    #[schema(value_type = String, required = false, format = Email, max_length = 254)]
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<Text>>,
    #[schema(value_type = String, required = false, max_length = 150)]
    #[serde(default, deserialize_with = "nullable")]
    first_name: Option<Option<Text>>,
    #[schema(value_type = String, required = false, max_length = 150)]
    #[serde(default, deserialize_with = "nullable")]
    last_name: Option<Option<Text>>,
}

impl ProfileRequest {
    /// The changes that parsed, and the errors of those that did not: the service adds its own
    /// (a changed name's full rule) so that one answer names every bad field.
    fn parse(self) -> (ProfileChanges, FieldErrors) {
        let mut errors = FieldErrors::default();
        let changes = ProfileChanges {
            // A name of today's rule, as register takes it; or an imported account's own
            // legacy-shaped name sent back, which the service refuses if it is a change. A
            // spelling that only folds into today's rule (`Admİn_x`, a Kelvin sign) is neither:
            // it gets the rule a new name must pass, as register answers it.
            username: errors
                .optional(
                    "username",
                    self.username,
                    non_null(|name: String| {
                        let name = name.trim().to_owned();
                        Username::parse(name.clone()).or_else(|rule| {
                            Username::existing(name)
                                .ok()
                                .filter(|legacy| Username::parse(legacy.to_string()).is_err())
                                .ok_or(rule)
                        })
                    }),
                )
                .flatten(),
            email: errors
                .optional("email", self.email, non_null(Email::parse))
                .flatten(),
            first_name: errors
                .optional("first_name", self.first_name, non_null(PersonName::parse))
                .flatten(),
            last_name: errors
                .optional("last_name", self.last_name, non_null(PersonName::parse))
                .flatten(),
        };
        (changes, errors)
    }
}

/// Update the caller's profile
///
/// PUT and PATCH alike change only the fields sent, with the rules of registration. An update
/// that would change the username or email says whether that name is taken, so such updates are
/// limited per user as registrations are per address (20 an hour by default): past that, 429.
#[utoipa::path(
    method(put, patch), path = "/api/v1/auth/profile/", tag = "profile", security(("bearer" = [])),
    request_body = ProfileRequest,
    responses(
        (status = 200, description = "The updated user", body = UserBody),
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        BearerErrors,
        JsonErrors,
    )
)]
pub(crate) async fn update_profile(
    State(state): State<AppState>,
    AuthUser(id): AuthUser,
    AppJson(body): AppJson<ProfileRequest>,
) -> Result<Json<UserBody>> {
    let (changes, errors) = body.parse();
    let user = state.accounts.update_profile(id, changes, errors).await?;
    Ok(Json((&user).into()))
}

/// A password change: the current password, and the new one twice.
#[derive(Deserialize, ToSchema)]
pub struct PasswordRequest {
    #[schema(value_type = String, required = true, format = Password)]
    #[serde(default, deserialize_with = "nullable")]
    old_password: Option<Option<Text>>,
    /// Not entirely digits.
    #[schema(value_type = String, required = true, format = Password)]
    #[schema(min_length = 8, max_length = 128)]
    #[serde(default, deserialize_with = "nullable")]
    new_password_1: Option<Option<Text>>,
    /// Must equal `new_password_1`.
    #[schema(value_type = String, required = true, format = Password)]
    #[serde(default, deserialize_with = "nullable")]
    new_password_2: Option<Option<Text>>,
}

/// The password change's answer: its message, and a fresh pair for the new session epoch.
#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    #[schema(examples("password updated successfully"))]
    pub detail: String,
    #[serde(flatten)]
    pub tokens: TokensBody,
}

/// Change the caller's password
///
/// Ends every session of the user: every access and refresh token issued before, and every open
/// WebSocket, stops working. Answers with a fresh token pair, so this client stays signed in. A
/// wrong old password counts as a failed login of the user, its username and the client's
/// address: past a limit, 429.
#[utoipa::path(
    post, path = "/api/v1/auth/profile/password/", tag = "profile", security(("bearer" = [])),
    request_body = PasswordRequest,
    responses(
        (
            status = 200, description = "The password is changed; a fresh token pair",
            body = PasswordChanged,
        ),
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        BearerErrors,
        JsonErrors,
    )
)]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    AuthUser(id): AuthUser,
    ClientIp(client): ClientIp,
    AppJson(body): AppJson<PasswordRequest>,
) -> Result<Json<PasswordChanged>> {
    let mut errors = FieldErrors::default();
    // Compared as they are set: trimmed (`Password::parse`).
    fn trimmed(text: &Text) -> Option<&str> {
        match text {
            Text::Given(text) => Some(text.trim()),
            Text::NotText => None,
        }
    }
    let mismatch = matches!(
        (&body.new_password_1, &body.new_password_2),
        (Some(Some(first)), Some(Some(second))) if trimmed(first) != trimmed(second)
    );
    let old = errors.required("old_password", body.old_password, Ok);
    let new = errors.required("new_password_1", body.new_password_1, Password::parse);
    errors.required("new_password_2", body.new_password_2, Ok);
    if mismatch {
        errors.add("new_password_2", "Value should be same as new_password_1");
    }
    let Some(old) = old else {
        return Err(errors.into());
    };
    // The old password is checked even when the new one is refused, so the answer names every
    // field that is wrong.
    let new = match new {
        Some(new) if errors.is_empty() => Ok(new),
        _ => Err(errors),
    };
    let pair = state
        .accounts
        .change_password(id, &old, new, client)
        .await?;
    let epoch = pair.refresh_claims.session_epoch;
    state.close_sockets(id.user, Ended::Before(epoch)).await;
    Ok(Json(PasswordChanged {
        detail: "password updated successfully".to_owned(),
        tokens: pair.into(),
    }))
}
