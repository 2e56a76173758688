//! Argon2id password hashing, run off the async runtime in a kept work area
//! ([`super::work_area`]); and verification of the Django `pbkdf2_sha256` hashes that users
//! imported from the original app arrive with.

use std::num::NonZeroU32;

use argon2::Params;
use argon2::password_hash::{CustomizedPasswordHasher, PasswordVerifier, generate_salt};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::pbkdf2;

use super::work_area::{KeptArea, with_work_area};
use crate::domain::Password;

/// Hashes a new password into a PHC string: argon2id version 0x13 (what [`KeptArea`] hashes with
/// when a hash names no algorithm or version), at OWASP's minimum, [`Params::DEFAULT`] (19 MiB, 2
/// passes, 1 lane).
pub async fn hash_password(password: &Password) -> anyhow::Result<String> {
    rehash_password(password.expose()).await
}

/// Hashes a password that has just been proven against a legacy hash: it was chosen under the
/// original app's rules, so it need not pass [`Password::parse`].
pub async fn rehash_password(plain: &str) -> anyhow::Result<String> {
    let plain = plain.to_owned();
    with_work_area(move |area| hash_blocking(area, &plain)).await?
}

fn hash_blocking(area: &KeptArea, plain: &str) -> anyhow::Result<String> {
    area.hash_password_with_params(plain.as_bytes(), &generate_salt(), Params::DEFAULT)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// Django's PBKDF2 hash prefix: `pbkdf2_sha256$<iterations>$<salt>$<base64 of the key>`.
const DJANGO_PBKDF2: &str = "pbkdf2_sha256$";

/// Whether `hash` is the original app's kind, to be replaced by argon2id at the next login that
/// proves the password.
pub fn is_legacy_hash(hash: &str) -> bool {
    hash.starts_with(DJANGO_PBKDF2)
}

/// Whether `hash` is taskmaster's own (argon2), not one the original app made.
pub fn is_argon2_hash(hash: &str) -> bool {
    hash.starts_with("$argon2")
}

/// Whether `plain` matches `hash`: an argon2id PHC string, or a Django `pbkdf2_sha256` hash.
/// Anything else stored (Django's unusable `!…` password) matches nothing, after the same work.
pub async fn verify_password(plain: &str, hash: &str) -> anyhow::Result<bool> {
    let (plain, hash) = (plain.to_owned(), hash.to_owned());
    with_work_area(move |area| verify_blocking(area, &plain, &hash)).await?
}

/// Like [`verify_password`], but with no hash (unknown user) it still spends the same time on a
/// dummy hash and answers `false`, so timing does not tell whether a user exists.
pub async fn verify_password_or_dummy(plain: &str, hash: Option<&str>) -> anyhow::Result<bool> {
    let matched = verify_password(plain, hash.unwrap_or(DUMMY_HASH)).await?;
    Ok(matched && hash.is_some())
}

fn verify_blocking(area: &KeptArea, plain: &str, hash: &str) -> anyhow::Result<bool> {
    if let Some(django) = hash.strip_prefix(DJANGO_PBKDF2) {
        return Ok(verify_django(plain, django));
    }
    if !is_argon2_hash(hash) {
        let _ = verify_blocking(area, plain, DUMMY_HASH);
        return Ok(false);
    }
    let parsed = argon2::PasswordHash::new(hash)
        .map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
    match area.verify_password(plain.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(anyhow::anyhow!("verifying password: {e}")),
    }
}

/// PBKDF2-HMAC-SHA256 of the UTF-8 password over the salt's ASCII bytes, compared in constant
/// time with the stored key; `false` for a malformed hash too.
fn verify_django(plain: &str, hash: &str) -> bool {
    let mut parts = hash.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(key)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(iterations), Ok(key)) = (iterations.parse::<NonZeroU32>(), STANDARD.decode(key)) else {
        return false;
    };
    let algorithm = pbkdf2::PBKDF2_HMAC_SHA256;
    pbkdf2::verify(
        algorithm,
        iterations,
        salt.as_bytes(),
        plain.as_bytes(),
        &key,
    )
    .is_ok()
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

    #[tokio::test]
    async fn django_pbkdf2_hashes_verify_their_password_only() {
        // Computed independently: Python's hashlib.pbkdf2_hmac("sha256", ...), base64.
        let hashes = [
            "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=",
        ];
        for hash in hashes {
            assert!(is_legacy_hash(hash));
            assert!(verify_password("lètmein", hash).await.unwrap(), "{hash}");
            assert!(!verify_password("letmein", hash).await.unwrap(), "{hash}");
        }
        for malformed in [
            "pbkdf2_sha256$x$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "pbkdf2_sha256$1000$seasalt",
            "pbkdf2_sha256$1000$seasalt$not base64",
            "!unusable-django-password",
            "",
        ] {
            assert!(
                !verify_password("lètmein", malformed).await.unwrap(),
                "{malformed}"
            );
        }
        assert!(!is_legacy_hash(DUMMY_HASH));
    }

    #[tokio::test]
    async fn the_dummy_hash_has_the_live_parameters() {
        let dummy = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        let live = rehash_password("any password").await.unwrap();
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

    /// Hashes made in a kept work area, one after another in the same areas, are the argon2
    /// crate's own: it verifies ours, and ours verify its.
    #[tokio::test]
    async fn kept_work_areas_hash_as_the_argon2_crate_does() {
        use argon2::{Argon2, PasswordHasher, PasswordVerifier};
        let theirs = Argon2::default().hash_password(b"their password").unwrap();
        for round in 0..3 {
            let ours = rehash_password("our password").await.unwrap();
            let parsed = argon2::PasswordHash::new(&ours).unwrap();
            assert!(
                Argon2::default()
                    .verify_password(b"our password", &parsed)
                    .is_ok()
            );
            assert!(
                Argon2::default()
                    .verify_password(b"their password", &parsed)
                    .is_err()
            );
            let theirs = theirs.to_string();
            assert!(
                verify_password("their password", &theirs).await.unwrap(),
                "{round}"
            );
            assert!(
                !verify_password("our password", &theirs).await.unwrap(),
                "{round}"
            );
        }
    }
}
