//! Arguments of `lobbylog spool`: the set-aside spool segments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Clone, Args)]
pub struct SpoolArgs {
    /// Directory of the durable spool (the one `serve` uses; it may be running).
    #[arg(
        long,
        env = "LOBBYLOG_SPOOL_DIR",
        default_value = "spool",
        global = true
    )]
    pub spool_dir: PathBuf,

    #[command(subcommand)]
    pub action: SpoolAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SpoolAction {
    /// List set-aside segments: the database each was written for, its events and its age.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Store set-aside segments in DATABASE_URL's database, only those written for it unless
    /// --into-current; each is deleted once its events committed.
    Drain {
        /// Store them even though they were written for another database.
        #[arg(long)]
        into_current: bool,

        /// Segment file names to drain (default: every set-aside segment).
        #[arg(value_name = "SEGMENT")]
        segments: Vec<String>,
    },
}
