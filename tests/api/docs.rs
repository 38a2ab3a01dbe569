//! The docs and `.env.example` name every variable the binary reads; the docs link to files and
//! headings that exist, and the README links every page.

use std::path::PathBuf;

use clap::CommandFactory;
use lobbylog::commands::Cli;

use crate::helpers::markdown;

pub fn read(file: &str) -> String {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every command, subcommands of subcommands included.
fn all_commands(command: &clap::Command) -> Vec<&clap::Command> {
    let mut commands = vec![command];
    commands.extend(command.get_subcommands().flat_map(all_commands));
    commands
}

/// Every environment variable a command of the binary reads.
pub fn env_vars() -> Vec<String> {
    let cli = Cli::command();
    let mut vars: Vec<String> = all_commands(&cli)
        .iter()
        .flat_map(|c| c.get_arguments())
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    vars.sort();
    vars.dedup();
    vars
}

/// The settings the README's table names; the rest are on the configuration page only.
const KEY_SETTINGS: [&str; 9] = [
    "DATABASE_URL",
    "DAILY_WEBHOOK_SECRET",
    "LOBBYLOG_ALLOW_UNSIGNED",
    "LOBBYLOG_LISTEN",
    "LOBBYLOG_ADMIN_LISTEN",
    "LOBBYLOG_SPOOL_DIR",
    "LOBBYLOG_RETENTION",
    "DAILY_API_KEY",
    "LOBBYLOG_LOG_FORMAT",
];

#[test]
fn the_configuration_page_and_env_example_name_every_variable() {
    let (configuration, example) = (read("docs/configuration.md"), read(".env.example"));
    let vars = env_vars();
    assert!(vars.len() >= 7, "{vars:?}");
    for var in &vars {
        assert!(
            configuration.contains(&format!("| `{var}` |")),
            "docs/configuration.md has no row for {var}"
        );
        assert!(
            example.contains(&format!("{var}=")),
            ".env.example does not list {var}"
        );
    }
}

#[test]
fn the_readme_names_the_key_settings() {
    let (readme, vars) = (read("README.md"), env_vars());
    for var in KEY_SETTINGS {
        assert!(
            vars.iter().any(|v| v == var),
            "lobbylog no longer reads {var}"
        );
        assert!(
            readme.contains(&format!("| `{var}` |")),
            "README.md has no row for {var}"
        );
    }
}

/// README.md and every page under docs/.
fn pages() -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(markdown::root().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    pages.sort();
    pages.insert(0, "README.md".into());
    pages
}

/// Why the relative link `target` of `page` leads nowhere, if it does.
fn broken_link(page: &str, target: &str) -> Option<String> {
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let file = match path {
        "" => PathBuf::from(page),
        path => markdown::resolve(page, path),
    };
    if !markdown::root().join(&file).exists() {
        return Some(format!("no {}", file.display()));
    }
    let is_page = file.extension().is_some_and(|e| e == "md");
    let headings = || markdown::anchors(&markdown::read(file.to_str().unwrap()));
    (!anchor.is_empty() && is_page && !headings().iter().any(|a| a == anchor))
        .then(|| format!("no heading #{anchor} in {}", file.display()))
}

#[test]
fn every_relative_link_of_the_docs_resolves_to_a_file_and_a_heading() {
    let broken: Vec<String> = pages()
        .iter()
        .flat_map(|page| {
            markdown::links(&markdown::read(page))
                .into_iter()
                .filter(|target| markdown::is_relative(target))
                .filter_map(move |target| {
                    broken_link(page, &target).map(|why| format!("{page}: {target}: {why}"))
                })
        })
        .collect();
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_links_every_docs_page() {
    let readme = markdown::read("README.md");
    let linked: Vec<PathBuf> = markdown::links(&readme)
        .iter()
        .filter(|t| markdown::is_relative(t))
        .map(|t| markdown::resolve("README.md", t.split('#').next().unwrap()))
        .collect();
    for page in pages().iter().skip(1) {
        assert!(
            linked.contains(&PathBuf::from(page)),
            "README.md does not link {page}"
        );
    }
}
