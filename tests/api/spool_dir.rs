//! Where the spool is when nothing sets it: one absolute directory for `serve` and
//! `lobbylog spool`, wherever each starts, named at startup.

use std::{fs, path::Path, process::Command};

use serde_json::Value;

use crate::helpers::{
    SECRET, Service, TestDb, eventually, free_port, lobbylog, run,
    spool::{log_lines, message},
};

/// Runs `command` in `cwd` with only `HOME` to choose the spool directory from.
fn default_spool(command: &mut Command, home: &Path, cwd: &Path) {
    command
        .current_dir(cwd)
        .env("HOME", home)
        .env_remove("LOBBYLOG_SPOOL_DIR")
        .env_remove("STATE_DIRECTORY")
        .env_remove("XDG_STATE_HOME");
}

#[tokio::test]
async fn serve_and_the_spool_command_find_the_same_spool_by_default_wherever_they_start() {
    let db = TestDb::fresh().await;
    let [home, here, there] = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let expected = home.path().join(".local/state/lobbylog/spool");
    let log = here.path().join("log.json");
    let admin_port = free_port();
    let mut command = lobbylog(db.url(), &["serve"]);
    default_spool(&mut command, home.path(), here.path());
    command
        .env("DAILY_WEBHOOK_SECRET", SECRET)
        .env("LOBBYLOG_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("LOBBYLOG_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"))
        .env("LOBBYLOG_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(fs::File::create(&log).unwrap());
    let _service = Service {
        child: command.spawn().expect("starting lobbylog"),
        admin: format!("http://127.0.0.1:{admin_port}"),
    };
    let said = || {
        log_lines(&log, "INFO")
            .into_iter()
            .find(|l| message(l) == "spool directory")
    };
    assert!(eventually(20, || async { said().is_some() }).await);
    let said = said().unwrap();
    assert_eq!(said["spool"], expected.to_str().unwrap(), "{said}");
    assert_eq!(said["from"], "HOME", "{said}");
    assert!(eventually(20, || async { expected.join(".lock").exists() }).await);
    assert!(!here.path().join("spool").exists());

    let mut list = lobbylog(db.url(), &["spool", "list", "--json"]);
    default_spool(&mut list, home.path(), there.path());
    let listed = run(list, None).await;
    assert_eq!(listed.code, 0, "{listed:?}");
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed["dir"], expected.join("set-aside").to_str().unwrap());
}

#[tokio::test]
async fn segments_left_where_the_old_default_put_them_are_pointed_out() {
    let [home, cwd] = [(); 2].map(|()| tempfile::tempdir().unwrap());
    let old = cwd.path().join("spool");
    fs::create_dir_all(old.join("set-aside")).unwrap();
    fs::write(old.join("set-aside/000000000001-1.spool"), "").unwrap();
    fs::create_dir_all(home.path().join(".local/state/lobbylog/spool")).unwrap();
    let mut list = lobbylog("postgres://unused@127.0.0.1:9/x", &["spool", "list"]);
    default_spool(&mut list, home.path(), cwd.path());
    let listed = run(list, None).await;
    assert_eq!(listed.code, 0, "{listed:?}");
    assert!(
        listed.stderr.contains("the default of earlier versions"),
        "{listed:?}"
    );
    assert!(listed.stderr.contains(old.to_str().unwrap()), "{listed:?}");
}
