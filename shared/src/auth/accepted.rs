//! The keys a key set accepts besides its signing key: known from the start (taskmaster-local,
//! tests), or read the first time something signed needs one the set does not hold (Lambda: the
//! signing key secret's versions, [`crate::signing_keys::every_version`]): a token naming another
//! key, or a page cursor the current key does not verify. A cold start then reads one version
//! instead of three, and a container pays for the others only if a token or cursor ever needs
//! them: one signed before the last rotation, or by a container already signing with a newer key.
//! The tokens' keys and the cursors' share that one read ([`LoadSecrets`]).
//!
//! A read that succeeded is kept for the container's life, like the current key. One that failed
//! or took longer than [`READ_TIMEOUT`] refuses what needed it (a token's request is a 503, to be
//! retried: its token is not refused for a key the container merely could not read; a cursor is a
//! 400, and the client starts its listing again), and the next read waits [`RETRY_AFTER`]: tokens
//! and cursors naming keys nobody holds cannot turn every request into a Secrets Manager call.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// How long a read may take before it counts as failed.
pub const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// How long after a failed read the next one waits.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

type Load = dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<Vec<SecretString>>> + Send>>
    + Send
    + Sync;

/// Reads the accepted keys' secrets when they are first needed. A read that succeeded is kept
/// and shared by every clone (the tokens' keys and the cursors' are made from one read); one that
/// failed is made again at the next call.
#[derive(Clone)]
pub struct LoadSecrets {
    load: Arc<Load>,
    read: Arc<OnceCell<Vec<SecretString>>>,
}

impl LoadSecrets {
    pub fn new<F, Fut>(load: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Vec<SecretString>>> + Send + 'static,
    {
        Self {
            load: Arc::new(move || Box::pin(load())),
            read: Arc::new(OnceCell::new()),
        }
    }

    /// The secrets: read now, unless a read has succeeded already.
    async fn read(&self) -> anyhow::Result<Vec<SecretString>> {
        self.read.get_or_try_init(|| (self.load)()).await.cloned()
    }
}

impl std::fmt::Debug for LoadSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoadSecrets")
    }
}

/// The secrets of the keys accepted besides the signing one ([`crate::config::AuthConfig`]).
#[derive(Debug, Clone)]
pub enum AcceptedSecrets {
    Known(Vec<SecretString>),
    OnFirstNeed(LoadSecrets),
}

impl Default for AcceptedSecrets {
    fn default() -> Self {
        Self::Known(Vec::new())
    }
}

/// The accepted keys could not be read just now: a token's request is answered 503, to be
/// retried (a cursor is refused as invalid instead).
#[derive(Debug, thiserror::Error)]
#[error("the accepted signing keys could not be read")]
pub struct KeysUnavailable;

type Make<K> = dyn Fn(&[SecretString]) -> Vec<K> + Send + Sync;

/// Accepted keys of type `K`, made from their secrets by `make` once they are known: the
/// tokens' keys (`super::jwt`) and the page cursors' (`crate::service::cursor`).
pub(crate) struct Accepted<K> {
    keys: OnceCell<Vec<K>>,
    load: Option<LoadSecrets>,
    make: Box<Make<K>>,
    failed_at: Mutex<Option<Instant>>,
}

impl<K> Accepted<K> {
    pub fn new(
        secrets: &AcceptedSecrets,
        make: impl Fn(&[SecretString]) -> Vec<K> + Send + Sync + 'static,
    ) -> Self {
        let (keys, load) = match secrets {
            AcceptedSecrets::Known(secrets) => (OnceCell::from(make(secrets)), None),
            AcceptedSecrets::OnFirstNeed(load) => (OnceCell::new(), Some(load.clone())),
        };
        Self {
            keys,
            load,
            make: Box::new(make),
            failed_at: Mutex::new(None),
        }
    }

    /// The keys, read first if they are read on first need and have not been yet. Concurrent
    /// callers share one read.
    pub async fn get(&self) -> Result<&[K], KeysUnavailable> {
        let Some(load) = &self.load else {
            return Ok(self.keys.get().map_or(&[], Vec::as_slice));
        };
        let read = self.keys.get_or_try_init(|| async move {
            if self
                .failed_at()
                .is_some_and(|at| at.elapsed() < RETRY_AFTER)
            {
                return Err(KeysUnavailable);
            }
            let error = match tokio::time::timeout(READ_TIMEOUT, load.read()).await {
                Ok(Ok(secrets)) => return Ok((self.make)(&secrets)),
                Ok(Err(error)) => format!("{error:#}"),
                Err(_) => format!("no answer within {READ_TIMEOUT:?}"),
            };
            tracing::warn!(
                error = %error,
                "reading the accepted signing keys failed; until a read succeeds, what needs one \
                 is refused: a token's request with a 503, a page cursor with a 400"
            );
            *self.failed_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            Err(KeysUnavailable)
        });
        read.await.map(Vec::as_slice)
    }

    fn failed_at(&self) -> Option<Instant> {
        *self.failed_at.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use secrecy::ExposeSecret;

    use super::*;

    /// Each answer in turn: a key, a failed read (`Err`), or one that never ends (`Ok(None)`).
    type Answer = Result<Option<&'static str>, ()>;

    /// A loader giving `answers` in turn, counting its reads.
    fn loader(answers: Vec<Answer>) -> (AcceptedSecrets, Arc<AtomicUsize>) {
        let reads = Arc::new(AtomicUsize::new(0));
        let counted = reads.clone();
        let load = LoadSecrets::new(move || {
            let answer = answers[counted.fetch_add(1, Ordering::SeqCst)];
            async move {
                match answer {
                    Ok(Some(key)) => Ok(vec![SecretString::from(key)]),
                    Ok(None) => std::future::pending().await,
                    Err(()) => Err(anyhow::anyhow!("Secrets Manager unreachable")),
                }
            }
        });
        (AcceptedSecrets::OnFirstNeed(load), reads)
    }

    fn names(secrets: &[SecretString]) -> Vec<String> {
        secrets
            .iter()
            .map(|s| s.expose_secret().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn known_keys_are_there_from_the_start() {
        let accepted = Accepted::new(&AcceptedSecrets::Known(vec!["a".into()]), names);
        assert_eq!(accepted.get().await.unwrap(), ["a"]);
    }

    #[tokio::test]
    async fn keys_read_on_first_need_are_read_once_however_many_ask() {
        let (secrets, reads) = loader(vec![Ok(Some("previous"))]);
        let accepted = Accepted::new(&secrets, names);
        assert_eq!(reads.load(Ordering::SeqCst), 0, "nothing read at start");
        let (one, two) = tokio::join!(accepted.get(), accepted.get());
        assert_eq!(one.unwrap(), ["previous"]);
        assert_eq!(two.unwrap(), ["previous"]);
        assert_eq!(accepted.get().await.unwrap(), ["previous"]);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_read_is_unavailable_and_is_retried_only_after_a_while() {
        let (secrets, reads) = loader(vec![Err(()), Ok(Some("previous"))]);
        let accepted = Accepted::new(&secrets, names);
        assert!(accepted.get().await.is_err());
        tokio::time::advance(RETRY_AFTER / 2).await;
        assert!(accepted.get().await.is_err(), "too soon to retry");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        tokio::time::advance(RETRY_AFTER).await;
        assert_eq!(accepted.get().await.unwrap(), ["previous"]);
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_that_does_not_answer_fails_after_the_timeout() {
        let (secrets, reads) = loader(vec![Ok(None), Ok(Some("previous"))]);
        let accepted = Accepted::new(&secrets, names);
        let started = Instant::now();
        assert!(accepted.get().await.is_err());
        assert_eq!(started.elapsed(), READ_TIMEOUT);
        tokio::time::advance(RETRY_AFTER).await;
        assert_eq!(accepted.get().await.unwrap(), ["previous"]);
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn key_sets_made_from_one_loader_share_its_read() {
        // The tokens' keys and the page cursors' (each a set of its own) read the secret once.
        let (secrets, reads) = loader(vec![Ok(Some("previous"))]);
        let tokens = Accepted::new(&secrets, names);
        let cursors = Accepted::new(&secrets, |secrets: &[SecretString]| vec![secrets.len()]);
        assert_eq!(tokens.get().await.unwrap(), ["previous"]);
        assert_eq!(cursors.get().await.unwrap(), [1]);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
