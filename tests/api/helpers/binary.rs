//! The real `lobbylog` binary in tests: one-shot commands and a running service.

use std::{
    io::Write,
    path::Path,
    process::{Child, Command, Stdio},
};

use crate::helpers::{SECRET, eventually, logs_shown};

/// `lobbylog ARGS` against `database_url`, quiet unless test logs are asked for.
pub fn lobbylog(database_url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lobbylog"));
    command
        .args(args)
        .env("DATABASE_URL", database_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !logs_shown() {
        command.env("RUST_LOG", "warn");
    }
    command
}

/// What a run of the binary left: exit status, stdout and stderr.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// A number from a summary on stdout, e.g. `inserted` in `  inserted     12`.
    pub fn count(&self, label: &str) -> u64 {
        self.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no `{label}` in the summary:\n{self:?}"))
    }
}

/// Runs `command` to its end, with `stdin` piped in if given.
pub async fn run(mut command: Command, stdin: Option<Vec<u8>>) -> Run {
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("starting lobbylog");
        if let Some(bytes) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || pipe.write_all(&bytes));
        }
        let output = child.wait_with_output().unwrap();
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        if logs_shown() {
            eprintln!("{}", run.stderr);
        }
        run
    })
    .await
    .unwrap()
}

/// `lobbylog serve` on `port` (its admin listener on another free port), killed when dropped.
pub struct Service {
    pub child: Child,
    /// `http://127.0.0.1:<admin port>`
    pub admin: String,
}

impl Service {
    pub fn start(database_url: &str, spool: &Path, port: u16) -> Self {
        Self::start_with(database_url, spool, port, &[], None)
    }

    /// Like [`Service::start`], its JSON log lines (warnings and errors) written to `log`.
    pub fn start_logging_to(database_url: &str, spool: &Path, port: u16, log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("creating the log file");
        Self::spawn(database_url, spool, port, &[], None, file.into())
    }

    /// With the file-descriptor limit set to `nofile`, its log lines written to `log`.
    pub fn start_logging_to_with_nofile(
        database_url: &str,
        spool: &Path,
        log: &Path,
        nofile: u64,
    ) -> Self {
        let file = std::fs::File::create(log).expect("creating the log file");
        Self::spawn(
            database_url,
            spool,
            free_port(),
            &[],
            Some(nofile),
            file.into(),
        )
    }

    /// With more environment, and the file-descriptor limit set to `nofile` if given.
    pub fn start_with(
        database_url: &str,
        spool: &Path,
        port: u16,
        env: &[(&str, &str)],
        nofile: Option<u64>,
    ) -> Self {
        let stderr = if logs_shown() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        Self::spawn(database_url, spool, port, env, nofile, stderr)
    }

    fn spawn(
        database_url: &str,
        spool: &Path,
        port: u16,
        env: &[(&str, &str)],
        nofile: Option<u64>,
        stderr: Stdio,
    ) -> Self {
        let admin_port = free_port();
        let mut command = match nofile {
            Some(limit) => {
                let mut shell = Command::new("sh");
                let script = format!("ulimit -n {limit} && exec \"$0\" serve");
                shell
                    .args(["-c", &script, env!("CARGO_BIN_EXE_lobbylog")])
                    .env("DATABASE_URL", database_url);
                if !logs_shown() {
                    shell.env("RUST_LOG", "warn");
                }
                shell
            }
            None => lobbylog(database_url, &["serve"]),
        };
        command
            .env("DAILY_WEBHOOK_SECRET", SECRET)
            .env("LOBBYLOG_LISTEN", format!("127.0.0.1:{port}"))
            .env("LOBBYLOG_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"))
            .env("LOBBYLOG_SPOOL_DIR", spool)
            .env("LOBBYLOG_LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr);
        Self {
            child: command.spawn().expect("starting lobbylog"),
            admin: format!("http://127.0.0.1:{admin_port}"),
        }
    }

    /// Resident memory now, in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("reading the process status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS in /proc status")
            * 1024
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `url` with its host and port replaced.
pub fn via(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, hostpath) = match rest.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), rest),
    };
    let path = hostpath.split_once('/').map(|(_, p)| p).unwrap_or("");
    format!("{scheme}://{userinfo}127.0.0.1:{port}/{path}")
}

/// Whether `base` answers `/readyz` with 200 within 30 seconds.
pub async fn ready(client: &reqwest::Client, base: &str) -> bool {
    eventually(30, || async {
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await
}
