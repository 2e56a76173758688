//! HS256 JWTs: access and refresh tokens, with the algorithm pinned on decode.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::AuthConfig;
use crate::domain::{Timestamp, UserId};

/// The two kinds of token; one is never accepted where the other is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The claims of every token, as the original app issued them. Its access tokens decode as ours
/// when `TASKMASTER_JWT_SECRET` is its signing key, and its refresh tokens are refused because no
/// store holds them. They carry no session epoch: a check of epochs is to read a token without one
/// as epoch 0, the epoch imported users start with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub user_id: UserId,
    /// 32 hex characters, unique per token.
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

/// An access token and a refresh token issued together; `refresh_claims` is what gets stored.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    pub refresh_claims: Claims,
}

/// Signing and verifying keys with the token lifetimes.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: i64,
    refresh_ttl: i64,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys").finish_non_exhaustive()
    }
}

impl JwtKeys {
    pub fn new(config: &AuthConfig) -> Self {
        let secret = config.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl: config.access_ttl_seconds,
            refresh_ttl: config.refresh_ttl_seconds,
        }
    }

    /// Issues a fresh access + refresh pair for `user`.
    pub fn issue_pair(&self, user: UserId) -> anyhow::Result<TokenPair> {
        let now = Timestamp::now().unix();
        let access = self.sign(&self.claims(TokenType::Access, user, now))?;
        let refresh_claims = self.claims(TokenType::Refresh, user, now);
        let refresh = self.sign(&refresh_claims)?;
        Ok(TokenPair {
            access,
            refresh,
            refresh_claims,
        })
    }

    /// Decodes a token of the expected type; `None` for anything invalid, expired or of the
    /// other type.
    pub fn decode(&self, token: &str, expected: TokenType) -> Option<Claims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        (claims.token_type == expected).then_some(claims)
    }

    fn claims(&self, token_type: TokenType, user_id: UserId, now: i64) -> Claims {
        let ttl = match token_type {
            TokenType::Access => self.access_ttl,
            TokenType::Refresh => self.refresh_ttl,
        };
        Claims {
            token_type,
            user_id,
            jti: Uuid::new_v4().simple().to_string(),
            iat: now,
            exp: now + ttl,
        }
    }

    fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| anyhow::anyhow!("signing token: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::new(&AuthConfig::with_secret(secret))
    }

    const SECRET: &str = "an-unit-test-secret-of-32-bytes-or-more";

    #[test]
    fn a_token_decodes_only_as_its_own_type() {
        let keys = keys(SECRET);
        let user = UserId::new();
        let pair = keys.issue_pair(user).unwrap();
        let access = keys.decode(&pair.access, TokenType::Access).unwrap();
        assert_eq!(access.user_id, user);
        assert_eq!(access.jti.len(), 32);
        assert_eq!(access.exp - access.iat, AuthConfig::DEFAULT_ACCESS_TTL);
        assert!(keys.decode(&pair.access, TokenType::Refresh).is_none());
        assert!(keys.decode(&pair.refresh, TokenType::Access).is_none());
        assert_eq!(
            keys.decode(&pair.refresh, TokenType::Refresh).unwrap(),
            pair.refresh_claims
        );
    }

    #[test]
    fn another_key_an_expired_token_and_alg_none_are_refused() {
        let ours = keys(SECRET);
        let theirs = keys("another-secret-that-is-also-32-bytes-long");
        let user = UserId::new();
        assert!(
            ours.decode(&theirs.issue_pair(user).unwrap().access, TokenType::Access)
                .is_none()
        );

        let mut expired = ours.claims(TokenType::Access, user, Timestamp::now().unix() - 3600);
        expired.exp = expired.iat + 60;
        assert!(
            ours.decode(&ours.sign(&expired).unwrap(), TokenType::Access)
                .is_none()
        );

        let claims = ours.claims(TokenType::Access, user, Timestamp::now().unix());
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert!(
            ours.decode(&format!("{header}.{body}."), TokenType::Access)
                .is_none()
        );

        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert!(ours.decode(&hs512, TokenType::Access).is_none());
    }
}
