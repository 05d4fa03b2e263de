//! The layout keeps its promise: dependencies between the parts of `src/`
//! run one way. Every `crate::…` path in non-test code is an edge from the
//! file's part to the part it names; the parts must form no cycle, and only
//! `main.rs` (and tests) may use the start-up module `app`.
//!
//! A part is a top-level module (`core`, `store`, `http`, …); inside each
//! folder, its files must not form a cycle among themselves either.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("read src");
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The module path of a file: `src/core/inbox.rs` → `["core", "inbox"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its test module (by
/// convention the last item, after `#[cfg(test)]`).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a piece of code names with `crate::`, including the
/// members of grouped imports (`use crate::{a, b::c}`).
fn named_modules(code: &str) -> Vec<Vec<String>> {
    let mut named = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if rest.starts_with('{') {
            let end = rest.find('}').unwrap_or(rest.len());
            for item in rest[1..end].split(',') {
                named.push(path_words(item.trim()));
            }
        } else {
            named.push(path_words(rest));
        }
    }
    named
}

fn path_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        words.push(rest[..end].to_string());
        match rest[end..].strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    words
}

/// A cycle in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

struct Edges {
    /// Between top-level parts.
    parts: BTreeMap<String, BTreeSet<String>>,
    /// Between the files of one folder, per folder.
    within: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Which parts use `app`.
    app_users: BTreeSet<String>,
    /// Why each edge between parts exists: one file that makes it.
    why: BTreeMap<(String, String), String>,
}

fn edges() -> Edges {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "found only {} source files", files.len());
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut edges = Edges {
        parts: BTreeMap::new(),
        within: BTreeMap::new(),
        app_users: BTreeSet::new(),
        why: BTreeMap::new(),
    };
    for file in &files {
        let from = module_of(&src, file);
        if from == ["main"] || from == ["lib"] {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read source");
        for mut named in named_modules(&code_of(&text)) {
            // The longest prefix that is a module.
            while !named.is_empty() && !modules.contains(&named) {
                named.pop();
            }
            let Some(part) = named.first() else { continue };
            if part == "app" {
                edges.app_users.insert(from.join("::"));
            }
            if *part != from[0] {
                edges
                    .parts
                    .entry(from[0].clone())
                    .or_default()
                    .insert(part.clone());
                edges
                    .why
                    .entry((from[0].clone(), part.clone()))
                    .or_insert_with(|| file.display().to_string());
            } else if from.len() > 1 && named.len() > 1 && named[1] != from[1] {
                edges
                    .within
                    .entry(from[0].clone())
                    .or_default()
                    .entry(from[1].clone())
                    .or_default()
                    .insert(named[1].clone());
            }
        }
    }
    edges
}

#[test]
fn the_parts_of_src_depend_on_each_other_one_way() {
    let edges = edges();
    if let Some(cycle) = find_cycle(&edges.parts) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let why = &edges.why[&(pair[0].clone(), pair[1].clone())];
                format!("{} -> {} ({why})", pair[0], pair[1])
            })
            .collect();
        panic!(
            "import cycle between parts of src/:\n  {}",
            steps.join("\n  ")
        );
    }
}

#[test]
fn the_files_of_each_folder_depend_on_each_other_one_way() {
    let edges = edges();
    for (folder, graph) in &edges.within {
        if let Some(cycle) = find_cycle(graph) {
            panic!("import cycle inside src/{folder}/: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn only_main_uses_the_start_up_module() {
    let edges = edges();
    assert!(
        edges.app_users.is_empty(),
        "these modules use crate::app, which only main.rs may: {:?}",
        edges.app_users
    );
}

#[test]
fn the_checker_sees_grouped_and_nested_paths() {
    let code = code_of(
        "use crate::{core::inbox, store};\n// crate::app in a comment\nlet x = crate::model::Message::new();\n#[cfg(test)]\nuse crate::app;",
    );
    let named = named_modules(&code);
    assert_eq!(
        named,
        vec![
            vec!["core".to_string(), "inbox".to_string()],
            vec!["store".to_string()],
            vec![
                "model".to_string(),
                "Message".to_string(),
                "new".to_string()
            ],
        ]
    );
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".to_string(), "b".to_string(), "a".to_string()])
    );
}
