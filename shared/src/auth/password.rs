//! Argon2id password hashing, run off the async runtime.

use anyhow::Context;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::domain::Password;

/// Argon2id at OWASP's minimum: 19 MiB, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Hashes a new password into a PHC string.
pub async fn hash_password(password: &Password) -> anyhow::Result<String> {
    let plain = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(plain.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await
    .context("password hashing task")?
}

/// Whether `plain` matches the PHC string `hash`.
pub async fn verify_password(plain: &str, hash: &str) -> anyhow::Result<bool> {
    let (plain, hash) = (plain.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || verify_blocking(&plain, &hash))
        .await
        .context("password verification task")?
}

/// Like [`verify_password`], but with no hash (unknown user) it still spends the same time on a
/// dummy hash and answers `false`, so timing does not tell whether a user exists.
pub async fn verify_password_or_dummy(plain: &str, hash: Option<&str>) -> anyhow::Result<bool> {
    match hash {
        Some(hash) => verify_password(plain, hash).await,
        None => {
            let plain = plain.to_owned();
            tokio::task::spawn_blocking(move || {
                let _ = verify_blocking(&plain, DUMMY_HASH);
                Ok(false)
            })
            .await
            .context("password verification task")?
        }
    }
}

fn verify_blocking(plain: &str, hash: &str) -> anyhow::Result<bool> {
    let parsed = argon2::PasswordHash::new(hash)
        .map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
    match hasher().verify_password(plain.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(anyhow::anyhow!("verifying password: {e}")),
    }
}

/// The hash an unknown user's login is verified against: argon2id of a random, forgotten password,
/// with the live parameters (a test checks they match). A constant, so even the first failed
/// login of a cold Lambda costs exactly one verification, like a wrong password does.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$+Ff1utn2hzR9wJFKC9Xasw$dZ55hBK8Rkj4vDD8/8t8UFhhH67qRPJjr/Exz6FqIxI";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let password = Password::parse("correct-horse".into()).unwrap();
        let hash = hash_password(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct-horse", &hash).await.unwrap());
        assert!(!verify_password("wrong-horse", &hash).await.unwrap());
        assert!(
            !verify_password_or_dummy("correct-horse", None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn the_dummy_hash_has_the_live_parameters() {
        let dummy = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        let live = hasher().hash_password(b"any password").unwrap().to_string();
        let live = argon2::PasswordHash::new(&live).unwrap();
        assert_eq!(dummy.algorithm, live.algorithm);
        assert_eq!(dummy.version, live.version);
        assert_eq!(dummy.params, live.params);
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            live.hash.map(|h| h.len()),
            "same output length"
        );
    }
}
