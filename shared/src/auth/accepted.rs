//! The keys a key set accepts besides its signing key: known from the start (taskmaster-local,
//! tests), or read the first time a token names one the set does not hold (Lambda: the signing
//! key secret's versions, [`crate::signing_keys::every_version`]). A cold start then reads one
//! version instead of three, and a container pays for the others only if a token ever needs them:
//! one signed before the last rotation, or by a container already signing with a newer key.
//!
//! A read that succeeded is kept for the container's life, like the current key. One that failed
//! is not retried for [`RETRY_AFTER`]: tokens naming keys nobody holds cannot turn every request
//! into a Secrets Manager call.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// How long after a failed read the next one waits.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

type Load = dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<Vec<SecretString>>> + Send>>
    + Send
    + Sync;

/// Reads the accepted keys' secrets when they are first needed.
#[derive(Clone)]
pub struct LoadSecrets(Arc<Load>);

impl LoadSecrets {
    pub fn new<F, Fut>(load: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Vec<SecretString>>> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(load())))
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

/// Accepted keys of type `K`, made from their secrets once they are known.
pub(super) struct Accepted<K> {
    keys: OnceCell<Vec<K>>,
    load: Option<LoadSecrets>,
    failed_at: Mutex<Option<Instant>>,
}

impl<K> Accepted<K> {
    pub fn new(secrets: &AcceptedSecrets, make: impl FnOnce(&[SecretString]) -> Vec<K>) -> Self {
        let (keys, load) = match secrets {
            AcceptedSecrets::Known(secrets) => (OnceCell::from(make(secrets)), None),
            AcceptedSecrets::OnFirstNeed(load) => (OnceCell::new(), Some(load.clone())),
        };
        Self {
            keys,
            load,
            failed_at: Mutex::new(None),
        }
    }

    /// The keys, read first if they are read on first need and have not been yet; none while a
    /// read fails. Concurrent callers share one read.
    pub async fn get(&self, make: impl FnOnce(&[SecretString]) -> Vec<K>) -> &[K] {
        let Some(load) = &self.load else {
            return self.keys.get().map_or(&[], Vec::as_slice);
        };
        let read = self.keys.get_or_try_init(|| async move {
            if self
                .failed_at()
                .is_some_and(|at| at.elapsed() < RETRY_AFTER)
            {
                return Err(());
            }
            match (load.0)().await {
                Ok(secrets) => Ok(make(&secrets)),
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "reading the accepted signing keys failed; tokens naming a key other than \
                         the current one are refused until a read succeeds"
                    );
                    *self.failed_at.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(Instant::now());
                    Err(())
                }
            }
        });
        read.await.map_or(&[], Vec::as_slice)
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

    /// A loader answering from `answers` in turn (`None`: a failed read), counting its reads.
    fn loader(answers: Vec<Option<&'static str>>) -> (AcceptedSecrets, Arc<AtomicUsize>) {
        let reads = Arc::new(AtomicUsize::new(0));
        let counted = reads.clone();
        let load = LoadSecrets::new(move || {
            let answer = answers[counted.fetch_add(1, Ordering::SeqCst)];
            async move {
                answer
                    .map(|key| vec![SecretString::from(key)])
                    .ok_or_else(|| anyhow::anyhow!("Secrets Manager unreachable"))
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
    async fn known_keys_are_there_from_the_start_and_nothing_is_read() {
        let accepted = Accepted::new(&AcceptedSecrets::Known(vec!["a".into()]), names);
        assert_eq!(accepted.get(|_| unreachable!()).await, ["a"]);
    }

    #[tokio::test]
    async fn keys_read_on_first_need_are_read_once_however_many_ask() {
        let (secrets, reads) = loader(vec![Some("previous")]);
        let accepted = Accepted::new(&secrets, names);
        assert_eq!(reads.load(Ordering::SeqCst), 0, "nothing read at start");
        let (one, two) = tokio::join!(accepted.get(names), accepted.get(names));
        assert_eq!(one, ["previous"]);
        assert_eq!(two, ["previous"]);
        assert_eq!(accepted.get(names).await, ["previous"]);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_read_yields_no_keys_and_is_retried_only_after_a_while() {
        let (secrets, reads) = loader(vec![None, Some("previous")]);
        let accepted = Accepted::new(&secrets, names);
        assert!(accepted.get(names).await.is_empty());
        tokio::time::advance(RETRY_AFTER / 2).await;
        assert!(accepted.get(names).await.is_empty(), "too soon to retry");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        tokio::time::advance(RETRY_AFTER).await;
        assert_eq!(accepted.get(names).await, ["previous"]);
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }
}
