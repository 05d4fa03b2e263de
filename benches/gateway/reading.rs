//! Reading mail: every fixture of `tests/fixtures/email-reading/` and
//! `tests/fixtures/email/` parsed as intake parses it (MIME, charsets,
//! HTML, quotes and signatures), round after round: mails per second.

use frontdesk::channels::email::parse;
use std::path::Path;
use std::time::Instant;

use super::Scale;

fn mails_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

pub(crate) fn bench_reading(scale: &Scale) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut mails = mails_in(&root.join("email-reading"));
    mails.extend(mails_in(&root.join("email")));
    let own = vec!["support@example.test".to_string()];
    let rounds = scale.rounds.max(2);
    let started = Instant::now();
    let mut visible = 0usize;
    for _ in 0..rounds {
        for raw in &mails {
            if let Ok(mail) = parse::parse(raw, &own, "example.test") {
                visible += mail.text.len();
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = (rounds * mails.len()) as f64 / elapsed;
    format!(
        "| reading mail: {} fixtures (replies from 12 clients in 18 languages, HTML and plain, and the charset fixtures), {rounds} rounds | {rate:.0} mails/s ({:.1} µs a mail; {visible} characters shown) | | |\n",
        mails.len(),
        1e6 / rate,
    )
}
