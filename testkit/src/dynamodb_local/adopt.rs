//! DynamoDB Local's data of an older layout, moved into the current one.

use std::path::Path;

use anyhow::Context;

/// A database directory from before the key held the tables in DynamoDB Local's one shared
/// database: that file becomes the key's, so nothing is left behind.
pub(super) fn adopt_shared_database(db_dir: &Path, key: &str) -> anyhow::Result<()> {
    let own = format!("{key}_{}.db", shared::aws::EMULATOR_REGION);
    if !db_dir.join("shared-local-instance.db").exists() || db_dir.join(&own).exists() {
        return Ok(());
    }
    // The database, and the SQLite journal a run killed mid-write may have left beside it.
    for suffix in ["", "-journal"] {
        let (from, to) = (
            db_dir.join(format!("shared-local-instance.db{suffix}")),
            db_dir.join(format!("{own}{suffix}")),
        );
        if from.exists() {
            std::fs::rename(&from, &to)
                .with_context(|| format!("moving {} to {}", from.display(), to.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_shared_database_becomes_the_keys_but_never_replaces_it() {
        let dir = std::env::temp_dir().join(format!("adopt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("shared-local-instance.db"), "old").unwrap();
        std::fs::write(dir.join("shared-local-instance.db-journal"), "journal").unwrap();

        adopt_shared_database(&dir, "k1").unwrap();

        assert_eq!(
            std::fs::read_to_string(dir.join("k1_us-east-1.db")).unwrap(),
            "old"
        );
        let journal = std::fs::read_to_string(dir.join("k1_us-east-1.db-journal")).unwrap();
        assert_eq!(journal, "journal");
        assert!(!dir.join("shared-local-instance.db").exists());
        // A key that already has its own database keeps it.
        std::fs::write(dir.join("shared-local-instance.db"), "older").unwrap();
        adopt_shared_database(&dir, "k1").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("k1_us-east-1.db")).unwrap(),
            "old"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
