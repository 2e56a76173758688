//! HS256 for `jsonwebtoken` on `ring`, the crate's documented extension point
//! ([`jsonwebtoken::crypto::CryptoProvider`]). rustls, which the AWS SDK's HTTPS client uses, runs
//! on `ring` too, so every bootstrap carries one cryptography library instead of two, and no C
//! library (aws-lc) has to be built: `docs/BUILD.md` has the sizes and build times measured. We sign
//! and accept HS256 only; any other algorithm is refused as an invalid one.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::hmac;
use signature::{Signer, Verifier};

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes this provider the process's; later calls (and a provider installed first) change nothing.
pub(super) fn install() {
    // Err only means a provider is installed already: ours, from an earlier call.
    let _ = PROVIDER.install_default();
}

struct Hs256(hmac::Key);

impl Hs256 {
    fn new(algorithm: &Algorithm, secret: &[u8]) -> Result<Self> {
        match algorithm {
            Algorithm::HS256 => Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, secret))),
            _ => Err(ErrorKind::InvalidAlgorithm.into()),
        }
    }
}

fn signer_factory(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Ok(Box::new(Hs256::new(algorithm, key.as_bytes())?))
}

fn verifier_factory(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    Ok(Box::new(Hs256::new(algorithm, key.try_get_as_bytes()?)?))
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(hmac::sign(&self.0, message).as_ref().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    /// In constant time (`ring::hmac::verify`).
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        hmac::verify(&self.0, message, tag).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_rfc_4231_says() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"; its HMAC-SHA-256
        // 5bdcc146…ec3843 in base64url.
        install();
        let key = EncodingKey::from_secret(b"Jefe");
        let signature =
            jsonwebtoken::crypto::sign(b"what do ya want for nothing?", &key, Algorithm::HS256)
                .unwrap();
        let expected = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM";
        assert_eq!(signature, expected);
        let decoding = DecodingKey::from_secret(b"Jefe");
        let verify = |sig| {
            jsonwebtoken::crypto::verify(
                sig,
                b"what do ya want for nothing?",
                &decoding,
                Algorithm::HS256,
            )
            .unwrap()
        };
        assert!(verify(expected));
        assert!(!verify("X9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM"));
    }

    #[test]
    fn other_algorithms_are_refused() {
        install();
        let key = EncodingKey::from_secret(b"secret");
        for algorithm in [Algorithm::HS384, Algorithm::HS512, Algorithm::RS256] {
            assert!(jsonwebtoken::crypto::sign(b"m", &key, algorithm).is_err());
        }
    }
}
