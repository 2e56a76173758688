//! Unit tests of `limits.rs`: how names and addresses are counted, and the windows.

use super::*;

#[test]
fn ipv6_addresses_of_one_64_count_together() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("an address");
    let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("an address");
    let other: IpAddr = "2001:db8:1:3::1".parse().expect("an address");
    assert_eq!(address_key(a), address_key(b));
    assert_ne!(address_key(a), address_key(other));
}

#[test]
fn every_loopback_address_counts_as_one() {
    for address in [
        "127.0.0.1",
        "127.0.0.2",
        "127.255.0.9",
        "::1",
        "::ffff:127.0.0.3",
    ] {
        let address: IpAddr = address.parse().expect("an address");
        assert_eq!(address_key(address), "loopback", "{address}");
    }
    assert_eq!(
        address_key("128.0.0.1".parse().expect("an address")),
        "128.0.0.1"
    );
}

#[test]
fn ipv4_mapped_addresses_count_as_ipv4() {
    let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("an address");
    assert_eq!(address_key(mapped), "192.0.2.7");
}

#[test]
fn every_spelling_of_an_email_counts_as_one() {
    let plain = login_subjects("ada@example.com");
    assert_eq!(plain, ["ada@example.com"]);
    for spelled in [
        " ada@example.com",
        "ADA@Example.com\t",
        "\u{a0}ada@example.com\n",
    ] {
        assert_eq!(login_subjects(spelled), plain, "{spelled:?}");
    }
    assert_eq!(login_subjects("Ada_Lovelace"), ["ada_lovelace"]);
}

/// An email-shaped username (the original app allowed them) with `İ` in its domain: the
/// lookup reaches the plain one's account, IDNA reads another address, and both count.
#[test]
fn a_name_read_two_ways_counts_as_both() {
    let subjects = login_subjects("ada@exİmple.com");
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert_eq!(subjects[0], "ada@eximple.com");
    assert!(subjects[1].starts_with("ada@xn--"), "{subjects:?}");
    assert_eq!(login_subjects("ada@eximple.com"), ["ada@eximple.com"]);
}

/// `İ` reaches the account of a plain `i` ([`Username::existing`]), so it counts there too:
/// a name with k `i`s would otherwise have 2^k counts of its own.
#[test]
fn every_spelling_that_reaches_a_username_counts_as_one() {
    for spelled in [
        "william_smith",
        "William_Smith",
        "wİllİam_smİth",
        "WİLLIAM_SMİTH",
    ] {
        assert_eq!(login_subjects(spelled), ["william_smith"], "{spelled:?}");
    }
}

#[test]
fn every_window_ends_after_now_however_long_it_is_set() {
    let now = Timestamp::now();
    for window in [
        1,
        900,
        crate::config::MAX_SECONDS,
        9_000_000_000_000,
        i64::MAX,
    ] {
        assert!(window_end(now, window) > now, "{window}");
    }
    let end = window_end(now, 900).unix();
    assert_eq!(end % 900, 0);
    assert!(end - now.unix() <= 900);
}

#[test]
fn counter_names_are_short_and_hide_their_subject() {
    let name = format!(
        "{}#{}",
        Kind::LoginFailuresOfName.prefix(),
        digest("ada@example.com")
    );
    assert_eq!(name.len(), "login-name#".len() + 32);
    assert!(!name.contains("ada"));
}

/// A place held by a check still in progress frees within a check or two: an attempt refused
/// after waiting for it is told to retry in a second, not at the window's end; a lock's refusal
/// names the window's end.
#[tokio::test]
async fn a_refusal_for_a_check_in_progress_says_retry_in_a_second() {
    let store = Arc::new(crate::store::EmbeddedStore::in_memory().expect("a store"));
    let config = LimitsConfig {
        login_failures_per_username: 1,
        // So long a window that now is never within a second of its end.
        login_window_seconds: crate::config::MAX_SECONDS,
        in_progress_pause: std::time::Duration::from_millis(1),
        ..LimitsConfig::default()
    };
    let limits = Limits::new(store, config);
    let in_progress = limits.login_attempt("ada", None).await.expect("a place");

    let waited = limits.login_attempt("ada", None).await;
    assert!(
        matches!(waited, Err(Error::TooManyRequests { retry_after: 1 })),
        "{waited:?}"
    );
    limits.login_failed(in_progress).await.expect("settled");
    let locked = limits.login_attempt("ada", None).await;
    assert!(
        matches!(locked, Err(Error::TooManyRequests { retry_after }) if retry_after > 1),
        "{locked:?}"
    );
}
