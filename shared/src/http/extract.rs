//! Extractors with the app's own rejections: a JSON body and the authenticated caller.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::auth::TokenType;
use crate::domain::{FieldErrors, Session};
use crate::error::Error;
use crate::service::AccountService;

/// A JSON object body. Bad JSON, a non-object, a non-JSON content type or an oversized body each
/// get their own clear 4xx (a field of the wrong type is the body's own checks' to name); an
/// empty body reads as `{}` whatever its content type, as the original app's framework read it
/// (it parses no body of length 0).
#[derive(Debug)]
pub struct AppJson<T>(pub T);

/// `application/json` or `application/*+json`, in UTF-8 (JSON's only encoding between systems,
/// RFC 8259): a `charset` parameter, if any, must say so.
fn is_json(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let utf8 = parts.all(|parameter| match parameter.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            let charset = value.trim().trim_matches('"');
            charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    });
    utf8 && (essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json")))
}

/// A body sent as is: no `Content-Encoding`, or `identity`. A compressed body (or an unreadable
/// encoding) is refused rather than read as bad JSON.
fn is_plain(encoding: Option<&HeaderValue>) -> bool {
    encoding.is_none_or(|value| {
        value.to_str().is_ok_and(|codings| {
            codings
                .split(',')
                .map(str::trim)
                .all(|c| c.is_empty() || c.eq_ignore_ascii_case("identity"))
        })
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let plain = is_plain(req.headers().get(header::CONTENT_ENCODING));
        within_body_limit(req.headers())?;
        // A body sent without a length is cut off at the limit (`DefaultBodyLimit`).
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge
            } else {
                Error::BadRequest(rejection.body_text())
            }
        })?;
        let bytes = match content_type {
            _ if bytes.is_empty() => Bytes::from_static(b"{}"),
            Some(ct) if is_json(&ct) && plain => bytes,
            _ => return Err(Error::UnsupportedMediaType),
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::BadRequest(format!("JSON parse error - {e}")))?;
        let serde_json::Value::Object(_) = &value else {
            return Err(Error::Validation(FieldErrors::single(
                "non_field_errors",
                "Invalid data. Expected a JSON object.",
            )));
        };
        // Every body field is read as `Text`, which takes any JSON value: a value of the wrong
        // type is named by the body's own checks, beside every other bad field.
        T::deserialize(&value).map(AppJson).map_err(|_| {
            Error::Validation(FieldErrors::single("non_field_errors", "Invalid data."))
        })
    }
}

/// A 413 for a request whose `Content-Length` announces a body past [`super::BODY_LIMIT`],
/// before a byte of it is waited for. Every route that takes a body or a caller checks it: a
/// body's reader ([`AppJson`], where a body sent without a length is also cut off at the limit)
/// and [`AuthUser`] once the caller is known, so a route that reads no body (a logout, a read, a
/// delete) refuses one too, and a bad or ended session still gets its 401 first.
fn within_body_limit(headers: &HeaderMap) -> Result<(), Error> {
    if announced_past_limit(headers) {
        return Err(Error::PayloadTooLarge);
    }
    Ok(())
}

/// Whether a request's `Content-Length` announces a body past [`super::BODY_LIMIT`] (one without
/// a readable length announces nothing).
pub fn announced_past_limit(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length > super::BODY_LIMIT as u64)
}

/// Reads a body field that may be absent (`None`), `null` (`Some(None)`) or a value, for use
/// with `#[serde(default, deserialize_with = "nullable")]`.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// A query string read as the original app (Django) read it: a name given twice takes its last
/// value. One that is not even `name=value` pairs is a 400.
#[derive(Debug)]
pub struct LastQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for LastQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let invalid = || Error::BadRequest("Invalid query string.".to_owned());
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
                .map_err(|_| invalid())?;
        // Later pairs overwrite earlier ones.
        let fields: serde_json::Map<String, serde_json::Value> = pairs
            .into_iter()
            .map(|(name, value)| (name, serde_json::Value::String(value)))
            .collect();
        serde_json::from_value(serde_json::Value::Object(fields))
            .map(Self)
            .map_err(|_| invalid())
    }
}

/// The caller, authenticated by `Authorization: Bearer <access token>`: a signature, expiry and
/// type check only. Whether the session is still current is checked by the service, beside or
/// inside the endpoint's own store calls (never as a round trip of its own).
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Session);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(Error::MissingCredentials)?;
        let value = value.to_str().map_err(|_| Error::InvalidToken)?;
        let mut words = value.split_whitespace();
        if !words
            .next()
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer"))
        {
            return Err(Error::MissingCredentials);
        }
        let (Some(token), None) = (words.next(), words.next()) else {
            return Err(Error::InvalidToken);
        };
        let claims = state
            .jwt
            .decode(token, TokenType::Access)
            .await?
            .ok_or(Error::InvalidToken)?;
        let session = claims.session();
        if let Some(seen) = parts.extensions.get::<Authenticated>() {
            // Only the first: a handler has one caller.
            let _ = seen.0.set((session, state.accounts.clone()));
        }
        within_body_limit(&parts.headers)?;
        Ok(Self(session))
    }
}

/// Where [`AuthUser`] leaves the session it authenticated, with the service that can check it,
/// for [`super::ended_sessions_get_401`] to find when the request is refused for its input.
#[derive(Clone, Default)]
pub(crate) struct Authenticated(Arc<OnceLock<(Session, AccountService)>>);

impl Authenticated {
    /// Whether the request's session was authenticated and has ended since (a logout, a password
    /// change, logout-all, a refresh token's reuse, or its user deleted). A store error answers `false`:
    /// the request's own answer stands.
    pub(crate) async fn has_ended(&self) -> bool {
        match self.0.get() {
            Some((session, accounts)) => accounts
                .session_is_current(*session)
                .await
                .is_ok_and(|current| !current),
            None => false,
        }
    }
}

/// The `{id}` of a task route. An id that is not even text is a task that does not exist: 404.
#[derive(Debug, Clone)]
pub struct TaskPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for TaskPath {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::task_not_found())?;
        Ok(Self(id))
    }
}
