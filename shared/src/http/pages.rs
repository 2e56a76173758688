//! A page of tasks on the wire: its links, and how many tasks it can hold.
//!
//! Lambda returns at most 6 MiB (6,291,456 bytes) from a synchronous invocation, and
//! `lambda_http` puts the body in it as a JSON string, escaping each `"` and `\` once more. A page
//! of 100 tasks can pass that (a control character in a text is written `\u0001`: six bytes, seven
//! once escaped again, so a task can take 70 KB), and API Gateway would answer it with a 5xx. So a
//! page that would not fit holds only the tasks that do, and its `next` link goes on from its last
//! one. Every host keeps the same rule, so a page is the same on each.

use std::io;

use axum::http::{HeaderMap, header};
use serde::Serialize;

use crate::domain::TaskStatus;

/// What an answer's body may take as Lambda counts it; the rest of the response (its status and
/// headers: a few KiB) fits in the 64 KiB left.
const BODY_BYTES: usize = 6 * 1024 * 1024 - 64 * 1024;

/// What a page's tasks may take, leaving room for its count and links (whose host is at most a
/// request header's 8 KiB).
const TASK_BYTES: usize = BODY_BYTES - 32 * 1024;

/// Whether a JSON body fits in a Lambda response once written there as a JSON string.
pub fn fits(body: &[u8]) -> bool {
    wire_len(body) <= BODY_BYTES
}

/// What `bytes` take inside a JSON string: each `"` and `\` escaped once more.
fn wire_len(bytes: &[u8]) -> usize {
    bytes.len() + bytes.iter().filter(|b| matches!(b, b'"' | b'\\')).count()
}

/// How many of `items`, from the first, fit in a page as Lambda counts them: each one's JSON, its
/// `"` and `\` counted twice, and the comma after it.
pub fn fitting<T: Serialize>(items: &[T]) -> usize {
    let mut size = WireSize(0);
    for (i, item) in items.iter().enumerate() {
        // Writing to a counter cannot fail; a value that cannot be written counts as too big.
        if serde_json::to_writer(&mut size, item).is_err() || size.0 + 1 > TASK_BYTES {
            return i;
        }
        size.0 += 1;
    }
    items.len()
}

/// Counts the bytes written to it as a JSON string holding them would take.
struct WireSize(usize);

impl io::Write for WireSize {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += wire_len(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `scheme://host/path` of this request, as the client addressed it (`X-Forwarded-Proto` honoured).
pub(super) fn base_url(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let first = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
    };
    // Only values that make a plain http(s) URL: a forged header cannot turn the links into
    // `javascript:` ones or point them at a path or a user of its choosing.
    let scheme = first("x-forwarded-proto")
        .or(uri.scheme_str())
        .map(str::to_ascii_lowercase)
        .filter(|s| s == "http" || s == "https")
        .unwrap_or_else(|| "http".to_owned());
    let host = first(header::HOST.as_str())
        .or(uri.authority().map(|a| a.as_str()))
        .filter(|host| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("{scheme}://{host}{}", uri.path())
}

pub(super) fn page_url(
    base: &str,
    page_size: usize,
    status: Option<TaskStatus>,
    cursor: &str,
) -> String {
    let status = status
        .map(|s| format!("&status_task={}", s.as_str().replace(' ', "%20")))
        .unwrap_or_default();
    format!("{base}?page_size={page_size}{status}&cursor={cursor}")
}
