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
//! an area from its start, and the thread keeps ahead of it. Where the kernel cannot, the
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

/// One work area: `blocks` argon2 blocks of memory mapped for it alone.
struct Area {
    /// Shared only with the thread faulting it in, which never reads or writes it.
    map: Arc<MmapRaw>,
    blocks: usize,
    /// Whether its pages are faulted in, or being faulted in beside its hash.
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

    /// For an area made before its first hash is due ([`prepare_work_area`]): where the kernel
    /// cannot fault it in beside that hash, its pages are faulted in now, by writing them. Where
    /// it can, nothing is done yet: faulting an area in beside a login's reads slowed the reads
    /// more than it saved (docs/WORK_AREA.md).
    fn fault_in_ahead(&mut self) {
        if !self.faulted && !can_fault_in_beside(&self.map) {
            self.blocks_mut().fill(Block::new());
            self.faulted = true;
        }
    }

    /// Before a hash in the area: a thread of its own faults its pages in, front to back, while
    /// the hash runs; argon2 fills an area from its start, and the thread keeps ahead of it.
    /// Once per area; where the kernel cannot, the hash faults the pages in as it writes.
    fn fault_in_beside(&mut self) {
        if !self.faulted && can_fault_in_beside(&self.map) {
            let map = Arc::clone(&self.map);
            let spawned = std::thread::Builder::new()
                .name("argon2-area".to_owned())
                .spawn(move || fault_in(&map));
            self.faulted = spawned.is_ok();
        }
    }

    /// The area as argon2's blocks.
    #[allow(unsafe_code)]
    fn blocks_mut(&mut self) -> &mut [Block] {
        // SAFETY: the mapping is readable and writable, `blocks` blocks long and page-aligned (a
        // block needs 64), and lives as long as `self.map`. A `Block` is 128 `u64`s, valid at any
        // bits, and the mapping starts zeroed. `&mut self` makes this the only reference to its
        // bytes: an area is lent to one hash at a time, and the thread faulting it in only hands
        // its address range to the kernel, which changes none of its bytes.
        unsafe {
            std::slice::from_raw_parts_mut(self.map.as_mut_ptr().cast::<Block>(), self.blocks)
        }
    }
}

/// Whether the kernel faults pages in on request (`MADV_POPULATE_WRITE`: Linux 5.14 and later),
/// asked of `map`'s first page.
#[cfg(target_os = "linux")]
fn can_fault_in_beside(map: &MmapRaw) -> bool {
    map.advise_range(memmap2::Advice::PopulateWrite, 0, 1)
        .is_ok()
}

#[cfg(not(target_os = "linux"))]
fn can_fault_in_beside(_: &MmapRaw) -> bool {
    false
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

#[cfg(not(target_os = "linux"))]
fn fault_in(_: &MmapRaw) {}

struct WorkAreas {
    /// One turn per core.
    turns: Semaphore,
    /// The areas of finished hashes, at most one per turn.
    idle: Mutex<Vec<Area>>,
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

    /// Makes the process's first area, once, and leaves it idle for the next hash
    /// ([`Area::fault_in_ahead`]). Whoever needs it first makes it
    /// ([`prepare_work_area`], or else the first hash), and a hash that arrives meanwhile waits
    /// for it rather than making an area of its own.
    async fn first(&'static self) {
        self.first
            .get_or_init(|| async {
                // Without the memory the hash itself reports it (`OutOfMemory`).
                let made = tokio::task::spawn_blocking(|| {
                    let mut area = Area::map(KEPT_BLOCKS).ok()?;
                    area.fault_in_ahead();
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
    WorkAreas::new(std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
});

/// Begins making the process's first work area while the caller goes on, unless it is made: a
/// login, a registration and a password change call it before their database work, since each
/// checks or makes an argon2 hash next unless it is limited (or its session has ended; a Django
/// hash is checked without the area). Where the kernel can fault an area in beside its hash, this
/// only maps it; elsewhere it faults it in, beside the caller's round trips rather than after
/// them ([`Area::fault_in_ahead`]). A call while the area is being made only waits beside it;
/// outside a Tokio runtime it does nothing, and the first hash makes the area.
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
        assert!(idle.iter().all(|area| area.blocks == KEPT_BLOCKS));
    }

    /// An area is faulted in once, beside its first hash where the kernel can (not ahead of
    /// it, beside a login's reads, which it slowed), and else ahead of it.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_area_is_faulted_in_beside_its_hash_where_the_kernel_can() {
        let mut area = Area::map(KEPT_BLOCKS).unwrap();
        let whole = area.map.len() / 1024;
        area.fault_in_ahead();
        if can_fault_in_beside(&area.map) {
            assert!(resident_kib(&area.map) < whole / 2, "faulted in ahead");
            area.fault_in_beside();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while resident_kib(&area.map) < whole && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        assert_eq!(resident_kib(&area.map), whole, "KiB resident of {whole}");
        assert!(area.faulted);
    }

    /// The KiB of `map` in memory, from `/proc/self/smaps`.
    #[cfg(target_os = "linux")]
    fn resident_kib(map: &MmapRaw) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let start = format!("{:x}-", map.as_ptr() as usize);
        let entry = smaps.split_once(&format!("\n{start}")).unwrap().1;
        let rss = entry.lines().find_map(|line| line.strip_prefix("Rss:"));
        rss.unwrap()
            .trim()
            .trim_end_matches(" kB")
            .trim()
            .parse()
            .unwrap()
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
        assert_eq!(areas.idle.lock().unwrap()[0].blocks, KEPT_BLOCKS);
    }

    /// The first area is made once, and a hash that asks for an area while it is being made
    /// waits for it and gets it, instead of faulting in one of its own: it starts on a full-size
    /// area, and afterwards that single area is kept, though two turns would allow two.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hash_waits_for_the_first_area_being_made() {
        let areas = work_areas(2);
        let making = tokio::spawn(areas.first());
        let hash = areas.lend(|area| {
            let given = area.0.borrow().as_ref().map_or(0, |area| area.blocks);
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
        assert_eq!(idle[0].blocks, KEPT_BLOCKS);
    }
}
