//! Authentication: JWTs and password hashing.

mod accepted;
mod jwt;
mod jwt_crypto;
mod password;
mod work_area;

pub use work_area::prepare_work_area;

pub(crate) use accepted::Accepted;
pub use accepted::{AcceptedSecrets, KeysUnavailable, LoadSecrets, RETRY_AFTER};
pub use jwt::{Claims, JwtKeys, TokenPair, TokenType, key_id};
pub use password::{
    MAX_PBKDF2_ITERATIONS, hash_password, is_argon2_hash, is_legacy_hash, rehash_password,
    unverifiable_pbkdf2, verify_password, verify_password_or_dummy,
};
