//! Steps: several writes that a crash applies all or none of, without
//! sled transactions.
//!
//! A sled 0.34 transaction (and a `Batch`) rolls the log's IO buffer before
//! and after its commit, so every one costs two log writes with a disk sync
//! each, whatever it holds; on this workload that was most of the machine.
//! A step instead gathers its writes in memory while its code runs (reads
//! see the step's own writes), then records them all under one key, the
//! *last step*, and applies them as plain writes. sled recovers a prefix of
//! its log after a crash, so when any of those writes survived, the record
//! written before them did too, and opening the store applies it again.
//! Applying a step twice is harmless: it holds the values to write, not
//! changes to make.
//!
//! This holds while steps run one at a time (the store's writer lock) and
//! every write to a tree a step writes is made by a step, so that the last
//! step's keys have not changed since it ran.

use super::StoreError;
use sled::IVec;
use std::cell::RefCell;

/// The key of the last step in its tree.
const LAST_STEP: &[u8] = b"last_step";

/// One write of a step: the tree's position in the store's list, the key,
/// and the value (`None` removes the key).
type Write = (u8, IVec, Option<IVec>);

/// A step under way: the trees it may write and the writes so far.
pub struct Step<'a> {
    trees: &'a [sled::Tree],
    writes: RefCell<Vec<Write>>,
}

/// One tree as a step sees it.
pub struct StepTree<'s, 'a> {
    step: &'s Step<'a>,
    index: u8,
}

fn io(e: sled::Error) -> StoreError {
    StoreError::Io(Box::new(e))
}

impl<'a> Step<'a> {
    pub fn new(trees: &'a [sled::Tree]) -> Self {
        Self {
            trees,
            writes: RefCell::new(Vec::new()),
        }
    }

    /// The tree at `index` in the list the step was made with.
    pub fn tree(&self, index: usize) -> StepTree<'_, 'a> {
        assert!(index < self.trees.len(), "no such tree in this step");
        StepTree {
            step: self,
            index: index as u8,
        }
    }

    /// Records the writes as the last step in `log`, then applies them.
    /// A step that wrote nothing leaves the last step as it was.
    pub fn commit(self, log: &sled::Tree) -> Result<(), StoreError> {
        let writes = self.writes.into_inner();
        if writes.is_empty() {
            return Ok(());
        }
        log.insert(LAST_STEP, encode(&writes)).map_err(io)?;
        apply(self.trees, &writes)
    }
}

#[cfg(test)]
impl Step<'_> {
    /// Records the writes as the last step without applying them: what a
    /// crash right after the record leaves.
    pub fn record_only(self, log: &sled::Tree) -> Result<(), StoreError> {
        log.insert(LAST_STEP, encode(&self.writes.into_inner()))
            .map_err(io)?;
        Ok(())
    }
}

impl StepTree<'_, '_> {
    /// The value as of this step's writes so far.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, StoreError> {
        let key = key.as_ref();
        let writes = self.step.writes.borrow();
        if let Some((_, _, value)) = writes
            .iter()
            .rev()
            .find(|(tree, k, _)| *tree == self.index && k.as_ref() == key)
        {
            return Ok(value.clone());
        }
        self.step.trees[self.index as usize].get(key).map_err(io)
    }

    /// Sets `key`. (It does not read the value it replaces: no caller needs
    /// it, and a write should not cost a read.)
    pub fn insert(&self, key: impl AsRef<[u8]>, value: impl Into<IVec>) {
        self.write(key.as_ref(), Some(value.into()));
    }

    /// Removes `key`, returning the value it had.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, StoreError> {
        let old = self.get(key.as_ref())?;
        self.write(key.as_ref(), None);
        Ok(old)
    }

    fn write(&self, key: &[u8], value: Option<IVec>) {
        self.step
            .writes
            .borrow_mut()
            .push((self.index, IVec::from(key), value));
    }
}

/// Applies the last step recorded in `log` to `trees` again: after a crash
/// it may have been cut short. Returns whether there was one.
pub fn replay(log: &sled::Tree, trees: &[sled::Tree]) -> Result<bool, StoreError> {
    let Some(bytes) = log.get(LAST_STEP).map_err(io)? else {
        return Ok(false);
    };
    let writes = decode(&bytes).ok_or_else(|| StoreError::Corrupt {
        what: "the last step".into(),
        detail: "malformed record".into(),
    })?;
    if writes
        .iter()
        .any(|(tree, _, _)| *tree as usize >= trees.len())
    {
        return Err(StoreError::Corrupt {
            what: "the last step".into(),
            detail: "names a tree this build does not have".into(),
        });
    }
    apply(trees, &writes)?;
    Ok(true)
}

/// Forgets the last step, before writes that are not steps touch its trees
/// (an import), so that it is never applied over them.
pub fn forget(log: &sled::Tree) -> Result<(), StoreError> {
    log.remove(LAST_STEP).map_err(io)?;
    Ok(())
}

fn apply(trees: &[sled::Tree], writes: &[Write]) -> Result<(), StoreError> {
    for (tree, key, value) in writes {
        let tree = &trees[*tree as usize];
        match value {
            Some(value) => tree.insert(key, value.clone()).map_err(io)?,
            None => tree.remove(key).map_err(io)?,
        };
    }
    Ok(())
}

/// `[tree][0 = remove, 1 = insert][key length u32][key]([value length u32][value])`
/// for each write, lengths big-endian.
fn encode(writes: &[Write]) -> Vec<u8> {
    let size: usize = writes
        .iter()
        .map(|(_, k, v)| 10 + k.len() + v.as_ref().map_or(0, |v| v.len()))
        .sum();
    let mut out = Vec::with_capacity(size);
    for (tree, key, value) in writes {
        out.push(*tree);
        out.push(u8::from(value.is_some()));
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key);
        if let Some(value) = value {
            out.extend_from_slice(&(value.len() as u32).to_be_bytes());
            out.extend_from_slice(value);
        }
    }
    out
}

fn decode(mut bytes: &[u8]) -> Option<Vec<Write>> {
    fn take<'b>(bytes: &mut &'b [u8], n: usize) -> Option<&'b [u8]> {
        let (head, rest) = bytes.split_at_checked(n)?;
        *bytes = rest;
        Some(head)
    }
    fn sized<'b>(bytes: &mut &'b [u8]) -> Option<&'b [u8]> {
        let len = u32::from_be_bytes(take(bytes, 4)?.try_into().ok()?) as usize;
        take(bytes, len)
    }
    let mut writes = Vec::new();
    while !bytes.is_empty() {
        let head = take(&mut bytes, 2)?;
        let key = IVec::from(sized(&mut bytes)?);
        let value = match head[1] {
            0 => None,
            1 => Some(IVec::from(sized(&mut bytes)?)),
            _ => return None,
        };
        writes.push((head[0], key, value));
    }
    Some(writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trees(db: &sled::Db) -> (sled::Tree, Vec<sled::Tree>) {
        let log = db.open_tree("log").expect("log");
        let trees = ["a", "b"]
            .iter()
            .map(|n| db.open_tree(n).expect("tree"))
            .collect();
        (log, trees)
    }

    #[test]
    fn a_step_reads_its_own_writes_and_applies_them_in_order() {
        let db = sled::Config::new().temporary(true).open().expect("db");
        let (log, trees) = trees(&db);
        trees[0].insert("k", "old").expect("insert");
        let step = Step::new(&trees);
        let a = step.tree(0);
        assert_eq!(a.get("k").expect("get").as_deref(), Some(&b"old"[..]));
        a.insert("k", "new");
        assert_eq!(a.get("k").expect("get").as_deref(), Some(&b"new"[..]));
        // Nothing is written before the commit.
        assert_eq!(
            trees[0].get("k").expect("get").as_deref(),
            Some(&b"old"[..])
        );
        step.tree(1).insert("x", "1");
        assert_eq!(
            step.tree(1).remove("x").expect("remove").as_deref(),
            Some(&b"1"[..]),
            "a remove returns the value the step wrote"
        );
        assert_eq!(step.tree(1).remove("x").expect("remove"), None);
        step.commit(&log).expect("commit");
        assert_eq!(
            trees[0].get("k").expect("get").as_deref(),
            Some(&b"new"[..])
        );
        assert_eq!(trees[1].get("x").expect("get"), None);
    }

    #[test]
    fn a_step_cut_short_is_completed_by_replay() {
        let db = sled::Config::new().temporary(true).open().expect("db");
        let (log, trees) = trees(&db);
        trees[1].insert("gone", "x").expect("insert");
        let writes: Vec<Write> = vec![
            (0, IVec::from("m"), Some(IVec::from("message"))),
            (1, IVec::from("gone"), None),
            (0, IVec::from("c"), Some(IVec::from(vec![0u8; 300]))),
        ];
        // The record and the first write made it; a crash took the rest.
        log.insert(LAST_STEP, encode(&writes)).expect("record");
        apply(&trees, &writes[..1]).expect("first write");
        assert!(replay(&log, &trees).expect("replay"));
        assert_eq!(
            trees[0].get("m").expect("get").as_deref(),
            Some(&b"message"[..])
        );
        assert_eq!(trees[1].get("gone").expect("get"), None);
        assert_eq!(trees[0].get("c").expect("get").map(|v| v.len()), Some(300));
        // Applying it again changes nothing.
        assert!(replay(&log, &trees).expect("replay"));
        assert_eq!(trees[0].len(), 2);
        forget(&log).expect("forget");
        assert!(!replay(&log, &trees).expect("replay"));
    }

    #[test]
    fn a_damaged_record_is_reported_not_applied() {
        let db = sled::Config::new().temporary(true).open().expect("db");
        let (log, trees) = trees(&db);
        let mut bytes = encode(&[(0, IVec::from("k"), Some(IVec::from("v")))]);
        bytes.truncate(bytes.len() - 1);
        log.insert(LAST_STEP, bytes).expect("record");
        assert!(matches!(
            replay(&log, &trees),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(trees[0].is_empty());
        log.insert(LAST_STEP, encode(&[(9, IVec::from("k"), None)]))
            .expect("record");
        assert!(matches!(
            replay(&log, &trees),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
