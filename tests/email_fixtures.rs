//! Golden fixtures for reading mail: every `tests/fixtures/email/NNN-*.eml`
//! runs through `inspect` (what `frontdesk email inspect --json` prints) and
//! must equal the `.json` beside it. On a mismatch the actual output is
//! written next to it as `.actual.json` and the test names both files;
//! `FRONTDESK_BLESS=1` writes missing expectations (then review them by hand
//! against the `.expect.md` notes).

use frontdesk::channels::email::inspect::inspect;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[test]
fn every_fixture_reads_as_its_golden_json() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email");
    let own = vec!["support@example.test".to_string()];
    let locales: BTreeSet<String> = ["en", "zh"].iter().map(|s| s.to_string()).collect();
    let bless = std::env::var_os("FRONTDESK_BLESS").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "found only {} fixtures in {}",
        files.len(),
        dir.display()
    );
    let mut failures = Vec::new();
    for eml in &files {
        let raw = std::fs::read(eml).expect("read fixture");
        let report = inspect(&raw, &own, "example.test", &locales, "en");
        let actual = serde_json::to_string_pretty(&report).expect("json") + "\n";
        let expected_path = eml.with_extension("json");
        let actual_path = eml.with_extension("actual.json");
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {
                let _ = std::fs::remove_file(&actual_path);
            }
            Err(_) if bless => std::fs::write(&expected_path, &actual).expect("bless"),
            _ => {
                std::fs::write(&actual_path, &actual).expect("write actual");
                failures.push(format!(
                    "{} differs from {}",
                    actual_path.display(),
                    expected_path.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
