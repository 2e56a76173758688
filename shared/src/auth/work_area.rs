//! Argon2's work areas, kept between password hashes, and a turn per core to use one.
//!
//! An argon2id hash at [`Params::DEFAULT`] fills a 19 MiB work area. Handed back to the allocator
//! after each hash, the next one is fresh memory: about 4,870 page faults, which on a Firecracker
//! VM (Lambda's, and this project's CI machine) cost about a fifth of a login's CPU. glibc keeps
//! giving out fresh areas for a process's first 6–8 hashes before it caches freed ones, so a
//! process also settles at 100–130 MiB. Kept here, only an area's first use faults, and no more
//! areas exist than cores: a hash beyond that waits its turn, as it would for a core anyway.
//!
//! An area's first use still faults: about 10 ms for 19 MiB on this project's VM, in a process's
//! first login. So each area is memory mapped for itself, and a thread of its own faults its pages
//! in (`MADV_POPULATE_WRITE`, Linux 5.14 and later) while the hash already runs in it: argon2 fills
//! an area from its start, and, measured, the thread ran ahead of it. Where the kernel cannot, the
//! process's first area is faulted in while a login reads ([`prepare_work_area`]), and any other
//! by its hash as it writes. The numbers are in docs/WORK_AREA.md.

use std::cell::RefCell;
use std::io;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::password_hash::{self, CustomizedPasswordHasher};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use memmap2::{MmapOptions, MmapRaw};
use tokio::sync::{OnceCell, Semaphore};

/// The largest area kept: one for [`Params::DEFAULT`]. A bigger one (a hash made with other
/// parameters) is used once and freed.
const KEPT_BLOCKS: usize = Params::DEFAULT.block_count();

/// Whether this kernel faults pages in on request (`MADV_POPULATE_WRITE`: Linux 5.14 and later),
/// asked once, of a page mapped for the question.
static FAULTS_IN_ON_REQUEST: LazyLock<bool> = LazyLock::new(|| {
    #[cfg(target_os = "linux")]
    if let Ok(page) = MmapOptions::new().len(1).map_anon() {
        let page = MmapRaw::from(page);
        return page
            .advise_range(memmap2::Advice::PopulateWrite, 0, 1)
            .is_ok();
    }
    false
});

/// One work area: `blocks` argon2 blocks of memory mapped for it alone.
struct Area {
    /// Shared only with the thread faulting it in, which never reads or writes it.
    map: Arc<MmapRaw>,
    blocks: usize,
    /// Whether a hash has had it, or its pages were faulted in before one did.
    faulted: bool,
}

impl Area {
    /// Maps a fresh area of `blocks` blocks: zeroed, and not yet faulted in.
    fn map(blocks: usize) -> io::Result<Self> {
        let bytes = blocks
            .checked_mul(Block::SIZE)
            .ok_or(io::ErrorKind::OutOfMemory)?;
        let map = MmapRaw::from(MmapOptions::new().len(bytes).map_anon()?);
        Ok(Self {
            map: Arc::new(map),
            blocks,
            faulted: false,
        })
    }

    /// Faults the area's pages in now, by writing them: the process's first area, made while a
    /// login reads, where the kernel cannot fault it in beside the hash ([`prepare_work_area`]).
    fn fault_in_now(&mut self) {
        self.blocks_mut().fill(Block::new());
        self.faulted = true;
    }

    /// Before a hash in a fresh area: a thread of its own faults the area's pages in, front to
    /// back, while the hash runs. Argon2 fills an area from its start (ours have one lane), and
    /// measured, the thread ran ahead of it. Where the kernel cannot, or no thread starts, the
    /// hash faults the pages in as it writes.
    fn fault_in_beside(&mut self) {
        if std::mem::replace(&mut self.faulted, true) || !*FAULTS_IN_ON_REQUEST {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            let map = Arc::clone(&self.map);
            let _ = std::thread::Builder::new()
                .name("argon2-area".to_owned())
                .spawn(move || fault_in(&map));
        }
    }

    /// The area as argon2's blocks.
    #[expect(unsafe_code, reason = "argon2 takes its memory as blocks, not bytes")]
    fn blocks_mut(&mut self) -> &mut [Block] {
        // SAFETY: the mapping succeeded, so its address is not null and its length, `blocks`
        // blocks, is within `isize::MAX`. It is readable and writable, page-aligned (a block
        // needs 64), and lives as long as `self.map`. A `Block` is 128 `u64`s, valid at any bits,
        // and the mapping starts zeroed. `&mut self` makes this the only reference to its bytes:
        // an area is lent to one hash at a time, and the thread faulting it in only hands its
        // address range to the kernel, which changes none of its bytes.
        unsafe {
            std::slice::from_raw_parts_mut(self.map.as_mut_ptr().cast::<Block>(), self.blocks)
        }
    }
}

/// Faults `map` in, a megabyte at a time: the kernel holds the process's memory map through each
/// request, and a thread starting meanwhile (its stack mapped) need not wait for all 19 MiB.
/// Short of memory, it stops, and the hash meets that as it writes, as it would have anyway.
#[cfg(target_os = "linux")]
fn fault_in(map: &MmapRaw) {
    const CHUNK: usize = 1 << 20;
    for start in (0..map.len()).step_by(CHUNK) {
        let len = CHUNK.min(map.len() - start);
        if map
            .advise_range(memmap2::Advice::PopulateWrite, start, len)
            .is_err()
        {
            break;
        }
    }
}

struct WorkAreas {
    /// One turn per core.
    turns: Semaphore,
    /// The areas of finished hashes, at most one per turn.
    idle: Mutex<Vec<Area>>,
    /// Whether the process's first area is made and faulted in ahead of its hash
    /// ([`WorkAreas::first`]): where the kernel cannot fault one in beside its hash.
    ahead: bool,
    /// Set once the process's first area is made ([`WorkAreas::first`]).
    first: OnceCell<()>,
}

impl WorkAreas {
    fn new(turns: usize, ahead: bool) -> Self {
        Self {
            turns: Semaphore::new(turns),
            ahead,
            idle: Mutex::new(Vec::with_capacity(turns)),
            first: OnceCell::const_new(),
        }
    }

    /// Where the kernel cannot fault an area in beside its hash: makes the process's first area,
    /// once, faulted in, and leaves it idle for the next hash. Whoever needs it first makes it
    /// ([`prepare_work_area`], or else the first hash), and a hash that arrives meanwhile waits
    /// for it rather than faulting in an area of its own.
    async fn first(&'static self) {
        self.first
            .get_or_init(|| async {
                // Without the memory the hash itself reports it (`OutOfMemory`).
                let made = tokio::task::spawn_blocking(|| {
                    let mut area = Area::map(KEPT_BLOCKS).ok()?;
                    area.fault_in_now();
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
        if self.ahead {
            self.first().await;
        }
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
            let area = KeptArea(RefCell::new(idle));
            let result = work(&area);
            // No area was made if none was needed (only a Django hash was checked); one made
            // past the default's size is freed, and any other goes back for the next hash.
            if let Some(area) = area
                .0
                .into_inner()
                .filter(|area| area.blocks <= KEPT_BLOCKS)
            {
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
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    WorkAreas::new(cores, !*FAULTS_IN_ON_REQUEST)
});

/// Begins making the process's first work area while the caller goes on, unless it is made: a
/// login, a registration and a password change call it before their database work, since each
/// checks or makes an argon2 hash next unless it is limited (or its session has ended; a Django
/// hash is checked without the area). Where the kernel can fault an area in beside its hash, it
/// does nothing: faulting the area in beside a login's reads slowed them more than it saved
/// (docs/WORK_AREA.md). Elsewhere it faults the area in beside the caller's round trips rather
/// than after them. A call while the area is being made only waits beside it; outside a Tokio
/// runtime it does nothing, and the first hash makes the area.
pub fn prepare_work_area() {
    if WORK_AREAS.ahead
        && !WORK_AREAS.first.initialized()
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
/// computing into it instead of a fresh allocation; none until a hash needs one.
pub(super) struct KeptArea(RefCell<Option<Area>>);

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
        let mut slot = self.0.borrow_mut();
        let blocks = params.block_count();
        let area = match slot.take().filter(|area| area.blocks >= blocks) {
            Some(area) => slot.insert(area),
            // Refused, not aborted, when the memory is not there (as argon2's own allocation is).
            None => slot.insert(Area::map(blocks).map_err(|_| argon2::Error::OutOfMemory)?),
        };
        area.fault_in_beside();
        Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
            password,
            &salt,
            output,
            &mut area.blocks_mut()[..blocks],
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
#[path = "work_area_tests.rs"]
mod tests;
