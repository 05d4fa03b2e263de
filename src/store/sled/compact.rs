//! Making an erasure real on sled: sled keeps overwritten values in its log
//! until it reclaims their space, so an erased customer's words would stay
//! in the data folder's files. An erasure first leaves a marker file; the
//! next time the store opens (the gateway restarts itself for it), every
//! tree is copied into a fresh database beside the old one, the old files
//! are deleted and the fresh ones take their place. Nothing erased is
//! copied, so no file of the folder holds it any more.
//!
//! A crash at any point leaves either the old database (the copy is
//! discarded and made again) or a complete copy that the next open finishes
//! moving in: `COMPLETE` lists its files.

use super::{StoreError, io, open_db};
use std::path::{Path, PathBuf};

/// Left in the data folder by an erasure until the compaction is done.
const MARKER: &str = "ERASED";
/// Where the fresh database is written.
const STAGING: &str = ".compacting";
/// Written in the staging folder once the copy is whole: its files' names.
const COMPLETE: &str = "COMPLETE";

/// Whether an erasure in `dir` waits for its compaction.
pub fn due(dir: &Path) -> bool {
    dir.join(MARKER).exists()
}

/// Records, durably, that `dir` holds erased data to remove.
pub(super) fn mark(dir: &Path) -> Result<(), StoreError> {
    let marker = std::fs::File::create(dir.join(MARKER)).map_err(io)?;
    marker.sync_all().map_err(io)?;
    sync_dir(dir)
}

/// Finishes a compaction a crash interrupted, then compacts if an erasure
/// asks for it; whether it compacted.
pub(super) fn run_if_due(dir: &Path) -> Result<bool, StoreError> {
    finish(dir)?;
    if !due(dir) {
        return Ok(false);
    }
    let staging = dir.join(STAGING);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io)?;
    }
    copy_into(dir, &staging)?;
    let mut names: Vec<String> = std::fs::read_dir(&staging)
        .map_err(io)?
        .map(|entry| {
            Ok(entry
                .map_err(io)?
                .file_name()
                .to_string_lossy()
                .into_owned())
        })
        .collect::<Result<_, StoreError>>()?;
    names.sort();
    let complete = staging.join(COMPLETE);
    std::fs::write(&complete, names.join("\n")).map_err(io)?;
    std::fs::File::open(&complete)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    sync_dir(&staging)?;
    finish(dir)?;
    std::fs::remove_file(dir.join(MARKER)).map_err(io)?;
    sync_dir(dir)?;
    Ok(true)
}

/// Copies every tree of the database in `dir` into a new one at `staging`.
fn copy_into(dir: &Path, staging: &Path) -> Result<(), StoreError> {
    let open_error = |path: &Path, e: sled::Error| StoreError::Open {
        path: path.to_path_buf(),
        source: Box::new(e),
    };
    let old = open_db(dir).map_err(|e| open_error(dir, e))?;
    let new = sled::Config::new()
        .path(staging)
        .mode(sled::Mode::LowSpace)
        .open()
        .map_err(|e| open_error(staging, e))?;
    for name in old.tree_names() {
        let (from, to) = (
            old.open_tree(&name).map_err(io)?,
            new.open_tree(&name).map_err(io)?,
        );
        for item in from.iter() {
            let (key, value) = item.map_err(io)?;
            to.insert(key, value).map_err(io)?;
        }
    }
    new.flush().map_err(io)?;
    Ok(())
}

/// The files sled keeps in its folder (beside them: the control socket's
/// folder, the marker, the staging folder).
fn is_sled_file(name: &str) -> bool {
    matches!(name, "conf" | "db" | "blobs") || name.starts_with("snap.")
}

/// Moves a complete copy in place of the old database; idempotent, so a
/// crash halfway is finished by the next open.
fn finish(dir: &Path) -> Result<(), StoreError> {
    let staging = dir.join(STAGING);
    let complete = staging.join(COMPLETE);
    if !complete.exists() {
        return Ok(());
    }
    let moved: Vec<String> = std::fs::read_to_string(&complete)
        .map_err(io)?
        .lines()
        .map(str::to_string)
        .filter(|name| name != COMPLETE)
        .collect();
    // The old database's files: all but those of the copy already moved.
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let already_moved = moved.contains(&name) && !staging.join(&name).exists();
        if is_sled_file(&name) && !already_moved {
            remove(&entry.path())?;
        }
    }
    for name in &moved {
        let from = staging.join(name);
        if from.exists() {
            std::fs::rename(&from, dir.join(name)).map_err(io)?;
        }
    }
    std::fs::remove_dir_all(&staging).map_err(io)?;
    sync_dir(dir)
}

fn remove(path: &PathBuf) -> Result<(), StoreError> {
    if path.is_dir() {
        std::fs::remove_dir_all(path).map_err(io)
    } else {
        std::fs::remove_file(path).map_err(io)
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(dir: &Path, needle: &[u8]) -> bool {
        std::fs::read_dir(dir).expect("folder").any(|entry| {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                holds(&path, needle)
            } else {
                std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            }
        })
    }

    /// A folder with `keep` stored, and `gone` written then overwritten.
    fn folder_with_an_overwritten_value() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path()).expect("open");
        let tree = db.open_tree("t").expect("tree");
        tree.insert("a", "keep-this-value").expect("insert");
        tree.insert("b", "gone-secret-value").expect("insert");
        tree.insert("b", "x").expect("overwrite");
        db.flush().expect("flush");
        dir
    }

    fn value(dir: &Path, key: &str) -> Option<Vec<u8>> {
        let db = open_db(dir).expect("open");
        let tree = db.open_tree("t").expect("tree");
        tree.get(key).expect("get").map(|v| v.to_vec())
    }

    #[test]
    fn a_compaction_leaves_no_overwritten_value_in_any_file() {
        let dir = folder_with_an_overwritten_value();
        assert!(
            holds(dir.path(), b"gone-secret-value"),
            "sled keeps it in its log"
        );
        assert!(!run_if_due(dir.path()).expect("nothing due"));
        mark(dir.path()).expect("mark");
        assert!(run_if_due(dir.path()).expect("compact"));
        assert!(!holds(dir.path(), b"gone-secret-value"));
        assert!(!due(dir.path()) && !dir.path().join(STAGING).exists());
        assert_eq!(
            value(dir.path(), "a").as_deref(),
            Some(&b"keep-this-value"[..])
        );
        assert_eq!(value(dir.path(), "b").as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn a_compaction_cut_short_is_finished_by_the_next_open() {
        let dir = folder_with_an_overwritten_value();
        let staging = dir.path().join(STAGING);
        copy_into(dir.path(), &staging).expect("copy");
        let mut names: Vec<String> = std::fs::read_dir(&staging)
            .expect("staging")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        std::fs::write(staging.join(COMPLETE), names.join("\n")).expect("complete");
        // The crash: the old files deleted, one new file moved, not the rest.
        for name in ["db", "conf"] {
            let _ = std::fs::remove_file(dir.path().join(name));
        }
        std::fs::rename(staging.join("conf"), dir.path().join("conf")).expect("move one");
        mark(dir.path()).expect("mark");

        finish(dir.path()).expect("finish");
        assert!(!staging.exists());
        assert_eq!(
            value(dir.path(), "a").as_deref(),
            Some(&b"keep-this-value"[..])
        );
        assert!(!holds(dir.path(), b"gone-secret-value"));
    }
}
