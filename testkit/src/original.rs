//! What the original Django app stored and issued, made the way it made them, for the tests of
//! the move-in: password hashes and signed tokens.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::{hmac, pbkdf2};

/// The iterations of the original app's Django version.
pub const DJANGO_ITERATIONS: u32 = 390_000;

/// A Django `pbkdf2_sha256$<iterations>$<salt>$<base64 key>` hash of `password`.
pub fn django_hash(password: &str, salt: &str, iterations: u32) -> String {
    let mut key = [0u8; 32];
    let rounds = std::num::NonZeroU32::new(iterations).expect("at least one iteration");
    let algorithm = pbkdf2::PBKDF2_HMAC_SHA256;
    pbkdf2::derive(
        algorithm,
        rounds,
        salt.as_bytes(),
        password.as_bytes(),
        &mut key,
    );
    format!("pbkdf2_sha256${iterations}${salt}${}", STANDARD.encode(key))
}

/// A token as the original app signed it (HS256, its claims only: `token_type`, `exp`, `iat`,
/// `jti` as 32 hex characters, `user_id` with dashes), valid for `ttl` seconds from now.
pub fn original_token(secret: &str, user_id: &str, token_type: &str, ttl: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let jti = format!("{:032x}", now as u128 * 7_919 + ttl.unsigned_abs() as u128);
    let claims = format!(
        r#"{{"token_type":"{token_type}","exp":{},"iat":{now},"jti":"{jti}","user_id":"{user_id}"}}"#,
        now + ttl
    );
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signature = hmac::sign(&key, signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    )
}
