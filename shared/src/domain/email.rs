//! Email addresses, checked as the original app's Django `EmailValidator` (4.2) checked them, so
//! every address it stored can register, sign in and be imported here.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// An email address of at most 254 characters, stored lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

super::user::string_newtype!(Email);

const INVALID: &str = "Enter a valid email address.";

impl Email {
    /// Trims and lowercases `value`, then accepts what Django's `EmailValidator` accepts: a
    /// dot-atom or quoted local part; a domain of letter-digit-hyphen labels, `localhost`, an
    /// `[IP address]` literal, or an internationalised domain whose ASCII (IDNA) form is such a
    /// domain. An internationalised domain is kept in that ASCII form, so every spelling of one
    /// mailbox (`exämple.com`, its decomposed form, `xn--exmple-cua.com`) is one address: one
    /// account at most. One difference from Django: a quoted local part holds no control
    /// characters.
    pub fn parse(value: String) -> Result<Self, String> {
        const TOO_LONG: &str = "Ensure this field has no more than 254 characters.";
        let value = value.trim().to_lowercase();
        if value.chars().count() > 254 {
            return Err(TOO_LONG.into());
        }
        let (local, domain) = value.rsplit_once('@').ok_or(INVALID)?;
        if !is_local_part(local) {
            return Err(INVALID.into());
        }
        let value = match domain_of(domain).ok_or(INVALID)? {
            Domain::AsIs => value,
            Domain::Ascii(ascii) => format!("{local}@{ascii}"),
        };
        // An internationalised domain's ASCII form is longer than its letters.
        if value.chars().count() > 254 {
            return Err(TOO_LONG.into());
        }
        Ok(Self(value))
    }
}

/// The part before the `@`: dot-separated atoms, or a quoted string.
fn is_local_part(local: &str) -> bool {
    is_dot_atom(local) || is_quoted(local)
}

fn is_dot_atom(local: &str) -> bool {
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c))
    })
}

/// `"..."`: visible ASCII but `"` and `\`; after a `\`, a space too, or either of those.
fn is_quoted(local: &str) -> bool {
    let Some(inner) = local
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        let fits = match c {
            '\\' => chars
                .next()
                .is_some_and(|c| c == ' ' || c.is_ascii_graphic()),
            '"' => false,
            c => c.is_ascii_graphic(),
        };
        if !fits {
            return false;
        }
    }
    true
}

/// How a valid domain is kept.
enum Domain {
    AsIs,
    /// An internationalised domain, kept in its ASCII (IDNA) form.
    Ascii(String),
}

/// The part after the `@`, if valid.
fn domain_of(domain: &str) -> Option<Domain> {
    if domain == "localhost" || is_host_name(domain) || is_address_literal(domain) {
        return Some(Domain::AsIs);
    }
    let ascii = idna::domain_to_ascii(domain).ok()?;
    (!domain.is_ascii() && is_host_name(&ascii)).then_some(Domain::Ascii(ascii))
}

/// Labels of letters, digits and inner hyphens (at most 63 characters each), then a last label of
/// 2–63 letters, digits or hyphens, not ending in one.
fn is_host_name(domain: &str) -> bool {
    let Some((labels, last)) = domain.rsplit_once('.') else {
        return false;
    };
    let alphanumeric_or_hyphen = |c: char| c.is_ascii_alphanumeric() || c == '-';
    labels.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(alphanumeric_or_hyphen)
    }) && (2..=63).contains(&last.len())
        && !last.ends_with('-')
        && last.chars().all(alphanumeric_or_hyphen)
}

/// `[192.0.2.1]` or `[2001:db8::1]`.
fn is_address_literal(domain: &str) -> bool {
    domain
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|address| address.parse::<IpAddr>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(value: &str) -> bool {
        Email::parse(value.into()).is_ok()
    }

    #[test]
    fn every_spelling_of_an_internationalised_domain_is_one_address() {
        let ascii = Email::parse("ada@xn--exmple-cua.com".into()).unwrap();
        for spelled in [
            "ada@exämple.com",
            "ada@exa\u{308}mple.com",
            "ADA@EXÄMPLE。com",
        ] {
            assert_eq!(Email::parse(spelled.into()).unwrap(), ascii, "{spelled}");
        }
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse(" Ada@Example.COM\n".into()).unwrap().as_ref(),
            "ada@example.com"
        );
    }

    /// Each of these passes Django 4.2's `validate_email`, so the original app may have stored it.
    #[test]
    fn what_django_accepted_is_accepted() {
        for good in [
            "ada@example.com",
            "first.last+tag@sub.example.co.uk",
            "o'brien@example.ie",
            "a!#$%&'*+/=?^_`{|}~-@example.com",
            "ada@localhost",
            "ada@[127.0.0.1]",
            "ada@[2001:db8::1]",
            "ada@exämple.com",
            "ada@例え.テスト",
            "ada@example.123",
            "ada@xn--exmple-cua.com",
            "\"john\\ doe\"@example.com",
            "\"a\\\"b\"@example.com",
            &format!("{}@example.com", "a".repeat(70)),
        ] {
            assert!(accepted(good), "{good} should be accepted");
        }
    }

    /// And each of these fails it (or, the last, holds a control character).
    #[test]
    fn what_django_refused_is_refused() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            ".ada@example.com",
            "ada.@example.com",
            "a..da@example.com",
            "ada@-x.com",
            "ada@x-.com",
            "ada@example.c",
            "ada@example.com-",
            "ada@example..com",
            "ada@[300.0.0.1]",
            "ada@[example.com]",
            "ada@exa_mple.com",
            "\"unclosed@example.com",
            "\"a\"b\"@example.com",
            "\"john doe\"@example.com",
            "\"a\u{7}b\"@example.com",
        ] {
            assert!(!accepted(bad), "{bad} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(!accepted(&long));
    }
}
