//! An HTML mail body as text, with its quoted history marked by structure
//! before the markup is gone: the text inside a quote container comes out
//! as `>` lines, which [`super::quotes`] then reads like any plain reply.
//!
//! Quote containers are those the common clients write: `blockquote`
//! (Apple Mail, Thunderbird, Gmail, NetEase, Foxmail, Yandex), Gmail's
//! `div.gmail_quote` and its attribution `div.gmail_attr`, Thunderbird's
//! `.moz-cite-prefix`, Yahoo's `.yahoo_quoted`, Outlook for Mac's
//! `#OLK_SRC_BODY_SECTION`, NetEase's `#isReplyContent`; and in Outlook on
//! the web everything from `#divRplyFwdMsg` on (unless the subject marks
//! a forward: the same markup carries both). A container that opens with,
//! or follows, a "forwarded message" line is the forwarded mail and stays
//! unquoted. The HTML is parsed by
//! html5ever (through `scraper`), as a browser would.
//!
//! Text comes out as a reader sees it: blocks and `<br>` break lines,
//! table cells are separated by ` | `, white space collapses, images
//! (inline `cid:` pictures) leave nothing behind, scripts and styles are
//! skipped.

use super::markers::MARKERS;
use scraper::{ElementRef, Html, Node};

/// Elements whose text is not shown.
const HIDDEN: &[&str] = &[
    "head", "script", "style", "title", "template", "noscript", "img", "meta", "link", "object",
    "iframe", "svg",
];
/// Elements that start and end a line.
const BLOCKS: &[&str] = &[
    "div",
    "li",
    "tr",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "center",
    "hr",
    "form",
    "fieldset",
    "caption",
];
/// Elements nested deeper than this are read as plain text: hostile
/// markup nests without end, and the reading recurses.
const MAX_NESTING: usize = 100;
/// Elements set off by a blank line, as a browser sets them off by margins.
const PARAGRAPHS: &[&str] = &[
    "p", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
];

/// Markup nested deeper than this (by a count of tags) is not parsed
/// here: html5ever's tree building slows down with the square of the
/// depth, so a hostile mail could hold a worker for minutes.
const MAX_DEPTH: usize = 1000;
/// Elements that never have an end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// The text of `html`, quotes as `>` lines. `forward`: the subject marks
/// a forward, so Outlook's `#divRplyFwdMsg` opens the forwarded mail.
/// `None` for markup nested too deep to parse safely (read it as plain
/// text instead).
pub fn to_text(html: &str, forward: bool) -> Option<String> {
    if nesting_of(html) > MAX_DEPTH {
        return None;
    }
    let document = Html::parse_document(html);
    let mut writer = Writer {
        lines: Vec::new(),
        line: String::new(),
        depth: 0,
        forwarding: false,
        outlook_forward: forward,
        rest_quoted: false,
    };
    writer.element(document.root_element(), false, 0);
    writer.flush();
    let mut out: Vec<String> = Vec::new();
    for (depth, text) in writer.lines {
        let line = match depth {
            0 => text,
            d => format!("{} {text}", ">".repeat(d)),
        };
        let line = line.trim_end().to_string();
        // One blank line at most between paragraphs.
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    Some(out.join("\n"))
}

/// How deep `html`'s tags nest, counted from start and end tags alone in
/// one pass (a guard, not a reading: unclosed paragraphs count as open).
fn nesting_of(html: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|b| *b == b'<') {
        let start = i + offset + 1;
        let end = bytes[start..]
            .iter()
            .position(|b| *b == b'>')
            .map_or(bytes.len(), |e| start + e);
        let tag = &html[start..end];
        if let Some(closing) = tag.strip_prefix('/') {
            if closing.starts_with(|c: char| c.is_ascii_alphabetic()) {
                depth = depth.saturating_sub(1);
            }
        } else if tag.starts_with(|c: char| c.is_ascii_alphabetic()) && !tag.ends_with('/') {
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            if !VOID.contains(&name.as_str()) {
                depth += 1;
                deepest = deepest.max(depth);
            }
        }
        i = end.min(bytes.len());
        if i >= bytes.len() {
            break;
        }
    }
    deepest
}

struct Writer {
    /// Finished lines with their quote depth.
    lines: Vec<(usize, String)>,
    line: String,
    depth: usize,
    /// Inside a forwarded mail: nothing is quoted.
    forwarding: bool,
    /// The subject marks a forward.
    outlook_forward: bool,
    /// Past Outlook's `#divRplyFwdMsg`: the rest is history.
    rest_quoted: bool,
}

impl Writer {
    fn current_depth(&self) -> usize {
        self.depth + usize::from(self.rest_quoted)
    }

    /// Ends the line being written, if it holds anything.
    fn flush(&mut self) {
        if !self.line.trim().is_empty() {
            self.newline();
        } else {
            self.line.clear();
        }
    }

    /// Ends the line being written, empty or not (`<br>`).
    fn newline(&mut self) {
        let text = std::mem::take(&mut self.line).trim().to_string();
        self.lines.push((self.current_depth(), text));
    }

    /// A paragraph's margin: a blank line.
    fn blank(&mut self) {
        self.flush();
        self.lines.push((self.current_depth(), String::new()));
    }

    fn push_text(&mut self, text: &str, preformatted: bool) {
        if preformatted {
            let mut parts = text.split('\n').peekable();
            while let Some(part) = parts.next() {
                self.line.push_str(part);
                if parts.peek().is_some() {
                    self.newline();
                }
            }
            return;
        }
        for (i, word) in text.split_whitespace().enumerate() {
            let space_before = i > 0 || text.starts_with(char::is_whitespace);
            if space_before && !self.line.is_empty() && !self.line.ends_with(' ') {
                self.line.push(' ');
            }
            self.line.push_str(word);
        }
        if text.ends_with(char::is_whitespace) && !self.line.is_empty() {
            self.line.push(' ');
        }
    }

    /// The last line written, finished or not, that holds anything.
    fn last_line(&self) -> Option<&str> {
        match self.line.trim() {
            "" => self
                .lines
                .iter()
                .rev()
                .find(|(_, l)| !l.is_empty())
                .map(|(_, l)| l.trim()),
            current => Some(current),
        }
    }

    /// Whether the last line written is the `-- ` above a signature.
    fn after_dashes(&self) -> bool {
        self.last_line() == Some("--")
    }

    /// Whether the last line written says a forwarded mail follows.
    fn after_forward_line(&self) -> bool {
        self.last_line().is_some_and(|l| MARKERS.forwarded(l))
    }

    fn element(&mut self, element: ElementRef<'_>, preformatted: bool, nesting: usize) {
        let value = element.value();
        let name = value.name();
        if HIDDEN.contains(&name) {
            return;
        }
        if nesting > MAX_NESTING {
            for text in element.text() {
                self.push_text(text, false);
            }
            return;
        }
        if value.id() == Some("divRplyFwdMsg") && !self.forwarding && !self.outlook_forward {
            self.flush();
            self.rest_quoted = true;
        }
        let container = !self.forwarding && is_quote(element);
        // A container that holds (or follows the line of) a forwarded
        // mail is the forwarded mail: kept, and nothing in it quoted.
        let forwarded = container && (self.after_forward_line() || opens_with_forward(element));
        let quote = container && !forwarded;
        if is_signature(element) && !self.after_dashes() {
            // The customer's signature block, as the plain part marks it.
            self.flush();
            self.lines.push((self.current_depth(), "-- ".into()));
        }
        let word_line = is_word_line(element);
        let paragraph = PARAGRAPHS.contains(&name) && !word_line;
        if paragraph {
            self.blank();
        } else if BLOCKS.contains(&name) || container || word_line {
            self.flush();
        }
        if quote {
            self.depth += 1;
        }
        let was_forwarding = self.forwarding;
        self.forwarding |= forwarded;
        let preformatted = preformatted || name == "pre";
        let mut first_cell = true;
        for child in element.children() {
            match child.value() {
                Node::Text(text) => self.push_text(text, preformatted),
                Node::Element(_) => {
                    let Some(child) = ElementRef::wrap(child) else {
                        continue;
                    };
                    match child.value().name() {
                        "br" => self.newline(),
                        "td" | "th" => {
                            if !first_cell && !self.line.trim().is_empty() {
                                self.line.push_str(" | ");
                            }
                            first_cell = false;
                            self.element(child, preformatted, nesting + 1);
                        }
                        _ => self.element(child, preformatted, nesting + 1),
                    }
                }
                _ => {}
            }
        }
        self.forwarding = was_forwarding;
        if paragraph {
            self.blank();
        } else if word_line {
            // An empty Word line (`<o:p>&nbsp;</o:p>`) is a blank line.
            self.newline();
        } else if BLOCKS.contains(&name) || container {
            self.flush();
        }
        if quote {
            self.depth -= 1;
        }
    }
}

/// Whether `element` holds quoted history (or its attribution).
fn is_quote(element: ElementRef<'_>) -> bool {
    let value = element.value();
    if value.name() == "blockquote" {
        return true;
    }
    // Yahoo prefixes its classes and ids ("ydp3f2ayahoo_quoted").
    let class = |c: &str| value.classes().any(|k| k.to_ascii_lowercase().ends_with(c));
    class("gmail_quote")
        || class("gmail_attr")
        || class("yahoo_quoted")
        || class("moz-cite-prefix")
        || value.id().is_some_and(|id| {
            id == "OLK_SRC_BODY_SECTION"
                || id == "isReplyContent"
                || id.to_ascii_lowercase().contains("yahoo_quoted")
        })
}

/// The first text in `element` that is not blank, trimmed.
fn first_text<'a>(element: ElementRef<'a>) -> Option<&'a str> {
    element.text().map(str::trim).find(|t| !t.is_empty())
}

/// Whether the first text in `element` is a "forwarded message" line.
fn opens_with_forward(element: ElementRef<'_>) -> bool {
    first_text(element).is_some_and(|first| MARKERS.forwarded(first))
}

/// Gmail's and Thunderbird's signature blocks (which do not always start
/// with the `-- ` line of the plain part).
fn is_signature(element: ElementRef<'_>) -> bool {
    element
        .value()
        .classes()
        .any(|c| c == "gmail_signature" || c == "moz-signature")
        && first_text(element) != Some("--")
}

/// Outlook's Word paragraphs (`p.MsoNormal`) are lines, without margins.
fn is_word_line(element: ElementRef<'_>) -> bool {
    element.value().classes().any(|c| c.starts_with("Mso"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_quote_becomes_quoted_lines() {
        let html = r#"<div dir="ltr">Still not here.<br></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, 30 Nov 2026 at 10:00, Acme &lt;support@example.test&gt; wrote:<br></div><blockquote class="gmail_quote">Your order shipped.</blockquote></div>"#;
        assert_eq!(
            to_text(html, false).unwrap_or_default(),
            "Still not here.\n\n>> On Mon, 30 Nov 2026 at 10:00, Acme <support@example.test> wrote:\n>> Your order shipped."
        );
    }

    #[test]
    fn outlook_web_history_is_everything_after_its_marker() {
        let html = r#"<div>Cancel it please.</div><hr><div id="divRplyFwdMsg"><b>From:</b> Acme<br><b>Sent:</b> Monday</div><div>Your order shipped.</div>"#;
        let text = to_text(html, false).unwrap_or_default();
        assert!(text.starts_with("Cancel it please."), "{text}");
        assert!(text.contains("> Your order shipped."), "{text}");
    }

    #[test]
    fn tables_cells_are_separated_and_images_vanish() {
        let html = r#"<table><tr><td>Blue jacket</td><td>XL</td><td>€49</td></tr></table><p><img src="cid:image001.png@01D">Thanks</p>"#;
        assert_eq!(
            to_text(html, false).unwrap_or_default(),
            "Blue jacket | XL | €49\n\nThanks"
        );
    }

    #[test]
    fn a_forwarded_mail_stays_unquoted() {
        let html = r#"<div>See below.</div><div>Begin forwarded message:</div><blockquote type="cite"><div>From: Courier</div><div>We could not deliver.</div></blockquote>"#;
        let text = to_text(html, false).unwrap_or_default();
        assert!(text.contains("\nWe could not deliver."), "{text}");
        assert!(!text.contains('>'), "{text}");
    }

    #[test]
    fn deep_markup_is_read_without_running_out_of_stack_or_time() {
        let html = format!("{}deep{}", "<div>".repeat(900), "</div>".repeat(900));
        assert_eq!(to_text(&html, false).as_deref(), Some("deep"));
        let hostile = format!("{}deep", "<div><span>".repeat(50_000));
        assert_eq!(to_text(&hostile, false), None, "left to the plain reading");
        assert_eq!(nesting_of("<p>a<br>b<img src=x><br/></p><div></div>"), 1);
    }

    #[test]
    fn garbage_reads_as_text() {
        assert_eq!(
            to_text("<div><p>unclosed <b>bold", false).as_deref(),
            Some("unclosed bold")
        );
        assert_eq!(to_text("", false).as_deref(), Some(""));
    }
}
