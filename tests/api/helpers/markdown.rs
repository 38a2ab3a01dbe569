//! Markdown pages as the tests read them: sections, ```sql blocks, headings, links.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

/// The page at `path`, relative to the project's root.
pub fn read(path: &str) -> String {
    let full = root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The text of `page` under `heading` (a whole line, such as `## Queries`), up to the next heading
/// of the same level or a higher one.
pub fn section(page: &str, heading: &str) -> String {
    let text = read(page);
    let level = heading_level(heading).unwrap_or_else(|| panic!("{heading:?} is not a heading"));
    let mut lines = prose(&text).skip_while(|(_, line)| *line != heading);
    assert!(lines.next().is_some(), "{page} has no {heading} section");
    lines
        .take_while(|(in_prose, line)| !in_prose || heading_level(line).is_none_or(|l| l > level))
        .map(|(_, line)| format!("{line}\n"))
        .collect()
}

/// The ```sql blocks of `text`, in order.
pub fn sql_blocks(text: &str) -> Vec<String> {
    text.split("```sql\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_owned())
        .collect()
}

/// The anchors GitHub gives the headings of `text`: lowercased, punctuation dropped, spaces as
/// hyphens, a repeated one suffixed `-1`, `-2`, ...
pub fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    prose(text)
        .filter(|(in_prose, _)| *in_prose)
        .filter_map(|(_, line)| heading_level(line).map(|level| slug(&line[level + 1..])))
        .map(|slug| {
            let repeats = seen.entry(slug.clone()).or_default();
            *repeats += 1;
            match *repeats - 1 {
                0 => slug,
                n => format!("{slug}-{n}"),
            }
        })
        .collect()
}

fn slug(title: &str) -> String {
    title
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The targets of the links and images of `text` (`[text](target)`), code left out.
pub fn links(text: &str) -> Vec<String> {
    let prose: String = prose(text)
        .filter(|(in_prose, _)| *in_prose)
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    // Even pieces between backticks are outside inline code.
    let outside_code = prose.split('`').step_by(2).collect::<Vec<_>>().join(" ");
    outside_code
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter_map(|target| target.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Whether a link target stays inside the project (no scheme such as `https:` or `mailto:`).
pub fn is_relative(target: &str) -> bool {
    match target.split_once(':') {
        Some((scheme, _)) => !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)),
        None => true,
    }
}

/// Where a relative `target` written in `page` points, from the project's root.
pub fn resolve(page: &str, target: &str) -> PathBuf {
    let dir = Path::new(page).parent().unwrap_or(Path::new(""));
    let mut resolved = PathBuf::new();
    for part in dir.join(target).components() {
        match part {
            std::path::Component::ParentDir => {
                resolved.pop();
            }
            std::path::Component::CurDir => {}
            other => resolved.push(other),
        }
    }
    resolved
}

/// Each line of `text`, and whether it is prose: not in a fenced code block, nor a fence.
fn prose(text: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut fenced = false;
    text.lines().map(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return (false, line);
        }
        (!fenced, line)
    })
}

fn heading_level(line: &str) -> Option<usize> {
    let level = line.bytes().take_while(|b| *b == b'#').count();
    ((1..=6).contains(&level) && line[level..].starts_with(' ')).then_some(level)
}
