//! Conditional requests on a task (RFC 9110 §13): every task answer carries the task's version as a
//! strong `ETag`; `If-Match` lets a PUT, PATCH or DELETE happen only to the versions it names, and
//! `If-None-Match` only to others (412 otherwise); on a GET, `If-Match` answers only for the
//! versions it names (412 otherwise), and `If-None-Match` turns an unchanged task into a 304 with
//! no body. Without these headers nothing changes. Also `Idempotency-Key`,
//! which makes a create safe to retry.

use axum::extract::FromRequestParts;
use axum::http::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use utoipa::IntoParams;

use crate::domain::Task;
use crate::error::Error;
use crate::service::tasks::{Preconditions, Versions};

/// A task's entity tag: its version, quoted.
pub fn etag(task: &Task) -> [(axum::http::HeaderName, HeaderValue); 1] {
    let value = HeaderValue::try_from(format!("\"{}\"", task.version))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    [(ETAG, value)]
}

/// A GET's `If-Match` (strong comparison) and `If-None-Match` (weak comparison); `*` names any
/// current task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPreconditions {
    if_match: Option<Versions>,
    if_none_match: Option<Versions>,
}

/// A write's `If-Match` (strong comparison: a weak or malformed tag names no version, so it never
/// matches, RFC 9110 §13.1.1) and `If-None-Match` (weak comparison), for the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePreconditions(pub Preconditions);

/// The versions a list header's entity tags name, `W/` tags kept or skipped; `*` names any when it
/// is a whole field (in a list it is malformed, and names none). Read as bytes: a field with other
/// tags in obs-text still names its versions.
fn tags(headers: &HeaderMap, name: axum::http::HeaderName, weak_too: bool) -> Option<Versions> {
    let values: Vec<&HeaderValue> = headers.get_all(name).iter().collect();
    if values.is_empty() {
        return None;
    }
    let mut versions = Vec::new();
    for value in values {
        let field = value.as_bytes();
        if field.trim_ascii() == b"*" {
            return Some(Versions::Any);
        }
        for tag in field.split(|&byte| byte == b',').map(<[u8]>::trim_ascii) {
            let tag = match tag.strip_prefix(b"W/") {
                Some(weak) if weak_too => weak,
                Some(_) => continue,
                None => tag,
            };
            versions.extend(version_of(tag));
        }
    }
    Some(Versions::These(versions))
}

/// The version an opaque tag names: its digits exactly as [`etag`] writes them (`"3"`; not `"03"`,
/// `"+3"` or an unquoted `3`, which name none: tags compare character by character).
fn version_of(tag: &[u8]) -> Option<u64> {
    let digits = tag.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let version: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (version.to_string().as_bytes() == digits).then_some(version)
}

impl ReadPreconditions {
    /// A 412 if `If-Match` names none of `task`'s version; else whether the client's copy is
    /// current (answer 304), in RFC 9110's order (§13.2.2).
    pub fn unchanged(&self, task: &Task) -> Result<bool, Error> {
        let names = |versions: &Versions| versions.name(task.version);
        if self.if_match.as_ref().is_some_and(|v| !names(v)) {
            return Err(Error::PreconditionFailed);
        }
        Ok(self.if_none_match.as_ref().is_some_and(names))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WritePreconditions {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(Preconditions {
            if_match: tags(&parts.headers, IF_MATCH, false),
            if_none_match: tags(&parts.headers, IF_NONE_MATCH, true),
        }))
    }
}

/// A create's `Idempotency-Key`, if sent: 1 to 255 visible ASCII characters, else a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let key = value.as_bytes();
        if key.is_empty() || key.len() > 255 || !key.iter().all(u8::is_ascii_graphic) {
            return Err(Error::BadRequest(
                "Idempotency-Key must be 1 to 255 visible ASCII characters.".into(),
            ));
        }
        Ok(Self(Some(String::from_utf8_lossy(key).into_owned())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ReadPreconditions {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            if_match: tags(&parts.headers, IF_MATCH, false),
            if_none_match: tags(&parts.headers, IF_NONE_MATCH, true),
        })
    }
}

/// `Idempotency-Key`, as documented ([`IdempotencyKey`] reads it).
#[derive(IntoParams)]
#[into_params(names("Idempotency-Key"), parameter_in = Header)]
pub struct IdempotencyKeyParam(
    /// A key of your choosing (1 to 255 visible ASCII characters, e.g. a UUID) that makes this
    /// create safe to retry: the same key and fields within 24 hours create one task.
    #[param(value_type = String, required = false, example = "5d1c1f0e-8f1e-4c55-9d4b-2a7e3c1a9f00")]
    #[param(min_length = 1, max_length = 255, pattern = "^[!-~]+$")]
    pub Option<String>,
);

/// `If-Match`, as documented ([`WritePreconditions`] reads it).
#[derive(IntoParams)]
#[into_params(names("If-Match"), parameter_in = Header)]
pub struct IfMatchParam(
    /// Apply the change only if the task is still at this version (its `ETag`); 412 otherwise.
    /// Without it, the change applies to whatever version is current.
    #[param(value_type = String, required = false, example = "\"3\"")]
    pub Option<String>,
);

/// `If-Match` on a GET, as documented ([`ReadPreconditions`] reads it).
#[derive(IntoParams)]
#[into_params(names("If-Match"), parameter_in = Header)]
pub struct IfMatchReadParam(
    /// Answer only if the task is still at this version (its `ETag`); 412 otherwise.
    #[param(value_type = String, required = false, example = "\"3\"")]
    pub Option<String>,
);

/// `If-None-Match` on a GET, as documented ([`ReadPreconditions`] reads it).
#[derive(IntoParams)]
#[into_params(names("If-None-Match"), parameter_in = Header)]
pub struct IfNoneMatchParam(
    /// The `ETag` of the copy the client holds: if the task is still at that version the answer
    /// is 304 with no body.
    #[param(value_type = String, required = false, example = "\"3\"")]
    pub Option<String>,
);

/// `If-None-Match` on a write, as documented ([`WritePreconditions`] reads it).
#[derive(IntoParams)]
#[into_params(names("If-None-Match"), parameter_in = Header)]
pub struct IfNoneMatchWriteParam(
    /// Apply the change only if the task is at none of these versions (weak comparison); 412
    /// otherwise. `*` names every version, so a write with it never applies to a task.
    #[param(value_type = String, required = false, example = "\"3\"")]
    pub Option<String>,
);

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: axum::http::HeaderName, fields: &[&[u8]], weak_too: bool) -> Option<Versions> {
        let mut headers = HeaderMap::new();
        for field in fields {
            headers.append(name.clone(), HeaderValue::from_bytes(field).unwrap());
        }
        tags(&headers, name, weak_too)
    }

    #[test]
    fn tags_name_versions_as_this_server_writes_them() {
        let these = |versions: &[u64]| Some(Versions::These(versions.to_vec()));
        assert_eq!(read(IF_MATCH, &[], false), None);
        assert_eq!(read(IF_MATCH, &[b" * "], false), Some(Versions::Any));
        // Several fields, and tags in obs-text beside ours.
        let fields: &[&[u8]] = &[b"\"1\"", b"\"2\", \"\xc3\xa9\""];
        assert_eq!(read(IF_NONE_MATCH, fields, true), these(&[1, 2]));
        // `*` in a list is malformed: it names nothing, and the list's other tags still count.
        assert_eq!(read(IF_MATCH, &[b"\"1\", *"], false), these(&[1]));
        // Character by character: no leading zero, sign or missing quotes.
        for other in [&b"\"01\""[..], b"\"+1\"", b"1", b"\"\"", b"\"1", b","] {
            assert_eq!(read(IF_NONE_MATCH, &[other], true), these(&[]), "{other:?}");
        }
        assert_eq!(read(IF_MATCH, &[b"\"0\""], false), these(&[0]));
        // Weak tags: skipped by If-Match's strong comparison, kept by If-None-Match's weak one.
        assert_eq!(read(IF_MATCH, &[b"W/\"1\""], false), these(&[]));
        assert_eq!(read(IF_NONE_MATCH, &[b"W/\"1\""], true), these(&[1]));
    }
}
