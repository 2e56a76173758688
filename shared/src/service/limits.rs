//! Login and registration limits: failed logins per login name and per client address,
//! registration attempts per client address, and a user's attempts to take another username or
//! email, each a fixed-window counter in the store
//! ([`crate::store::LimitStore`]), so they hold across Lambda containers.
//!
//! Fixed windows, aligned to the Unix epoch, were chosen over sliding ones: a hit is one atomic
//! write that answers the new counts (`UpdateItem ADD` on DynamoDB, one redb transaction), with
//! nothing to reset. The price: right around a window boundary an attacker may get up to twice a limit
//! in quick succession; the limits are set with that in mind.
//!
//! Names are counted as the account lookup reads them (trimmed; an email lowercased, a username
//! lowercased), whether or not an account has them: an unknown username counts exactly
//! like a known one, so a lock says nothing about whether an account exists. A login attempt is
//! counted before its password is checked, then taken back if the password proves right or
//! settled as a failure if not, so guesses sent at once are held to the limit too, and a lock is
//! the settled failures reaching it. Counter names hold a
//! SHA-256 of the login name or address, never the value itself, so the store keeps no
//! addresses or emails and every key has the same short length.

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::LimitsConfig;
use crate::domain::{Email, Timestamp, UserId, Username};
use crate::error::{Error, Result};
use crate::store::{HitId, LimitCounter, LimitStore};

/// What a counter counts.
#[derive(Debug, Clone, Copy)]
enum Kind {
    LoginFailuresOfName,
    LoginFailuresOfAddress,
    OldPasswordFailuresOfUser,
    RegistrationsOfAddress,
    NameChangesOfUser,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Self::LoginFailuresOfName => "login-name",
            Self::LoginFailuresOfAddress => "login-addr",
            Self::OldPasswordFailuresOfUser => "password-user",
            Self::RegistrationsOfAddress => "register-addr",
            Self::NameChangesOfUser => "rename-user",
        }
    }
}

/// The limits, over the store's counters.
#[derive(Clone)]
pub struct Limits {
    store: Arc<dyn LimitStore>,
    config: LimitsConfig,
}

/// The counters of one password check, each beside its limit: a login's are its name's and its
/// address's (when known); a password change's its user's, its name's and its address's.
#[derive(Debug)]
struct Guesses(Vec<(LimitCounter, u64)>);

impl Guesses {
    fn counters(&self) -> Vec<LimitCounter> {
        self.0.iter().map(|(counter, _)| counter.clone()).collect()
    }
}

/// A login attempt, in progress from its count until [`Limits::login_succeeded`] takes it back or
/// [`Limits::login_failed`] settles it. One never reported stays in progress until its window
/// ends, holding its place as a failure would.
#[derive(Debug)]
#[must_use = "an attempt holds a place against the limits until its outcome is reported"]
pub struct LoginAttempt {
    guesses: Guesses,
    hit: HitId,
}

/// How often an attempt that finds the places held only by attempts still in progress counts
/// itself, in all, before it is refused anyway, pausing [`LimitsConfig::in_progress_pause`]
/// before the second count, a fraction of one password check, and twice as long before each
/// next one: 40 + 80 + … + 640 ms = 1.24 s, about 15 password checks, so right logins sent at
/// once get through one after another. Each pause is drawn from half to one and a half times
/// its length, so attempts sent at once count again at moments of their own; one refused after
/// all of them is told to retry in a second, since no lock holds it.
const IN_PROGRESS_TRIES: u32 = 6;

impl Limits {
    pub fn new(store: Arc<dyn LimitStore>, config: LimitsConfig) -> Self {
        Self { store, config }
    }

    /// Counts an attempt to log in as `login` from `client` before its password is checked, so
    /// that guesses sent at once cannot all pass a check none of them has been counted in yet.
    /// `Err(TooManyRequests)` once the name's or the address's failures reach its limit: every
    /// attempt then (a right password too) until the window ends. A place held only by attempts
    /// still being checked is waited for (up to [`IN_PROGRESS_TRIES`] counts), as their right
    /// passwords give it back: right logins sent at once are not refused for each other. A
    /// refused attempt is taken back.
    #[tracing::instrument(skip_all)]
    pub async fn login_attempt(&self, login: &str, client: Option<IpAddr>) -> Result<LoginAttempt> {
        let names = login_subjects(login);
        let subjects: Vec<_> = names
            .iter()
            .map(|name| (Kind::LoginFailuresOfName, name.as_str()))
            .collect();
        self.guess(|now| self.guesses(&subjects, client, now)).await
    }

    /// Counts a check of `user`'s old password (a password change) from `client`, as a login
    /// attempt is counted: against the user, whose count a new username does not reset, against
    /// its current `name` (a lock there locks its logins too), and against the address.
    #[tracing::instrument(skip_all)]
    pub async fn password_check(
        &self,
        user: UserId,
        name: &str,
        client: Option<IpAddr>,
    ) -> Result<LoginAttempt> {
        let (user, names) = (user.to_string(), login_subjects(name));
        let subjects: Vec<_> = std::iter::once((Kind::OldPasswordFailuresOfUser, user.as_str()))
            .chain(
                names
                    .iter()
                    .map(|name| (Kind::LoginFailuresOfName, name.as_str())),
            )
            .collect();
        self.guess(|now| self.guesses(&subjects, client, now)).await
    }

    /// The counting of [`Self::login_attempt`], over the counters `guesses` gives for a moment.
    async fn guess(&self, guesses: impl Fn(Timestamp) -> Guesses) -> Result<LoginAttempt> {
        let (mut tries, mut pause) = (1, self.config.in_progress_pause);
        loop {
            // The window of this try: a wait may cross into the next one, and a count made in a
            // window that has ended would be a count of nothing (the embedded store sweeps it).
            let now = Timestamp::now();
            let (guesses, hit) = (guesses(now), HitId::new());
            let all = guesses.counters();
            let counts = self.store.hit(&all, &hit).await?;
            let over: Vec<_> = counts
                .iter()
                .zip(&guesses.0)
                .filter(|(count, (_, limit))| count.hits > *limit)
                .collect();
            if over.is_empty() {
                return Ok(LoginAttempt { guesses, hit });
            }
            self.store.unhit(&all, &hit).await?;
            let locked = over
                .iter()
                .any(|(count, (_, limit))| count.settled >= *limit);
            if locked || tries == IN_PROGRESS_TRIES {
                tracing::warn!(locked, "login refused: too many failures");
                // Every counter has the login window, so any lock lasts until it ends; places
                // held by checks in progress free within a check or two.
                return Err(if locked {
                    too_many(&all[0], now)
                } else {
                    Error::TooManyRequests { retry_after: 1 }
                });
            }
            // Each its own time: attempts sent at once would otherwise count again at the same
            // moments, and each round let about one of them take a freed place.
            tokio::time::sleep(pause.mul_f64(rand::random_range(0.5..1.5))).await;
            (tries, pause) = (tries + 1, pause * 2);
        }
    }

    /// Takes back the count of an attempt whose password was right.
    #[tracing::instrument(skip_all)]
    pub async fn login_succeeded(&self, attempt: LoginAttempt) -> Result<()> {
        let LoginAttempt { guesses, hit } = attempt;
        self.store.unhit(&guesses.counters(), &hit).await?;
        Ok(())
    }

    /// Takes back the count of an attempt that ended in our own failure (the store, the hashing),
    /// which is no guess of the client's; one that cannot be taken back is logged and left to its
    /// window, and the caller answers with its own failure.
    pub async fn abandoned(&self, attempt: LoginAttempt) {
        if let Err(undone) = self.login_succeeded(attempt).await {
            tracing::warn!(error = %undone, "a failed password check's count not taken back");
        }
    }

    /// Settles an attempt whose password was wrong: a failure for good.
    #[tracing::instrument(skip_all)]
    pub async fn login_failed(&self, attempt: LoginAttempt) -> Result<()> {
        let LoginAttempt { guesses, hit } = attempt;
        self.store.settle(&guesses.counters(), &hit).await?;
        Ok(())
    }

    /// Counts a registration attempt from `client`; `Err(TooManyRequests)` once it is over the
    /// window's limit. Without a known address there is nothing to count.
    #[tracing::instrument(skip_all)]
    pub async fn registration(&self, client: Option<IpAddr>) -> Result<()> {
        let Some(client) = client else {
            return Ok(());
        };
        self.within_registration_limit(Kind::RegistrationsOfAddress, &address_key(client))
            .await
    }

    /// Counts an attempt of `user` to take another username or email; `Err(TooManyRequests)` once
    /// over the registration limit's number in its window. Such an attempt says whether the name
    /// is taken, as a registration does, so a signed-in user probes names no faster.
    #[tracing::instrument(skip_all)]
    pub async fn name_change(&self, user: UserId) -> Result<()> {
        self.within_registration_limit(Kind::NameChangesOfUser, &user.to_string())
            .await
    }

    /// Counts one attempt of `kind` by `subject` in the registration window;
    /// `Err(TooManyRequests)` once over the registration limit's number. A refused attempt is
    /// taken back: it changes nothing, and the count stays at the limit until the window ends.
    async fn within_registration_limit(&self, kind: Kind, subject: &str) -> Result<()> {
        let (now, hit) = (Timestamp::now(), HitId::new());
        let window = self.config.registration_window_seconds;
        let counter = self.counter(kind, subject, window, now);
        let counter = std::slice::from_ref(&counter);
        let counts = self.store.hit(counter, &hit).await?;
        let count = counts
            .first()
            .ok_or_else(|| Error::Unexpected(anyhow::anyhow!("a count missing from a hit")))?;
        if count.hits > self.config.registrations_per_address {
            tracing::warn!(kind = kind.prefix(), "refused: too many attempts");
            self.store.unhit(counter, &hit).await?;
            return Err(too_many(&counter[0], now));
        }
        Ok(())
    }

    /// The login window's counters of `subjects`, each held to the per-name limit, then the
    /// address's when it is known.
    fn guesses(
        &self,
        subjects: &[(Kind, &str)],
        client: Option<IpAddr>,
        now: Timestamp,
    ) -> Guesses {
        let window = self.config.login_window_seconds;
        let per_name = self.config.login_failures_per_username;
        let address = client.map(|client| {
            (
                self.counter(
                    Kind::LoginFailuresOfAddress,
                    &address_key(client),
                    window,
                    now,
                ),
                self.config.login_failures_per_address,
            )
        });
        Guesses(
            subjects
                .iter()
                .map(|&(kind, subject)| (self.counter(kind, subject, window, now), per_name))
                .chain(address)
                .collect(),
        )
    }

    fn counter(&self, kind: Kind, subject: &str, window: i64, now: Timestamp) -> LimitCounter {
        LimitCounter {
            name: format!("{}#{}", kind.prefix(), digest(subject)),
            window_end: window_end(now, window),
        }
    }
}

/// When the window of `window` seconds holding `now` ends: windows are aligned to the epoch, and
/// bounded by the longest a setting may give, so the end is always a time and always after `now`
/// (a window that ended at once would keep no count: the limit would be off).
fn window_end(now: Timestamp, window: i64) -> Timestamp {
    let window = window.clamp(1, crate::config::MAX_SECONDS);
    let start = now.unix().div_euclid(window) * window;
    Timestamp::from_unix(start + window).unwrap_or_else(|| now.plus_seconds(window))
}

/// A login name as it is counted: as the account lookup reads it, so that no spelling of a name
/// that reaches the same account has a count of its own. The lookup tries a username as
/// [`Username::existing`] folds it (`Admİn` is `admin`), then an email as [`Email::parse`] reads it
/// (trimmed, lowercased, its domain in IDNA); a text both read, but read apart, counts as both,
/// since either may be what it reaches (`ada@exİmple.com`: the fold drops the dot above the `i`,
/// IDNA keeps it, and each `İ` would otherwise give an email-shaped username counts of its own).
/// A text neither reads is counted lowercased (a name no account can have). A login arrives here
/// trimmed ([`crate::service::AccountService::login`]).
fn login_subjects(login: &str) -> Vec<String> {
    let username = Username::existing(login.to_owned()).map(String::from);
    let email = Email::parse(login.to_owned()).map(String::from);
    let mut subjects: Vec<String> = username.into_iter().chain(email).collect();
    subjects.dedup();
    if subjects.is_empty() {
        subjects.push(login.to_lowercase());
    }
    subjects
}

/// The 429 of `counter`: retry once its window has ended (at least 1 second).
fn too_many(counter: &LimitCounter, now: Timestamp) -> Error {
    let retry_after = (counter.window_end.unix() - now.unix()).max(1);
    Error::TooManyRequests {
        retry_after: u64::try_from(retry_after).unwrap_or(1),
    }
}

/// An address as it is counted: IPv4 as it is; IPv6 by its /64, the block one subscriber
/// usually holds whole (counting single IPv6 addresses would let one client make up new ones);
/// every loopback address as one, the machine itself (a local client could otherwise bind a new
/// one of 127.0.0.0/8 for each fresh count; API Gateway never hands a function one).
fn address_key(client: IpAddr) -> String {
    let client = client.to_canonical();
    if client.is_loopback() {
        return "loopback".to_owned();
    }
    match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
    }
}

/// Hex SHA-256 of `subject`, shortened to 128 bits: plenty to keep subjects apart.
fn digest(subject: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, subject.as_bytes());
    hex::encode(&digest.as_ref()[..16])
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
