//! Markdown pages as the tests read them: sections and ```sql blocks.

use std::path::PathBuf;

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
