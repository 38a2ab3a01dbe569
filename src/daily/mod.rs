//! Daily's REST API: the client, webhooks, meetings, the watchdog and the `lobbylog daily` commands.

pub mod answer;
pub mod args;
pub mod client;
pub mod command;
pub mod gaps;
pub mod lists;
pub mod meetings;
pub mod register;
pub mod timestamps;
pub mod watchdog;
pub mod webhooks;
