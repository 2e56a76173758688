//! Unit tests of `work_area.rs`: areas kept and lent a turn per core, and faulted in beside their hash.

use argon2::PasswordHasher;

use super::*;

const SALT: &[u8] = b"a fixed salt for the test";

/// A private set of `turns` turns, as `'static` as the process's own, its first area made
/// `ahead` or not.
fn work_areas(turns: usize, ahead: bool) -> &'static WorkAreas {
    Box::leak(Box::new(WorkAreas::new(turns, ahead)))
}

/// However many hashes run at once, no more areas are kept than there are turns; a finished
/// hash leaves its area for the next, and work that used none leaves none. The same whether
/// the first area is made ahead or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_areas_are_kept_than_turns() {
    for ahead in [false, true] {
        no_more_areas_than_turns(work_areas(2, ahead)).await;
    }
}

async fn no_more_areas_than_turns(areas: &'static WorkAreas) {
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

/// Where the kernel can, a fresh area is faulted in beside its first hash, by a thread of its
/// own, and not before; elsewhere the process's first area is faulted in at once.
#[cfg(target_os = "linux")]
#[test]
fn an_area_is_faulted_in_beside_its_hash_where_the_kernel_can() {
    let mut area = Area::map(KEPT_BLOCKS).unwrap();
    let pages = area.map.len().div_ceil(page_size());
    assert_eq!(present_pages(&area.map), 0, "pages present when mapped");
    if *FAULTS_IN_ON_REQUEST {
        area.fault_in_beside();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while present_pages(&area.map) < pages && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    } else {
        area.fault_in_now();
    }
    assert_eq!(present_pages(&area.map), pages, "pages present of {pages}");
    assert!(area.faulted);
}

/// This process's page size, from its auxiliary vector (`AT_PAGESZ`).
#[cfg(target_os = "linux")]
fn page_size() -> usize {
    const AT_PAGESZ: u64 = 6;
    let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().unwrap());
    let auxv = std::fs::read("/proc/self/auxv").unwrap();
    let size = auxv
        .chunks_exact(16)
        .find(|pair| word(&pair[..8]) == AT_PAGESZ);
    usize::try_from(word(&size.unwrap()[8..])).unwrap()
}

/// How many of `map`'s pages are in memory, from `/proc/self/pagemap` (bit 63 of each page's
/// entry), which no neighbouring mapping can blur.
#[cfg(target_os = "linux")]
fn present_pages(map: &MmapRaw) -> usize {
    use std::io::{Read, Seek, SeekFrom};
    let page = page_size();
    let mut pagemap = std::fs::File::open("/proc/self/pagemap").unwrap();
    let first = (map.as_ptr() as usize / page * 8) as u64;
    pagemap.seek(SeekFrom::Start(first)).unwrap();
    let mut entries = vec![0; map.len().div_ceil(page) * 8];
    pagemap.read_exact(&mut entries).unwrap();
    let present = |entry: &[u8]| u64::from_ne_bytes(entry.try_into().unwrap()) >> 63 == 1;
    entries
        .chunks_exact(8)
        .filter(|entry| present(entry))
        .count()
}

/// A work area that served hashes with other parameters (more lanes, then more blocks than it
/// had, so that a larger one replaced it) hashes exactly as argon2 does in fresh memory.
#[tokio::test]
async fn a_reused_area_hashes_as_fresh_memory_does() {
    let areas = work_areas(1, false);
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
    // The last area was larger than the default's, so it was freed, not kept; a default one is.
    assert!(areas.idle.lock().unwrap().is_empty());
    let default = areas.lend(|area| area.hash_password_with_params(b"pw", SALT, Params::DEFAULT));
    assert_eq!(
        default.await.unwrap().unwrap().to_string(),
        fresh(&Params::DEFAULT)
    );
    assert_eq!(areas.idle.lock().unwrap()[0].blocks, KEPT_BLOCKS);
}

/// Made ahead, the first area is made once, and a hash that asks for an area while it is
/// being made waits for it and gets it, instead of faulting in one of its own: it starts on a
/// full-size area, and afterwards that single area is kept, though two turns would allow two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_waits_for_the_first_area_being_made() {
    let areas = work_areas(2, true);
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
