//! `${VAR}` in config files: secrets come from the environment, never from
//! the file, and a value that could smuggle in TOML keys is refused.

use super::ConfigError;

/// Replaces `${VAR}` with the variable's value (`$$` is a literal `$`).
/// Values with newlines are refused: they could smuggle in TOML keys.
/// Comments are copied as they are, so a commented-out `${VAR}` line needs
/// no variable. (A `#` inside a multi-line string counts as a comment.)
pub fn interpolate_env(
    text: &str,
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let (code, comment) = line.split_at(comment_start(line));
        interpolate_line(code, name, index + 1, lookup, &mut out)?;
        out.push_str(comment);
    }
    Ok(out)
}

/// Byte offset of the `#` starting a TOML comment on this line, or its length.
fn comment_start(line: &str) -> usize {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return i,
            None => {}
        }
    }
    line.len()
}

fn interpolate_line(
    code: &str,
    name: &str,
    line: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut String,
) -> Result<(), ConfigError> {
    let mut rest = code;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let end = tail.find('}').ok_or(ConfigError::Unterminated {
                path: name.to_string(),
                line,
            })?;
            let var = &tail[..end];
            let value = lookup(var).ok_or_else(|| ConfigError::MissingVar {
                path: name.to_string(),
                line,
                var: var.to_string(),
            })?;
            if value.contains('\n') || value.contains('\r') {
                return Err(ConfigError::MultilineVar {
                    path: name.to_string(),
                    line,
                    var: var.to_string(),
                });
            }
            out.push_str(&value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(())
}
