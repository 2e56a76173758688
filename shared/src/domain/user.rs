//! Users and the values they are made of.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    Email, EndedSessions, Timestamp,
    validation::{check_no_nul, check_text},
};

/// A user's id: a UUID, shown with dashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(Uuid);

impl UserId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn parse(value: &str) -> Option<Self> {
        Uuid::parse_str(value).ok().map(Self)
    }

    /// The id from its 16 bytes, as the embedded store keeps it.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Uuid::from_slice(bytes).ok().map(Self)
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The id no user has (all zeroes): read where an unknown user must cost what a known one does.
    pub const NOBODY: Self = Self(Uuid::nil());
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// 4–30 letters, digits or `_`, stored lowercased: `Ada_L` and `ada_l` are one name. Accounts
/// imported from the original app may keep a name of its wider shape ([`Username::existing`]),
/// so that is what a stored name is read with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "StoredName", into = "String")]
pub struct Username(String);

/// A username as read back from a store.
#[derive(Deserialize)]
#[serde(transparent)]
struct StoredName(String);

impl TryFrom<StoredName> for Username {
    type Error = String;

    fn try_from(value: StoredName) -> Result<Self, String> {
        Self::existing(value.0)
    }
}

impl Username {
    /// A new or changed name: trimmed of surrounding whitespace (as the original app's serializer
    /// trimmed every text field, and as a login trims the name it is given), then 4–30 ASCII
    /// letters, digits and `_`, lowercased.
    pub fn parse(value: String) -> Result<Self, String> {
        let value = value.trim();
        check_text(value, 4, 30)?;
        if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(
                "Enter a valid username. It may contain only letters, numbers and _ characters."
                    .into(),
            );
        }
        Ok(Self(value.to_ascii_lowercase()))
    }

    /// A name that may already exist: today's names, and the original app's (Django's rule:
    /// 1–150 letters, digits and `_ . @ + -`), lowercased. For finding and keeping existing
    /// accounts only; a new or changed name must pass [`Username::parse`].
    ///
    /// The lowercased name is itself such a name, so what is stored reads back: Unicode lowercases
    /// `İ` (U+0130) to `i` and a combining dot above (U+0307), which no name may hold, so the dot
    /// is dropped (`Admİn` is `admin`, as its simple case mapping has it). No other letter or
    /// digit lowercases to anything but letters and digits.
    pub fn existing(value: String) -> Result<Self, String> {
        check_text(&value, 1, 150)?;
        if !value
            .chars()
            .all(|c| c.is_alphanumeric() || "_.@+-".contains(c))
        {
            return Err("Enter a valid username.".into());
        }
        Ok(Self(value.to_lowercase().replace('\u{307}', "")))
    }
}

/// A first or last name: free text of at most 150 characters, possibly empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    /// Trimmed of surrounding whitespace, as the original app's serializer trimmed it.
    pub fn parse(value: String) -> Result<Self, String> {
        let value = value.trim();
        check_text(value, 0, 150)?;
        Ok(Self(value.to_owned()))
    }
}

/// A plaintext password on its way to the hasher: 8–128 characters, not only digits. Never logged.
#[derive(Debug)]
pub struct Password(SecretString);

impl Password {
    /// Trimmed of surrounding whitespace, as the original app's serializers trimmed every
    /// password (at registration, login and password change), so a password typed with a space
    /// at either end is the same password there and here.
    pub fn parse(value: String) -> Result<Self, String> {
        let value = value.trim().to_owned();
        check_no_nul(&value)?;
        let len = value.chars().count();
        if len < 8 {
            return Err(
                "This password is too short. It must contain at least 8 characters.".into(),
            );
        }
        if len > 128 {
            return Err(
                "This password is too long. It must contain at most 128 characters.".into(),
            );
        }
        if value.chars().all(|c| c.is_ascii_digit()) {
            return Err("This password is entirely numeric.".into());
        }
        Ok(Self(SecretString::from(value)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

macro_rules! string_newtype {
    ($($name:ident),*) => {$(
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                Self::parse(value)
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
pub(crate) use string_newtype;
string_newtype!(Username, PersonName);

/// A user as stored. `version` increases with every profile or password write (optimistic
/// concurrency); `session_epoch` increases when all of the user's refresh tokens are revoked.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub is_superuser: bool,
    pub date_joined: Timestamp,
    pub last_updated: Timestamp,
    pub last_login: Option<Timestamp>,
    pub version: u64,
    pub session_epoch: u64,
    /// Login sessions ended one by one since, until their last tokens expire.
    #[serde(default, skip_serializing_if = "EndedSessions::is_empty")]
    pub ended_sessions: EndedSessions,
}

/// The password hash left out: a `?user` in a log line must not hand it to an offline guesser.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("password_hash", &"[redacted]")
            .field("is_superuser", &self.is_superuser)
            .field("date_joined", &self.date_joined)
            .field("last_updated", &self.last_updated)
            .field("last_login", &self.last_login)
            .field("version", &self.version)
            .field("session_epoch", &self.session_epoch)
            .field("ended_sessions", &self.ended_sessions)
            .finish()
    }
}

/// A stored user for unit tests: Ada, at session epoch 2, with no session ended.
#[cfg(test)]
pub(crate) fn test_user() -> User {
    serde_json::from_value(serde_json::json!({
        "id": UserId::new(),
        "username": "ada_lovelace",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "password_hash": "x",
        "is_superuser": false,
        "date_joined": "2026-12-04T00:00:00Z",
        "last_updated": "2026-12-04T00:00:00Z",
        "last_login": null,
        "version": 3,
        "session_epoch": 2,
    }))
    .expect("a user")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_limited_to_word_characters() {
        assert_eq!(Username::parse("Ada_L0".into()).unwrap().as_ref(), "ada_l0");
        assert_eq!(
            Username::parse(" ada_l0\t".into()).unwrap().as_ref(),
            "ada_l0"
        );
        for bad in [
            "abc",
            " abc ",
            "has space",
            "dash-name",
            "émile_x",
            &"a".repeat(31),
        ] {
            assert!(
                Username::parse(bad.into()).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn person_names_are_trimmed() {
        assert_eq!(
            PersonName::parse("  Ann \n".into()).unwrap(),
            PersonName::parse("Ann".into()).unwrap()
        );
        assert_eq!(
            PersonName::parse("   ".into()).unwrap(),
            PersonName::default()
        );
    }

    #[test]
    fn existing_names_may_have_the_original_apps_shape() {
        for (name, folded) in [
            ("First.Last", "first.last"),
            ("a+b@x-y", "a+b@x-y"),
            ("Ada_L0", "ada_l0"),
        ] {
            assert_eq!(Username::existing(name.into()).unwrap().as_ref(), folded);
        }
        for bad in ["", "has space", "semi;colon", &"a".repeat(151)] {
            assert!(
                Username::existing(bad.into()).is_err(),
                "{bad} should be refused"
            );
        }
        let stored: Username = serde_json::from_str("\"first.last\"").unwrap();
        assert_eq!(stored.as_ref(), "first.last");
    }

    /// A name is stored lowercased and read back through [`Username::existing`]: the lowercased
    /// form of every name must pass it again, or the account could never be read (a 500 at its
    /// every login, and an import that cannot run again). `İ`'s full lowercase holds a combining
    /// dot, which is not a letter; nothing else lowercases to a character a name may not hold.
    #[test]
    fn an_existing_name_lowercased_reads_back_as_itself() {
        for (name, folded) in [
            ("Admİn", "admin"),
            ("İSTANBUL", "istanbul"),
            ("ΟΔΟΣ", "οδος"),
        ] {
            let username = Username::existing(name.into()).unwrap();
            assert_eq!(username.as_ref(), folded);
            let stored: Username = serde_json::from_value(serde_json::json!(folded)).unwrap();
            assert_eq!(stored, username, "{name}");
        }
        let lowercases_to_a_mark = (char::MIN..=char::MAX)
            .filter(|c| c.is_alphanumeric())
            .filter(|c| {
                c.to_lowercase()
                    .any(|l| !l.is_alphanumeric() && l != '\u{307}')
            })
            .collect::<Vec<_>>();
        assert_eq!(lowercases_to_a_mark, Vec::<char>::new());
    }

    #[test]
    fn a_users_debug_output_holds_no_password_hash() {
        let user = User {
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            ..test_user()
        };

        let shown = format!("{user:?}");

        assert!(!shown.contains("argon2id"), "{shown}");
        assert!(shown.contains("ada_lovelace"), "the rest stays: {shown}");
    }

    #[test]
    fn passwords_need_eight_characters_and_not_only_digits() {
        assert!(Password::parse("short1".into()).is_err());
        assert!(Password::parse("1234567890".into()).is_err());
        assert!(Password::parse("x".repeat(129)).is_err());
        assert!(Password::parse("correct-horse".into()).is_ok());
    }
}
