//! Unit tests of `jwt.rs`: signing, decoding, key ids and rotation.

use super::*;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::auth::{AcceptedSecrets, LoadSecrets};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn keys(secret: &str) -> JwtKeys {
    JwtKeys::new(&AuthConfig::with_secret(secret))
}

const SECRET: &str = "an-unit-test-secret-of-32-bytes-or-more";

/// `decode` on a set whose keys are all known: it reads nothing, so it cannot fail to.
async fn decoded(keys: &JwtKeys, token: &str, kind: TokenType) -> Option<Claims> {
    keys.decode(token, kind).await.expect("known keys")
}

#[tokio::test]
async fn a_token_decodes_only_as_its_own_type() {
    let keys = keys(SECRET);
    let user = UserId::new();
    let pair = keys.issue_pair(user, 0, SessionId::random(), None).unwrap();
    let access = decoded(&keys, &pair.access, TokenType::Access)
        .await
        .unwrap();
    assert_eq!(access.user_id, user);
    assert_eq!(access.jti.len(), 32);
    assert_eq!(access.exp - access.iat, AuthConfig::DEFAULT_ACCESS_TTL);
    assert!(
        decoded(&keys, &pair.access, TokenType::Refresh)
            .await
            .is_none()
    );
    assert!(
        decoded(&keys, &pair.refresh, TokenType::Access)
            .await
            .is_none()
    );
    assert_eq!(
        decoded(&keys, &pair.refresh, TokenType::Refresh)
            .await
            .unwrap(),
        pair.refresh_claims
    );
}

#[tokio::test]
async fn another_key_an_expired_token_and_alg_none_are_refused() {
    let ours = keys(SECRET);
    let theirs = keys("another-secret-that-is-also-32-bytes-long");
    let user = UserId::new();
    assert!(
        decoded(
            &ours,
            &theirs
                .issue_pair(user, 0, SessionId::random(), None)
                .unwrap()
                .access,
            TokenType::Access
        )
        .await
        .is_none()
    );

    let now = Timestamp::now().unix();
    let mut expired = ours.claims(TokenType::Access, user, now - 3600);
    for (exp, valid) in [(now - 3540, false), (now, false), (now + 60, true)] {
        expired.exp = exp;
        let token = ours.sign(&expired).unwrap();
        let decoded = decoded(&ours, &token, TokenType::Access).await;
        assert_eq!(decoded.is_some(), valid, "exp = now {:+}", exp - now);
    }

    let claims = ours.claims(TokenType::Access, user, Timestamp::now().unix());
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    assert!(
        decoded(&ours, &format!("{header}.{body}."), TokenType::Access)
            .await
            .is_none()
    );

    // Signed with the right key under another HMAC (by hand: our provider signs HS256 only).
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA512, SECRET.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{header}.{body}").as_bytes());
    let hs512 = format!("{header}.{body}.{}", URL_SAFE_NO_PAD.encode(tag));
    assert!(decoded(&ours, &hs512, TokenType::Access).await.is_none());
}

fn rotated(current: &str, accepted: &[&str]) -> JwtKeys {
    let mut config = AuthConfig::with_secret(current);
    config.accepted_jwt_secrets =
        AcceptedSecrets::Known(accepted.iter().map(|s| (*s).into()).collect());
    JwtKeys::new(&config)
}

const NEXT: &str = "the-next-signing-key-also-32-bytes-long!";

#[tokio::test]
async fn after_a_rotation_old_tokens_still_verify_and_new_ones_use_the_new_key() {
    let before = keys(SECRET);
    let old = before
        .issue_pair(UserId::new(), 0, SessionId::random(), None)
        .unwrap();
    let after = rotated(NEXT, &[SECRET]);

    // Tokens issued before the rotation stay valid, access and refresh alike.
    assert!(
        decoded(&after, &old.access, TokenType::Access)
            .await
            .is_some()
    );
    assert!(
        decoded(&after, &old.refresh, TokenType::Refresh)
            .await
            .is_some()
    );

    // New tokens name the new key and are signed with it: a container that only knows the
    // old key refuses them, one that holds both accepts them.
    let new = after
        .issue_pair(UserId::new(), 0, SessionId::random(), None)
        .unwrap();
    let kid = jsonwebtoken::decode_header(&new.access).unwrap().kid;
    assert_eq!(kid.as_deref(), Some(key_id(NEXT.as_bytes()).as_str()));
    assert_eq!(after.current_kid(), key_id(NEXT.as_bytes()));
    assert!(
        decoded(&before, &new.access, TokenType::Access)
            .await
            .is_none()
    );
    assert!(
        decoded(&after, &new.access, TokenType::Access)
            .await
            .is_some()
    );

    // A pending key (introduced before the rotation) is accepted but never signs.
    let introduced = rotated(SECRET, &[NEXT]);
    assert_eq!(introduced.current_kid(), key_id(SECRET.as_bytes()));
    assert!(
        decoded(&introduced, &new.access, TokenType::Access)
            .await
            .is_some()
    );

    // Once the old key is dropped from the set, its tokens are refused.
    assert!(
        decoded(&keys(NEXT), &old.access, TokenType::Access)
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_token_is_checked_against_the_key_it_names_or_every_key_without_a_kid() {
    let set = rotated(NEXT, &[SECRET]);
    let claims = set.claims(TokenType::Access, UserId::new(), Timestamp::now().unix());

    // Signed by the previous key but naming the current one: refused.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key_id(NEXT.as_bytes()));
    let mislabelled = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert!(
        decoded(&set, &mislabelled, TokenType::Access)
            .await
            .is_none()
    );

    // No kid (tokens issued before key ids existed): any key of the set will do.
    let unlabelled = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        decoded(&set, &unlabelled, TokenType::Access).await,
        Some(claims)
    );
}

#[test]
fn a_pairs_debug_output_holds_neither_token() {
    let pair = keys(SECRET)
        .issue_pair(UserId::new(), 0, SessionId::random(), None)
        .unwrap();

    let shown = format!("{pair:?}");

    assert!(!shown.contains(&pair.access), "{shown}");
    assert!(!shown.contains(&pair.refresh), "{shown}");
    assert!(
        shown.contains(&pair.refresh_claims.jti),
        "the claims stay: {shown}"
    );
}

#[tokio::test]
async fn a_token_no_key_could_accept_is_refused_without_reading_the_accepted_keys() {
    let reads = Arc::new(AtomicUsize::new(0));
    let mut config = AuthConfig::with_secret(SECRET);
    let counted = reads.clone();
    config.accepted_jwt_secrets = AcceptedSecrets::OnFirstNeed(LoadSecrets::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { anyhow::bail!("Secrets Manager is unreachable") }
    }));
    let ours = JwtKeys::new(&config);
    let theirs = keys(NEXT);
    let user = UserId::new();
    let now = Timestamp::now().unix();

    let mut expired = theirs.claims(TokenType::Access, user, now - 3600);
    expired.exp = now;
    let refresh = theirs.claims(TokenType::Refresh, user, now);
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT","kid":"k"}"#);
    let body = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&theirs.claims(TokenType::Access, user, now)).unwrap());
    let hs512 = format!("{header}.{body}.c2ln");
    let junk_claims =
        format!("{header}.{}.c2ln", URL_SAFE_NO_PAD.encode("[1]")).replace("HS512", "HS256");
    for (what, token) in [
        ("expired", theirs.sign(&expired).unwrap()),
        ("of the other type", theirs.sign(&refresh).unwrap()),
        ("another algorithm", hs512),
        ("claims that do not read", junk_claims),
    ] {
        let decoded = ours.decode(&token, TokenType::Access).await;
        assert!(matches!(decoded, Ok(None)), "{what}: {decoded:?}");
    }
    assert_eq!(reads.load(Ordering::SeqCst), 0);

    // A token that another key could still make valid waits for the read, which fails.
    let live = theirs
        .issue_pair(user, 0, SessionId::random(), None)
        .unwrap();
    let decoded = ours.decode(&live.access, TokenType::Access).await;
    assert!(decoded.is_err(), "{decoded:?}");
    assert_eq!(reads.load(Ordering::SeqCst), 1);
}

/// A session's token issued under a longer lifetime lives only the current one from its issue, so
/// a logout that remembers its session for the current lifetime outlasts every token of it. The
/// original app's tokens (no session) keep their own expiry.
#[tokio::test]
async fn a_lowered_lifetime_shortens_the_tokens_already_issued() {
    let longer = JwtKeys::new(&AuthConfig {
        access_ttl_seconds: 600,
        refresh_ttl_seconds: 1200,
        ..AuthConfig::with_secret(SECRET)
    });
    let shorter = JwtKeys::new(&AuthConfig {
        access_ttl_seconds: 30,
        refresh_ttl_seconds: 60,
        ..AuthConfig::with_secret(SECRET)
    });
    let (user, now) = (UserId::new(), Timestamp::now().unix());
    for (kind, lifetime) in [(TokenType::Access, 30), (TokenType::Refresh, 60)] {
        // The valid one has seconds to spare however slowly the test runs.
        for (age, valid) in [
            (lifetime + 1, false),
            (lifetime, false),
            (lifetime - 10, true),
        ] {
            let mut claims = longer.claims(kind, user, now - age);
            claims.sid = Some(SessionId::random());
            let token = longer.sign(&claims).unwrap();
            assert!(decoded(&longer, &token, kind).await.is_some(), "{kind:?}");
            let under_shorter = decoded(&shorter, &token, kind).await;
            assert_eq!(
                under_shorter.is_some(),
                valid,
                "{kind:?} issued {age} s ago"
            );
            if let Some(claims) = under_shorter {
                assert_eq!(
                    claims.exp,
                    now - age + lifetime,
                    "{kind:?}: the earlier expiry"
                );
            }
        }
    }
    let mut original = longer.claims(TokenType::Access, user, now - 60);
    original.session_epoch = 0;
    let token = longer.sign(&original).unwrap();
    assert_eq!(
        decoded(&shorter, &token, TokenType::Access).await,
        Some(original),
        "no session: its own expiry"
    );
}

/// A session's tokens never outlive its maximum age from its sign-in: issued near its end, they
/// expire with it; a token issued before the session's age was capped (or under a longer cap) is
/// refused once the current cap has passed since the sign-in; and a token without a sign-in time
/// counts from its own issue.
#[tokio::test]
async fn no_token_of_a_session_outlives_its_maximum_age() {
    let keys = JwtKeys::new(&AuthConfig {
        session_max_age_seconds: 100,
        ..AuthConfig::with_secret(SECRET)
    });
    let longer = JwtKeys::new(&AuthConfig::with_secret(SECRET));
    let (user, now) = (UserId::new(), Timestamp::now().unix());

    let near_end = keys
        .issue_pair(user, 0, SessionId::random(), Some(now - 90))
        .unwrap();
    for (token, kind) in [
        (&near_end.access, TokenType::Access),
        (&near_end.refresh, TokenType::Refresh),
    ] {
        let claims = decoded(&keys, token, kind).await.expect("live");
        assert_eq!((claims.exp, claims.auth_time), (now + 10, Some(now - 90)));
    }

    let past = longer
        .issue_pair(user, 0, SessionId::random(), Some(now - 101))
        .unwrap();
    assert!(
        decoded(&longer, &past.refresh, TokenType::Refresh)
            .await
            .is_some()
    );
    assert_eq!(
        decoded(&keys, &past.refresh, TokenType::Refresh).await,
        None
    );
    assert_eq!(decoded(&keys, &past.access, TokenType::Access).await, None);

    for (issued, live) in [(now - 101, false), (now - 50, true)] {
        let mut claims = longer.claims(TokenType::Refresh, user, issued);
        claims.sid = Some(SessionId::random());
        let token = longer.sign(&claims).unwrap();
        let under_cap = decoded(&keys, &token, TokenType::Refresh).await;
        assert_eq!(under_cap.is_some(), live, "issued {} s ago", now - issued);
    }
}
