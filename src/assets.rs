//! Files built into the binary: the default intents, reply templates and the
//! web assets (widget, demo page). Intents and templates can instead come
//! from a folder on disk when the config names one.
//!
//! In debug builds rust-embed reads these folders from the source tree at
//! run time; release builds carry them inside the binary.

use rust_embed::RustEmbed;
use std::path::Path;

#[derive(RustEmbed)]
#[folder = "intents/"]
struct EmbeddedIntents;

#[derive(RustEmbed)]
#[folder = "templates/"]
struct EmbeddedTemplates;

#[derive(RustEmbed)]
#[folder = "web/"]
struct WebAssets;

/// A web asset's bytes, by path under `web/`.
pub fn web_asset(path: &str) -> Option<std::borrow::Cow<'static, [u8]>> {
    WebAssets::get(path).map(|f| f.data)
}

/// `(file name, contents)` of every `*.toml` intent file, sorted by name.
pub fn intent_files(dir: Option<&Path>) -> std::io::Result<Vec<(String, String)>> {
    match dir {
        Some(dir) => files_on_disk(dir, "toml"),
        None => Ok(embedded::<EmbeddedIntents>("toml")),
    }
}

/// `(path relative to the templates folder, contents)` of every template.
pub fn template_files(dir: Option<&Path>) -> std::io::Result<Vec<(String, String)>> {
    match dir {
        Some(dir) => files_on_disk(dir, "txt"),
        None => Ok(embedded::<EmbeddedTemplates>("txt")),
    }
}

fn embedded<E: RustEmbed>(extension: &str) -> Vec<(String, String)> {
    let suffix = format!(".{extension}");
    let mut files: Vec<(String, String)> = E::iter()
        .filter(|name| name.ends_with(&suffix))
        .filter_map(|name| {
            let file = E::get(&name)?;
            Some((
                name.to_string(),
                String::from_utf8_lossy(&file.data).into_owned(),
            ))
        })
        .collect();
    files.sort();
    files
}

/// Reads every file with `extension` below `dir` (one level of subfolders,
/// as templates use `<locale>/<name>.txt`), with `/`-separated names.
fn files_on_disk(dir: &Path, extension: &str) -> std::io::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    let mut folders = vec![(dir.to_path_buf(), String::new(), 0)];
    while let Some((folder, prefix, depth)) = folders.pop() {
        let entries = std::fs::read_dir(&folder)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", folder.display())))?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if path.is_dir() && depth == 0 {
                folders.push((path, format!("{name}/"), depth + 1));
            } else if path.extension().is_some_and(|e| e == extension) {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                })?;
                files.push((name, text));
            }
        }
    }
    files.sort();
    Ok(files)
}
