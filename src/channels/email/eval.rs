//! `frontdesk email eval DIR`: how well the gateway reads the customer's
//! words out of a folder of mails. Each `NAME.eml` has `NAME.expected.txt`
//! beside it, the visible text a person would want to read. A mail reads
//! **exactly** when the visible text equals it (line ends and surrounding
//! blank lines aside), and it **loses text** when a line of the expected
//! text is missing from what the gateway shows: the failure that matters
//! most, an agent who never sees the customer's question.

use super::parse;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How one mail read.
#[derive(Debug, Clone, Serialize)]
pub struct MailResult {
    pub file: PathBuf,
    pub exact: bool,
    /// Expected lines missing from the visible text.
    pub lost: Vec<String>,
    pub visible: String,
}

/// How a folder read.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mails: usize,
    pub exact: usize,
    /// Mails that lost at least one expected line.
    pub lost_text: usize,
    pub results: Vec<MailResult>,
    /// Mails read per second (parsing and quote reading).
    pub mails_per_second: f64,
}

impl Report {
    pub fn exact_percent(&self) -> f64 {
        match self.mails {
            0 => 0.0,
            n => 100.0 * self.exact as f64 / n as f64,
        }
    }
}

/// Why a folder could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} has no NAME.eml with a NAME.expected.txt beside it")]
    Empty(PathBuf),
}

fn normalized(text: &str) -> String {
    text.replace("\r\n", "\n")
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// One line, white space collapsed, for comparing lines.
fn words(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Compares what the gateway shows with what a person expects.
pub fn judge(file: PathBuf, visible: String, expected: &str) -> MailResult {
    let (visible_n, expected_n) = (normalized(&visible), normalized(expected));
    let shown = words(&visible_n.replace('\n', " "));
    let lost = expected_n
        .lines()
        .map(words)
        .filter(|l| !l.is_empty() && !shown.contains(l.as_str()))
        .collect();
    MailResult {
        file,
        exact: visible_n == expected_n,
        lost,
        visible,
    }
}

/// Reads every `NAME.eml` in `dir` that has an expectation, as intake
/// would (`own` our addresses, `domain` our Message-ID domain).
pub fn eval(dir: &Path, own: &[String], domain: &str) -> Result<Report, EvalError> {
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EvalError::Read { path, source }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_error(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .filter(|p| p.with_extension("expected.txt").exists())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(EvalError::Empty(dir.to_path_buf()));
    }
    let mut mails = Vec::new();
    for file in files {
        let raw = std::fs::read(&file).map_err(read_error(&file))?;
        let expected_path = file.with_extension("expected.txt");
        let expected =
            std::fs::read_to_string(&expected_path).map_err(read_error(&expected_path))?;
        mails.push((file, raw, expected));
    }
    let started = std::time::Instant::now();
    let visible: Vec<String> = mails
        .iter()
        .map(|(_, raw, _)| match parse::parse(raw, own, domain) {
            Ok(mail) => mail.text,
            Err(_) => String::new(),
        })
        .collect();
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    let results: Vec<MailResult> = mails
        .into_iter()
        .zip(visible)
        .map(|((file, _, expected), visible)| judge(file, visible, &expected))
        .collect();
    Ok(Report {
        mails: results.len(),
        exact: results.iter().filter(|r| r.exact).count(),
        lost_text: results.iter().filter(|r| !r.lost.is_empty()).count(),
        mails_per_second: results.len() as f64 / elapsed,
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_expectations_is_refused_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.eml"), "From: a@b\r\n\r\nhi").expect("write");
        let error = eval(dir.path(), &[], "example.test").expect_err("nothing to judge");
        assert!(error.to_string().contains("NAME.expected.txt"), "{error}");
        assert!(matches!(
            eval(&dir.path().join("missing"), &[], "example.test"),
            Err(EvalError::Read { .. })
        ));
    }

    #[test]
    fn exact_and_lost_are_told_apart() {
        let same = judge("a".into(), "Hello\n\nthere  \n".into(), "Hello\n\nthere");
        assert!(same.exact && same.lost.is_empty());
        let extra = judge("b".into(), "Hello\n> old".into(), "Hello");
        assert!(
            !extra.exact && extra.lost.is_empty(),
            "a kept quote loses nothing"
        );
        let cut = judge("c".into(), "Hello".into(), "Hello\nWhere is it?");
        assert_eq!(cut.lost, vec!["Where is it?".to_string()]);
    }
}
