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

/// Whether the password `typed` matches `hash`: an argon2id PHC string, or a Django
/// `pbkdf2_sha256` hash. Anything else stored (Django's unusable `!…` password) matches nothing,
/// after the same work.
///
/// `typed` is checked trimmed of surrounding whitespace, as every password is set
/// ([`Password::parse`]) and as the original app read it; one with whitespace at either end is
/// checked as typed too, when trimmed it does not match, for a password set before passwords were
/// trimmed (2026-12-07). That second check costs a second hash whatever the account (an unknown
/// name's dummy too), so its time tells nothing the answer does not.
pub async fn verify_password(typed: &str, hash: &str) -> anyhow::Result<bool> {
    let (typed, hash) = (typed.to_owned(), hash.to_owned());
    with_work_area(move |area| {
        let trimmed = typed.trim();
        Ok(verify_blocking(area, trimmed, &hash)?
            || (trimmed != typed && verify_blocking(area, &typed, &hash)?))
    })
    .await?
}

/// Like [`verify_password`], but with no hash (unknown user) it still spends the same time on a
/// dummy hash and answers `false`, so timing does not tell whether a user exists.
pub async fn verify_password_or_dummy(plain: &str, hash: Option<&str>) -> anyhow::Result<bool> {
    let matched = verify_password(plain, hash.unwrap_or(DUMMY_HASH)).await?;
    Ok(matched && hash.is_some())
}

/// The most PBKDF2 iterations a stored hash may ask for: above Django's defaults (1,200,000 in
/// Django 6.0) with room, and a bound on what one login can cost (about 0.7 s of a core here).
pub const MAX_PBKDF2_ITERATIONS: u32 = 3_000_000;

/// The most an argon2 hash may ask for: memory (KiB), passes and lanes. Ours use [`Params::DEFAULT`].
const MAX_ARGON2: (u32, u32, u32) = (64 * 1024, 10, 8);

fn verify_blocking(area: &KeptArea, plain: &str, hash: &str) -> anyhow::Result<bool> {
    if let Some(django) = hash.strip_prefix(DJANGO_PBKDF2) {
        if let Some(matched) = verify_django(plain, django) {
            return Ok(matched);
        }
    } else if let Some(parsed) = usable_argon2(hash) {
        return match area.verify_password(plain.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(e) => {
                // Refused before any work: the dummy's below keeps the answer's time.
                tracing::warn!(error = %e, "a stored password hash cannot be verified");
                verify_blocking(area, plain, DUMMY_HASH)?;
                Ok(false)
            }
        };
    }
    // Not a hash this server verifies (Django's unusable `!…`, a malformed one, or one asking for
    // more work than its bounds): it matches nothing, after the work a wrong password costs.
    if hash != DUMMY_HASH {
        verify_blocking(area, plain, DUMMY_HASH)?;
    }
    Ok(false)
}

/// `hash` as an argon2 PHC string within [`MAX_ARGON2`], or `None` (a refusal is logged, without
/// the hash).
fn usable_argon2(hash: &str) -> Option<argon2::PasswordHash> {
    if !is_argon2_hash(hash) {
        return None;
    }
    let parsed = argon2::PasswordHash::new(hash)
        .inspect_err(|e| tracing::warn!(error = %e, "a stored password hash is malformed"))
        .ok()?;
    let params = Params::try_from(&parsed).ok()?;
    let (memory, passes, lanes) = MAX_ARGON2;
    if params.m_cost() > memory || params.t_cost() > passes || params.p_cost() > lanes {
        tracing::warn!(
            m = params.m_cost(),
            t = params.t_cost(),
            p = params.p_cost(),
            "a stored password hash asks for more work than allowed"
        );
        return None;
    }
    Some(parsed)
}

/// A Django `pbkdf2_sha256` hash (after its prefix) this server verifies: its iterations, salt
/// and 32-byte key.
struct DjangoHash<'a> {
    iterations: NonZeroU32,
    salt: &'a str,
    key: Vec<u8>,
}

/// Reads `<iterations>$<salt>$<base64 of the key>`, or says why this server cannot verify it.
fn django_hash(hash: &str) -> Result<DjangoHash<'_>, String> {
    let malformed = || "it is not of Django's shape (iterations$salt$key)".to_owned();
    let mut parts = hash.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(key)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let iterations = iterations.parse::<NonZeroU32>().map_err(|_| malformed())?;
    if iterations.get() > MAX_PBKDF2_ITERATIONS {
        return Err(format!(
            "it asks for {iterations} iterations, more than the {MAX_PBKDF2_ITERATIONS} this \
             server verifies"
        ));
    }
    // Django's key is one SHA-256 block; ring derives one block per 32 bytes asked for, so a
    // longer stored key would multiply the work past the bound above.
    let key = STANDARD.decode(key).map_err(|_| malformed())?;
    if key.len() != 32 {
        return Err(malformed());
    }
    Ok(DjangoHash {
        iterations,
        salt,
        key,
    })
}

/// Why this server cannot verify a Django hash, `hash` being what follows its `pbkdf2_sha256$`
/// (the importer says so in its report), if it cannot.
pub fn unverifiable_pbkdf2(hash: &str) -> Option<String> {
    django_hash(hash).err()
}

/// PBKDF2-HMAC-SHA256 of the UTF-8 password over the salt's ASCII bytes, compared in constant
/// time with the stored key; `None` for a hash [`django_hash`] refuses.
fn verify_django(plain: &str, hash: &str) -> Option<bool> {
    let DjangoHash {
        iterations,
        salt,
        key,
    } = django_hash(hash)
        .inspect_err(|why| tracing::warn!(why, "a stored password hash cannot be verified"))
        .ok()?;
    let algorithm = pbkdf2::PBKDF2_HMAC_SHA256;
    Some(
        pbkdf2::verify(
            algorithm,
            iterations,
            salt.as_bytes(),
            plain.as_bytes(),
            &key,
        )
        .is_ok(),
    )
}

/// The hash an unknown user's login is verified against: argon2id of a random, forgotten password,
/// with the live parameters (a test checks they match). A constant, so even the first failed
/// login of a cold Lambda costs exactly one verification, like a wrong password does.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$+Ff1utn2hzR9wJFKC9Xasw$dZ55hBK8Rkj4vDD8/8t8UFhhH67qRPJjr/Exz6FqIxI";

#[cfg(test)]
mod tests {
    use super::*;

    /// A password set before passwords were trimmed may have whitespace at its ends: it is still
    /// checked as typed, and only as typed.
    #[tokio::test]
    async fn a_password_set_with_spaces_before_trimming_still_logs_in_as_typed() {
        let untrimmed = rehash_password(" correct-horse ").await.unwrap();
        assert!(
            verify_password(" correct-horse ", &untrimmed)
                .await
                .unwrap()
        );
        assert!(!verify_password("correct-horse", &untrimmed).await.unwrap());
        let set = Password::parse(" correct-horse ".into()).unwrap();
        let trimmed = hash_password(&set).await.unwrap();
        assert!(verify_password("correct-horse", &trimmed).await.unwrap());
        assert!(verify_password("\tcorrect-horse ", &trimmed).await.unwrap());
    }

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
            assert_eq!(unverifiable_pbkdf2(&hash[DJANGO_PBKDF2.len()..]), None);
            assert!(verify_password("lètmein", hash).await.unwrap(), "{hash}");
            assert!(!verify_password("letmein", hash).await.unwrap(), "{hash}");
        }
        for malformed in [
            "pbkdf2_sha256$x$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "pbkdf2_sha256$1000$seasalt",
            "pbkdf2_sha256$1000$seasalt$not base64",
            "pbkdf2_sha256$0$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "pbkdf2_sha256$-5$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "!unusable-django-password",
            "",
        ] {
            if let Some(django) = malformed.strip_prefix(DJANGO_PBKDF2) {
                assert!(unverifiable_pbkdf2(django).is_some(), "{malformed}");
            }
            assert!(
                !verify_password("lètmein", malformed).await.unwrap(),
                "{malformed}"
            );
        }
        assert!(!is_legacy_hash(DUMMY_HASH));
    }

    /// A stored hash that asks for more work than the bounds (as a hostile import could bring),
    /// or that argon2 cannot use, matches nothing: no 500 (which would tell the account exists),
    /// no 512 MiB, no minutes of PBKDF2.
    #[tokio::test]
    async fn hashes_past_the_bounds_or_unusable_match_nothing_quickly() {
        let started = std::time::Instant::now();
        let hungry = DUMMY_HASH.replace("m=19456", "m=524288");
        let slow = DUMMY_HASH.replace("t=2", "t=1000");
        let short_salt =
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$dZ55hBK8Rkj4vDD8/8t8UFhhH67qRPJjr/Exz6FqIxI";
        let many = "pbkdf2_sha256$20000000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=";
        // Twelve blocks of key at the bound's iterations: twelve times the work, were it derived.
        let long_key = format!("pbkdf2_sha256$3000000$seasalt${}", "A".repeat(512));
        for hash in [hungry.as_str(), slow.as_str(), short_salt, many, &long_key] {
            assert!(!verify_password("lètmein", hash).await.unwrap(), "{hash}");
        }
        // Derived, any one of them would take minutes; refused, all of them take milliseconds.
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
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
