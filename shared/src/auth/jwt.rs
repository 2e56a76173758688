//! HS256 JWTs: access and refresh tokens, with the algorithm pinned on decode. Tokens name their
//! signing key (`kid` header); a key set signs with its current key and also accepts the others it
//! holds (Secrets Manager's AWSPREVIOUS and AWSPENDING versions, read when a token first names one:
//! [`super::accepted`]), so a key rotation logs nobody out.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::accepted::{Accepted, KeysUnavailable};
use crate::config::AuthConfig;
use crate::domain::{Session, SessionId, Timestamp, UserId};

/// The two kinds of token; one is never accepted where the other is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The claims of every token, as the original app issued them. Its access tokens decode as ours
/// when its signing key is one we accept (`TASKMASTER_JWT_SECRET` locally, a version of the
/// stack's secret on AWS: docs/MIGRATING.md), and its refresh tokens are refused because no
/// store holds them. They carry no session epoch and read as epoch 0, the epoch imported users
/// start with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub user_id: UserId,
    /// 32 hex characters, unique per token.
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// The user's `session_epoch` when the token was issued; a token is refused once the user's
    /// epoch has moved past it.
    #[serde(default)]
    pub session_epoch: u64,
    /// The login session the token belongs to: one per sign-in, kept by its refreshes. Absent
    /// from tokens issued before it existed, and from the original app's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SessionId>,
    /// When the login session began (OpenID Connect's name): its sign-in, kept by its refreshes.
    /// No token of the session lives past [`AuthConfig::session_max_age_seconds`] from it, so a
    /// session refreshed for ever still ends. Absent from tokens issued before it existed, whose
    /// own `iat` stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

impl Claims {
    /// The session an access token speaks for.
    pub fn session(&self) -> Session {
        Session {
            user: self.user_id,
            epoch: self.session_epoch,
            sid: self.sid,
        }
    }
}

/// An access token and a refresh token issued together; `refresh_claims` is what gets stored.
#[derive(Clone)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    pub refresh_claims: Claims,
}

/// The tokens themselves left out: a `?pair` in a log line must not hand out a session.
impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access", &"[redacted]")
            .field("refresh", &"[redacted]")
            .field("refresh_claims", &self.refresh_claims)
            .finish()
    }
}

/// One HMAC key and its id.
struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &[u8]) -> Self {
        Self {
            kid: key_id(secret),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// A key's id: the first 8 bytes of its SHA-256, in hex. The same key has the same id on every
/// host and after every restart, and it reveals nothing a token signed with it does not (anyone
/// holding a token can already test guesses of the key against it).
pub fn key_id(secret: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret);
    hex::encode(&digest.as_ref()[..8])
}

/// The keys of `secrets` other than the one with id `current`.
fn other_keys(current: &str, secrets: &[secrecy::SecretString]) -> Vec<Key> {
    secrets
        .iter()
        .map(|secret| Key::new(secret.expose_secret().as_bytes()))
        .filter(|key| key.kid != current)
        .collect()
}

/// Signing and verifying keys with the token lifetimes: tokens are signed with the current key
/// and accepted under any key of the set.
pub struct JwtKeys {
    current: Key,
    /// Keys accepted but never used to sign (the previous one, a pending one).
    accepted: Accepted<Key>,
    validation: Validation,
    access_ttl: i64,
    refresh_ttl: i64,
    session_max_age: i64,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys").finish_non_exhaustive()
    }
}

impl JwtKeys {
    pub fn new(config: &AuthConfig) -> Self {
        super::jwt_crypto::install();
        let current = Key::new(config.jwt_secret.expose_secret().as_bytes());
        let current_kid = current.kid.clone();
        let accepted = Accepted::new(&config.accepted_jwt_secrets, move |secrets| {
            other_keys(&current_kid, secrets)
        });
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        // Valid while now < exp (RFC 7519, 4.1.4): the library's own check lets `exp == now` pass,
        // up to a second past the expiry, since it counts whole seconds.
        validation.reject_tokens_expiring_in_less_than = 1;
        validation.set_required_spec_claims(&["exp", "iat"]);
        Self {
            current,
            accepted,
            validation,
            access_ttl: config.access_ttl_seconds,
            refresh_ttl: config.refresh_ttl_seconds,
            session_max_age: config.session_max_age_seconds,
        }
    }

    /// Issues a fresh access + refresh pair for `user` at its session epoch `epoch`, in the
    /// login session `sid` (a new one at a sign-in, the refresh token's own at a refresh), which
    /// began at `auth_time` (`None`: now, a sign-in). Neither token outlives the session's
    /// maximum age.
    pub fn issue_pair(
        &self,
        user: UserId,
        epoch: u64,
        sid: SessionId,
        auth_time: Option<i64>,
    ) -> anyhow::Result<TokenPair> {
        let now = Timestamp::now().unix();
        let auth_time = auth_time.unwrap_or(now);
        let session_ends = auth_time.saturating_add(self.session_max_age);
        let mut access = self.claims(TokenType::Access, user, now);
        access.session_epoch = epoch;
        access.sid = Some(sid);
        access.auth_time = Some(auth_time);
        access.exp = access.exp.min(session_ends);
        let access = self.sign(&access)?;
        let mut refresh_claims = self.claims(TokenType::Refresh, user, now);
        refresh_claims.session_epoch = epoch;
        refresh_claims.sid = Some(sid);
        refresh_claims.auth_time = Some(auth_time);
        refresh_claims.exp = refresh_claims.exp.min(session_ends);
        let refresh = self.sign(&refresh_claims)?;
        Ok(TokenPair {
            access,
            refresh,
            refresh_claims,
        })
    }

    /// How long an access token lives, and a refresh token, in seconds.
    pub fn lifetimes(&self) -> (i64, i64) {
        (self.access_ttl, self.refresh_ttl)
    }

    fn lifetime(&self, token_type: TokenType) -> i64 {
        match token_type {
            TokenType::Access => self.access_ttl,
            TokenType::Refresh => self.refresh_ttl,
        }
    }

    /// The id of the key new tokens are signed with.
    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    /// Decodes a token of the expected type; `None` for anything invalid, expired, of the other
    /// type or signed by a key this set does not hold. A token naming its key is checked against
    /// that key only; one without a `kid` (issued before tokens had one) against each key. The
    /// accepted keys are looked at (and first read, when they are read on first need) only for a
    /// token the current key does not verify, unexpired and of the expected type (no key could make
    /// any other valid); [`KeysUnavailable`] when that read fails.
    pub async fn decode(
        &self,
        token: &str,
        expected: TokenType,
    ) -> Result<Option<Claims>, KeysUnavailable> {
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return Ok(None);
        };
        let kid = header.kid;
        let names = |key: &Key| kid.as_deref().is_none_or(|kid| kid == key.kid);
        let verify = |key: &Key| {
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation)
                .ok()
                .map(|data| data.claims)
        };
        let claims = if names(&self.current)
            && let Some(claims) = verify(&self.current)
        {
            claims
        } else if kid.as_deref() == Some(self.current.kid.as_str())
            || header.alg != Algorithm::HS256
            || !unexpired_of_type(token, expected)
        {
            // It names the current key, which does not verify it; or no key could: the accepted
            // keys are not read (nor their read's failure answered) for a token refused anyway.
            return Ok(None);
        } else {
            let accepted = self.accepted.get().await?;
            match accepted.iter().filter(|key| names(key)).find_map(verify) {
                Some(claims) => claims,
                None => return Ok(None),
            }
        };
        Ok((claims.token_type == expected)
            .then_some(claims)
            .and_then(|claims| self.within_current_lifetime(claims)))
    }

    /// A login session's token lives no longer than its type's lifetime has now, counted from its
    /// issue, nor than the session's maximum age has now, counted from its sign-in: lowering
    /// either shortens the tokens already out, so a session a logout ends for that lifetime
    /// ([`crate::service::AccountService::logout`]) stays ended while any of its tokens could be
    /// used. Its `exp` becomes the earliest of the three. Tokens without a session (the original
    /// app's) keep their own expiry.
    fn within_current_lifetime(&self, mut claims: Claims) -> Option<Claims> {
        if claims.sid.is_some() {
            let ttl = self.lifetime(claims.token_type);
            let began = claims.auth_time.unwrap_or(claims.iat);
            claims.exp = claims
                .exp
                .min(claims.iat.saturating_add(ttl))
                .min(began.saturating_add(self.session_max_age));
        }
        (claims.exp > Timestamp::now().unix()).then_some(claims)
    }

    fn claims(&self, token_type: TokenType, user_id: UserId, now: i64) -> Claims {
        let ttl = self.lifetime(token_type);
        Claims {
            token_type,
            user_id,
            jti: Uuid::new_v4().simple().to_string(),
            iat: now,
            exp: now + ttl,
            session_epoch: 0,
            sid: None,
            auth_time: None,
        }
    }

    fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.current.encoding)
            .map_err(|e| anyhow::anyhow!("signing token: {e}"))
    }
}

/// Whether `token`'s claims, read without checking its signature, are of the `expected` type and
/// not yet expired: if not, no key could make it valid.
fn unexpired_of_type(token: &str, expected: TokenType) -> bool {
    jsonwebtoken::dangerous::insecure_decode_claims::<Claims>(token)
        .is_ok_and(|claims| claims.token_type == expected && claims.exp > Timestamp::now().unix())
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
