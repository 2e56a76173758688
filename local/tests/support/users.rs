//! Test users: unique names, the one password, and the tokens an answer carries.

use super::Answer;

/// The password every test user gets.
pub const PASSWORD: &str = "correct-horse-battery";

/// A username nobody has used before: `prefix` plus random hex, at most 30 characters.
pub fn unique_name(prefix: &str) -> String {
    let suffix = format!("{:016x}", rand::random::<u64>());
    format!("{prefix}_{suffix}").chars().take(30).collect()
}

/// The access and refresh tokens of a register or login answer.
#[track_caller]
pub fn tokens(answer: &Answer) -> (String, String) {
    let tokens = &answer.body["tokens"];
    let field = |name: &str| {
        tokens[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} token in {}", answer.body))
            .to_owned()
    };
    (field("access"), field("refresh"))
}

/// When `token` expires (its `exp`, in seconds since the epoch).
pub fn expiry(token: &str) -> u64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: serde_json::Value = serde_json::from_slice(&payload).expect("JSON claims");
    claims["exp"].as_u64().expect("an exp")
}

/// Sleeps until the clock has passed `unix_seconds`.
pub async fn sleep_past(unix_seconds: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    let until =
        std::time::Duration::from_secs(unix_seconds) + std::time::Duration::from_millis(300);
    tokio::time::sleep(until.saturating_sub(now)).await;
}
