//! Argon2's work areas, kept between password hashes, and a turn per core to use one.
//!
//! An argon2id hash at [`Params::DEFAULT`] fills a 19 MiB work area. Handed back to the allocator
//! after each hash, the next one is fresh memory: about 4,870 page faults, which on a Firecracker
//! VM (Lambda's, and this project's CI machine) cost about a fifth of a login's CPU. glibc keeps
//! giving out fresh areas for a process's first 6–8 hashes before it caches freed ones, so a
//! process also settles at 100–130 MiB. Kept here, only an area's first use faults, and no more
//! areas exist than cores: a hash beyond that waits its turn, as it would for a core anyway. The
//! numbers are in docs/WORK_AREA.md.

use std::cell::RefCell;
use std::sync::{LazyLock, Mutex, PoisonError};

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::password_hash::{self, CustomizedPasswordHasher};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use tokio::sync::{OnceCell, Semaphore};

/// The largest area kept: one for [`Params::DEFAULT`]. A bigger one (a hash made with other
/// parameters) is used once and freed.
const KEPT_BLOCKS: usize = Params::DEFAULT.block_count();

struct WorkAreas {
    /// One turn per core.
    turns: Semaphore,
    /// The areas of finished hashes, at most one per turn.
    idle: Mutex<Vec<Vec<Block>>>,
    /// Set once the process's first area is made ([`WorkAreas::first`]).
    first: OnceCell<()>,
}

impl WorkAreas {
    fn new(turns: usize) -> Self {
        Self {
            turns: Semaphore::new(turns),
            idle: Mutex::new(Vec::with_capacity(turns)),
            first: OnceCell::const_new(),
        }
    }

    /// Makes the process's first area, once, and leaves it idle for the next hash: every page
    /// of a fresh area faults in on its first use, about 10 ms for 19 MiB on this project's VM.
    /// Whoever needs it first makes it ([`prepare_work_area`], or else the first hash), and a
    /// hash that arrives meanwhile waits for it rather than faulting in an area of its own.
    async fn first(&'static self) {
        self.first
            .get_or_init(|| async {
                let made = tokio::task::spawn_blocking(|| {
                    let mut area = Vec::new();
                    // Without the memory the hash itself reports it (`OutOfMemory`).
                    area.try_reserve_exact(KEPT_BLOCKS).ok()?;
                    area.resize(KEPT_BLOCKS, Block::new());
                    Some(area)
                });
                if let Ok(Some(area)) = made.await {
                    self.idle
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(area);
                }
            })
            .await;
    }

    /// Runs `work` off the async runtime, on its turn, with a kept work area when one is idle.
    async fn lend<R: Send + 'static>(
        &'static self,
        work: impl FnOnce(&KeptArea) -> R + Send + 'static,
    ) -> anyhow::Result<R> {
        self.first().await;
        // The turn moves into the blocking task: a caller that gives up waiting (a dropped
        // request) does not free it while the hash still runs.
        let turn = self
            .turns
            .acquire()
            .await
            .context("password hashing turns")?;
        tokio::task::spawn_blocking(move || {
            let idle = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let area = KeptArea(RefCell::new(idle.unwrap_or_default()));
            let result = work(&area);
            let area = area.0.into_inner();
            // A new area that stayed empty (only a Django hash was checked) is dropped, and so is
            // one grown past the default's size; any other goes back for the next hash.
            if (1..=KEPT_BLOCKS).contains(&area.len()) {
                self.idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(area);
            }
            drop(turn);
            result
        })
        .await
        .context("password hashing task")
    }
}

static WORK_AREAS: LazyLock<WorkAreas> = LazyLock::new(|| {
    WorkAreas::new(std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
});

/// Begins making the process's first work area while the caller goes on, unless it is made: a
/// login, a registration and a password change call it before their database work, since each
/// checks or makes an argon2 hash next unless it is limited (or its session has ended; a Django
/// hash is checked without the area), so the area's page faults overlap their round trips instead
/// of following them. A call while the area is being made only waits beside it; outside a Tokio
/// runtime it does nothing, and the first hash makes the area. The cost: a process's first such
/// request that is refused shares the CPU with the area's page faults (about 10 ms of them), and
/// leaves the area made for the hashes after it.
pub fn prepare_work_area() {
    if !WORK_AREAS.first.initialized()
        && let Ok(runtime) = tokio::runtime::Handle::try_current()
    {
        runtime.spawn(WORK_AREAS.first());
    }
}

/// Runs `work` off the async runtime, on its turn, with a kept work area: argon2 hashing and
/// verification through the `password-hash` traits, which [`KeptArea`] implements.
pub(super) async fn with_work_area<R: Send + 'static>(
    work: impl FnOnce(&KeptArea) -> R + Send + 'static,
) -> anyhow::Result<R> {
    WORK_AREAS.lend(work).await
}

/// A work area lent to one hash at a time: the `password-hash` traits' hasher (and so verifier),
/// computing into it instead of a fresh allocation.
pub(super) struct KeptArea(RefCell<Vec<Block>>);

impl CustomizedPasswordHasher<PasswordHash> for KeptArea {
    type Params = Params;

    fn hash_password_customized(
        &self,
        password: &[u8],
        salt: &[u8],
        algorithm: Option<&str>,
        version: Option<password_hash::Version>,
        params: Params,
    ) -> password_hash::Result<PasswordHash> {
        let algorithm = algorithm.map_or(Ok(Algorithm::Argon2id), Algorithm::try_from)?;
        let version = version.map_or(Ok(Version::V0x13), Version::try_from)?;
        let salt = Salt::new(salt)?;
        let mut output = [0u8; Output::MAX_LENGTH];
        let output = output
            .get_mut(..params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN))
            .ok_or(password_hash::Error::OutputSize)?;
        let mut area = self.0.borrow_mut();
        let blocks = params.block_count();
        if let Some(more) = blocks.checked_sub(area.len()).filter(|&more| more > 0) {
            // Refused, not aborted, when the memory is not there (as argon2's own allocation is).
            area.try_reserve_exact(more)
                .map_err(|_| argon2::Error::OutOfMemory)?;
            area.resize(blocks, Block::new());
        }
        Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
            password,
            &salt,
            output,
            &mut area[..blocks],
        )?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(Output::new(output)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use argon2::PasswordHasher;

    use super::*;

    const SALT: &[u8] = b"a fixed salt for the test";

    /// A private set of `turns` turns, as `'static` as the process's own.
    fn work_areas(turns: usize) -> &'static WorkAreas {
        Box::leak(Box::new(WorkAreas::new(turns)))
    }

    /// However many hashes run at once, no more areas are kept than there are turns; a finished
    /// hash leaves its area for the next, and work that used none leaves none.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_areas_are_kept_than_turns() {
        let areas = work_areas(2);
        let hashes = (0..6).map(|_| {
            tokio::spawn(areas.lend(|area| {
                area.hash_password_with_params(b"pw", SALT, Params::DEFAULT)
                    .is_ok()
            }))
        });
        for hash in hashes {
            assert!(hash.await.unwrap().unwrap());
        }
        areas.lend(|_| ()).await.unwrap();
        let idle = areas.idle.lock().unwrap();
        assert!((1..=2).contains(&idle.len()), "{} areas kept", idle.len());
        assert!(idle.iter().all(|area| area.len() == KEPT_BLOCKS));
    }

    /// An area that served hashes with other parameters (more lanes, fewer and then more blocks
    /// than the default) hashes exactly as argon2 does in fresh memory.
    #[tokio::test]
    async fn a_reused_area_hashes_as_fresh_memory_does() {
        let areas = work_areas(1);
        let other = |m| Params::new(m, 1, 4, None).unwrap();
        let fresh = |params: &Params| {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
                .hash_password_with_salt(b"pw", SALT)
                .unwrap()
                .to_string()
        };
        let reused = areas
            .lend(move |area| {
                let mut hashes = Vec::new();
                for params in [other(64), other(KEPT_BLOCKS as u32 * 2), Params::DEFAULT] {
                    let hash = area.hash_password_with_params(b"pw", SALT, params.clone());
                    hashes.push((params, hash.unwrap().to_string()));
                }
                hashes
            })
            .await
            .unwrap();
        for (params, hash) in reused {
            assert_eq!(hash, fresh(&params), "{params:?}");
        }
        // The area grew past the default's size, so it was freed, not kept; a default one is.
        assert!(areas.idle.lock().unwrap().is_empty());
        let default =
            areas.lend(|area| area.hash_password_with_params(b"pw", SALT, Params::DEFAULT));
        assert_eq!(
            default.await.unwrap().unwrap().to_string(),
            fresh(&Params::DEFAULT)
        );
        assert_eq!(areas.idle.lock().unwrap()[0].len(), KEPT_BLOCKS);
    }

    /// The first area is made once, and a hash that asks for an area while it is being made
    /// waits for it and gets it, instead of faulting in one of its own: it starts on a full-size
    /// area, and afterwards that single area is kept, though two turns would allow two.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hash_waits_for_the_first_area_being_made() {
        let areas = work_areas(2);
        let making = tokio::spawn(areas.first());
        let hash = areas.lend(|area| {
            let given = area.0.borrow().len();
            let hashed = area
                .hash_password_with_params(b"pw", SALT, Params::DEFAULT)
                .is_ok();
            (given, hashed)
        });
        assert_eq!(
            hash.await.unwrap(),
            (KEPT_BLOCKS, true),
            "(blocks given, hashed)"
        );
        making.await.unwrap();
        let idle = areas.idle.lock().unwrap();
        assert_eq!(idle.len(), 1, "areas kept");
        assert_eq!(idle[0].len(), KEPT_BLOCKS);
    }
}
