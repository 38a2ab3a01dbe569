//! What the binary writes to stderr: plain text in a pipe.

use crate::helpers::{free_port, lobbylog, run, via};

/// A URL to a port nobody listens on: every command fails at once with an ERROR line.
fn unreachable_url() -> String {
    via("postgres://postgres@127.0.0.1:5432/lobbylog", free_port())
}

#[tokio::test]
async fn human_logs_written_to_a_pipe_carry_no_colour_codes() {
    let mut command = lobbylog(&unreachable_url(), &["migrate"]);
    command
        .env("LOBBYLOG_LOG_FORMAT", "human")
        .env_remove("NO_COLOR");
    let result = run(command, None).await;
    assert_eq!(result.code, 1, "{result:?}");
    assert!(result.stderr.contains("ERROR"), "{result:?}");
    assert!(!result.stderr.contains('\x1b'), "{:?}", result.stderr);
}
