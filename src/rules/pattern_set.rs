//! Many regexes matched against one text at the cost of a few: a literal
//! prefilter picks the patterns that can match, and only those run.
//!
//! One `RegexSet` over hundreds of patterns is fast on text it has seen
//! (its lazy DFA is built) but slow on new text: every new combination of
//! half-matched patterns is a new DFA state, and customers rarely write the
//! same sentence twice. So instead each pattern keeps its own `Regex`
//! (whose few states are soon all built), and from each pattern's syntax
//! tree we take groups of literals such that every match contains one
//! literal of each group (`\bcancel\b.*\b(order|purchase)` needs
//! `cancel` and one of `order`, `purchase`). One Aho-Corasick pass over the
//! text finds which literals occur; a pattern missing a group cannot match
//! and is skipped. A pattern with no such groups (`^\d+$`) is always
//! tried. The result is exactly what a `RegexSet` would report.
//!
//! A candidate runs on its own lazy DFA (`regex-automata`'s hybrid engine)
//! with caches kept per set, not per pattern, so trying one costs a few
//! nanoseconds per byte; a pattern that engine cannot take (a Unicode
//! `\b`), or a search it gives up on, uses the pattern's `Regex`.

use aho_corasick::AhoCorasick;
use regex::Regex;
use regex_automata::Input;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_syntax::hir::{Class, Hir, HirKind};
use std::collections::HashMap;
use std::sync::Mutex;

/// At most this many literals come of joining known neighbours.
const MAX_LITERALS: usize = 64;
/// At most this many literals stand for one group (more says little).
const MAX_UNION: usize = 256;
/// A class of at most this many characters becomes one literal each.
const MAX_CLASS: usize = 8;
/// At most this many groups are checked for one pattern: the most selective.
const MAX_GROUPS: usize = 4;

/// Literals one of which occurs in every match.
type Group = Vec<Vec<u8>>;

/// Compiled patterns with their prefilter.
#[derive(Debug)]
pub struct PatternSet {
    regexes: Vec<Regex>,
    /// Each pattern's lazy DFA, where it could be built.
    lazy: Vec<Option<DFA>>,
    /// One scratch space per concurrent search.
    scratch: Mutex<Vec<Scratch>>,
    /// Every literal of every group, for one scan of the text.
    literals: AhoCorasick,
    /// For each pattern, its groups as indexes into `literals`; a pattern
    /// without groups is always tried.
    groups: Vec<Vec<Vec<usize>>>,
    /// For each literal, the patterns with it in a group.
    used_by: Vec<Vec<usize>>,
    /// Patterns without groups.
    always: Vec<usize>,
}

impl Clone for PatternSet {
    /// A copy with scratch space of its own.
    fn clone(&self) -> Self {
        Self {
            regexes: self.regexes.clone(),
            lazy: self.lazy.clone(),
            scratch: Mutex::new(Vec::new()),
            literals: self.literals.clone(),
            groups: self.groups.clone(),
            used_by: self.used_by.clone(),
            always: self.always.clone(),
        }
    }
}

impl PatternSet {
    /// Compiles `patterns`.
    pub fn new(patterns: &[String]) -> Result<Self, regex::Error> {
        let regexes = patterns
            .iter()
            .map(|p| Regex::new(p))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_regexes(regexes)
    }

    /// Builds the set around patterns already compiled (and so checked).
    pub fn from_regexes(regexes: Vec<Regex>) -> Result<Self, regex::Error> {
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut ids: HashMap<Vec<u8>, usize> = HashMap::new();
        let groups: Vec<Vec<Vec<usize>>> = regexes
            .iter()
            .map(|regex| {
                needed_groups(regex.as_str())
                    .into_iter()
                    .map(|group| {
                        group
                            .into_iter()
                            .map(|literal| {
                                *ids.entry(literal.clone()).or_insert_with(|| {
                                    literals.push(literal);
                                    literals.len() - 1
                                })
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut used_by = vec![Vec::new(); literals.len()];
        for (pattern, own) in groups.iter().enumerate() {
            for &id in own.iter().flatten() {
                if used_by[id].last() != Some(&pattern) {
                    used_by[id].push(pattern);
                }
            }
        }
        let always = (0..groups.len())
            .filter(|&i| groups[i].is_empty())
            .collect();
        let literals = AhoCorasick::new(&literals)
            .map_err(|e| regex::Error::Syntax(format!("the literal prefilter: {e}")))?;
        let lazy = regexes.iter().map(|r| DFA::new(r.as_str()).ok()).collect();
        Ok(Self {
            regexes,
            lazy,
            scratch: Mutex::new(Vec::new()),
            literals,
            groups,
            used_by,
            always,
        })
    }

    pub fn len(&self) -> usize {
        self.regexes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regexes.is_empty()
    }

    /// The patterns as given, in order.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.regexes.iter().map(Regex::as_str)
    }

    /// Indexes of the patterns matching `text`, ascending.
    pub fn matches(&self, text: &str) -> Vec<usize> {
        let mut scan = self.scan(text);
        let candidates = scan.candidates().to_vec();
        candidates
            .into_iter()
            .filter(|&i| scan.is_match(i))
            .collect()
    }

    /// Finds the literals in `text` and so the patterns that may match
    /// ([`Scan::candidates`]); a caller then tries those it needs.
    pub fn scan<'s, 't>(&'s self, text: &'t str) -> Scan<'s, 't> {
        let spare = self.scratch.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut scratch = spare.unwrap_or_else(|| Scratch {
            caches: self
                .lazy
                .iter()
                .map(|dfa| dfa.as_ref().map(DFA::create_cache))
                .collect(),
            found: vec![false; self.literals.patterns_len()],
            found_ids: Vec::new(),
            possible: vec![false; self.regexes.len()],
            candidates: Vec::new(),
        });
        // A pattern may match when each of its groups has a literal in the
        // text: only patterns using a found literal need checking.
        for hit in self.literals.find_overlapping_iter(text) {
            let id = hit.pattern().as_usize();
            if !std::mem::replace(&mut scratch.found[id], true) {
                scratch.found_ids.push(id);
            }
        }
        scratch.candidates.extend_from_slice(&self.always);
        for &id in &scratch.found_ids {
            for &pattern in &self.used_by[id] {
                if !scratch.possible[pattern]
                    && self.groups[pattern]
                        .iter()
                        .all(|group| group.iter().any(|&id| scratch.found[id]))
                {
                    scratch.possible[pattern] = true;
                    scratch.candidates.push(pattern);
                }
            }
        }
        for &pattern in &self.always {
            scratch.possible[pattern] = true;
        }
        scratch.candidates.sort_unstable();
        Scan {
            set: self,
            text,
            scratch,
        }
    }
}

/// What one search needs besides the text, kept between searches so a
/// search allocates nothing: every lazy DFA's cache, and marks that are
/// cleared entry by entry after use.
#[derive(Debug, Default)]
struct Scratch {
    caches: Vec<Option<Cache>>,
    /// Per literal: found in the text.
    found: Vec<bool>,
    found_ids: Vec<usize>,
    /// Per pattern: among the candidates.
    possible: Vec<bool>,
    candidates: Vec<usize>,
}

/// One text's literals, found; patterns are then tried one by one.
pub struct Scan<'s, 't> {
    set: &'s PatternSet,
    text: &'t str,
    scratch: Scratch,
}

impl Scan<'_, '_> {
    /// The patterns not ruled out by the literals, ascending: no other
    /// pattern matches.
    pub fn candidates(&self) -> &[usize] {
        &self.scratch.candidates
    }

    /// Whether pattern `i` matches the text.
    pub fn is_match(&mut self, i: usize) -> bool {
        let set = self.set;
        if !self.scratch.possible[i] {
            return false;
        }
        if let (Some(dfa), Some(cache)) = (&set.lazy[i], &mut self.scratch.caches[i]) {
            let input = Input::new(self.text).earliest(true);
            if let Ok(found) = dfa.try_search_fwd(cache, &input) {
                return found.is_some();
            }
        }
        set.regexes[i].is_match(self.text)
    }
}

impl Drop for Scan<'_, '_> {
    fn drop(&mut self) {
        let mut scratch = std::mem::take(&mut self.scratch);
        for id in scratch.found_ids.drain(..) {
            scratch.found[id] = false;
        }
        for pattern in scratch.candidates.drain(..) {
            scratch.possible[pattern] = false;
        }
        self.set
            .scratch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(scratch);
    }
}

/// The groups of `pattern` (none when nothing useful is known, or the
/// pattern does not parse here: it is then always tried).
fn needed_groups(pattern: &str) -> Vec<Group> {
    let Ok(hir) = regex_syntax::Parser::new().parse(pattern) else {
        return Vec::new();
    };
    let mut groups = needed(&hir);
    groups.sort_by_key(|g| std::cmp::Reverse(selectivity(g)));
    groups.truncate(MAX_GROUPS);
    groups
}

/// Every string `hir` can match, when that is a small finite set.
fn exact(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(vec![Vec::new()]),
        HirKind::Literal(literal) => Some(vec![literal.0.to_vec()]),
        HirKind::Class(class) => class_members(class),
        HirKind::Capture(capture) => exact(&capture.sub),
        HirKind::Repetition(r) if r.max.is_some_and(|max| max <= 2) => {
            let one = exact(&r.sub)?;
            let mut all = Vec::new();
            let mut power = vec![Vec::new()];
            let max = r.max.unwrap_or(0);
            for count in 0..=max {
                if count >= r.min {
                    all.extend(power.iter().cloned());
                }
                if count < max {
                    power = product(&power, &one)?;
                }
            }
            bounded(all)
        }
        HirKind::Repetition(_) => None,
        HirKind::Concat(subs) => subs
            .iter()
            .try_fold(vec![Vec::new()], |run, sub| product(&run, &exact(sub)?)),
        HirKind::Alternation(subs) => {
            let mut all = Vec::new();
            for sub in subs {
                all.extend(exact(sub)?);
            }
            bounded(all)
        }
    }
}

/// Groups such that every match of `hir` contains a literal of each.
fn needed(hir: &Hir) -> Vec<Group> {
    if let Some(all) = exact(hir) {
        return useful(all).into_iter().collect();
    }
    match hir.kind() {
        HirKind::Capture(capture) => needed(&capture.sub),
        HirKind::Repetition(r) if r.min >= 1 => needed(&r.sub),
        HirKind::Concat(subs) => {
            // Every part is in the match: runs of exactly known neighbours
            // joined into longer literals, and each other part's groups.
            let mut groups = Vec::new();
            let mut run: Group = vec![Vec::new()];
            for sub in subs {
                match exact(sub) {
                    Some(strings) => match product(&run, &strings) {
                        Some(joined) => run = joined,
                        None => groups.extend(useful(std::mem::replace(&mut run, strings))),
                    },
                    None => {
                        groups.extend(useful(std::mem::replace(&mut run, vec![Vec::new()])));
                        groups.extend(needed(sub));
                    }
                }
            }
            groups.extend(useful(run));
            groups.sort();
            groups.dedup();
            groups
        }
        HirKind::Alternation(subs) => {
            // One branch is in the match: one group of each branch's best.
            let mut union = Vec::new();
            for sub in subs {
                let best = needed(sub).into_iter().max_by_key(selectivity);
                match best {
                    Some(group) => union.extend(group),
                    None => return Vec::new(),
                }
            }
            union.sort();
            union.dedup();
            if union.len() > MAX_UNION {
                return Vec::new();
            }
            vec![union]
        }
        _ => Vec::new(),
    }
}

/// A group narrows something only without the empty string in it.
fn useful(group: Group) -> Option<Group> {
    (!group.is_empty() && group.iter().all(|l| !l.is_empty())).then_some(group)
}

/// How well a literal set narrows the patterns: longer shortest literal
/// first, then fewer literals. A set holding "" narrows nothing.
fn selectivity(set: &Group) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
    (shortest.min(6), std::cmp::Reverse(set.len()))
}

fn product(left: &[Vec<u8>], right: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if left.len() * right.len() > MAX_LITERALS {
        return None;
    }
    let mut out = Vec::with_capacity(left.len() * right.len());
    for l in left {
        for r in right {
            let mut joined = l.clone();
            joined.extend_from_slice(r);
            out.push(joined);
        }
    }
    bounded(out)
}

fn bounded(mut set: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    set.sort();
    set.dedup();
    (set.len() <= MAX_LITERALS).then_some(set)
}

fn class_members(class: &Class) -> Option<Vec<Vec<u8>>> {
    let mut members = Vec::new();
    match class {
        Class::Unicode(unicode) => {
            for range in unicode.ranges() {
                for c in range.start()..=range.end() {
                    if members.len() == MAX_CLASS {
                        return None;
                    }
                    members.push(c.to_string().into_bytes());
                }
            }
        }
        Class::Bytes(bytes) => {
            for range in bytes.ranges() {
                for b in range.start()..=range.end() {
                    if members.len() == MAX_CLASS {
                        return None;
                    }
                    members.push(vec![b]);
                }
            }
        }
    }
    Some(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(pattern: &str) -> Vec<Vec<String>> {
        needed_groups(pattern)
            .into_iter()
            .map(|g| {
                g.into_iter()
                    .map(|l| String::from_utf8(l).expect("utf-8"))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_needed_part_is_a_group_most_selective_first() {
        assert_eq!(
            groups(r"(?-u:\b)cancel(?-u:\b).*(?-u:\b)(order|purchase)"),
            vec![
                vec!["cancel".to_string()],
                vec!["order".into(), "purchase".into()]
            ]
        );
        assert_eq!(
            groups("(取消|撤销)|cancel"),
            vec![vec!["cancel".to_string(), "取消".into(), "撤销".into()]]
        );
        assert_eq!(
            groups(r"cancell?ing"),
            vec![vec!["canceling".to_string(), "cancelling".into()]]
        );
        assert!(groups(r"^\d+$").is_empty());
        assert!(
            groups(r"a?").is_empty(),
            "a pattern matching \"\" needs nothing"
        );
        assert!(groups(r"(order|x*)").is_empty());
    }

    #[test]
    fn matches_equal_a_regex_set_on_tricky_text() {
        let patterns: Vec<String> = [
            r"(?-u:\b)(cancel|cancell?ing)(?-u:\b).*(?-u:\b)(order|purchase)(?-u:\b|\d)",
            r"(取消|撤销|撤单)|(?-u:\b)cancel(?-u:\b)",
            r"^\[(photo|document)( [^\]\n]*)?\]$",
            r"(?i)refund",
            r"[0-9]{6,}",
            r"^$",
            r"where.*(parcel|package)s?",
        ]
        .iter()
        .map(|p| p.to_string())
        .collect();
        let ours = PatternSet::new(&patterns).expect("compiles");
        let theirs = regex::RegexSet::new(&patterns).expect("compiles");
        for text in [
            "",
            "cancel my order",
            "cancelling purchase123",
            "我要取消订单",
            "[photo AgAC]",
            "REFUND please",
            "order 1234567",
            "where are my packages",
            "nothing here",
            "cancelorder",
        ] {
            let want: Vec<usize> = theirs.matches(text).into_iter().collect();
            assert_eq!(ours.matches(text), want, "{text:?}");
        }
    }
}
