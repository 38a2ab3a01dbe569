//! The docs and `.env.example` name every variable the binary reads.

use clap::CommandFactory;
use lobbylog::config::Cli;

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

#[test]
fn readme_and_env_example_name_every_variable() {
    let (readme, example) = (read("README.md"), read(".env.example"));
    let vars = env_vars();
    assert!(vars.len() >= 7, "{vars:?}");
    for var in &vars {
        assert!(
            readme.contains(&format!("`{var}`")),
            "README.md does not document {var}"
        );
        assert!(
            example.contains(&format!("{var}=")),
            ".env.example does not list {var}"
        );
    }
}
