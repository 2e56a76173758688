//! Argon2's work areas, kept between password hashes, and a turn per core to use one.
//!
//! An argon2id hash at [`Params::DEFAULT`] fills a 19 MiB work area. Handed back to the allocator
//! after each hash, the next one is fresh memory: about 4,900 page faults, which on a Firecracker
//! VM (Lambda's, and this project's CI machine) cost as much CPU as half the hash itself. glibc
//! keeps giving out fresh areas until it has cached about eight of them, so a busy process also
//! sits at 100–180 MiB. Kept here, only the process's first hash on each core faults its area,
//! and no more areas exist than cores: a hash beyond that waits its turn, as it would for a core
//! anyway. The numbers are in docs/COLD_STARTS.md.

use std::cell::RefCell;
use std::sync::{LazyLock, Mutex, PoisonError};

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::password_hash::{self, CustomizedPasswordHasher};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use tokio::sync::Semaphore;

struct WorkAreas {
    /// One turn per core.
    turns: Semaphore,
    /// The areas of finished hashes, at most one per turn.
    idle: Mutex<Vec<Vec<Block>>>,
}

static WORK_AREAS: LazyLock<WorkAreas> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    WorkAreas {
        turns: Semaphore::new(cores),
        idle: Mutex::new(Vec::with_capacity(cores)),
    }
});

/// Runs `work` off the async runtime, on its turn, with a kept work area: argon2 hashing and
/// verification through the `password-hash` traits, which [`KeptArea`] implements.
pub(super) async fn with_work_area<R: Send + 'static>(
    work: impl FnOnce(&KeptArea) -> R + Send + 'static,
) -> anyhow::Result<R> {
    let areas: &'static WorkAreas = &WORK_AREAS;
    // The turn moves into the blocking task: a caller that gives up waiting (a dropped request)
    // does not free it while the hash still runs.
    let turn = areas
        .turns
        .acquire()
        .await
        .context("password hashing turns")?;
    tokio::task::spawn_blocking(move || {
        let area = areas
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let kept = KeptArea(RefCell::new(area.unwrap_or_default()));
        let result = work(&kept);
        areas
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(kept.0.into_inner());
        drop(turn);
        result
    })
    .await
    .context("password hashing task")
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
        if area.len() < blocks {
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
    use super::*;

    /// However many hashes run at once, no more areas are kept than there are turns, and a
    /// finished hash leaves its area for the next.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_areas_are_kept_than_turns() {
        let turns = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let hashes = (0..turns * 3).map(|_| {
            tokio::spawn(with_work_area(|area| {
                area.hash_password_with_params(b"pw", b"saltsaltsalt", Params::DEFAULT)
                    .is_ok()
            }))
        });
        for hash in hashes {
            assert!(hash.await.unwrap().unwrap());
        }
        let idle = WORK_AREAS.idle.lock().unwrap();
        assert!(
            (1..=turns).contains(&idle.len()),
            "{} areas kept",
            idle.len()
        );
        assert!(
            idle.iter()
                .all(|area| area.len() == Params::DEFAULT.block_count())
        );
    }
}
