//! Where the spool is, for `serve` and `lobbylog spool` alike: chosen and made absolute once, at
//! startup, so that the working directory never picks it.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use anyhow::Context;
use clap::builder::{OsStringValueParser, TypedValueParser};

use crate::sources::spool::set_aside;

/// Reads `--spool-dir` / `LOBBYLOG_SPOOL_DIR`, accepting the empty value `.env.example` sets.
pub fn parser() -> impl TypedValueParser<Value = PathBuf> {
    OsStringValueParser::new().map(PathBuf::from)
}

/// An absolute spool directory and the setting it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolDir {
    pub path: PathBuf,
    pub from: &'static str,
}

/// The spool directory for `given` (the flag or `LOBBYLOG_SPOOL_DIR`), resolved in the process's
/// environment and working directory; warns about a spool left where the old default put it.
pub fn resolve(given: Option<&Path>) -> anyhow::Result<SpoolDir> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let dir = resolve_in(given, |name| std::env::var_os(name), &cwd)?;
    let legacy = cwd.join("spool");
    if dir.from != "LOBBYLOG_SPOOL_DIR" && legacy != dir.path && holds_segments(&legacy) {
        tracing::warn!(
            left = %legacy.display(),
            spool = %dir.path.display(),
            "spool segments are left in the working directory's `spool`, the default of earlier \
             versions: start `lobbylog serve` once with LOBBYLOG_SPOOL_DIR set to it to store them"
        );
    }
    Ok(dir)
}

/// `given` if set and not empty, else `$STATE_DIRECTORY/spool` (systemd's `StateDirectory=`),
/// else `$XDG_STATE_HOME/lobbylog/spool`, else `$HOME/.local/state/lobbylog/spool`; a relative
/// `given` is taken from `cwd`.
pub fn resolve_in(
    given: Option<&Path>,
    var: impl Fn(&str) -> Option<OsString>,
    cwd: &Path,
) -> anyhow::Result<SpoolDir> {
    let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let (path, from) = if let Some(dir) = given.filter(|d| !d.as_os_str().is_empty()) {
        (cwd.join(dir), "LOBBYLOG_SPOOL_DIR")
    } else if let Some(state) = var("STATE_DIRECTORY")
        // systemd lists one directory per `StateDirectory=` entry, colon-separated.
        .and_then(|dirs| std::env::split_paths(&dirs).next())
        .filter(|p| p.is_absolute())
    {
        (state.join("spool"), "STATE_DIRECTORY")
    } else if let Some(state) = absolute("XDG_STATE_HOME") {
        (state.join("lobbylog/spool"), "XDG_STATE_HOME")
    } else if let Some(home) = absolute("HOME") {
        (home.join(".local/state/lobbylog/spool"), "HOME")
    } else {
        anyhow::bail!(
            "no spool directory: set LOBBYLOG_SPOOL_DIR (none of STATE_DIRECTORY, XDG_STATE_HOME \
             or HOME names an absolute directory)"
        );
    };
    Ok(SpoolDir {
        path: path.components().collect(),
        from,
    })
}

fn holds_segments(dir: &Path) -> bool {
    [dir.to_owned(), set_aside::dir(dir)].iter().any(|d| {
        std::fs::read_dir(d).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "spool"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(
        given: Option<&str>,
        vars: &[(&str, &str)],
    ) -> Result<(String, &'static str), String> {
        let var = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        };
        resolve_in(given.map(Path::new), var, Path::new("/srv/app"))
            .map(|d| (d.path.display().to_string(), d.from))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_spool_directory_is_absolute_and_never_the_working_directory_by_default() {
        let home = [("HOME", "/home/ops")];
        let everything = [
            ("STATE_DIRECTORY", "/var/lib/lobbylog:/var/lib/other"),
            ("XDG_STATE_HOME", "/home/ops/state"),
            ("HOME", "/home/ops"),
        ];
        let cases = [
            (
                Some("spool"),
                &home[..],
                "/srv/app/spool",
                "LOBBYLOG_SPOOL_DIR",
            ),
            (
                Some("./a/../spool"),
                &home[..],
                "/srv/app/a/../spool",
                "LOBBYLOG_SPOOL_DIR",
            ),
            (
                Some("/data/spool"),
                &everything[..],
                "/data/spool",
                "LOBBYLOG_SPOOL_DIR",
            ),
            (
                Some(""),
                &everything[..],
                "/var/lib/lobbylog/spool",
                "STATE_DIRECTORY",
            ),
            (
                None,
                &everything[1..],
                "/home/ops/state/lobbylog/spool",
                "XDG_STATE_HOME",
            ),
            (
                None,
                &[("XDG_STATE_HOME", "state"), ("HOME", "/home/ops")][..],
                "/home/ops/.local/state/lobbylog/spool",
                "HOME",
            ),
            (
                None,
                &home[..],
                "/home/ops/.local/state/lobbylog/spool",
                "HOME",
            ),
        ];
        for (given, vars, path, from) in cases {
            assert_eq!(
                resolved(given, vars),
                Ok((path.into(), from)),
                "{given:?} {vars:?}"
            );
        }
    }

    #[test]
    fn without_any_state_directory_the_spool_directory_must_be_set() {
        let refused = resolved(None, &[("HOME", "relative")]).unwrap_err();
        assert!(refused.contains("set LOBBYLOG_SPOOL_DIR"), "{refused}");
    }
}
